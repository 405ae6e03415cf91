#pragma once
// Renders connector config schemas for `dutybridge list-connectors` (text), for
// docs/connectors/<name>.md (markdown) and, with the daemon's own schema, the manual page
// dutybridge.yaml(5) (roff, `list-connectors --format man`, packaged): all come from the same
// FieldSpec tables.

#include <string>
#include <string_view>
#include <vector>

#include "src/core/config_schema.h"
#include "src/core/connector.h"

namespace dutybridge::cli {

std::string describeText(const core::ConnectorFactory& factory);
std::string describeMarkdown(const core::ConnectorFactory& factory);

// dutybridge.yaml(5): every key of `daemon` (the top level, with nested paths such as
// `pipelines[].source`), then each connector's keys, grouped as sources, sinks and
// reference-table sources in the order given.
std::string configManPage(const core::ConfigSchema& daemon, const std::vector<const core::ConnectorFactory*>& connectors,
                          std::string_view version);

}  // namespace dutybridge::cli
