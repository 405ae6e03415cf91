#include "src/core/clock.h"

#include <chrono>

namespace dutybridge::core {

Timestamp SystemClock::now() const {
  auto since_epoch = std::chrono::system_clock::now().time_since_epoch();
  return Timestamp{std::chrono::duration_cast<std::chrono::microseconds>(since_epoch).count()};
}

}  // namespace dutybridge::core
