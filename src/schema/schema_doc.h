#pragma once
// A configuration schema as a markdown table, one row per key with its path through nested
// objects (`calendars.<name>.shifts[].code`): type, whether required or its default, bounds and
// description. Files that are not connector configs (calendars, and next mapping files) keep
// their key tables generated from the schema the validator checks, and a test compares them
// with the docs, so docs and validation cannot drift apart.

#include <string>

#include "src/core/config_schema.h"

namespace dutybridge::schema {

std::string markdownKeyTable(const core::ConfigSchema& schema);

}  // namespace dutybridge::schema
