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
// Under systemd (NOTIFY_SOCKET, service_notify.h) it says READY=1 once every pipeline is ready
// (the /readyz rule, health.h), keeps a STATUS= line current, feeds the watchdog (WATCHDOG_USEC)
// only while no pipeline thread is stuck in one step past `service.stuck_after`, and says
// STOPPING=1 on SIGTERM.
//
// Reload (SIGHUP, POST /api/v1/reload): DaemonOptions::reload loads and checks the file again
// on a thread of its own. With errors, each is logged with its location and the running
// configuration stays. Valid: RELOADING=1, then only the pipelines whose entry, kafka section,
// mapping or mapping files (base, calendars, catalog, CSV tables) changed are stopped gracefully
// (cursor committed: nothing lost or read twice) and started with the new configuration; new
// pipelines start, removed ones stop, the others keep running; then READY=1.
//
// Exit status: 0 after a graceful stop or when every bounded pipeline finished cleanly;
// 1 when any pipeline stopped on a Permanent or Fatal error (systemd then restarts us); 2 when
// one found at start-up that its configuration cannot work (InvalidConfig, e.g. a mapping with
// `input: from_source` that does not type-check against the source's description). The unit
// has RestartPreventExitStatus=2: a bad configuration does not restart in a loop.

#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/common/file_read.h"
#include "src/config/daemon_config.h"
#include "src/core/registry.h"
#include "src/core/state_store.h"
#include "src/core/transform.h"
#include "src/runtime/daemon_control.h"

namespace boost::asio {
class io_context;
}

namespace dutybridge::runtime {

// A loaded and checked configuration: the file, its mappings compiled, and what each pipeline
// read besides it. The daemon starts with one; each reload makes the next.
struct LoadedConfig {
  std::shared_ptr<const config::DaemonConfig> config;
  // Builds the transform (compiled mapping) of a pipeline that has `mapping:`.
  std::function<std::unique_ptr<core::Transform>(const config::PipelineConfig&, const core::Clock&)> make_transform;
  // Per pipeline with a mapping: every file loading it read (the mapping, its base, calendars,
  // catalog, CSV tables), with digests.
  std::map<std::string, std::vector<files::ReadRecorder::File>> files;
};
// Loads the configuration again for a reload: everything `check` does, once (no retries).
// The error is every problem found, located, as text.
using ConfigLoader = std::function<std::expected<std::shared_ptr<const LoadedConfig>, std::string>()>;

struct DaemonOptions {
  bool once = false;  // stop each pipeline when its source has nothing more to read
  // Opens the durable state store (the Kafka state topic). Called lazily and retried while it
  // fails with a Retryable error. Empty: cursors live in memory only (a warning says so).
  std::function<core::Result<std::unique_ptr<core::StateStore>>()> open_state_store;
  // Reload (SIGHUP, POST /api/v1/reload). Empty: reloads are refused with a reason.
  ConfigLoader reload;
  // `run --log-level` was given: a reload leaves the level alone instead of taking log.level.
  bool keep_log_level = false;
  // Started on the event loop before the pipelines (the admin server, when `admin.enabled`). An
  // error (the listen address in use, a TLS key that cannot be read) ends the run with status 1.
  std::function<core::Result<std::unique_ptr<DaemonAttachment>>(boost::asio::io_context&, DaemonControl&)> attach;
};

// The state-store key where a pipeline that stopped on an error records it ({"state": "failed",
// "kind", "error", "at_unix_ms"}); the pipeline's next successful start removes it.
std::string healthKey(std::string_view pipeline);

int runDaemon(std::shared_ptr<const LoadedConfig> loaded, const core::Registry& registry, DaemonOptions options = {});

}  // namespace dutybridge::runtime
