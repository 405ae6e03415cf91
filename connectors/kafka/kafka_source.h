#pragma once
// `kafka` source: a librdkafka consumer in a consumer group reading committed records only
// (isolation.level=read_committed: messages of aborted transactions never come out, and a
// partition is read only up to its last stable offset). Feeds the HR store loader (Kafka ->
// ODBC upsert sink) among others.
//
// Records: `format: json`: the message value is a JSON object whose members become the record's
// fields, numbers exact (codec::parseJsonValue: integers Int, fractions Decimal from their text);
// `format: text`: one String field `value`. meta.key is the message key, meta.headers all its
// headers, meta.source_position "topic/partition/offset", meta.event_time the message timestamp.
// A value that is not a JSON object (invalid JSON, an array, a tombstone) is neither dropped nor
// a crash: it becomes a record whose only field `_error` holds the reason (never the value, which
// may hold personal data), with its key, headers and position, and a rate-limited warning names
// the position. A mapping then dead-letters it (its input fields are missing); a sink without a
// mapping refuses it and the pipeline stops, naming the position.
//
// Positions (opaque text): a JSON object mapping "topic/partition" to the next offset to read,
// for every partition this source has delivered from, merged into the position it was opened
// with; a batch's position is the one after its last record. On a (re)assignment each partition
// starts at the offset of the newest position known (open() merged with every commit()), else
// at `start` (earliest or latest). A stored offset the broker no longer has (retention) stops
// the source (Permanent) unless `librdkafka: {auto.offset.reset: ...}` says otherwise. commit()
// also commits the offsets of the partitions this instance owns to the consumer group
// (asynchronously) so lag shows in Kafka tools; the position stored downstream stays the truth.
// After a rebalance a partition's new owner re-reads from the last position it knows: records
// already returned may come again (at-least-once; the upsert sink is idempotent by revision).
//
// Threading: as core::Source (one pipeline thread). librdkafka runs its own threads; the
// rebalance and commit callbacks run inside poll()/close() on the pipeline thread.
// Errors: an unreachable cluster is no error: poll() returns empty batches while librdkafka
// reconnects, and ClientEvents logs the outage (rate-limited). open() returns Permanent for a
// position this source did not write; poll() returns Permanent for a stored offset out of
// range or an authorization failure, Fatal for a fatal client error (ERR__FATAL).
//
// See docs/connectors/kafka-source-guide.md.

#include "src/core/registry.h"

namespace dutybridge::connectors {

void registerKafkaSource(core::Registry& registry);

}  // namespace dutybridge::connectors
