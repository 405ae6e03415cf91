#pragma once
// Reference-table sources: the third kind of connector factory (beside sources and sinks), for a
// mapping's `tables: {NAME: {odbc: {...}}}` / `{kafka: {...}}` blocks. A factory has a name (the
// block's key), a settings schema (validated by the one validator, like a pipeline's connector
// config) and create(validated settings, context) -> TableLoader. Connectors register theirs in
// the same core::Registry (registerOdbcTableSource, registerKafkaTableSource); the mapping loader
// validates the block, creates the loader through the registry and owns it.
//
// Threading: factories are immutable after registration. A TableLoader is called from one thread
// at a time (the loading thread at start-up, then the pipeline thread that refreshes it).
// Errors: create() returns InvalidConfig for settings that pass the schema but cannot work (an
// unknown librdkafka property, no cluster to read from) and never connects; load() returns
// Retryable for unreachable sources, Permanent/InvalidConfig for bad queries or data. Messages
// never contain row contents (keys are personal data: badges, employee numbers) or connection
// strings.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/core/config_schema.h"
#include "src/core/connector.h"
#include "src/core/error.h"
#include "src/core/kafka_cluster.h"

namespace dutybridge::core {

// Tables over this many rows are refused, whatever their source.
inline constexpr size_t kMaxTableRows = 1'000'000;

// Text rows as a source delivers them: named columns, null cells allowed.
struct RawTable {
  struct Row {
    std::vector<std::optional<std::string>> cells;  // one per column
    SourceLocation where;                           // the row (CSV: file, line, column 1)
    std::vector<int> cell_columns;                  // CSV: 1-based column of each cell; may be empty
  };
  std::vector<std::string> columns;
  std::vector<Row> rows;
};

// Which columns hold what. An empty key/value name means the first/second column; empty
// validity names mean the table is not effective-dated.
struct TableColumns {
  std::string key;
  std::string value;
  std::string valid_from;
  std::string valid_to;
  bool dated() const { return !valid_from.empty() || !valid_to.empty(); }
};

class TableLoader {
 public:
  virtual ~TableLoader() = default;
  virtual Result<RawTable> load() = 0;
  // "csv config/reference/x.csv", "odbc query": for logs; never a connection string.
  virtual std::string describe() const = 0;
};

// What a table source may use besides its own settings.
struct TableSourceContext {
  std::string table;     // the table's name, for messages and client ids
  TableColumns columns;  // the table's key/value/validity column names, for sources that name columns
  // The daemon-wide kafka section (bootstrap servers, client id, librdkafka properties), or nullptr.
  const KafkaCluster* kafka = nullptr;
};

class TableSourceFactory : public ConnectorFactory {
 public:
  Direction direction() const final { return Direction::Table; }
  virtual Result<std::unique_ptr<TableLoader>> create(const ConfigObject& config,
                                                      const TableSourceContext& context) const = 0;
};

}  // namespace dutybridge::core
