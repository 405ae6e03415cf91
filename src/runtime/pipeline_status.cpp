#include "src/runtime/pipeline_status.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace dutybridge::runtime {

std::string_view toString(PipelineState state) {
  switch (state) {
    case PipelineState::Starting:
      return "starting";
    case PipelineState::Running:
      return "running";
    case PipelineState::Retrying:
      return "retrying";
    case PipelineState::Stopping:
      return "stopping";
    case PipelineState::Stopped:
      return "stopped";
    case PipelineState::Failed:
      return "failed";
    case PipelineState::Finished:
      return "finished";
  }
  return "unknown";
}

RetryStep retryStepOf(std::string_view what) {
  // The Retrier's "what" texts, by the step they belong to.
  if (what.starts_with("opening") || what.starts_with("reading the stored") ||
      what.starts_with("reading the transform"))
    return RetryStep::Open;
  if (what.find("dead letters") != std::string_view::npos) return RetryStep::DeadLetters;
  if (what.find("source") != std::string_view::npos) return RetryStep::Source;
  if (what.find("commit") != std::string_view::npos) return RetryStep::Commit;
  if (what.find("restart") != std::string_view::npos) return RetryStep::Restart;
  return RetryStep::Sink;  // "writing to the sink", "delivery"
}

void PipelineStatus::beginStep(const char* step) {
  step_since_ns_.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  step_.store(step, std::memory_order_relaxed);
}

PipelineStatus::Step PipelineStatus::currentStep() const {
  Step out;
  out.name = step_.load(std::memory_order_relaxed);
  const int64_t since = step_since_ns_.load(std::memory_order_relaxed);
  if (out.name && since != 0) {
    out.running_for = std::chrono::steady_clock::now().time_since_epoch() - std::chrono::steady_clock::duration(since);
  }
  return out;
}

void PipelineStatus::retrying(std::string_view step, const core::Error& error) {
  {
    std::lock_guard lock(mutex_);
    retry_reason_ = fmt::format("{} retrying: {}", step, error.message);
    last_error_ = PipelineError{std::string(core::toString(error.kind)), error.message, unixMillisNow()};
  }
  retrying_.store(true, std::memory_order_relaxed);
  auto expected = PipelineState::Running;
  state_.compare_exchange_strong(expected, PipelineState::Retrying, std::memory_order_relaxed);
}

void PipelineStatus::progressed() {
  if (!retrying_.load(std::memory_order_relaxed)) return;
  retrying_.store(false, std::memory_order_relaxed);
  {
    std::lock_guard lock(mutex_);
    retry_reason_.clear();
  }
  if (sink_retrying_.load(std::memory_order_relaxed)) return;
  auto expected = PipelineState::Retrying;
  state_.compare_exchange_strong(expected, PipelineState::Running, std::memory_order_relaxed);
}

void PipelineStatus::sinkRetrying(std::optional<std::string> reason) {
  if (reason) {
    {
      std::lock_guard lock(mutex_);
      sink_retry_reason_ = "sink retrying: " + *reason;
    }
    sink_retrying_.store(true, std::memory_order_relaxed);
    auto expected = PipelineState::Running;
    state_.compare_exchange_strong(expected, PipelineState::Retrying, std::memory_order_relaxed);
    return;
  }
  if (!sink_retrying_.exchange(false, std::memory_order_relaxed)) return;
  {
    std::lock_guard lock(mutex_);
    sink_retry_reason_.clear();
  }
  if (retrying_.load(std::memory_order_relaxed)) return;
  auto expected = PipelineState::Retrying;
  state_.compare_exchange_strong(expected, PipelineState::Running, std::memory_order_relaxed);
}

void PipelineStatus::failed(const core::Error& error) {
  {
    std::lock_guard lock(mutex_);
    last_error_ = PipelineError{std::string(core::toString(error.kind)), error.message, unixMillisNow()};
    retry_reason_.clear();
  }
  retrying_.store(false, std::memory_order_relaxed);
  setState(PipelineState::Failed);
}

std::optional<PipelineError> PipelineStatus::lastError() const {
  std::lock_guard lock(mutex_);
  return last_error_;
}

std::string PipelineStatus::retryReason() const {
  std::lock_guard lock(mutex_);
  return retry_reason_.empty() ? sink_retry_reason_ : retry_reason_;
}

void PipelineStatus::cursorStored(std::string_view position) {
  stats.cursor_stored_unix_ms.store(unixMillisNow(), std::memory_order_relaxed);
  std::lock_guard lock(mutex_);
  cursor_ = std::string(position);
}

void PipelineStatus::cursorRead(std::optional<std::string> position) {
  std::lock_guard lock(mutex_);
  cursor_ = std::move(position);
}

std::optional<std::string> PipelineStatus::cursor() const {
  std::lock_guard lock(mutex_);
  return cursor_;
}

void PipelineStatus::publishGauges(std::vector<std::pair<std::string, int64_t>> gauges) {
  std::lock_guard lock(mutex_);
  gauges_ = std::move(gauges);
}

std::vector<std::pair<std::string, int64_t>> PipelineStatus::gauges() const {
  std::lock_guard lock(mutex_);
  return gauges_;
}

void PipelineStatus::publishHeld(std::vector<core::Transform::HeldRecord> held) {
  std::lock_guard lock(mutex_);
  held_ = std::move(held);
}

std::vector<core::Transform::HeldRecord> PipelineStatus::held() const {
  std::lock_guard lock(mutex_);
  return held_;
}

namespace {

// Name and labels, as one map key.
std::string seriesKey(const core::MetricSample& sample) {
  std::string key = sample.name;
  for (const auto& [name, value] : sample.labels) {
    key += '\0';
    key += name;
    key += '=';
    key += value;
  }
  return key;
}

// `into` += `more`: a counter's value, a histogram's buckets (when their bounds agree).
void accumulate(core::MetricSample& into, const core::MetricSample& more) {
  if (into.kind == core::MetricKind::Histogram) {
    if (into.histogram.bounds != more.histogram.bounds) return;
    for (size_t i = 0; i < into.histogram.cumulative.size(); ++i)
      into.histogram.cumulative[i] += more.histogram.cumulative[i];
    into.histogram.count += more.histogram.count;
    into.histogram.sum += more.histogram.sum;
  } else {
    into.value += more.value;
  }
}

}  // namespace

void PipelineStatus::publishMetrics(const std::vector<core::MetricSample>& samples) {
  std::vector<core::MetricSample> merged;
  merged.reserve(samples.size() + carried_.size());
  std::lock_guard lock(mutex_);
  run_.clear();
  for (const auto& sample : samples) {
    merged.push_back(sample);
    if (sample.kind == core::MetricKind::Gauge) continue;
    std::string key = seriesKey(sample);
    if (auto it = carried_.find(key); it != carried_.end()) accumulate(merged.back(), it->second);
    run_.emplace(std::move(key), sample);
  }
  for (const auto& [key, sample] : carried_) {
    if (!run_.contains(key)) merged.push_back(sample);
  }
  metrics_ = std::move(merged);
}

void PipelineStatus::beginMetricsRun() {
  std::lock_guard lock(mutex_);
  for (auto& [key, sample] : run_) {
    auto [it, inserted] = carried_.try_emplace(key, sample);
    if (!inserted) accumulate(it->second, sample);
  }
  run_.clear();
}

std::vector<core::MetricSample> PipelineStatus::metrics() const {
  std::lock_guard lock(mutex_);
  return metrics_;
}

int64_t unixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace dutybridge::runtime
