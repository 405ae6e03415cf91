#pragma once
// `stdout` sink: one JSON object per line on standard output or appended to a file. For
// debugging pipelines and for tests; a record counts as delivered once written and flushed.

#include "src/core/registry.h"

namespace dutybridge::connectors {

void registerStdoutSink(core::Registry& registry);

}  // namespace dutybridge::connectors
