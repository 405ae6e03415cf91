#include "connectors/builtin.h"

#include "connectors/generate/generate_source.h"
#include "connectors/kafka/kafka_sink.h"
#include "connectors/odbc/odbc_source.h"
#include "connectors/stdout/stdout_sink.h"

namespace dutybridge::connectors {

void registerBuiltinConnectors(runtime::Registry& registry) {
  registerGenerate(registry);
  registerKafka(registry);
  registerOdbc(registry);
  registerStdout(registry);
}

}  // namespace dutybridge::connectors
