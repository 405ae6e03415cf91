#include "connectors/builtin.h"

#include "connectors/generate/generate_source.h"
#include "connectors/kafka/kafka_sink.h"
#include "connectors/kafka/kafka_source.h"
#include "connectors/kafka/kafka_table_loader.h"
#include "connectors/odbc/odbc_sink.h"
#include "connectors/odbc/odbc_source.h"
#include "connectors/odbc/odbc_table_loader.h"
#include "connectors/stdout/stdout_sink.h"

namespace dutybridge::connectors {

void registerBuiltinConnectors(core::Registry& registry) {
  registerGenerateSource(registry);
  registerKafkaSink(registry);
  registerKafkaSource(registry);
  registerOdbcSource(registry);
  registerOdbcSink(registry);
  registerStdoutSink(registry);
}

void registerTableLoaders(expr::TableLoaderRegistry& registry, const core::ConfigObject* kafka_section) {
  registerKafkaTableLoader(registry, kafka_section);
  registerOdbcTableLoader(registry);
}

}  // namespace dutybridge::connectors
