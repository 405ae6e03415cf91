#pragma once
// Renders connector config schemas for `dutybridge list-connectors` (text) and for
// docs/connectors/<name>.md (markdown): both come from the same FieldSpec tables.

#include <string>

#include "src/core/connector.h"

namespace dutybridge::cli {

std::string describeText(const core::ConnectorFactory& factory);
std::string describeMarkdown(const core::ConnectorFactory& factory);

}  // namespace dutybridge::cli
