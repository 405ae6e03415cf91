#pragma once
// The one place every connector is registered (explicitly: static self-registration silently
// vanishes when linked from a static library): pipeline sources and sinks, and the loaders of
// mapping reference tables.

#include "src/core/config_schema.h"
#include "src/core/registry.h"
#include "src/expr/reference_table.h"

namespace dutybridge::connectors {

void registerBuiltinConnectors(core::Registry& registry);

// The `odbc:` and `kafka:` table sources of mappings. `kafka_section` is the daemon's validated
// `kafka:` section (the default cluster of kafka tables), or nullptr when there is none (then a
// kafka table must name its bootstrap_servers); it must outlive `registry`.
void registerTableLoaders(expr::TableLoaderRegistry& registry, const core::ConfigObject* kafka_section);

}  // namespace dutybridge::connectors
