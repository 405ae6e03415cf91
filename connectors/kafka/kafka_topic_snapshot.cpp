#include "connectors/kafka/kafka_topic_snapshot.h"

#include <fmt/format.h>

#include <algorithm>
#include <thread>

#include "src/common/log.h"

namespace dutybridge::kafka {
namespace {

using namespace std::chrono_literals;

core::Error unreachableError(const TopicSnapshotOptions& options, rd_kafka_resp_err_t err, std::string_view what) {
  return core::Error::retryable(fmt::format("{}: Kafka cluster {} did not answer ({}): {}", options.label,
                                            options.bootstrap, what, rd_kafka_err2str(err)));
}

void pause(SteadyClock::time_point deadline) {
  std::this_thread::sleep_for(std::min(std::chrono::milliseconds(remainingMs(deadline)), 200ms));
}

// The topic's partition count, waiting for the cluster and for leaders of a new topic.
core::Result<int> partitionCount(rd_kafka_t* consumer, const TopicSnapshotOptions& options,
                                 SteadyClock::time_point deadline) {
  TopicPtr topic(rd_kafka_topic_new(consumer, options.topic.c_str(), nullptr));
  if (!topic) return core::fail(kafkaError(rd_kafka_last_error(), options.label));
  core::Error last = unreachableError(options, RD_KAFKA_RESP_ERR__TIMED_OUT, "metadata");
  while (remainingMs(deadline) > 0) {
    const rd_kafka_metadata_t* raw = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(consumer, 0, topic.get(), &raw, std::max(remainingMs(deadline), 1));
    MetadataPtr metadata(raw);
    if (err) {
      if (!isUnreachable(err)) return core::fail(kafkaError(err, options.label + " metadata"));
      last = unreachableError(options, err, "metadata");
      pause(deadline);
      continue;
    }
    const rd_kafka_metadata_topic_t* found = nullptr;
    for (int i = 0; i < metadata->topic_cnt; ++i) {
      if (options.topic == metadata->topics[i].topic) found = &metadata->topics[i];
    }
    rd_kafka_resp_err_t topic_err = found ? found->err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
    if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
      return core::fail(core::ErrorKind::Permanent, fmt::format("{} does not exist", options.label));
    }
    if (topic_err == RD_KAFKA_RESP_ERR_NO_ERROR && found->partition_cnt > 0) return found->partition_cnt;
    last = core::Error::retryable(fmt::format("{} is not available: {}", options.label, rd_kafka_err2str(topic_err)));
    pause(deadline);
  }
  return core::fail(last);
}

}  // namespace

bool isUnreachable(rd_kafka_resp_err_t err) {
  return err == RD_KAFKA_RESP_ERR__TIMED_OUT || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
         err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__RESOLVE ||
         err == RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT || err == RD_KAFKA_RESP_ERR__WAIT_COORD;
}

core::Result<TopicSnapshot> readTopicSnapshot(const TopicSnapshotOptions& options, ClientEvents& events) {
  const auto timeout = options.timeout;
  KafkaConfig config;
  if (auto status = config.setAll(options.properties); !status) return core::fail(status.error());
  if (auto status = config.setAll({{"group.id", options.group_id},
                                   {"enable.auto.commit", "false"},
                                   {"enable.auto.offset.store", "false"},
                                   {"enable.partition.eof", "true"},
                                   {"isolation.level", "read_committed"},
                                   {"auto.offset.reset", "earliest"},
                                   {"allow.auto.create.topics", "false"}});
      !status) {
    return core::fail(status.error());
  }
  events.attach(config, false);
  auto client = createClient(RD_KAFKA_CONSUMER, std::move(config));
  if (!client) return core::fail(client.error());
  KafkaHandle consumer = std::move(*client);
  rd_kafka_poll_set_consumer(consumer.get());
  struct Closer {
    rd_kafka_t* handle;
    ~Closer() { rd_kafka_consumer_close(handle); }
  } closer{consumer.get()};

  auto deadline = SteadyClock::now() + timeout;
  int partitions = options.partitions;
  if (partitions <= 0) {
    auto counted = partitionCount(consumer.get(), options, deadline);
    if (!counted) return core::fail(counted.error());
    partitions = *counted;
  }
  const std::string& topic = options.topic;
  std::map<int32_t, int64_t> end;  // partition -> high watermark, while not read up to it
  PartitionList assignment(rd_kafka_topic_partition_list_new(partitions));
  for (int32_t p = 0; p < partitions; ++p) {
    int64_t low = 0;
    int64_t high = 0;
    rd_kafka_resp_err_t err;
    while (true) {
      err = rd_kafka_query_watermark_offsets(consumer.get(), topic.c_str(), p, &low, &high,
                                             std::max(remainingMs(deadline), 1));
      // Right after the topic was created the consumer's view of the leaders may be stale.
      bool settling = err == RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
                      err == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE || err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      if (!settling || remainingMs(deadline) == 0) break;
      pause(deadline);
    }
    if (err) {
      if (isUnreachable(err)) return core::fail(unreachableError(options, err, "watermarks"));
      return core::fail(kafkaError(err, options.label + " watermarks"));
    }
    if (high <= low) continue;
    end[p] = high;
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  TopicSnapshot snapshot;
  if (end.empty()) return snapshot;
  if (rd_kafka_resp_err_t err = rd_kafka_assign(consumer.get(), assignment.get()); err) {
    return core::fail(kafkaError(err, options.label + " assign"));
  }

  rd_kafka_resp_err_t last_err = RD_KAFKA_RESP_ERR__TIMED_OUT;
  while (!end.empty()) {
    if (events.fatal()) return core::fail(core::ErrorKind::Fatal, options.label + ": " + events.fatalReason());
    if (remainingMs(deadline) == 0) {
      return core::fail(core::ErrorKind::Retryable,
                        fmt::format("{}: read stalled after {} messages ({} partitions not read to the end): {}",
                                    options.label, snapshot.messages, end.size(), rd_kafka_err2str(last_err)));
    }
    MessagePtr message(rd_kafka_consumer_poll(consumer.get(), std::min(remainingMs(deadline), 200)));
    if (!message) continue;
    auto it = end.find(message->partition);
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (it != end.end() && message->offset >= it->second) end.erase(it);
      continue;
    }
    if (message->err) {
      last_err = message->err;
      continue;
    }
    deadline = SteadyClock::now() + timeout;  // progress
    ++snapshot.messages;
    if (message->key) {
      std::string key(static_cast<const char*>(message->key), message->key_len);
      if (!message->payload || message->len == 0) {
        snapshot.entries.erase(key);
      } else {
        TopicEntry& entry = snapshot.entries[std::move(key)];
        entry.value.assign(static_cast<const char*>(message->payload), message->len);
        entry.partition = message->partition;
        entry.offset = message->offset;
        entry.timestamp_unix_ms = std::max<int64_t>(rd_kafka_message_timestamp(message.get(), nullptr), 0);
      }
    }
    if (it != end.end() && message->offset + 1 >= it->second) end.erase(it);
  }
  return snapshot;
}

}  // namespace dutybridge::kafka
