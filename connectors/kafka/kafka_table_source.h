#pragma once
// The `kafka:` source of a mapping's reference table (docs/reference-tables.md): a compacted
// topic read from the beginning to the high watermarks of all partitions (kafka_topic_snapshot.h:
// assign, no consumer group offsets, read_committed), keeping the latest value per key; a
// tombstone deletes its key.
//
// Rows: the message key is the table key, in the column the table's `key:` names (default
// "key"). With `format: text` (default) the payload is the value, in the column `value:` names
// (default "value"). With `format: json` the payload is a JSON object whose fields are columns
// (strings as they are, numbers and booleans as their JSON text, null as an empty cell, arrays
// and objects as compact JSON); a field named like the key column is ignored.
//
// Settings (a core::TableSourceFactory named "kafka", docs/connectors/kafka.md): `topic`
// (required); the shared Kafka connection group (core/kafka_cluster.h): `bootstrap_servers`
// (default: the daemon's kafka section from the TableSourceContext, whose client_id and
// librdkafka properties then apply too; naming it here uses only this block's settings) and
// `librdkafka: {property: value}` passed through (the read's own settings win); `format`
// (text | json); `timeout` (bound on each wait, default 30s, 1s..10m).
// The mapping loader validates them with the one validator before create().
//
// Threading: as core::TableLoader (one thread at a time); each load() creates and closes its own
// consumer. Errors: Retryable when the cluster does not answer or the read stalls; Permanent for
// a missing topic, a payload that is not a JSON object (format json, located at
// kafka:TOPIC/PARTITION:OFFSET) or more than core::kMaxTableRows keys; InvalidConfig from
// create() when there is no cluster to read or a librdkafka property is unknown or invalid.
// Messages never contain keys or values.

#include "src/core/registry.h"

namespace dutybridge::connectors {

// Adds the "kafka" table source to `registry`.
void registerKafkaTableSource(core::Registry& registry);

}  // namespace dutybridge::connectors
