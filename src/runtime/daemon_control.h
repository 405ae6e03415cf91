#pragma once
// What the admin API may see and do in a running daemon (runtime::Daemon implements it).
//
// Threading: every method is called on the daemon's event loop thread (the admin server runs
// there), never from a pipeline thread. Reads are snapshots of PipelineStatus (atomics), so
// they never wait for a pipeline. The cursor methods touch the state store and may block the
// event loop for up to a few seconds (a state-topic write and flush).

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/config/daemon_config.h"
#include "src/runtime/pipeline_status.h"

namespace dutybridge::runtime {

struct PipelineView {
  const config::PipelineConfig* config = nullptr;  // immutable while the daemon runs
  std::shared_ptr<const PipelineStatus> status;
  bool running = false;               // its worker thread is active (starting, running, retrying, stopping)
  bool stopped_by_admin = false;      // stopped (or stopping) through the admin API
  bool sink_stores_position = false;  // the HR loader: its position lives with the rows, not in the state store
};

// The outcome of a control call, by what an HTTP client should make of it.
struct ControlError {
  enum class Code { NotFound, Conflict, Invalid, Unavailable } code;
  std::string message;
};
template <typename T = void>
using ControlResult = std::expected<T, ControlError>;

// What a reload did (SIGHUP, POST /api/v1/reload, `dutybridge reload`).
struct ReloadOutcome {
  enum class Result {
    Applied,    // valid; the pipelines it concerns were rebuilt, added or removed
    Unchanged,  // valid, and nothing a pipeline depends on changed
    Invalid,    // the file (or a mapping) has errors: nothing changed, the old configuration runs on
    Refused,    // not now: another reload runs, the daemon stops, or reloading is not available
  } result = Result::Unchanged;
  std::string message;  // Invalid: every problem, located (file:line:column); Refused: why
  std::vector<std::string> rebuilt, added, removed, unchanged;
  std::vector<std::string> notes;  // changes that apply at the next restart (the admin listener, ...)
};
std::string_view toString(ReloadOutcome::Result result);

// Reloads since start, for /metrics: an admin alerts when the file on disk is not the one in force.
struct ReloadStats {
  std::array<uint64_t, 4> by_result{};  // indexed by ReloadOutcome::Result
  bool last_successful = true;          // the last reload that checked a file found it valid
  int64_t config_loaded_unix_ms = 0;    // when the configuration in force was loaded (or checked unchanged)
};

class DaemonControl {
 public:
  virtual ~DaemonControl() = default;

  virtual std::vector<PipelineView> pipelines() const = 0;
  // True once a signal asked the daemon to stop (readiness then fails).
  virtual bool stopping() const = 0;
  // service.stuck_after of the configuration in force: a step longer than this is wedged.
  virtual std::chrono::milliseconds stuckAfter() const = 0;

  // A graceful stop (delivers what is in flight, stores the cursor): Stopping, then Stopped.
  // The daemon stays up while pipelines are stopped through the API. Conflict when not running.
  virtual ControlResult<> stopPipeline(std::string_view name) = 0;
  // Starts a stopped (or failed) pipeline again from its stored cursor. Conflict when running.
  virtual ControlResult<> resumePipeline(std::string_view name) = 0;
  // Stop, then resume once stopped (or resume at once when not running).
  virtual ControlResult<> restartPipeline(std::string_view name) = 0;

  // The stored cursor (nullopt: none stored, the source begins at its configured start).
  virtual ControlResult<std::optional<std::string>> readCursor(std::string_view name) = 0;
  // Only while the pipeline is not running. The position must be one its source accepts
  // (Source::checkPosition: Invalid with the reason otherwise); nullopt deletes the cursor.
  // Written to the state store and flushed (a committed state entry) and audited in the log.
  virtual ControlResult<> writeCursor(std::string_view name, std::optional<std::string> position) = 0;

  // Reads and checks the configuration file again and applies it as SIGHUP does: a file with
  // errors changes nothing; a valid one rebuilds the pipelines whose settings or files changed
  // (each stopped gracefully first), adds and removes pipelines, and leaves the others running.
  // `done` is called on the event loop once the changed pipelines run again (or at once when
  // refused): always exactly once.
  virtual void reload(std::function<void(const ReloadOutcome&)> done) = 0;
  virtual ReloadStats reloadStats() const = 0;
};

// Runs on the daemon's event loop beside the pipelines (the admin server). stop() is called on
// the loop when the daemon ends; afterwards it must leave no work on the loop.
class DaemonAttachment {
 public:
  virtual ~DaemonAttachment() = default;
  virtual void stop() = 0;
};

}  // namespace dutybridge::runtime
