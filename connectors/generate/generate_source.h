#pragma once
// `generate` source: deterministic synthetic MES production reports, for smoke tests,
// benchmarks and trying a sink without a database. Record i is a pure function of (seed, i),
// so a resumed generator continues with exactly the records a restart would expect.

#include "src/core/registry.h"

namespace dutybridge::connectors {

void registerGenerateSource(core::Registry& registry);

}  // namespace dutybridge::connectors
