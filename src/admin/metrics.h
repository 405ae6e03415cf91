#pragma once
// /metrics: the Prometheus text exposition of the daemon, built at scrape time from the
// pipelines' PipelineStatus snapshots (atomics; nothing is counted twice or on the pipelines'
// threads) with prometheus-cpp's data model and text serializer, plus the standard process_*
// metrics read from /proc/self and dutybridge_build_info. Labels are bounded: pipeline, stage,
// step, state, outcome; never a key, an employee or a value. Names: docs/operations.md.

#include <string>
#include <string_view>
#include <vector>

#include "src/runtime/daemon_control.h"

namespace dutybridge::admin {

std::string renderMetrics(const std::vector<runtime::PipelineView>& pipelines, const runtime::ReloadStats& reloads,
                          std::string_view version);

}  // namespace dutybridge::admin
