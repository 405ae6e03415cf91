#pragma once
// KafkaStateStore: core::StateStore on a compacted Kafka topic (the daemon's `state_topic`,
// default `dutybridge.state`). Each put() is one message, key = the state key (e.g.
// "cursor/<pipeline>"), value = the state value (e.g. the source position text); an empty
// value is written as a tombstone (null payload) and deletes the key.
//
// Open: makes sure the topic exists (created with 1 partition, cleanup.policy=compact,
// replication factor 1 when missing; an existing topic is used as it is), then reads it from the
// beginning up to the high watermark with isolation.level=read_committed (assign +
// query_watermark_offsets, no consumer group offsets), keeping the latest value per key. A
// cluster that does not answer within the open timeout (default 10 s) gives Retryable, so the
// daemon retries with backoff.
//
// Threading: thread-safe; get/put/flush may be called from every pipeline thread.
// Durability: put() updates the in-memory map at once and hands the message to an idempotent
// producer (acks=all, no delivery timeout); it is durable once flush() returns success.
// Errors: Retryable while the cluster is unreachable (open, or flush at its deadline); Fatal when
// a state update was lost (the producer's idempotence broke, or a delivery failed), because the
// stored state can no longer be trusted.

#include <chrono>
#include <memory>
#include <string_view>

#include "src/core/error.h"
#include "src/core/kafka_cluster.h"
#include "src/core/state_store.h"

namespace dutybridge::connectors {

struct KafkaStateStoreOptions {
  // Bound on each wait while opening: for the cluster to answer, for the topic to be created,
  // and for restore progress (a restore that keeps receiving messages may take longer).
  std::chrono::milliseconds open_timeout{10'000};
};

// `cluster` is the daemon's `kafka:` section (bootstrap_servers, client_id, state_topic,
// librdkafka). Clients are named "<client_id>-<client_id_suffix>".
core::Result<std::unique_ptr<core::StateStore>> openKafkaStateStore(const core::KafkaCluster& cluster,
                                                                    std::string_view client_id_suffix);
core::Result<std::unique_ptr<core::StateStore>> openKafkaStateStore(const core::KafkaCluster& cluster,
                                                                    std::string_view client_id_suffix,
                                                                    const KafkaStateStoreOptions& options);

}  // namespace dutybridge::connectors
