#pragma once
// The one place every connector is registered (explicitly: static self-registration silently
// vanishes when linked from a static library).

#include "src/runtime/registry.h"

namespace dutybridge::connectors {

void registerBuiltinConnectors(runtime::Registry& registry);

}  // namespace dutybridge::connectors
