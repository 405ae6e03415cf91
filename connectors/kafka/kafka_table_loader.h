#pragma once
// The `kafka:` source of a mapping's reference table (docs/mapping-language.md, "Reference
// tables"): a compacted topic read from the beginning to the high watermarks of all partitions
// (kafka_topic_snapshot.h: assign, no consumer group offsets, read_committed), keeping the
// latest value per key; a tombstone deletes its key.
//
// Rows: the message key is the table key, in the column the table's `key:` names (default
// "key"). With `format: text` (default) the payload is the value, in the column `value:` names
// (default "value"). With `format: json` the payload is a JSON object whose fields are columns
// (strings as they are, numbers and booleans as their JSON text, null as an empty cell, arrays
// and objects as compact JSON); a field named like the key column is ignored.
//
// Settings: `topic` (required); `bootstrap_servers` (default: the daemon's kafka section, whose
// client_id and librdkafka properties then apply too; naming it here uses only this block's
// settings); `format` (text | json); `timeout` (bound on each wait, default 30s, 1s..10m);
// `librdkafka: {property: value}` passed through (the read's own settings win).
//
// Threading: as expr::TableLoader (one thread at a time); each load() creates and closes its
// own consumer. Errors: Retryable when the cluster does not answer or the read stalls; Permanent
// for a missing topic, a payload that is not a JSON object (format json, located at
// kafka:TOPIC/PARTITION:OFFSET) or more than expr::kMaxTableRows keys; InvalidConfig from the
// factory for unknown, missing or invalid settings (librdkafka properties are checked then).
// Messages never contain keys or values.

#include <memory>

#include "src/core/config_schema.h"
#include "src/core/error.h"
#include "src/expr/reference_table.h"

namespace dutybridge::connectors {

// `kafka_section` is the validated daemon `kafka:` section, or nullptr; it must outlive the call.
core::Result<std::unique_ptr<expr::TableLoader>> makeKafkaTableLoader(const expr::TableSourceConfig& config,
                                                                      const core::ConfigObject* kafka_section);

// Adds the "kafka" kind to `registry`; `kafka_section` (or nullptr) must outlive the registry.
void registerKafkaTableLoader(expr::TableLoaderRegistry& registry, const core::ConfigObject* kafka_section);

}  // namespace dutybridge::connectors
