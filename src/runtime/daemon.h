#pragma once
// The daemon: builds every enabled pipeline from the validated config, runs each on its own
// worker thread, and waits on a Boost.Asio io_context for SIGTERM/SIGINT (graceful stop) or
// for all pipelines to finish. Asio is confined to daemon.cpp.
//
// A pipeline that stops on a Permanent or Fatal error stops alone (`on_failure: stop_pipeline`,
// the default: the others go on) or stops every pipeline (`stop_daemon`); either way the error is
// logged and recorded under healthKey() in the state store for `dutybridge status`.
//
// Pipelines stopped through the admin API (DaemonControl) stay stopped until resumed; the daemon
// keeps running while it has any, until a signal.
//
// Exit status: 0 after a graceful stop or when every bounded pipeline finished cleanly;
// 1 when any pipeline stopped on a Permanent or Fatal error (systemd then restarts us); 2 when
// one found at start-up that its configuration cannot work (InvalidConfig, e.g. a mapping with
// `input: from_source` that does not type-check against the source's description).

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "src/config/daemon_config.h"
#include "src/core/registry.h"
#include "src/core/state_store.h"
#include "src/core/transform.h"
#include "src/runtime/daemon_control.h"

namespace boost::asio {
class io_context;
}

namespace dutybridge::runtime {

struct DaemonOptions {
  bool once = false;  // stop each pipeline when its source has nothing more to read
  // Opens the durable state store (the Kafka state topic). Called lazily and retried while it
  // fails with a Retryable error. Empty: cursors live in memory only (a warning says so).
  std::function<core::Result<std::unique_ptr<core::StateStore>>()> open_state_store;
  // Builds the transform (compiled mapping) of a pipeline that has `mapping:`; the mappings
  // were loaded and checked before the daemon starts.
  std::function<std::unique_ptr<core::Transform>(const config::PipelineConfig&, const core::Clock&)> make_transform;
  // Started on the event loop before the pipelines (the admin server, when `admin.enabled`). An
  // error (the listen address in use, a TLS key that cannot be read) ends the run with status 1.
  std::function<core::Result<std::unique_ptr<DaemonAttachment>>(boost::asio::io_context&, DaemonControl&)> attach;
};

// The state-store key where a pipeline that stopped on an error records it ({"state": "failed",
// "kind", "error", "at_unix_ms"}); the pipeline's next successful start removes it.
std::string healthKey(std::string_view pipeline);

int runDaemon(const config::DaemonConfig& config, const core::Registry& registry, DaemonOptions options = {});

}  // namespace dutybridge::runtime
