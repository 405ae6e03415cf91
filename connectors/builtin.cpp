#include "connectors/builtin.h"

#include "connectors/catalog/catalog_source.h"
#include "connectors/generate/generate_source.h"
#include "connectors/kafka/kafka_sink.h"
#include "connectors/kafka/kafka_source.h"
#include "connectors/kafka/kafka_table_source.h"
#include "connectors/odbc/odbc_sink.h"
#include "connectors/odbc/odbc_source.h"
#include "connectors/odbc/odbc_table_source.h"
#include "connectors/stdout/stdout_sink.h"

namespace dutybridge::connectors {

void registerBuiltinConnectors(core::Registry& registry) {
  registerGenerateSource(registry);
  registerPositionCatalogSource(registry);
  registerKafkaSink(registry);
  registerKafkaSource(registry);
  registerKafkaTableSource(registry);
  registerOdbcSource(registry);
  registerOdbcSink(registry);
  registerOdbcTableSource(registry);
  registerStdoutSink(registry);
}

}  // namespace dutybridge::connectors
