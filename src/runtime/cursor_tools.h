#pragma once
// The cursor tools the admin API (through the Daemon) and `dutybridge cursor` share, so that a
// cursor changed either way is checked, written and audited the same way.
//
// Threading: blocking calls (a state-topic flush, a database round trip), made from one thread
// at a time: the daemon's event loop, or the CLI's main thread.
// Errors: ControlError, by what the caller should tell its user: Invalid for a position the
// source refuses, Conflict for a pipeline whose sink keeps its position, Unavailable when the
// store or the connector cannot be reached.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/config/daemon_config.h"
#include "src/core/clock.h"
#include "src/core/connector.h"
#include "src/core/registry.h"
#include "src/core/state_store.h"
#include "src/runtime/daemon_control.h"

namespace dutybridge::runtime {

// What a pipeline's connectors are created with, by the daemon and by the cursor tools alike.
core::ConnectorContext pipelineConnectorContext(const config::DaemonConfig& daemon,
                                                const config::PipelineConfig& pipeline, const core::Clock& clock);

// Checks `position` with the pipeline's source (created, never opened: checkPosition needs no
// connection), then writes it as cursor/<pipeline> (nullopt deletes it) so it is durable when
// this returns: for an exactly-once pipeline in a Kafka transaction of its own sink (its
// transactional.id), otherwise put and flushed; logs an audit line naming `by` ("the admin API", "the command
// line") with the cursor before and after. The caller makes sure the pipeline is not running.
ControlResult<> writeCursor(core::StateStore& state, const core::Registry& registry,
                            const config::PipelineConfig& pipeline, const core::ConnectorContext& context,
                            std::optional<std::string> position, std::string_view by);

// The position of a pipeline whose sink stores it with its rows (Sink::storesPosition: the ODBC
// upsert sink's offsets row). `stored_by_sink` false: the sink does not (the cursor is in the
// state store); the sink is then only created, never opened. Otherwise it is opened, asked
// (storedPosition) and closed; with `open` false only whether it stores one is answered.
struct SinkPosition {
  bool stored_by_sink = false;
  std::optional<std::string> position;
};
core::Result<SinkPosition> readSinkPosition(const core::Registry& registry, const config::PipelineConfig& pipeline,
                                            const core::ConnectorContext& context, bool open = true);

}  // namespace dutybridge::runtime
