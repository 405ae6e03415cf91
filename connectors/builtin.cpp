#include "connectors/builtin.h"

#include "connectors/generate/generate_source.h"
#include "connectors/stdout/stdout_sink.h"

namespace dutybridge::connectors {

void registerBuiltinConnectors(runtime::Registry& registry) {
  registerGenerate(registry);
  registerStdout(registry);
}

}  // namespace dutybridge::connectors
