#include "src/runtime/daemon.h"

#include <fmt/format.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "src/common/log.h"
#include "src/runtime/cursor_tools.h"
#include "src/runtime/lazy_state_store.h"
#include "src/runtime/memory_state_store.h"
#include "src/runtime/pipeline.h"
#include "src/runtime/retry.h"
#include "src/runtime/state_layout.h"

namespace dutybridge::runtime {
namespace {

constexpr std::string_view kComponent = "daemon";

// A pipeline that stopped on an error leaves it in the state store, for `dutybridge status`
// (and whoever reads the state topic) after the log has scrolled away. The next start clears it.
void recordFailure(core::StateStore& state, const std::string& pipeline, const core::Error& error) {
  nlohmann::json entry = {{"state", "failed"},
                          {"kind", std::string(core::toString(error.kind))},
                          {"error", error.message},
                          {"at_unix_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()}};
  auto put = state.put(healthKey(pipeline), entry.dump());
  if (put) put = state.flush(std::chrono::steady_clock::now() + std::chrono::seconds(2));
  if (!put) log::warning(kComponent, "pipeline {}: the failure could not be stored for `status`: {}", pipeline, put.error().message);
}

// Running again: a failure stored by an earlier run is replaced, so `status` does not show it.
void clearFailure(core::StateStore& state, const std::string& pipeline) {
  auto stored = state.get(healthKey(pipeline));
  if (!stored || !*stored || (*stored)->find("\"failed\"") == std::string::npos) return;
  nlohmann::json entry = {{"state", "running"},
                          {"at_unix_ms", std::chrono::duration_cast<std::chrono::milliseconds>(
                                             std::chrono::system_clock::now().time_since_epoch())
                                             .count()}};
  if (auto put = state.put(healthKey(pipeline), entry.dump()); !put) {
    log::warning(kComponent, "pipeline {}: clearing its stored failure: {}", pipeline, put.error().message);
  }
}

// The daemon's run: the pipelines, their worker threads and the event loop that waits for
// signals, for the workers to finish and for the admin API. One per runDaemon() call; the event
// loop and the members it touches are used from the main thread, except where a comment says
// otherwise.
class Daemon final : public DaemonControl {
 public:
  Daemon(const config::DaemonConfig& config, const core::Registry& registry, DaemonOptions options)
      : config_(config),
        registry_(registry),
        options_(std::move(options)),
        state_store_(openStateStore()),
        state_(*state_store_) {}

  ~Daemon() override {
    for (auto& slot : slots_) {
      if (slot->worker.joinable()) slot->worker.join();
    }
  }

  int run() {
    // Ignored while pipelines open (connecting can take long); the event loop notes it from then on.
    std::signal(SIGHUP, SIG_IGN);
    if (!buildAll()) return 1;
    if (slots_.empty()) {
      log::warning(kComponent, "no enabled pipelines; nothing to do");
      return 0;
    }
    waitForSignals();
    if (options_.attach) {
      auto attached = options_.attach(io_, *this);
      if (!attached) {
        log::error(kComponent, "{}", attached.error().describe());
        return 1;
      }
      attachment_ = std::move(*attached);
    }
    for (auto& slot : slots_) startWorker(*slot);
    log::notice(kComponent, "running {} pipeline(s)", slots_.size());
    io_.run();
    for (auto& slot : slots_) {
      if (slot->worker.joinable()) slot->worker.join();
    }
    log::notice(kComponent, "stopped");
    return invalid_config_ ? 2 : failed_ ? 1 : 0;
  }

  // DaemonControl, on the event loop.
  std::vector<PipelineView> pipelines() const override {
    std::vector<PipelineView> out;
    out.reserve(slots_.size());
    for (const auto& slot : slots_) {
      out.push_back({slot->config, slot->status, slot->running, slot->stopped_by_admin, slot->sink_stores_position});
    }
    return out;
  }

  bool stopping() const override { return stopping_; }

  ControlResult<> stopPipeline(std::string_view name) override {
    Slot* slot = find(name);
    if (!slot) return notFound(name);
    if (!slot->running) return conflict(name, "is not running");
    if (slot->stopped_by_admin) return {};  // already stopping
    log::notice(kComponent, "pipeline {}: stop requested through the admin API", slot->config->name);
    slot->stopped_by_admin = true;
    slot->status->setState(PipelineState::Stopping);
    slot->worker.request_stop();
    return {};
  }

  ControlResult<> resumePipeline(std::string_view name) override {
    Slot* slot = find(name);
    if (!slot) return notFound(name);
    if (slot->running) return conflict(name, "is running");
    if (stopping_) return conflict(name, "cannot start while the daemon stops");
    log::notice(kComponent, "pipeline {}: resumed through the admin API", slot->config->name);
    if (auto started = rebuildAndStart(*slot); !started) {
      return std::unexpected(ControlError{ControlError::Code::Invalid, started.error().describe()});
    }
    return {};
  }

  ControlResult<> restartPipeline(std::string_view name) override {
    Slot* slot = find(name);
    if (!slot) return notFound(name);
    if (!slot->running) return resumePipeline(name);
    if (auto stopped = stopPipeline(name); !stopped) return stopped;
    slot->resume_when_stopped = true;
    return {};
  }

  ControlResult<std::optional<std::string>> readCursor(std::string_view name) override {
    Slot* slot = find(name);
    if (!slot) return notFound(name);
    if (slot->sink_stores_position) return slot->status->cursor();  // as its sink last stored or read it
    auto stored = state_.get(state_layout::cursorKey(slot->config->name));
    if (!stored) return std::unexpected(ControlError{ControlError::Code::Unavailable, stored.error().describe()});
    return *stored;
  }

  ControlResult<> writeCursor(std::string_view name, std::optional<std::string> position) override {
    Slot* slot = find(name);
    if (!slot) return notFound(name);
    const std::string& pipeline = slot->config->name;
    if (slot->running)
      return conflict(name, "is running; stop it first (POST /api/v1/pipelines/" + pipeline + "/stop)");
    if (slot->sink_stores_position) {
      return conflict(name,
                      "stores its position with the rows in its sink's database (table dutybridge_offsets), not in "
                      "the state topic; change it there while the pipeline is stopped");
    }
    if (auto written = runtime::writeCursor(state_, registry_, *slot->config, connectorContext(*slot->config), position,
                                            "the admin API");
        !written) {
      return written;
    }
    slot->status->cursorRead(position);
    return {};
  }

 private:
  // One configured, enabled pipeline for the whole run: its status outlives rebuilds.
  struct Slot {
    const config::PipelineConfig* config = nullptr;
    std::shared_ptr<PipelineStatus> status = std::make_shared<PipelineStatus>();
    // Replaced by its own worker (rebuild after an aborted transaction) under restart_mutex_, or
    // by the event loop while no worker runs.
    std::unique_ptr<Pipeline> pipeline;
    bool sink_stores_position = false;
    // Event loop only:
    bool running = false;
    bool stopped_by_admin = false;
    bool resume_when_stopped = false;
    std::jthread worker;
  };

  std::unique_ptr<core::StateStore> openStateStore() const {
    if (options_.open_state_store) return std::make_unique<LazyStateStore>(options_.open_state_store);
    log::warning(kComponent, "no kafka section: cursors are kept in memory and a restart starts over");
    return std::make_unique<MemoryStateStore>();
  }

  Slot* find(std::string_view name) {
    for (auto& slot : slots_) {
      if (slot->config->name == name) return slot.get();
    }
    return nullptr;
  }
  static std::unexpected<ControlError> notFound(std::string_view name) {
    return std::unexpected(ControlError{ControlError::Code::NotFound, fmt::format("no pipeline named '{}'", name)});
  }
  static std::unexpected<ControlError> conflict(std::string_view name, std::string_view why) {
    return std::unexpected(ControlError{ControlError::Code::Conflict, fmt::format("pipeline {} {}", name, why)});
  }

  // Every enabled pipeline; false (logged) when one cannot be built.
  bool buildAll() {
    for (const auto& p : config_.pipelines) {
      if (!p.enabled) {
        log::notice(kComponent, "pipeline {} is disabled", p.name);
        continue;
      }
      auto slot = std::make_unique<Slot>();
      slot->config = &p;
      auto built = build(*slot);
      if (!built) {
        log::error(kComponent, "pipeline {}: {}", p.name, built.error().describe());
        return false;
      }
      slot->pipeline = std::move(*built);
      slots_.push_back(std::move(slot));
    }
    return true;
  }

  // A pipeline from its config: at start, again after an aborted transaction (a fresh source,
  // transform and sink resume from the last commit) and on resume. Called from the main thread
  // and from the pipeline's own worker; it reads only what is immutable while the daemon runs
  // (and sets sink_stores_position, which a sink type fixes).
  core::Result<std::unique_ptr<Pipeline>> build(Slot& slot) {
    const config::PipelineConfig& p = *slot.config;
    core::ConnectorContext context = connectorContext(p);
    std::unique_ptr<core::Transform> transform;
    if (p.mapping && options_.make_transform) transform = options_.make_transform(p, clock_);
    if (!config_.dead_letter_topic.empty()) context.extra_topics.push_back(config_.dead_letter_topic);
    if (transform) {
      for (auto& topic : transform->outputTopics()) context.extra_topics.push_back(std::move(topic));
    }
    auto source = registry_.findSource(p.source.type)->create(p.source.settings, context);
    if (!source) return core::fail(source.error());
    auto sink = registry_.findSink(p.sink.type)->create(p.sink.settings, context);
    if (!sink) return core::fail(sink.error());
    // Set at the first build, on the main thread: a sink type fixes it, and the event loop reads it.
    if (!slot.pipeline) slot.sink_stores_position = (*sink)->storesPosition();
    auto pipeline = std::make_unique<Pipeline>(p.name, std::move(*source), std::move(*sink), state_,
                                               pipelineOptions(slot), std::move(transform));
    if (p.dead_letters) {
      // Not transactional: the letters are flushed before their batch is written to the sink.
      core::ConnectorContext dlq_context;
      dlq_context.pipeline_name = p.name;
      dlq_context.clock = &clock_;
      dlq_context.kafka = config_.kafkaCluster();
      auto dlq_sink = registry_.findSink(p.dead_letters->type)->create(p.dead_letters->settings, dlq_context);
      if (!dlq_sink) return core::fail(dlq_sink.error());
      pipeline->setDeadLetterSink(std::move(*dlq_sink));
    }
    return pipeline;
  }

  core::ConnectorContext connectorContext(const config::PipelineConfig& p) const {
    return pipelineConnectorContext(config_, p, clock_);
  }

  PipelineOptions pipelineOptions(const Slot& slot) {
    const config::PipelineConfig& p = *slot.config;
    PipelineOptions out;
    out.stop_when_idle = options_.once;
    out.max_in_flight_records = p.max_in_flight;
    out.commit_interval = p.commit_interval;
    out.commit_records = p.commit_records;
    out.dead_letter_limit = {p.dead_letter_limit, p.dead_letter_window};
    out.on_running = [this, name = p.name] { clearFailure(state_, name); };
    if (!config_.dead_letter_topic.empty()) out.dlq_topic = config_.dead_letter_topic;
    out.stats_interval = config_.log.stats_interval;
    out.status = slot.status;
    return out;
  }

  // SIGTERM/SIGINT stop every pipeline gracefully (a second one exits at once); SIGHUP is noted
  // and ignored until reload exists.
  void waitForSignals() {
    // Made here, not with the daemon: Asio installs its handlers when a set is made, and until
    // then SIGTERM keeps its default (building pipelines connects nowhere and is short) and
    // SIGHUP stays ignored.
    signals_.emplace(io_, SIGINT, SIGTERM);
    hangups_.emplace(io_, SIGHUP);
    on_signal_ = [this](const boost::system::error_code& ec, int number) {
      if (ec) return;
      if (++signals_seen_ > 1) {
        log::error(kComponent, "second signal {}: exiting without waiting for in-flight records", number);
        std::_Exit(1);
      }
      log::notice(kComponent, "signal {} received: stopping pipelines gracefully", number);
      stopping_ = true;
      for (auto& slot : slots_) {
        slot->resume_when_stopped = false;
        if (!slot->running) continue;
        slot->status->setState(PipelineState::Stopping);
        slot->worker.request_stop();
      }
      endIfDone();
      if (!ended_) signals_->async_wait(on_signal_);
    };
    signals_->async_wait(on_signal_);
    // SIGHUP (systemctl reload, a closed terminal) would otherwise end the daemon without a
    // graceful stop.
    on_hangup_ = [this](const boost::system::error_code& ec, int) {
      if (ec) return;
      log::notice(kComponent,
                  "SIGHUP received: reloading the configuration is not supported yet; ignored (restart "
                  "the service to apply changes)");
      hangups_->async_wait(on_hangup_);
    };
    hangups_->async_wait(on_hangup_);
  }

  Pipeline* pipeline(Slot& slot) {
    std::lock_guard lock(restart_mutex_);
    return slot.pipeline.get();
  }

  void startWorker(Slot& slot) {
    if (slot.worker.joinable()) slot.worker.join();  // ended: it only had to return
    slot.running = true;
    slot.stopped_by_admin = false;
    slot.status->setState(PipelineState::Starting);
    slot.worker = std::jthread([this, &slot](std::stop_token stop) { runWorker(slot, stop); });
  }

  // On the event loop, for a pipeline whose worker ended: a fresh pipeline from its config.
  core::Status rebuildAndStart(Slot& slot) {
    if (slot.worker.joinable()) slot.worker.join();
    auto rebuilt = build(slot);
    if (!rebuilt) {
      slot.status->failed(rebuilt.error());
      return core::fail(rebuilt.error());
    }
    slot.pipeline = std::move(*rebuilt);
    slot.status->stats.restarts.fetch_add(1, std::memory_order_relaxed);
    startWorker(slot);
    return {};
  }

  // The slot's worker thread: runs its pipeline, again after each aborted transaction, until it
  // ends; then records a failure and tells the event loop.
  void runWorker(Slot& slot, std::stop_token stop) {
    core::Status status;
    Backoff pause(std::chrono::milliseconds(100), std::chrono::milliseconds(10'000));
    while (true) {
      Pipeline* p = pipeline(slot);
      status = p->run(stop);
      if (status || status.error().kind != core::ErrorKind::Abortable || stop.stop_requested()) break;
      // An aborted transaction: run the pipeline again from its last commit.
      log::warning(kComponent, "pipeline {}: restarting from the last committed transaction", p->name());
      slot.status->setState(PipelineState::Starting);
      slot.status->beginStep("restart.backoff");
      if (!pause.wait(stop)) {
        status = {};  // stopped before the restart: the aborted transaction left nothing behind
        break;
      }
      auto rebuilt = build(slot);
      if (!rebuilt) {
        status = core::fail(rebuilt.error());
        break;
      }
      // Records the sink refused while writing: the next run dead-letters them when it reads them.
      (*rebuilt)->carryWriteRefusals(p->takeWriteRefusals());
      slot.status->stats.restarts.fetch_add(1, std::memory_order_relaxed);
      std::lock_guard lock(restart_mutex_);
      slot.pipeline = std::move(*rebuilt);
    }
    slot.status->beginStep(nullptr);
    if (!status) {
      recordFailure(state_, slot.config->name, status.error());
      slot.status->failed(status.error());
    } else {
      slot.status->setState(stop.stop_requested() ? PipelineState::Stopped : PipelineState::Finished);
    }
    boost::asio::post(io_, [this, &slot, status] { pipelineEnded(slot, status); });
  }

  // On the event loop: a pipeline's worker ended (cleanly, or with `status`).
  void pipelineEnded(Slot& slot, const core::Status& status) {
    slot.running = false;
    const std::string& name = slot.config->name;
    if (!status) {
      failed_ = true;
      if (status.error().kind == core::ErrorKind::InvalidConfig) invalid_config_ = true;
      if (slot.config->on_failure == config::OnFailure::StopDaemon) {
        log::error(kComponent, "pipeline {} stopped: {}; on_failure: stop_daemon, so every pipeline stops", name,
                   status.error().describe());
        stopping_ = true;
        for (auto& other : slots_) {
          other->resume_when_stopped = false;
          if (other->running) other->worker.request_stop();
        }
      } else {
        // The others go on; the daemon exits non-zero once they stopped too.
        log::error(kComponent, "pipeline {} stopped: {}; the other pipelines go on (on_failure: stop_pipeline)", name,
                   status.error().describe());
      }
    } else if (slot.stopped_by_admin) {
      log::notice(kComponent, "pipeline {} stopped through the admin API", name);
    }
    if (slot.resume_when_stopped && !stopping_) {
      slot.resume_when_stopped = false;
      log::notice(kComponent, "pipeline {}: starting again (restart through the admin API)", name);
      if (auto started = rebuildAndStart(slot); !started) {
        log::error(kComponent, "pipeline {}: restart through the admin API failed: {}", name,
                   started.error().describe());
      }
    }
    endIfDone();
  }

  // The run ends when no worker runs and nothing waits for the admin: after a signal, or when
  // every pipeline ended by itself (none stopped through the admin API, which a resume may start).
  void endIfDone() {
    if (ended_) return;
    for (const auto& slot : slots_) {
      if (slot->running) return;
      if (!stopping_ && slot->stopped_by_admin) return;
    }
    ended_ = true;
    signals_->cancel();
    hangups_->cancel();
    if (attachment_) attachment_->stop();
  }

  const config::DaemonConfig& config_;
  const core::Registry& registry_;
  const DaemonOptions options_;
  core::SystemClock clock_;
  std::unique_ptr<core::StateStore> state_store_;
  core::StateStore& state_;

  std::vector<std::unique_ptr<Slot>> slots_;  // built before the workers start; never resized after
  std::mutex restart_mutex_;

  boost::asio::io_context io_;
  std::optional<boost::asio::signal_set> signals_;  // SIGINT, SIGTERM (waitForSignals)
  std::optional<boost::asio::signal_set> hangups_;  // SIGHUP
  std::function<void(const boost::system::error_code&, int)> on_signal_;
  std::function<void(const boost::system::error_code&, int)> on_hangup_;
  int signals_seen_ = 0;
  bool stopping_ = false;
  bool ended_ = false;
  bool failed_ = false;
  bool invalid_config_ = false;
  std::unique_ptr<DaemonAttachment> attachment_;  // uses io_; stopped in endIfDone
};

}  // namespace

std::string healthKey(std::string_view pipeline) {
  return state_layout::healthKey(pipeline);
}

int runDaemon(const config::DaemonConfig& config, const core::Registry& registry, DaemonOptions options) {
  Daemon daemon(config, registry, std::move(options));
  return daemon.run();
}

}  // namespace dutybridge::runtime
