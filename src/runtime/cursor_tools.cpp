#include "src/runtime/cursor_tools.h"

#include <fmt/format.h>

#include <chrono>

#include "src/common/log.h"
#include "src/runtime/state_layout.h"

namespace dutybridge::runtime {
namespace {

constexpr std::string_view kComponent = "cursor";

std::unexpected<ControlError> unavailable(const core::Error& error) {
  return std::unexpected(ControlError{ControlError::Code::Unavailable, error.describe()});
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
  auto put = state.put(key, position.value_or(""));
  if (put) put = state.flush(std::chrono::steady_clock::now() + std::chrono::seconds(5));
  if (!put) return unavailable(put.error());
  const std::string was = *before ? **before : std::string("none");
  if (position) {
    log::notice(kComponent, "pipeline {}: cursor set through {} (was {}, now {})", pipeline.name, by, was, *position);
  } else {
    log::notice(kComponent, "pipeline {}: cursor deleted through {} (was {}); it starts from its configured start",
                pipeline.name, by, was);
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
