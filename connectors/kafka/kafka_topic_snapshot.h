#pragma once
// Reads a compacted topic as a key -> latest value map: every partition from the beginning up to
// the high watermark it had when the read began (assign + query_watermark_offsets; no group is
// joined and no offsets are committed; isolation.level=read_committed, so aborted transactional
// messages are skipped). A later message of a key replaces the earlier one; a tombstone (null or
// empty payload) deletes the key; messages without a key are ignored. Messages produced after the
// read began are not waited for.
//
// Used by the KafkaStateStore (restore at open) and the kafka reference-table loader.
//
// Threading: blocks the calling thread; the consumer is created and closed inside the call.
// Errors: Retryable when the cluster does not answer, or the read makes no progress within
// `timeout`; Permanent when the topic does not exist (only when the partition count is asked
// for) or the cluster refuses the read; InvalidConfig for a bad librdkafka property; Fatal when
// `events` saw a fatal client error. Messages name the topic and the cluster, never keys or values.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "connectors/kafka/kafka_client.h"

namespace dutybridge::kafka {

struct TopicSnapshotOptions {
  std::string topic;
  // bootstrap.servers, client.id and pass-through properties; the read's own settings
  // (isolation.level, no auto commit, partition EOF, ...) are applied after them.
  Properties properties;
  // librdkafka's assign() needs a group id; the group is never joined and nothing is committed.
  std::string group_id;
  // Partitions 0..partitions-1; 0 asks the cluster (a missing topic is then Permanent).
  int partitions = 0;
  // Bound on each wait: for the cluster to answer and for progress while reading.
  std::chrono::milliseconds timeout{10'000};
  // Names the topic in errors and logs, e.g. "state topic dutybridge.state".
  std::string label;
  // The cluster, for "did not answer" errors.
  std::string bootstrap;
};

struct TopicEntry {
  std::string value;
  int32_t partition = 0;
  int64_t offset = 0;  // of the message that holds the value
  int64_t timestamp_unix_ms = 0;  // the message's timestamp (0: it has none)
};

struct TopicSnapshot {
  std::map<std::string, TopicEntry, std::less<>> entries;
  size_t messages = 0;  // messages read, tombstones included
};

// True for errors that mean the cluster could not be reached or did not answer in time.
bool isUnreachable(rd_kafka_resp_err_t err);

// `events` is attached to the consumer (log and error callbacks, fatal errors).
core::Result<TopicSnapshot> readTopicSnapshot(const TopicSnapshotOptions& options, ClientEvents& events);

}  // namespace dutybridge::kafka
