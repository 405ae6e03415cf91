#pragma once
// The operator's commands on a configured daemon: `status`, `cursor show|set|reset`, `top` and
// `reload`.
// main.cpp parses the arguments and loads the config; these do the work and return the exit
// status (0 ok, 1 failure or refusal, 2 usage). docs/operations.md ("The command line").
//
// Whether the daemon runs is asked of its admin API (admin.enabled): an answer means it runs, a
// refused connection means it does not, anything else cannot be told.

#include <chrono>
#include <optional>
#include <string>

#include "src/config/daemon_config.h"
#include "src/core/registry.h"

namespace dutybridge::cli {

struct StatusOptions {
  bool json = false;
  bool offline = false;  // read the state topic even when the daemon answers
};
int statusCommand(const config::DaemonConfig& config, const core::Registry& registry, const StatusOptions& options);

struct CursorOptions {
  std::string action;  // show | set | reset
  std::string pipeline;
  std::optional<std::string> position;  // set
  bool json = false;
  // Without admin.enabled nothing can tell whether the daemon runs: set/reset need the
  // operator's word that it does not.
  bool daemon_stopped = false;
};
int cursorCommand(const config::DaemonConfig& config, const core::Registry& registry, const CursorOptions& options);

struct TopOptions {
  std::chrono::milliseconds interval{1000};
  bool once = false;
};
int topCommand(const config::DaemonConfig& config, const TopOptions& options);

// Asks the running daemon to reload its configuration: through the admin API when it is on with
// a token (answered once applied: 0, or 2 with every error of the file), else SIGHUP to the pid
// in service.pid_file (the outcome is in the daemon's log).
int reloadCommand(const config::DaemonConfig& config);

}  // namespace dutybridge::cli
