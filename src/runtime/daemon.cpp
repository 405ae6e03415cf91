#include "src/runtime/daemon.h"

#include <mutex>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <nlohmann/json.hpp>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "src/common/log.h"
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
// signals and for the workers to finish. One per runDaemon() call; the event loop and the
// members it touches are used from the main thread, except where a comment says otherwise.
class Daemon {
 public:
  Daemon(const config::DaemonConfig& config, const core::Registry& registry, DaemonOptions options)
      : config_(config),
        registry_(registry),
        options_(std::move(options)),
        state_store_(openStateStore()),
        state_(*state_store_) {}

  int run() {
    // Ignored while pipelines open (connecting can take long); the event loop notes it from then on.
    std::signal(SIGHUP, SIG_IGN);
    if (!buildAll()) return 1;
    if (pipelines_.empty()) {
      log::warning(kComponent, "no enabled pipelines; nothing to do");
      return 0;
    }
    waitForSignals();
    for (size_t i = 0; i < pipelines_.size(); ++i) {
      workers_.emplace_back([this, i](std::stop_token stop) { runWorker(i, stop); });
    }
    log::notice(kComponent, "running {} pipeline(s)", pipelines_.size());
    io_.run();
    for (auto& worker : workers_) worker.join();
    log::notice(kComponent, "stopped");
    return invalid_config_ ? 2 : failed_ ? 1 : 0;
  }

 private:
  std::unique_ptr<core::StateStore> openStateStore() const {
    if (options_.open_state_store) return std::make_unique<LazyStateStore>(options_.open_state_store);
    log::warning(kComponent, "no kafka section: cursors are kept in memory and a restart starts over");
    return std::make_unique<MemoryStateStore>();
  }

  // Every enabled pipeline; false (logged) when one cannot be built.
  bool buildAll() {
    for (const auto& p : config_.pipelines) {
      if (!p.enabled) {
        log::notice(kComponent, "pipeline {} is disabled", p.name);
        continue;
      }
      auto built = build(p);
      if (!built) {
        log::error(kComponent, "pipeline {}: {}", p.name, built.error().describe());
        return false;
      }
      pipelines_.push_back(std::move(*built));
      pipeline_configs_.push_back(&p);
    }
    return true;
  }

  // A pipeline from its config: at start, and again after an aborted transaction (a fresh
  // source, transform and sink resume from the last commit). Called from the main thread and
  // from the pipeline's own worker; it reads only what is immutable while the daemon runs.
  core::Result<std::unique_ptr<Pipeline>> build(const config::PipelineConfig& p) {
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
    auto pipeline = std::make_unique<Pipeline>(p.name, std::move(*source), std::move(*sink), state_, pipelineOptions(p),
                                               std::move(transform));
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
    core::ConnectorContext context;
    context.pipeline_name = p.name;
    context.clock = &clock_;
    context.kafka = config_.kafkaCluster();
    context.exactly_once = p.delivery != config::Delivery::AtLeastOnce;
    context.exactly_once_fallback = p.delivery == config::Delivery::Auto;
    return context;
  }

  PipelineOptions pipelineOptions(const config::PipelineConfig& p) {
    PipelineOptions out;
    out.stop_when_idle = options_.once;
    out.max_in_flight_records = p.max_in_flight;
    out.commit_interval = p.commit_interval;
    out.commit_records = p.commit_records;
    out.dead_letter_limit = {p.dead_letter_limit, p.dead_letter_window};
    out.on_running = [this, name = p.name] { clearFailure(state_, name); };
    if (!config_.dead_letter_topic.empty()) out.dlq_topic = config_.dead_letter_topic;
    out.stats_interval = config_.log.stats_interval;
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
      for (auto& worker : workers_) worker.request_stop();
      signals_->async_wait(on_signal_);
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

  Pipeline* pipeline(size_t i) {
    std::lock_guard lock(restart_mutex_);
    return pipelines_[i].get();
  }

  // Worker thread i: runs pipeline i, again after each aborted transaction, until it ends; then
  // records a failure and tells the event loop.
  void runWorker(size_t i, std::stop_token stop) {
    core::Status status;
    Backoff pause(std::chrono::milliseconds(100), std::chrono::milliseconds(10'000));
    while (true) {
      Pipeline* p = pipeline(i);
      status = p->run(stop);
      if (status || status.error().kind != core::ErrorKind::Abortable || stop.stop_requested()) break;
      // An aborted transaction: run the pipeline again from its last commit.
      log::warning(kComponent, "pipeline {}: restarting from the last committed transaction", p->name());
      if (!pause.wait(stop)) {
        status = {};  // stopped before the restart: the aborted transaction left nothing behind
        break;
      }
      auto rebuilt = build(*pipeline_configs_[i]);
      if (!rebuilt) {
        status = core::fail(rebuilt.error());
        break;
      }
      // Records the sink refused while writing: the next run dead-letters them when it reads them.
      (*rebuilt)->carryWriteRefusals(p->takeWriteRefusals());
      std::lock_guard lock(restart_mutex_);
      pipelines_[i] = std::move(*rebuilt);
    }
    Pipeline* p = pipeline(i);
    if (!status) recordFailure(state_, p->name(), status.error());
    const bool stop_all = pipeline_configs_[i]->on_failure == config::OnFailure::StopDaemon;
    boost::asio::post(io_, [this, p, status, stop_all] { pipelineEnded(*p, status, stop_all); });
  }

  // On the event loop: a pipeline ended (cleanly, or with `status`).
  void pipelineEnded(const Pipeline& p, const core::Status& status, bool stop_all) {
    if (!status) {
      failed_ = true;
      if (status.error().kind == core::ErrorKind::InvalidConfig) invalid_config_ = true;
      if (stop_all) {
        log::error(kComponent, "pipeline {} stopped: {}; on_failure: stop_daemon, so every pipeline stops", p.name(),
                   status.error().describe());
        for (auto& worker : workers_) worker.request_stop();
      } else {
        // The others go on; the daemon exits non-zero once they stopped too.
        log::error(kComponent, "pipeline {} stopped: {}; the other pipelines go on (on_failure: stop_pipeline)",
                   p.name(), status.error().describe());
      }
    }
    if (++finished_ == pipelines_.size()) {
      signals_->cancel();
      hangups_->cancel();
    }
  }

  const config::DaemonConfig& config_;
  const core::Registry& registry_;
  const DaemonOptions options_;
  core::SystemClock clock_;
  std::unique_ptr<core::StateStore> state_store_;
  core::StateStore& state_;

  // Built before the workers start; an entry is replaced only by its own worker, under the mutex.
  std::vector<std::unique_ptr<Pipeline>> pipelines_;
  std::vector<const config::PipelineConfig*> pipeline_configs_;
  std::mutex restart_mutex_;

  boost::asio::io_context io_;
  std::optional<boost::asio::signal_set> signals_;  // SIGINT, SIGTERM (waitForSignals)
  std::optional<boost::asio::signal_set> hangups_;  // SIGHUP
  std::function<void(const boost::system::error_code&, int)> on_signal_;
  std::function<void(const boost::system::error_code&, int)> on_hangup_;
  int signals_seen_ = 0;
  size_t finished_ = 0;
  bool failed_ = false;
  bool invalid_config_ = false;
  std::vector<std::jthread> workers_;  // last: joined (run) before the members above go
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
