#pragma once
// The daemon's health as one set of rules for everyone who asks: /readyz and /healthz (admin
// API), the systemd notifications (READY=1 once ready, WATCHDOG=1 while healthy) and the
// STATUS= line `systemctl status` shows.
//
// Ready: every pipeline opened its sink, read its cursor, restored its state and opened its
// source (Running or Finished), or was stopped through the admin API on purpose.
// Healthy (live): no running pipeline thread has been in one step (a source poll, a sink write,
// a commit) longer than `service.stuck_after`. Waiting for a broker or database that is away is
// not being stuck: retries back off in short steps, and source polls have deadlines.

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "src/runtime/daemon_control.h"

namespace dutybridge::runtime {

// Why a pipeline is not ready ("erp: starting: opening the source retrying: connection
// refused"), or empty when it is.
std::string notReadyReason(const PipelineView& view);
// Every reason the daemon is not ready (empty: ready). `stopping`: a signal asked it to stop.
std::vector<std::string> notReadyReasons(std::span<const PipelineView> views, bool stopping);

struct StuckStep {
  std::string pipeline;
  std::string step;
  std::chrono::steady_clock::duration running_for{};
};
// The running pipelines whose thread has been in one step for `limit` or longer.
std::vector<StuckStep> stuckSteps(std::span<const PipelineView> views, std::chrono::milliseconds limit);

// The one-line summary for `systemctl status` (sd_notify STATUS=), from two looks at the
// pipelines `elapsed` apart: "3 pipelines running, 12,400 rows/min, lag 2 s"; with what is
// wrong first when something is ("1 of 3 pipelines not ready (erp: starting: ...); ...").
class StatusLine {
 public:
  std::string update(std::span<const PipelineView> views, bool stopping, std::chrono::steady_clock::time_point now);

 private:
  uint64_t last_delivered_ = 0;
  std::chrono::steady_clock::time_point last_at_{};
  bool has_last_ = false;
};

// 12400 -> "12,400".
std::string groupThousands(uint64_t value);

}  // namespace dutybridge::runtime
