#include "src/core/connector.h"

namespace dutybridge::core {

std::string_view toString(Direction direction) {
  switch (direction) {
    case Direction::Source:
      return "source";
    case Direction::Sink:
      return "sink";
    case Direction::Table:
      return "table source";
  }
  return "connector";
}

}  // namespace dutybridge::core
