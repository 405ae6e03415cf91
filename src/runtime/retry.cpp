#include "src/runtime/retry.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "src/common/log.h"

namespace dutybridge::runtime {

Backoff::Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
    : initial_(initial), max_(max), current_(initial), rng_(std::random_device{}()) {}

std::chrono::milliseconds Backoff::next() {
  std::uniform_int_distribution<int64_t> jitter(current_.count() / 2, current_.count());
  auto delay = std::chrono::milliseconds(jitter(rng_));
  current_ = std::min(max_, current_ * 2);
  return delay;
}

bool Backoff::sleep(std::stop_token stop, std::chrono::milliseconds delay) {
  std::mutex mutex;
  std::condition_variable_any cv;
  std::unique_lock lock(mutex);
  return !cv.wait_for(lock, stop, delay, [] { return false; }) && !stop.stop_requested();
}

core::Result<Attempted> Retrier::until(std::stop_token stop, std::string_view what,
                                       const std::function<core::Status()>& attempt) {
  while (true) {
    auto status = attempt();
    if (status) return Attempted::Done;
    bool stopped = false;
    if (retry(stop, status.error(), what, &stopped)) continue;
    if (stopped) return Attempted::Stopped;
    return core::fail(status.error());
  }
}

bool Retrier::retry(std::stop_token stop, const core::Error& error, std::string_view what, bool* stopped) {
  *stopped = false;
  if (error.kind != core::ErrorKind::Retryable) return false;
  if (status_) {
    status_->stats.retries.fetch_add(1, std::memory_order_relaxed);
    status_->stats.retries_by_step[static_cast<size_t>(retryStepOf(what))].fetch_add(1, std::memory_order_relaxed);
    status_->retrying(what, error);
  }
  log::warning(component_, "{} failed, retrying: {}", what, error.message);
  // The wait is a step of its own (an honest wait, bounded by backoff max); the step that failed
  // is current again when it is retried.
  const char* failed_step = status_ ? status_->currentStep().name : nullptr;
  if (status_) status_->beginStep("retry.backoff");
  const bool waited = backoff_.wait(stop);
  if (status_ && failed_step) status_->beginStep(failed_step);
  if (waited) return true;
  *stopped = true;
  return false;
}

}  // namespace dutybridge::runtime
