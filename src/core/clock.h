#pragma once
// Time as the logic sees it. Every time-dependent decision (lag guards, windows, deadlines of
// duties) reads an injected Clock so tests run with a ManualClock, never the wall clock.

#include <atomic>

#include "src/core/time.h"

namespace dutybridge::core {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SystemClock final : public Clock {
 public:
  Timestamp now() const override;
};

// A clock tests move by hand; thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(Timestamp start) : micros_(start.micros) {}
  Timestamp now() const override { return Timestamp{micros_.load()}; }
  void set(Timestamp t) { micros_.store(t.micros); }
  void advance(int64_t micros) { micros_.fetch_add(micros); }

 private:
  std::atomic<int64_t> micros_;
};

}  // namespace dutybridge::core
