#include "src/runtime/daemon.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <csignal>
#include <cstdlib>
#include <memory>
#include <thread>
#include <vector>

#include "src/common/log.h"
#include "src/runtime/lazy_state_store.h"
#include "src/runtime/memory_state_store.h"
#include "src/runtime/pipeline.h"

namespace dutybridge::runtime {
namespace {

constexpr std::string_view kComponent = "daemon";

}  // namespace

int runDaemon(const config::DaemonConfig& config, const Registry& registry, DaemonOptions options) {
  core::SystemClock clock;
  std::unique_ptr<core::StateStore> state_store;
  if (options.open_state_store) {
    state_store = std::make_unique<LazyStateStore>(options.open_state_store);
  } else {
    log::warning(kComponent, "no kafka section: cursors are kept in memory and a restart starts over");
    state_store = std::make_unique<MemoryStateStore>();
  }
  core::StateStore& state = *state_store;

  std::vector<std::unique_ptr<Pipeline>> pipelines;
  for (const auto& p : config.pipelines) {
    if (!p.enabled) {
      log::notice(kComponent, "pipeline {} is disabled", p.name);
      continue;
    }
    core::ConnectorContext context{p.name, &clock, config.kafka};
    const auto* source_factory = registry.findSource(p.source.type);
    const auto* sink_factory = registry.findSink(p.sink.type);
    auto source = source_factory->create(p.source.settings, context);
    auto sink = sink_factory->create(p.sink.settings, context);
    if (!source || !sink) {
      log::error(kComponent, "pipeline {}: {}", p.name, (!source ? source.error() : sink.error()).describe());
      return 1;
    }
    PipelineOptions pipeline_options;
    pipeline_options.stop_when_idle = options.once;
    pipeline_options.max_in_flight_records = p.max_in_flight;
    if (config.kafka) pipeline_options.dlq_topic = config.kafka->getString("dlq_topic");
    std::unique_ptr<core::Transform> transform;
    if (p.mapping && options.make_transform) transform = options.make_transform(p, clock);
    pipelines.push_back(std::make_unique<Pipeline>(p.name, std::move(*source), std::move(*sink), state,
                                                   pipeline_options, std::move(transform)));
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

  for (auto& pipeline : pipelines) {
    Pipeline* p = pipeline.get();
    workers.emplace_back([p, &io, &finished, &failed, &invalid_config, &signals,
                          total = pipelines.size()](std::stop_token stop) {
      core::Status status = p->run(stop);
      boost::asio::post(io, [p, status, &finished, &failed, &invalid_config, &signals, total] {
        if (!status) {
          failed = true;
          if (status.error().kind == core::ErrorKind::InvalidConfig) invalid_config = true;
          log::error(kComponent, "pipeline {} stopped: {}", p->name(), status.error().describe());
        }
        if (++finished == total) signals.cancel();
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
