#include "src/runtime/health.h"

#include <fmt/format.h>

#include <algorithm>

#include "src/runtime/pipeline_status.h"

namespace dutybridge::runtime {

std::string_view toString(ReloadOutcome::Result result) {
  switch (result) {
    case ReloadOutcome::Result::Applied:
      return "applied";
    case ReloadOutcome::Result::Unchanged:
      return "unchanged";
    case ReloadOutcome::Result::Invalid:
      return "invalid";
    case ReloadOutcome::Result::Refused:
      return "refused";
  }
  return "refused";
}

std::string notReadyReason(const PipelineView& view) {
  const auto& status = *view.status;
  const std::string& name = view.config->name;
  switch (status.state()) {
    case PipelineState::Running:
    case PipelineState::Finished:
      return {};
    case PipelineState::Stopped:
    case PipelineState::Stopping:
      // Stopped on purpose through the API: the daemon still does what it was asked.
      if (view.stopped_by_admin) return {};
      return name + ": stopping";
    case PipelineState::Starting: {
      std::string retry = status.retryReason();
      return retry.empty() ? name + ": starting" : name + ": starting: " + retry;
    }
    case PipelineState::Retrying:
      return name + ": " + status.retryReason();
    case PipelineState::Failed: {
      auto error = status.lastError();
      return name + ": failed: " + (error ? error->message : std::string("unknown error"));
    }
  }
  return {};
}

std::vector<std::string> notReadyReasons(std::span<const PipelineView> views, bool stopping) {
  std::vector<std::string> reasons;
  if (stopping) reasons.emplace_back("the daemon is stopping");
  for (const auto& view : views) {
    if (auto reason = notReadyReason(view); !reason.empty()) reasons.push_back(std::move(reason));
  }
  return reasons;
}

std::vector<StuckStep> stuckSteps(std::span<const PipelineView> views, std::chrono::milliseconds limit) {
  std::vector<StuckStep> out;
  for (const auto& view : views) {
    const auto step = view.status->currentStep();
    if (!view.running || !step.name || step.running_for < limit) continue;
    out.push_back({view.config->name, step.name, step.running_for});
  }
  return out;
}

std::string groupThousands(uint64_t value) {
  std::string digits = std::to_string(value);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

namespace {

// "2 s", "3 min", "5 h": a lag as a person reads it.
std::string humanLag(int64_t ms) {
  const int64_t s = std::max<int64_t>(ms, 0) / 1000;
  if (s < 120) return fmt::format("{} s", s);
  if (s < 7200) return fmt::format("{} min", s / 60);
  return fmt::format("{} h", s / 3600);
}

std::string shortened(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  text.resize(limit);
  // Not in the middle of a UTF-8 sequence.
  while (!text.empty() && (static_cast<unsigned char>(text.back()) & 0xC0) == 0x80) text.pop_back();
  if (!text.empty() && (static_cast<unsigned char>(text.back()) & 0x80)) text.pop_back();
  return text + "...";
}

}  // namespace

std::string StatusLine::update(std::span<const PipelineView> views, bool stopping,
                               std::chrono::steady_clock::time_point now) {
  uint64_t delivered = 0;
  size_t running = 0;
  size_t stopped = 0;
  size_t failed = 0;
  int64_t newest_lag_ms = -1;
  const int64_t now_ms = unixMillisNow();
  for (const auto& view : views) {
    delivered += view.status->stats.records_delivered.load(std::memory_order_relaxed);
    const auto state = view.status->state();
    if (state == PipelineState::Failed) ++failed;
    if (view.stopped_by_admin) ++stopped;
    if (!view.running) continue;
    ++running;
    const int64_t newest = view.status->stats.newest_event_unix_ms.load(std::memory_order_relaxed);
    if (newest > 0) newest_lag_ms = std::max(newest_lag_ms, now_ms - newest);
  }
  std::string rate;
  if (has_last_ && now > last_at_ && delivered >= last_delivered_) {
    const double minutes = std::chrono::duration<double>(now - last_at_).count() / 60.0;
    rate = groupThousands(static_cast<uint64_t>(static_cast<double>(delivered - last_delivered_) / minutes + 0.5)) +
           " rows/min";
  }
  last_delivered_ = delivered;
  last_at_ = now;
  has_last_ = true;

  std::vector<std::string> parts;
  if (stopping) {
    parts.push_back(fmt::format("stopping: {} pipeline{} still delivering", running, running == 1 ? "" : "s"));
  } else {
    const auto reasons = notReadyReasons(views, false);
    if (!reasons.empty()) {
      parts.push_back(fmt::format("{} of {} pipeline{} not ready ({})", reasons.size(), views.size(),
                                  views.size() == 1 ? "" : "s", shortened(reasons.front(), 160)));
    }
    parts.push_back(fmt::format("{} pipeline{} running", running, running == 1 ? "" : "s"));
  }
  if (stopped > 0) parts.push_back(fmt::format("{} stopped through the admin API", stopped));
  if (failed > 0) parts.push_back(fmt::format("{} failed", failed));
  if (!rate.empty()) parts.push_back(std::move(rate));
  if (newest_lag_ms >= 0) parts.push_back("lag " + humanLag(newest_lag_ms));
  return fmt::format("{}", fmt::join(parts, ", "));
}

}  // namespace dutybridge::runtime
