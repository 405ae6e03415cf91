#pragma once
// `kafka` sink: an idempotent librdkafka producer (acks=all, lz4) writing each record as a JSON
// object with CloudEvents binary-mode headers (ce_specversion, ce_id, ce_source, ce_type,
// ce_time, content-type). Bootstrap servers and librdkafka properties come from the daemon
// `kafka:` section; the sink's own `librdkafka` map overrides them.
//
// Delivery accounting: every message carries its batch sequence; poll() returns the highest
// sequence whose messages, and those of every earlier batch, all have a successful delivery
// report. Backpressure: the producer queue is bounded (`queue_max_bytes`); when it is full
// write() returns how many records it took and the pipeline polls before offering the rest.
// A broker outage never drops records: with the default `delivery_timeout: 0` they wait in the
// queue until the cluster is back, and open() succeeds even while no broker is reachable.
//
// Errors: write() and poll() return Permanent for a record that can never be delivered (a key
// field missing, larger than the broker accepts), Fatal when the producer's idempotence is
// broken (ERR__FATAL) or a delivery timed out (only with a finite `delivery_timeout`; the
// daemon restarts and sends again from the last stored cursor), InvalidConfig when the cluster
// refuses the topic to be created. Errors cite source positions and ce_id, never values or keys.
//
// See docs/connectors/kafka-sink-guide.md.

#include "src/core/registry.h"

namespace dutybridge::connectors {

void registerKafkaSink(core::Registry& registry);

}  // namespace dutybridge::connectors
