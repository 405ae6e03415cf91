#include "src/runtime/cursor_tools.h"

#include <fmt/format.h>

#include <chrono>
#include <vector>

#include "src/common/log.h"
#include "src/runtime/state_layout.h"

namespace dutybridge::runtime {
namespace {

constexpr std::string_view kComponent = "cursor";

std::unexpected<ControlError> unavailable(const core::Error& error) {
  return std::unexpected(ControlError{ControlError::Code::Unavailable, error.describe()});
}

// An exactly-once pipeline writes its cursor only in its own Kafka transactions: so does this,
// through the pipeline's sink, with the pipeline's transactional.id (which also fences an
// instance that still holds it). False: the sink turned out not to be transactional (delivery
// auto without transactions), so the caller writes the cursor the at-least-once way.
core::Result<bool> commitInTransaction(const core::Registry& registry, const config::PipelineConfig& pipeline,
                                       const core::ConnectorContext& context,
                                       const std::vector<core::StateEntry>& entries) {
  const core::SinkFactory* factory = registry.findSink(pipeline.sink.type);
  if (!factory) return core::fail(core::ErrorKind::InvalidConfig, "no sink connector '" + pipeline.sink.type + "'");
  auto sink = factory->create(pipeline.sink.settings, context);
  if (!sink) return core::fail(sink.error());
  if (auto opened = (*sink)->open(); !opened) {
    (*sink)->close();
    return core::fail(opened.error());
  }
  if (!(*sink)->transactional()) {
    (*sink)->close();
    return false;
  }
  auto committed = (*sink)->commitTransaction(entries, std::chrono::steady_clock::now() + std::chrono::seconds(10));
  if (!committed) (*sink)->abortTransaction(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  (*sink)->close();
  if (!committed) return core::fail(committed.error());
  return true;
}

}  // namespace

core::ConnectorContext pipelineConnectorContext(const config::DaemonConfig& daemon,
                                                const config::PipelineConfig& pipeline, const core::Clock& clock) {
  core::ConnectorContext context;
  context.pipeline_name = pipeline.name;
  context.clock = &clock;
  context.kafka = daemon.kafkaCluster();
  context.exactly_once = pipeline.delivery != config::Delivery::AtLeastOnce;
  context.exactly_once_fallback = pipeline.delivery == config::Delivery::Auto;
  return context;
}

ControlResult<> writeCursor(core::StateStore& state, const core::Registry& registry,
                            const config::PipelineConfig& pipeline, const core::ConnectorContext& context,
                            std::optional<std::string> position, std::string_view by) {
  if (position) {
    const core::SourceFactory* factory = registry.findSource(pipeline.source.type);
    if (!factory) {
      return std::unexpected(
          ControlError{ControlError::Code::Unavailable, fmt::format("no source connector '{}'", pipeline.source.type)});
    }
    auto source = factory->create(pipeline.source.settings, context);
    if (!source) return unavailable(source.error());
    if (auto checked = (*source)->checkPosition(*position); !checked) {
      return std::unexpected(ControlError{ControlError::Code::Invalid,
                                          "not a position of this pipeline's source: " + checked.error().message});
    }
  }
  const std::string key = state_layout::cursorKey(pipeline.name);
  auto before = state.get(key);
  if (!before) return unavailable(before.error());
  // An empty value is the store's deletion (a tombstone in the state topic).
  const std::vector<core::StateEntry> entries{{key, position.value_or("")}};
  bool transaction = false;
  if (context.exactly_once) {
    auto committed = commitInTransaction(registry, pipeline, context, entries);
    if (!committed) return unavailable(committed.error());
    transaction = *committed;
  }
  if (transaction) {
    state.remember(entries);  // committed by the sink's producer; the store learns it
  } else {
    auto put = state.put(key, position.value_or(""));
    if (put) put = state.flush(std::chrono::steady_clock::now() + std::chrono::seconds(5));
    if (!put) return unavailable(put.error());
  }
  const std::string was = *before ? **before : std::string("none");
  const std::string via = transaction ? fmt::format("{} in a Kafka transaction", by) : std::string(by);
  if (position) {
    log::notice(kComponent, "pipeline {}: cursor set through {} (was {}, now {})", pipeline.name, via, was, *position);
  } else {
    log::notice(kComponent, "pipeline {}: cursor deleted through {} (was {}); it starts from its configured start",
                pipeline.name, via, was);
  }
  return {};
}

core::Result<SinkPosition> readSinkPosition(const core::Registry& registry, const config::PipelineConfig& pipeline,
                                            const core::ConnectorContext& context, bool open) {
  const core::SinkFactory* factory = registry.findSink(pipeline.sink.type);
  if (!factory) return core::fail(core::ErrorKind::InvalidConfig, "no sink connector '" + pipeline.sink.type + "'");
  auto sink = factory->create(pipeline.sink.settings, context);
  if (!sink) return core::fail(sink.error());
  SinkPosition out;
  out.stored_by_sink = (*sink)->storesPosition();
  if (!out.stored_by_sink || !open) return out;
  auto opened = (*sink)->open();
  core::Result<std::optional<std::string>> stored =
      opened ? (*sink)->storedPosition() : core::Result<std::optional<std::string>>(std::unexpected(opened.error()));
  (*sink)->close();
  if (!stored) return core::fail(stored.error());
  out.position = std::move(*stored);
  return out;
}

}  // namespace dutybridge::runtime
