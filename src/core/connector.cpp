#include "src/core/connector.h"

namespace dutybridge::core {

std::string_view toString(Direction direction) {
  return direction == Direction::Source ? "source" : "sink";
}

}  // namespace dutybridge::core
