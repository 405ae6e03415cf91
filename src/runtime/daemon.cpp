#include "src/runtime/daemon.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "src/common/log.h"
#include "src/runtime/cursor_tools.h"
#include "src/runtime/health.h"
#include "src/runtime/lazy_state_store.h"
#include "src/runtime/memory_state_store.h"
#include "src/runtime/pipeline.h"
#include "src/runtime/retry.h"
#include "src/runtime/service_notify.h"
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

// Writes the pid file (service.pid_file) at start and removes it at exit, if it still names us.
class PidFile {
 public:
  core::Status write(const std::string& path) {
    std::error_code ec;
    const std::filesystem::path file(path);
    const std::filesystem::path temp = file.string() + ".tmp";
    std::FILE* out = std::fopen(temp.c_str(), "w");
    if (!out)
      return core::fail(core::ErrorKind::InvalidConfig,
                        fmt::format("service.pid_file {} cannot be written: {}", path, std::strerror(errno)));
    const bool written = std::fprintf(out, "%d\n", static_cast<int>(::getpid())) > 0;
    const bool closed = std::fclose(out) == 0;
    if (!written || !closed)
      return core::fail(core::ErrorKind::InvalidConfig, fmt::format("service.pid_file {} cannot be written", path));
    std::filesystem::rename(temp, file, ec);
    if (ec)
      return core::fail(core::ErrorKind::InvalidConfig,
                        fmt::format("service.pid_file {} cannot be written: {}", path, ec.message()));
    path_ = path;
    return {};
  }
  ~PidFile() {
    if (path_.empty()) return;
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }

 private:
  std::string path_;
};

// The daemon's run: the pipelines, their worker threads and the event loop that waits for
// signals, for the workers to finish, for reloads and for the admin API. One per runDaemon()
// call; the event loop and the members it touches are used from the main thread, except where
// a comment says otherwise.
class Daemon final : public DaemonControl {
 public:
  Daemon(std::shared_ptr<const LoadedConfig> loaded, const core::Registry& registry, DaemonOptions options)
      : current_(std::move(loaded)),
        registry_(registry),
        options_(std::move(options)),
        state_store_(openStateStore()),
        state_(*state_store_),
        tick_(io_) {}

  ~Daemon() override {
    for (auto& slot : slots_) {
      if (slot->worker.joinable()) slot->worker.join();
    }
    if (loader_.joinable()) loader_.join();
  }

  int run() {
    // Ignored while pipelines open (connecting can take long); the event loop notes it from then on.
    std::signal(SIGHUP, SIG_IGN);
    const config::DaemonConfig& config = *current_->config;
    if (config.service.pid_file) {
      if (auto written = pid_file_.write(*config.service.pid_file); !written) {
        log::error(kComponent, "{}", written.error().message);
        return 1;
      }
    }
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
    if (notifier_.active()) {
      log::info(kComponent, "telling systemd readiness and status{}",
                notifier_.watchdogTimeout()
                    ? fmt::format("; watchdog every {} ms", notifier_.watchdogTimeout()->count() / 1000)
                    : std::string());
    }
    scheduleTick();
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

  std::chrono::milliseconds stuckAfter() const override { return current_->config->service.stuck_after; }

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
    if (auto written =
            runtime::writeCursor(state_, registry_, *slot->config, connectorContext(*slot), position, "the admin API");
        !written) {
      return written;
    }
    slot->status->cursorRead(position);
    return {};
  }

  void reload(std::function<void(const ReloadOutcome&)> done) override { requestReload(std::move(done)); }
  ReloadStats reloadStats() const override { return reload_stats_; }

 private:
  // One configured, enabled pipeline: its status outlives rebuilds (and reloads that change it).
  struct Slot {
    // The configuration it runs with, and the loaded configuration that holds it. Replaced on the
    // event loop while no worker runs; the worker reads both when it rebuilds.
    std::shared_ptr<const LoadedConfig> loaded;
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
    // A reload waits for this pipeline to stop: then it starts with `next` (or is removed).
    std::shared_ptr<const LoadedConfig> next;
    const config::PipelineConfig* next_config = nullptr;
    bool remove_when_stopped = false;
    std::jthread worker;
  };

  // A reload under way: loading on loader_, then waiting for the pipelines it stops.
  struct ReloadRun {
    std::vector<std::function<void(const ReloadOutcome&)>> waiting;  // POST /api/v1/reload callers
    ReloadOutcome outcome;
    bool applying = false;  // validated; stopping the pipelines it concerns
    // Keeps io_.run() going while the loader thread works.
    std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work;
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

  // A slot for an enabled pipeline of `loaded`, built (not started); nullptr (logged) when it
  // cannot be built.
  std::unique_ptr<Slot> makeSlot(const std::shared_ptr<const LoadedConfig>& loaded, const config::PipelineConfig& p) {
    auto slot = std::make_unique<Slot>();
    slot->loaded = loaded;
    slot->config = &p;
    auto built = build(*slot);
    if (!built) {
      log::error(kComponent, "pipeline {}: {}", p.name, built.error().describe());
      slot->status->failed(built.error());
      return slot;
    }
    slot->pipeline = std::move(*built);
    return slot;
  }

  // Every enabled pipeline; false (logged) when one cannot be built.
  bool buildAll() {
    for (const auto& p : current_->config->pipelines) {
      if (!p.enabled) {
        log::notice(kComponent, "pipeline {} is disabled", p.name);
        continue;
      }
      auto slot = makeSlot(current_, p);
      if (!slot->pipeline) return false;
      slots_.push_back(std::move(slot));
    }
    return true;
  }

  // A pipeline from its config: at start, again after an aborted transaction (a fresh source,
  // transform and sink resume from the last commit), on resume and after a reload changed it.
  // Called from the main thread and from the pipeline's own worker; it reads only what stays
  // the same while the worker runs (and sets sink_stores_position, which a sink type fixes).
  core::Result<std::unique_ptr<Pipeline>> build(Slot& slot) {
    const config::PipelineConfig& p = *slot.config;
    const config::DaemonConfig& config = *slot.loaded->config;
    core::ConnectorContext context = connectorContext(slot);
    std::unique_ptr<core::Transform> transform;
    if (p.mapping && slot.loaded->make_transform) transform = slot.loaded->make_transform(p, clock_);
    if (!config.dead_letter_topic.empty()) context.extra_topics.push_back(config.dead_letter_topic);
    if (transform) {
      for (auto& topic : transform->outputTopics()) context.extra_topics.push_back(std::move(topic));
    }
    auto source = registry_.findSource(p.source.type)->create(p.source.settings, context);
    if (!source) return core::fail(source.error());
    auto sink = registry_.findSink(p.sink.type)->create(p.sink.settings, context);
    if (!sink) return core::fail(sink.error());
    // Set on the main thread (first build, or a reload's): a sink type fixes it, and the event
    // loop reads it.
    if (!slot.pipeline) slot.sink_stores_position = (*sink)->storesPosition();
    auto pipeline = std::make_unique<Pipeline>(p.name, std::move(*source), std::move(*sink), state_,
                                               pipelineOptions(slot), std::move(transform));
    if (p.dead_letters) {
      // Not transactional: the letters are flushed before their batch is written to the sink.
      core::ConnectorContext dlq_context;
      dlq_context.pipeline_name = p.name;
      dlq_context.clock = &clock_;
      dlq_context.kafka = config.kafkaCluster();
      auto dlq_sink = registry_.findSink(p.dead_letters->type)->create(p.dead_letters->settings, dlq_context);
      if (!dlq_sink) return core::fail(dlq_sink.error());
      pipeline->setDeadLetterSink(std::move(*dlq_sink));
    }
    return pipeline;
  }

  core::ConnectorContext connectorContext(const Slot& slot) const {
    return pipelineConnectorContext(*slot.loaded->config, *slot.config, clock_);
  }

  PipelineOptions pipelineOptions(const Slot& slot) {
    const config::PipelineConfig& p = *slot.config;
    const config::DaemonConfig& config = *slot.loaded->config;
    PipelineOptions out;
    out.stop_when_idle = options_.once;
    out.max_in_flight_records = p.max_in_flight;
    out.commit_interval = p.commit_interval;
    out.commit_records = p.commit_records;
    out.dead_letter_limit = {p.dead_letter_limit, p.dead_letter_window};
    out.on_running = [this, name = p.name] { clearFailure(state_, name); };
    if (!config.dead_letter_topic.empty()) out.dlq_topic = config.dead_letter_topic;
    out.stats_interval = config.log.stats_interval;
    out.status = slot.status;
    return out;
  }

  // SIGTERM/SIGINT stop every pipeline gracefully (a second one exits at once); SIGHUP reloads.
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
      stopAll();
      endIfDone();
      if (!ended_) signals_->async_wait(on_signal_);
    };
    signals_->async_wait(on_signal_);
    // SIGHUP: `systemctl reload` (ExecReload), `dutybridge reload`, or a closed terminal.
    on_hangup_ = [this](const boost::system::error_code& ec, int) {
      if (ec) return;
      log::notice(kComponent, "SIGHUP received: reloading {}", current_->config->file.string());
      requestReload({});
      if (!ended_) hangups_->async_wait(on_hangup_);
    };
    hangups_->async_wait(on_hangup_);
  }

  // A signal, or a pipeline with on_failure: stop_daemon: every pipeline stops gracefully.
  void stopAll() {
    if (!stopping_) notifier_.stopping();
    stopping_ = true;
    for (auto& slot : slots_) {
      slot->resume_when_stopped = false;
      if (!slot->running) continue;
      slot->status->setState(PipelineState::Stopping);
      slot->worker.request_stop();
    }
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
    const std::string name = slot.config->name;
    if (!status) {
      failed_ = true;
      if (status.error().kind == core::ErrorKind::InvalidConfig) invalid_config_ = true;
      if (slot.config->on_failure == config::OnFailure::StopDaemon) {
        log::error(kComponent, "pipeline {} stopped: {}; on_failure: stop_daemon, so every pipeline stops", name,
                   status.error().describe());
        stopAll();
      } else {
        // The others go on; the daemon exits non-zero once they stopped too.
        log::error(kComponent, "pipeline {} stopped: {}; the other pipelines go on (on_failure: stop_pipeline)", name,
                   status.error().describe());
      }
    } else if (slot.remove_when_stopped || slot.next) {
      log::notice(kComponent, "pipeline {} stopped for the reload", name);
    } else if (slot.stopped_by_admin) {
      log::notice(kComponent, "pipeline {} stopped through the admin API", name);
    }
    if (slot.remove_when_stopped || slot.next) {
      reloadStopped(slot);  // may remove the slot: nothing below may touch it
    } else if (slot.resume_when_stopped && !stopping_) {
      slot.resume_when_stopped = false;
      log::notice(kComponent, "pipeline {}: starting again (restart through the admin API)", name);
      if (auto started = rebuildAndStart(slot); !started) {
        log::error(kComponent, "pipeline {}: restart through the admin API failed: {}", name,
                   started.error().describe());
      }
    }
    finishReloadIfDone();
    endIfDone();
  }

  // --- Reload -------------------------------------------------------------------------------

  void requestReload(std::function<void(const ReloadOutcome&)> done) {
    auto refuse = [&](std::string why) {
      log::warning(kComponent, "reload refused: {}", why);
      ++reload_stats_.by_result[static_cast<size_t>(ReloadOutcome::Result::Refused)];
      if (!done) return;
      ReloadOutcome refused;
      refused.result = ReloadOutcome::Result::Refused;
      refused.message = std::move(why);
      done(refused);
    };
    if (!options_.reload) return refuse("this run cannot reload its configuration");
    if (stopping_) return refuse("the daemon is stopping");
    if (reload_) {
      // One at a time. A signal during a reload is kept for when it ends (the file may have
      // changed again); an API caller is told to ask again.
      if (!done) {
        reload_again_ = true;
        log::notice(kComponent, "a reload is under way; reloading again when it ends");
        return;
      }
      return refuse("another reload is under way; ask again when it ends");
    }
    reload_ = std::make_unique<ReloadRun>();
    if (done) reload_->waiting.push_back(std::move(done));
    reload_->work.emplace(io_.get_executor());
    if (loader_.joinable()) loader_.join();
    // Loading reads files and may query reference tables: not on the event loop, which keeps
    // answering the admin API and feeding the watchdog meanwhile.
    loader_ = std::jthread([this] {
      auto loaded = options_.reload();
      boost::asio::post(io_, [this, loaded = std::move(loaded)]() mutable { applyReload(std::move(loaded)); });
    });
  }

  // Why a running pipeline must be rebuilt for `next`, or empty when nothing it depends on changed.
  static std::string changeOf(const Slot& slot, const LoadedConfig& next, const config::PipelineConfig& p) {
    std::vector<std::string> what;
    if (slot.config->digest != p.digest) what.emplace_back("its configuration changed");
    const auto files_of = [](const LoadedConfig& loaded, const std::string& name) {
      auto it = loaded.files.find(name);
      return it == loaded.files.end() ? std::vector<files::ReadRecorder::File>{} : it->second;
    };
    const auto before = files_of(*slot.loaded, p.name);
    const auto after = files_of(next, p.name);
    if (before != after) {
      std::vector<std::string> changed;
      for (const auto& file : after) {
        if (std::ranges::find(before, file) == before.end()) changed.push_back(file.path);
      }
      for (const auto& file : before) {
        if (std::ranges::none_of(after, [&](const auto& f) { return f.path == file.path; })) {
          changed.push_back(file.path);
        }
      }
      what.push_back(changed.empty() ? std::string("its files changed")
                                     : fmt::format("{} changed", fmt::join(changed, ", ")));
    }
    return fmt::format("{}", fmt::join(what, "; "));
  }

  void applyReload(std::expected<std::shared_ptr<const LoadedConfig>, std::string> loaded) {
    reload_->work.reset();
    ReloadOutcome& outcome = reload_->outcome;
    if (stopping_) {
      outcome.result = ReloadOutcome::Result::Refused;
      outcome.message = "the daemon is stopping";
      log::warning(kComponent, "reload dropped: the daemon is stopping");
      return finishReload();
    }
    if (!loaded) {
      outcome.result = ReloadOutcome::Result::Invalid;
      outcome.message = loaded.error();
      log::error(kComponent, "reload refused: {} has errors; the running configuration stays unchanged:",
                 current_->config->file.string());
      std::string_view text = loaded.error();
      while (!text.empty()) {
        const size_t end = text.find('\n');
        const std::string_view line = text.substr(0, end);
        if (!line.empty()) log::error(kComponent, "reload: {}", line);
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
      }
      notifier_.status("reload refused: the configuration has errors (see the log); running the previous one");
      return finishReload();
    }
    std::shared_ptr<const LoadedConfig> next = std::move(*loaded);
    const config::DaemonConfig& old_config = *current_->config;
    const config::DaemonConfig& new_config = *next->config;

    // What applies at once, and what only a restart applies.
    if (new_config.log.level != old_config.log.level) {
      log::Level level = log::Level::Info;
      if (log::parseLevel(new_config.log.level, level) && !options_.keep_log_level) {
        log::setLevel(level);
        log::notice(kComponent, "reload: log level now {}", new_config.log.level);
      }
    }
    auto digest = [](const config::DaemonConfig& c, const char* section) {
      auto it = c.section_digests.find(section);
      return it == c.section_digests.end() ? std::string() : it->second;
    };
    if (digest(old_config, "admin") != digest(new_config, "admin")) {
      outcome.notes.emplace_back("the admin section changed: it applies at the next restart");
    }
    if (digest(old_config, "board") != digest(new_config, "board")) {
      outcome.notes.emplace_back("the board section changed: it applies at the next restart");
    }
    if (digest(old_config, "kafka") != digest(new_config, "kafka")) {
      outcome.notes.emplace_back(
          "the kafka section changed: every pipeline is rebuilt with it; the state topic connection keeps its "
          "settings until the next restart");
    }
    if (old_config.service.pid_file != new_config.service.pid_file) {
      outcome.notes.emplace_back("service.pid_file changed: it applies at the next restart");
    }

    // Pipelines: rebuilt, added, removed, unchanged.
    std::vector<const config::PipelineConfig*> added;
    for (const auto& p : new_config.pipelines) {
      if (!p.enabled) continue;
      Slot* slot = find(p.name);
      if (!slot) {
        added.push_back(&p);
        continue;
      }
      const std::string change = changeOf(*slot, *next, p);
      if (change.empty()) {
        outcome.unchanged.push_back(p.name);
        continue;
      }
      log::notice(kComponent, "reload: pipeline {}: {}", p.name, change);
      outcome.rebuilt.push_back(p.name);
      slot->next = next;
      slot->next_config = &p;
    }
    for (auto& slot : slots_) {
      const std::string& name = slot->config->name;
      const auto* kept = [&]() -> const config::PipelineConfig* {
        for (const auto& p : new_config.pipelines) {
          if (p.name == name && p.enabled) return &p;
        }
        return nullptr;
      }();
      if (kept) continue;
      log::notice(kComponent, "reload: pipeline {} is no longer configured (or disabled): stopping it", name);
      outcome.removed.push_back(name);
      slot->remove_when_stopped = true;
      slot->next.reset();
      slot->next_config = nullptr;
    }
    for (const auto* p : added) outcome.added.push_back(p->name);
    for (const auto& note : outcome.notes) log::warning(kComponent, "reload: {}", note);

    current_ = next;
    if (outcome.rebuilt.empty() && outcome.added.empty() && outcome.removed.empty()) {
      outcome.result = ReloadOutcome::Result::Unchanged;
      log::notice(kComponent, "reload: no pipeline is affected; all {} keep running", outcome.unchanged.size());
      return finishReload();
    }
    outcome.result = ReloadOutcome::Result::Applied;
    reload_->applying = true;
    notifier_.reloading();
    // Stop what changed or went (gracefully: the cursor is committed), start what is new.
    std::vector<Slot*> not_running;
    for (auto& slot : slots_) {
      if (!slot->next && !slot->remove_when_stopped) continue;
      slot->resume_when_stopped = false;
      if (slot->running) {
        slot->status->setState(PipelineState::Stopping);
        slot->worker.request_stop();
      } else {
        not_running.push_back(slot.get());
      }
    }
    for (const auto* p : added) {
      log::notice(kComponent, "reload: pipeline {} is new: starting it", p->name);
      auto slot = makeSlot(next, *p);
      slots_.push_back(std::move(slot));
      if (slots_.back()->pipeline) startWorker(*slots_.back());
    }
    // Pipelines that were not running take their new configuration at once.
    for (Slot* slot : not_running) reloadStopped(*slot);
    finishReloadIfDone();
  }

  // A pipeline a reload stopped (or found stopped): removed, or rebuilt with its new
  // configuration and started unless the admin API had stopped it.
  void reloadStopped(Slot& slot) {
    if (slot.worker.joinable()) slot.worker.join();
    if (slot.remove_when_stopped) {
      log::notice(kComponent, "reload: pipeline {} removed", slot.config->name);
      std::erase_if(slots_, [&](const auto& s) { return s.get() == &slot; });
      return;
    }
    // The old pipeline first: its transform may point into the configuration it was built from.
    slot.pipeline.reset();
    slot.loaded = std::move(slot.next);
    slot.config = slot.next_config;
    slot.next_config = nullptr;
    if (slot.stopped_by_admin) {
      log::notice(kComponent, "reload: pipeline {} takes the new configuration and stays stopped (admin API)",
                  slot.config->name);
      auto rebuilt = build(slot);
      if (rebuilt) slot.pipeline = std::move(*rebuilt);
      return;
    }
    if (stopping_) return;
    if (auto started = rebuildAndStart(slot); !started) {
      log::error(kComponent, "reload: pipeline {} cannot start with its new configuration: {}", slot.config->name,
                 started.error().describe());
      failed_ = true;
    } else {
      log::notice(kComponent, "reload: pipeline {} started with its new configuration", slot.config->name);
    }
  }

  void finishReloadIfDone() {
    if (!reload_ || !reload_->applying) return;
    for (const auto& slot : slots_) {
      if (slot->next || slot->remove_when_stopped) return;
    }
    const auto& o = reload_->outcome;
    log::notice(kComponent, "reload done: rebuilt [{}], added [{}], removed [{}], unchanged [{}]",
                fmt::join(o.rebuilt, ", "), fmt::join(o.added, ", "), fmt::join(o.removed, ", "),
                fmt::join(o.unchanged, ", "));
    if (ready_sent_) notifier_.ready();  // before the first READY=1 the tick sends it once all are ready
    finishReload();
  }

  void finishReload() {
    auto run = std::move(reload_);
    const auto result = run->outcome.result;
    ++reload_stats_.by_result[static_cast<size_t>(result)];
    if (result == ReloadOutcome::Result::Invalid) reload_stats_.last_successful = false;
    if (result == ReloadOutcome::Result::Applied || result == ReloadOutcome::Result::Unchanged) {
      reload_stats_.last_successful = true;
      reload_stats_.config_loaded_unix_ms = unixMillisNow();
    }
    for (auto& done : run->waiting) done(run->outcome);
    if (reload_again_ && !stopping_) {
      reload_again_ = false;
      requestReload({});
    }
    status_due_ = {};  // a fresh STATUS= line at the next tick
    endIfDone();
  }

  // --- Service manager ----------------------------------------------------------------------

  // Every second (or half the watchdog timeout, if shorter): READY=1 once ready, WATCHDOG=1
  // while healthy, a STATUS= line every few seconds.
  void scheduleTick() {
    auto period = std::chrono::milliseconds(1000);
    if (auto timeout = notifier_.watchdogTimeout()) {
      period = std::min(period, std::chrono::duration_cast<std::chrono::milliseconds>(*timeout / 2));
      period = std::max(period, std::chrono::milliseconds(10));
    }
    tick_.expires_after(period);
    tick_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || ended_) return;
      tick();
      scheduleTick();
    });
  }

  void tick() {
    const auto views = pipelines();
    const auto now = std::chrono::steady_clock::now();
    if (!ready_sent_ && !stopping_ && notReadyReasons(views, false).empty()) {
      ready_sent_ = true;
      log::notice(kComponent, "ready: every pipeline opened its source and sink and restored its state");
      notifier_.ready();
      status_due_ = {};
    }
    const auto stuck = stuckSteps(views, stuckAfter());
    if (stuck.empty()) {
      if (watchdog_withheld_) log::notice(kComponent, "no pipeline is stuck any more: feeding the watchdog again");
      watchdog_withheld_ = false;
      if (notifier_.watchdogTimeout()) notifier_.watchdog();
    } else if (!watchdog_withheld_) {
      watchdog_withheld_ = true;
      const auto& first = stuck.front();
      log::error(kComponent, "pipeline {} has been in step {} for {:.0f} s (service.stuck_after {} s){}",
                 first.pipeline, first.step, std::chrono::duration<double>(first.running_for).count(),
                 std::chrono::duration_cast<std::chrono::seconds>(stuckAfter()).count(),
                 notifier_.watchdogTimeout() ? ": withholding the watchdog, so systemd restarts the service" : "");
    }
    if (notifier_.active() && now >= status_due_) {
      status_due_ = now + std::chrono::seconds(5);
      std::string line = status_line_.update(views, stopping_, now);
      if (!stuck.empty()) {
        line = fmt::format("pipeline {} stuck in {} for {:.0f} s; {}", stuck.front().pipeline, stuck.front().step,
                           std::chrono::duration<double>(stuck.front().running_for).count(), line);
      }
      if (reload_) line = "reloading; " + line;
      notifier_.status(line);
    }
  }

  // The run ends when no worker runs and nothing waits for the admin or a reload: after a
  // signal, or when every pipeline ended by itself (none stopped through the admin API, which a
  // resume may start).
  void endIfDone() {
    if (ended_ || reload_) return;
    for (const auto& slot : slots_) {
      if (slot->running) return;
      if (!stopping_ && slot->stopped_by_admin) return;
    }
    ended_ = true;
    signals_->cancel();
    hangups_->cancel();
    tick_.cancel();
    if (attachment_) attachment_->stop();
  }

  std::shared_ptr<const LoadedConfig> current_;  // the configuration in force (the last valid load)
  const core::Registry& registry_;
  const DaemonOptions options_;
  core::SystemClock clock_;
  std::unique_ptr<core::StateStore> state_store_;
  core::StateStore& state_;
  PidFile pid_file_;

  // Event loop only. Slots are added and removed by reloads, never while a worker of theirs runs.
  std::vector<std::unique_ptr<Slot>> slots_;
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

  std::unique_ptr<ReloadRun> reload_;
  ReloadStats reload_stats_{.by_result = {}, .last_successful = true, .config_loaded_unix_ms = unixMillisNow()};
  bool reload_again_ = false;
  std::jthread loader_;  // the last reload's loading thread

  ServiceNotifier notifier_;
  StatusLine status_line_;
  boost::asio::steady_timer tick_;
  std::chrono::steady_clock::time_point status_due_{};
  bool ready_sent_ = false;
  bool watchdog_withheld_ = false;
};

}  // namespace

std::string healthKey(std::string_view pipeline) {
  return state_layout::healthKey(pipeline);
}

int runDaemon(std::shared_ptr<const LoadedConfig> loaded, const core::Registry& registry, DaemonOptions options) {
  Daemon daemon(std::move(loaded), registry, std::move(options));
  return daemon.run();
}

}  // namespace dutybridge::runtime
