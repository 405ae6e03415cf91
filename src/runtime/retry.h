#pragma once
// Retrying what may fail for a while (a broker or database away): capped exponential backoff
// with full jitter, waits cut short by a stop request, each retry logged and counted. The one
// retry policy of the pipeline loop, its committers, the daemon's restart of a pipeline, the
// odbc sink's worker and `run`'s loading of mappings whose tables do not answer yet.
//
// Threading: a Retrier belongs to one thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>

#include "src/core/error.h"
#include "src/runtime/pipeline_status.h"

namespace dutybridge::runtime {

// Capped exponential backoff with full jitter; sleeps are cut short by a stop request.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max);
  // The next delay (jittered within the upper half of the current step), advancing the step; for
  // a caller that says how long it will wait before it waits.
  std::chrono::milliseconds next();
  // Waits next(). Returns false when the stop was requested while waiting.
  bool wait(std::stop_token stop) { return sleep(stop, next()); }
  // Sleeps `delay` unless a stop is requested first; false when it was.
  static bool sleep(std::stop_token stop, std::chrono::milliseconds delay);
  void reset() { current_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_;
  std::mt19937_64 rng_;
};

// What a retried step came to when it did not fail for good.
enum class Attempted { Done, Stopped };

class Retrier {
 public:
  // `component` prefixes the log lines ("pipeline mes-reports"); `status`, when given, counts the
  // retries, shows them (state Retrying, the reason for /readyz) and marks the backoff waits as
  // heartbeat steps.
  Retrier(std::string component, std::chrono::milliseconds initial, std::chrono::milliseconds max,
          PipelineStatus* status = nullptr)
      : component_(std::move(component)), backoff_(initial, max), status_(status) {}

  // Runs `attempt` until it succeeds (Done), fails with an error that is not Retryable (that
  // error), or the stop is requested while waiting between attempts (Stopped). Each retry is
  // logged as "<what> failed, retrying: <message>".
  core::Result<Attempted> until(std::stop_token stop, std::string_view what, const std::function<core::Status()>& attempt);

  // For a loop that retries by going round again: true when `error` is Retryable (logged,
  // counted, and the backoff waited out), false when it is not or the stop came while waiting
  // (`*stopped` tells which).
  bool retry(std::stop_token stop, const core::Error& error, std::string_view what, bool* stopped);

  // After progress: the next retry waits the initial delay again (and the status shows Running).
  void reset() {
    backoff_.reset();
    if (status_) status_->progressed();
  }

 private:
  std::string component_;
  Backoff backoff_;
  PipelineStatus* status_;
};

}  // namespace dutybridge::runtime
