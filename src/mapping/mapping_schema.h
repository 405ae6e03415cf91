#pragma once
// A mapping file as a schema: its keys, types, defaults, bounds and descriptions. The one
// validator (src/schema) checks a file's structure against it before the loader compiles the
// expressions (so unknown, missing and mistyped keys read as in the daemon config), and the key
// tables of docs/mapping-language.md and docs/aggregation.md are generated from it (and tested).
// Keys whose content has a grammar of its own (input types, tables, test records) are `Any`
// here and checked by the loader.

#include "src/core/config_schema.h"

namespace dutybridge::mapping {

const core::ConfigSchema& mappingFileSchema();
// The schema of `aggregate:` (part of mappingFileSchema()), for docs/aggregation.md.
const core::ConfigSchema& aggregateBlockSchema();

}  // namespace dutybridge::mapping
