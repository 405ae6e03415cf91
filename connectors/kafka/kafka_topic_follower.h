#pragma once
// core::TopicFollower on librdkafka: a consumer that assigns every partition of the topic
// (assign, no group joined, nothing committed; isolation.level=read_committed), starting at the
// offsets for a point in time (rd_kafka_offsets_for_times; a partition with no later message
// starts at its end). The topic's partitions are looked up on the first poll and again while
// the topic does not exist yet or a partition's start offset is not known (a leader moving: no
// partition is ever started at its end by mistake); every minute new partitions are looked for
// and read from their beginning. A consumer error (topic deleted, access denied) is returned
// from poll() as Retryable, after the messages before it.
//
// Threading: one thread polls. Errors as core::TopicFollower.

#include <memory>
#include <string>

#include "src/core/kafka_cluster.h"
#include "src/core/topic_follower.h"

namespace dutybridge::connectors {

// The factory over the daemon's kafka section; `purpose` names the client ("board").
core::TopicFollowerFactory kafkaTopicFollowerFactory(const core::KafkaCluster& cluster, std::string purpose);

}  // namespace dutybridge::connectors
