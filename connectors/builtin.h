#pragma once
// The one place every connector is registered (explicitly: static self-registration silently
// vanishes when linked from a static library): pipeline sources and sinks, and the sources of
// mapping reference tables (`tables: {NAME: {odbc: ...}}`, core/table_source.h).

#include "src/core/registry.h"

namespace dutybridge::connectors {

void registerBuiltinConnectors(core::Registry& registry);

}  // namespace dutybridge::connectors
