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

}  // namespace

std::string healthKey(std::string_view pipeline) { return state_layout::healthKey(pipeline); }

int runDaemon(const config::DaemonConfig& config, const core::Registry& registry, DaemonOptions options) {
  // Ignored while pipelines open (connecting can take long); the event loop notes it from then on.
  std::signal(SIGHUP, SIG_IGN);
  core::SystemClock clock;
  std::unique_ptr<core::StateStore> state_store;
  if (options.open_state_store) {
    state_store = std::make_unique<LazyStateStore>(options.open_state_store);
  } else {
    log::warning(kComponent, "no kafka section: cursors are kept in memory and a restart starts over");
    state_store = std::make_unique<MemoryStateStore>();
  }
  core::StateStore& state = *state_store;

  // Builds a pipeline from its config: at start, and again after an aborted transaction (a
  // fresh source, transform and sink resume from the last commit).
  auto build = [&](const config::PipelineConfig& p) -> core::Result<std::unique_ptr<Pipeline>> {
    core::ConnectorContext context;
    context.pipeline_name = p.name;
    context.clock = &clock;
    context.kafka = config.kafka;
    context.exactly_once = p.delivery != config::Delivery::AtLeastOnce;
    context.exactly_once_fallback = p.delivery == config::Delivery::Auto;
    std::unique_ptr<core::Transform> transform;
    if (p.mapping && options.make_transform) transform = options.make_transform(p, clock);
    if (!config.dead_letter_topic.empty()) context.extra_topics.push_back(config.dead_letter_topic);
    if (transform) {
      for (auto& topic : transform->outputTopics()) context.extra_topics.push_back(std::move(topic));
    }
    const auto* source_factory = registry.findSource(p.source.type);
    const auto* sink_factory = registry.findSink(p.sink.type);
    auto source = source_factory->create(p.source.settings, context);
    if (!source) return core::fail(source.error());
    auto sink = sink_factory->create(p.sink.settings, context);
    if (!sink) return core::fail(sink.error());
    PipelineOptions pipeline_options;
    pipeline_options.stop_when_idle = options.once;
    pipeline_options.max_in_flight_records = p.max_in_flight;
    pipeline_options.commit_interval = p.commit_interval;
    pipeline_options.commit_records = p.commit_records;
    pipeline_options.dead_letter_limit = {p.dead_letter_limit, p.dead_letter_window};
    pipeline_options.on_running = [&state, name = p.name] { clearFailure(state, name); };
    if (!config.dead_letter_topic.empty()) pipeline_options.dlq_topic = config.dead_letter_topic;
    if (config.log) {
      pipeline_options.stats_interval =
          std::chrono::duration_cast<std::chrono::milliseconds>(config.log->getDuration("stats_interval"));
    }
    auto pipeline = std::make_unique<Pipeline>(p.name, std::move(*source), std::move(*sink), state, pipeline_options,
                                               std::move(transform));
    if (p.dead_letters) {
      // Not transactional: the letters are flushed before their batch is written to the sink.
      core::ConnectorContext dlq_context;
      dlq_context.pipeline_name = p.name;
      dlq_context.clock = &clock;
      dlq_context.kafka = config.kafka;
      const auto* dlq_factory = registry.findSink(p.dead_letters->type);
      auto dlq_sink = dlq_factory->create(p.dead_letters->settings, dlq_context);
      if (!dlq_sink) return core::fail(dlq_sink.error());
      pipeline->setDeadLetterSink(std::move(*dlq_sink));
    }
    return pipeline;
  };

  std::vector<std::unique_ptr<Pipeline>> pipelines;
  std::vector<const config::PipelineConfig*> pipeline_configs;
  for (const auto& p : config.pipelines) {
    if (!p.enabled) {
      log::notice(kComponent, "pipeline {} is disabled", p.name);
      continue;
    }
    auto built = build(p);
    if (!built) {
      log::error(kComponent, "pipeline {}: {}", p.name, built.error().describe());
      return 1;
    }
    pipelines.push_back(std::move(*built));
    pipeline_configs.push_back(&p);
  }
  if (pipelines.empty()) {
    log::warning(kComponent, "no enabled pipelines; nothing to do");
    return 0;
  }

  boost::asio::io_context io;
  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  std::vector<std::jthread> workers;
  size_t finished = 0;
  bool failed = false;
  bool invalid_config = false;
  int signals_seen = 0;

  std::function<void(const boost::system::error_code&, int)> onSignal = [&](const boost::system::error_code& ec,
                                                                              int number) {
    if (ec) return;
    if (++signals_seen > 1) {
      log::error(kComponent, "second signal {}: exiting without waiting for in-flight records", number);
      std::_Exit(1);
    }
    log::notice(kComponent, "signal {} received: stopping pipelines gracefully", number);
    for (auto& worker : workers) worker.request_stop();
    signals.async_wait(onSignal);
  };
  signals.async_wait(onSignal);
  // SIGHUP (systemctl reload, a closed terminal) would otherwise end the daemon without a
  // graceful stop. Until reload exists it is noted and ignored.
  boost::asio::signal_set hangups(io, SIGHUP);
  std::function<void(const boost::system::error_code&, int)> onHangup = [&](const boost::system::error_code& ec, int) {
    if (ec) return;
    log::notice(kComponent, "SIGHUP received: reloading the configuration is not supported yet; ignored (restart "
                            "the service to apply changes)");
    hangups.async_wait(onHangup);
  };
  hangups.async_wait(onHangup);

  std::mutex restart_mutex;  // guards `pipelines` entries while a worker replaces its own
  for (size_t i = 0; i < pipelines.size(); ++i) {
    workers.emplace_back([i, &pipelines, &pipeline_configs, &build, &restart_mutex, &io, &finished, &failed,
                          &invalid_config, &signals, &hangups, &workers, &state,
                          total = pipelines.size()](std::stop_token stop) {
      core::Status status;
      Backoff pause(std::chrono::milliseconds(100), std::chrono::milliseconds(10'000));
      while (true) {
        Pipeline* p = nullptr;
        {
          std::lock_guard lock(restart_mutex);
          p = pipelines[i].get();
        }
        status = p->run(stop);
        if (status || status.error().kind != core::ErrorKind::Abortable || stop.stop_requested()) break;
        // An aborted transaction: run the pipeline again from its last commit.
        log::warning(kComponent, "pipeline {}: restarting from the last committed transaction", p->name());
        if (!pause.wait(stop)) {
          status = {};  // stopped before the restart: the aborted transaction left nothing behind
          break;
        }
        auto rebuilt = build(*pipeline_configs[i]);
        if (!rebuilt) {
          status = core::fail(rebuilt.error());
          break;
        }
        std::lock_guard lock(restart_mutex);
        pipelines[i] = std::move(*rebuilt);
      }
      Pipeline* p = nullptr;
      {
        std::lock_guard lock(restart_mutex);
        p = pipelines[i].get();
      }
      if (!status) recordFailure(state, p->name(), status.error());
      const bool stop_all = pipeline_configs[i]->on_failure == config::OnFailure::StopDaemon;
      boost::asio::post(io, [p, status, stop_all, &finished, &failed, &invalid_config, &signals, &hangups, &workers,
                             total] {
        if (!status) {
          failed = true;
          if (status.error().kind == core::ErrorKind::InvalidConfig) invalid_config = true;
          if (stop_all) {
            log::error(kComponent, "pipeline {} stopped: {}; on_failure: stop_daemon, so every pipeline stops",
                       p->name(), status.error().describe());
            for (auto& worker : workers) worker.request_stop();
          } else {
            // The others go on; the daemon exits non-zero once they stopped too.
            log::error(kComponent, "pipeline {} stopped: {}; the other pipelines go on (on_failure: stop_pipeline)",
                       p->name(), status.error().describe());
          }
        }
        if (++finished == total) {
          signals.cancel();
          hangups.cancel();
        }
      });
    });
  }
  log::notice(kComponent, "running {} pipeline(s)", pipelines.size());
  io.run();
  for (auto& worker : workers) worker.join();
  log::notice(kComponent, "stopped");
  return invalid_config ? 2 : failed ? 1 : 0;
}

}  // namespace dutybridge::runtime
