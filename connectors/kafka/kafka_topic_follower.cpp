#include "connectors/kafka/kafka_topic_follower.h"

#include <fmt/format.h>

#include <map>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_topic_snapshot.h"
#include "src/common/log.h"

namespace dutybridge::connectors {
namespace {

class FollowerEvents final : public kafka::ClientEvents {
 public:
  explicit FollowerEvents(const std::string& label)
      : kafka::ClientEvents(label, "the reader goes on when the cluster is back") {}

 protected:
  void onDelivery(const rd_kafka_message_t&) override {}
};

class KafkaTopicFollower final : public core::TopicFollower {
 public:
  KafkaTopicFollower(std::string topic, int64_t from_unix_ms, std::string bootstrap)
      : topic_(std::move(topic)),
        from_unix_ms_(from_unix_ms),
        bootstrap_(std::move(bootstrap)),
        label_("topic " + topic_),
        events_(label_) {}

  ~KafkaTopicFollower() override {
    if (consumer_) rd_kafka_consumer_close(consumer_.get());
  }

  core::Status open(const kafka::Properties& properties) {
    kafka::KafkaConfig config;
    if (auto status = config.setAll(properties); !status) return status;
    if (auto status = config.setAll({{"enable.auto.commit", "false"},
                                     {"enable.auto.offset.store", "false"},
                                     {"enable.partition.eof", "true"},
                                     {"isolation.level", "read_committed"},
                                     {"auto.offset.reset", "earliest"},
                                     {"allow.auto.create.topics", "false"}});
        !status) {
      return status;
    }
    events_.attach(config, false);
    auto client = kafka::createClient(RD_KAFKA_CONSUMER, std::move(config));
    if (!client) return core::fail(client.error());
    consumer_ = std::move(*client);
    rd_kafka_poll_set_consumer(consumer_.get());
    return {};
  }

  core::Result<std::vector<core::FollowedMessage>> poll(std::chrono::milliseconds wait) override {
    if (events_.checkFatal(consumer_.get())) {
      return core::fail(core::ErrorKind::Fatal, label_ + ": " + events_.fatalReason());
    }
    std::vector<core::FollowedMessage> out;
    if (!assigned_) {
      if (auto status = assign(wait); !status) return core::fail(status.error());
      if (!assigned_) return out;
    }
    if (kafka::SteadyClock::now() - checked_ >= std::chrono::minutes(1)) {
      if (auto status = addNewPartitions(wait); !status) return core::fail(status.error());
    }
    const auto deadline = kafka::SteadyClock::now() + wait;
    // Up to a batch, then return so the caller can publish what it has.
    while (out.size() < 10'000) {
      const int remaining = kafka::remainingMs(deadline);
      kafka::MessagePtr message(rd_kafka_consumer_poll(consumer_.get(), out.empty() ? remaining : 0));
      if (!message) {
        if (!out.empty() || remaining == 0) break;
        continue;
      }
      if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        if (auto it = end_.find(message->partition); it != end_.end() && message->offset >= it->second) end_.erase(it);
        continue;
      }
      if (message->err) {
        // A consumer error (topic deleted, access denied, offset out of range): the caller logs
        // it and polls again; what came before it is delivered first.
        if (!out.empty()) break;
        return core::fail(core::Error::retryable(
            fmt::format("{} partition {}: {}", label_, message->partition, rd_kafka_err2str(message->err))));
      }
      core::FollowedMessage m;
      if (message->key) m.key.assign(static_cast<const char*>(message->key), message->key_len);
      if (message->payload && message->len > 0)
        m.value.emplace(static_cast<const char*>(message->payload), message->len);
      m.partition = message->partition;
      m.offset = message->offset;
      m.timestamp_unix_ms = std::max<int64_t>(rd_kafka_message_timestamp(message.get(), nullptr), 0);
      if (auto it = end_.find(m.partition); it != end_.end() && m.offset + 1 >= it->second) end_.erase(it);
      out.push_back(std::move(m));
    }
    return out;
  }

  bool caughtUp() const override { return assigned_ && end_.empty(); }

 private:
  // Looks the partitions up and assigns them from the offsets for the point in time. Leaves
  // assigned_ false while the topic does not exist.
  core::Status assign(std::chrono::milliseconds wait) {
    kafka::TopicPtr topic(rd_kafka_topic_new(consumer_.get(), topic_.c_str(), nullptr));
    if (!topic) return core::fail(kafka::kafkaError(rd_kafka_last_error(), label_));
    const rd_kafka_metadata_t* raw = nullptr;
    const int timeout = static_cast<int>(std::max<int64_t>(wait.count(), 1));
    rd_kafka_resp_err_t err = rd_kafka_metadata(consumer_.get(), 0, topic.get(), &raw, timeout);
    kafka::MetadataPtr metadata(raw);
    if (err) {
      return core::fail(core::Error::retryable(
          fmt::format("{}: Kafka cluster {} did not answer: {}", label_, bootstrap_, rd_kafka_err2str(err))));
    }
    const int partitions = partitionCount(*metadata);
    if (partitions <= 0) {
      return core::fail(core::Error::retryable(fmt::format("{} does not exist yet", label_)));
    }
    kafka::PartitionList wanted(rd_kafka_topic_partition_list_new(partitions));
    for (int32_t p = 0; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(wanted.get(), topic_.c_str(), p)->offset = from_unix_ms_;
    }
    // offsets_for_times: the earliest offset whose timestamp is at or after the time; -1 (END)
    // when no message is that new.
    err = rd_kafka_offsets_for_times(consumer_.get(), wanted.get(), timeout);
    if (err) {
      return core::fail(
          core::Error::retryable(fmt::format("{}: offsets for the start time: {}", label_, rd_kafka_err2str(err))));
    }
    for (int i = 0; i < wanted->cnt; ++i) {
      auto& part = wanted->elems[i];
      int64_t low = 0;
      int64_t high = 0;
      // A partition without an answer (a leader moving) is not started at its end, which would
      // skip its facts: the whole assignment is tried again on the next poll.
      err = part.err ? part.err
                     : rd_kafka_query_watermark_offsets(consumer_.get(), topic_.c_str(), part.partition, &low, &high,
                                                        timeout);
      if (err) {
        end_.clear();
        return core::fail(core::Error::retryable(
            fmt::format("{} partition {}: start offset: {}", label_, part.partition, rd_kafka_err2str(err))));
      }
      if (part.offset < 0) {
        part.offset = RD_KAFKA_OFFSET_END;  // no message at or after the time
      } else if (high > std::max<int64_t>(part.offset, low)) {
        end_[part.partition] = high;
      }
      log::debug(label_, "partition {}: reading from offset {} (end {})", part.partition, part.offset, high);
    }
    // Incremental from the start, so partitions added later join the same way.
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(consumer_.get(), wanted.get())) {
      std::string text = rd_kafka_error_string(error);
      rd_kafka_error_destroy(error);
      end_.clear();
      return core::fail(core::Error::retryable(fmt::format("{}: assign: {}", label_, text)));
    }
    assigned_ = true;
    partitions_ = partitions;
    checked_ = kafka::SteadyClock::now();
    return {};
  }

  int partitionCount(const rd_kafka_metadata_t& metadata) const {
    for (int i = 0; i < metadata.topic_cnt; ++i) {
      if (topic_ == metadata.topics[i].topic && metadata.topics[i].err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        return metadata.topics[i].partition_cnt;
      }
    }
    return 0;
  }

  // Partitions added to the topic since the assignment are read from their beginning (they hold
  // only messages newer than the assignment).
  core::Status addNewPartitions(std::chrono::milliseconds wait) {
    checked_ = kafka::SteadyClock::now();
    kafka::TopicPtr topic(rd_kafka_topic_new(consumer_.get(), topic_.c_str(), nullptr));
    if (!topic) return {};
    const rd_kafka_metadata_t* raw = nullptr;
    const int timeout = static_cast<int>(std::max<int64_t>(wait.count(), 1));
    if (rd_kafka_metadata(consumer_.get(), 0, topic.get(), &raw, timeout)) return {};  // next minute
    kafka::MetadataPtr metadata(raw);
    const int partitions = partitionCount(*metadata);
    if (partitions <= partitions_) return {};
    kafka::PartitionList added(rd_kafka_topic_partition_list_new(partitions - partitions_));
    for (int32_t p = partitions_; p < partitions; ++p) {
      rd_kafka_topic_partition_list_add(added.get(), topic_.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    }
    if (rd_kafka_error_t* error = rd_kafka_incremental_assign(consumer_.get(), added.get())) {
      std::string text = rd_kafka_error_string(error);
      rd_kafka_error_destroy(error);
      return core::fail(core::Error::retryable(fmt::format("{}: reading new partitions: {}", label_, text)));
    }
    log::notice(label_, "the topic has {} partitions now (was {}): reading the new ones", partitions, partitions_);
    partitions_ = partitions;
    return {};
  }

  std::string topic_;
  int64_t from_unix_ms_;
  std::string bootstrap_;
  std::string label_;
  FollowerEvents events_;
  kafka::KafkaHandle consumer_;
  bool assigned_ = false;
  int partitions_ = 0;                        // assigned
  kafka::SteadyClock::time_point checked_{};  // the last look for new partitions
  std::map<int32_t, int64_t> end_;  // partition -> end offset at assignment, until read up to it
};

}  // namespace

core::TopicFollowerFactory kafkaTopicFollowerFactory(const core::KafkaCluster& cluster, std::string purpose) {
  return [cluster, purpose](const std::string& topic,
                            int64_t from_unix_ms) -> core::Result<std::unique_ptr<core::TopicFollower>> {
    kafka::Properties properties = kafka::clientProperties(cluster, purpose);
    // assign() needs a group id; the group is never joined and nothing is committed.
    properties.emplace_back(
        "group.id", (cluster.client_id.empty() ? std::string("dutybridge") : cluster.client_id) + "-" + purpose);
    auto follower = std::make_unique<KafkaTopicFollower>(topic, from_unix_ms, cluster.bootstrapServers());
    if (auto status = follower->open(properties); !status) return core::fail(status.error());
    return std::unique_ptr<core::TopicFollower>(std::move(follower));
  };
}

}  // namespace dutybridge::connectors
