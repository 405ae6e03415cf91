#include "connectors/kafka/kafka_state_store.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <mutex>
#include <thread>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_handles.h"
#include "connectors/kafka/kafka_topic_snapshot.h"
#include "src/common/log.h"

namespace dutybridge::connectors {
namespace {

using namespace std::chrono_literals;
using kafka::SteadyClock;

constexpr auto kCloseFlush = 2s;
constexpr auto kQueueFullWait = 1s;

int64_t nowUnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class KafkaStateStore final : public core::StateStore, private kafka::ClientEvents {
 public:
  KafkaStateStore(std::string topic, kafka::Properties base, std::string bootstrap)
      : kafka::ClientEvents("state store " + topic, "state updates wait until the cluster is back"),
        topic_name_(std::move(topic)),
        base_(std::move(base)),
        bootstrap_(std::move(bootstrap)) {}

  ~KafkaStateStore() override {
    if (!producer_) return;
    rd_kafka_flush(producer_.get(), static_cast<int>(std::chrono::milliseconds(kCloseFlush).count()));
    closing_.store(true);
    if (int left = rd_kafka_outq_len(producer_.get()); left > 0) {
      log::warning(component(), "closing with {} state updates not durable", left);
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(producer_.get(), 0);
    }
    topic_.reset();
    producer_.reset();
  }

  core::Status open(const KafkaStateStoreOptions& options) {
    const auto timeout = options.open_timeout;
    kafka::KafkaConfig config;
    if (auto status = config.setAll(base_); !status) return status;
    // After the section's pass-through: these are what make the store trustworthy.
    if (auto status = config.setAll({{"enable.idempotence", "true"},
                                     {"acks", "all"},
                                     {"message.timeout.ms", "0"},
                                     {"linger.ms", "0"},
                                     {"allow.auto.create.topics", "false"}});
        !status) {
      return status;
    }
    attach(config, true);
    auto client = kafka::createClient(RD_KAFKA_PRODUCER, std::move(config));
    if (!client) return core::fail(client.error());
    producer_ = std::move(*client);
    topic_.reset(rd_kafka_topic_new(producer_.get(), topic_name_.c_str(), nullptr));
    if (!topic_) {
      return core::fail(core::ErrorKind::InvalidConfig,
                        fmt::format("state topic {}: {}", topic_name_, rd_kafka_err2str(rd_kafka_last_error())));
    }

    auto partitions = ensureTopic(SteadyClock::now() + timeout);
    if (!partitions) return core::fail(partitions.error());
    return restore(*partitions, timeout);
  }

  void remember(const std::vector<core::StateEntry>& entries) override {
    const int64_t now = nowUnixMs();
    std::lock_guard lock(mutex_);
    for (const auto& entry : entries) {
      if (entry.value.empty()) {
        values_.erase(entry.key);
        stored_at_.erase(entry.key);
      } else {
        values_.insert_or_assign(entry.key, entry.value);
        stored_at_.insert_or_assign(entry.key, now);
      }
    }
  }

  std::optional<int64_t> storedAtUnixMs(std::string_view key) override {
    std::lock_guard lock(mutex_);
    auto it = stored_at_.find(key);
    if (it == stored_at_.end() || it->second <= 0) return std::nullopt;
    return it->second;
  }

  core::Result<std::vector<std::pair<std::string, std::string>>> scan(std::string_view prefix) override {
    if (checkFatal(producer_.get())) return core::fail(core::ErrorKind::Fatal, "state store: " + fatalReason());
    std::lock_guard lock(mutex_);
    std::vector<std::pair<std::string, std::string>> out;
    for (auto it = values_.lower_bound(prefix); it != values_.end() && it->first.starts_with(prefix); ++it) {
      out.emplace_back(it->first, it->second);
    }
    return out;
  }

  core::Result<std::optional<std::string>> get(std::string_view key) override {
    if (checkFatal(producer_.get())) return core::fail(core::ErrorKind::Fatal, "state store: " + fatalReason());
    std::lock_guard lock(mutex_);
    auto it = values_.find(key);
    if (it == values_.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }

  core::Status put(std::string_view key, std::string value) override {
    if (auto failed = failure()) return core::fail(std::move(*failed));
    auto give_up = SteadyClock::now() + kQueueFullWait;
    while (true) {
      rd_kafka_resp_err_t err;
      {
        // Map order and produce order agree, so the topic's latest value is the map's value.
        std::lock_guard lock(mutex_);
        err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_RKT(topic_.get()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                RD_KAFKA_V_VALUE(value.empty() ? nullptr : value.data(), value.size()), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
          if (value.empty()) {
            if (auto it = values_.find(key); it != values_.end()) values_.erase(it);
            if (auto it = stored_at_.find(key); it != stored_at_.end()) stored_at_.erase(it);
          } else {
            if (auto it = values_.find(key); it != values_.end()) {
              it->second = std::move(value);
            } else {
              values_.emplace(std::string(key), std::move(value));
            }
            if (auto it = stored_at_.find(key); it != stored_at_.end()) {
              it->second = nowUnixMs();
            } else {
              stored_at_.emplace(std::string(key), nowUnixMs());
            }
          }
        }
      }
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || SteadyClock::now() >= give_up) {
        return core::fail(kafka::kafkaError(err, fmt::format("state update of {}", key)));
      }
      rd_kafka_poll(producer_.get(), 100);
    }
    rd_kafka_poll(producer_.get(), 0);
    return {};
  }

  core::Status flush(SteadyClock::time_point deadline) override {
    rd_kafka_flush(producer_.get(), kafka::remainingMs(deadline));
    if (auto failed = failure()) return core::fail(std::move(*failed));
    if (int left = rd_kafka_outq_len(producer_.get()); left > 0) {
      return core::fail(core::ErrorKind::Retryable,
                        fmt::format("{} state updates to {} not yet durable at the flush deadline", left, topic_name_));
    }
    return {};
  }

 private:
  std::optional<core::Error> failure() {
    if (checkFatal(producer_.get())) return core::Error::fatal("state store: " + fatalReason());
    std::lock_guard lock(failure_mutex_);
    return failure_;
  }

  void onDelivery(const rd_kafka_message_t& message) override {
    if (message.err == RD_KAFKA_RESP_ERR_NO_ERROR || closing_.load()) return;
    std::string key = message.key ? std::string(static_cast<const char*>(message.key), message.key_len) : "";
    auto error = core::Error::fatal(
        fmt::format("state update of {} to {} failed: {}", key, topic_name_, rd_kafka_err2str(message.err)));
    log::error(component(), "{}", error.message);
    std::lock_guard lock(failure_mutex_);
    if (!failure_) failure_ = std::move(error);
  }

  core::Error unreachableError(rd_kafka_resp_err_t err, std::string_view what) const {
    return core::Error::retryable(fmt::format("state topic {}: Kafka cluster {} did not answer ({}): {}", topic_name_,
                                              bootstrap_, what, rd_kafka_err2str(err)));
  }

  // Number of partitions of the state topic, creating it when it is missing.
  core::Result<int> ensureTopic(SteadyClock::time_point deadline) {
    bool created = false;
    core::Error last = core::Error::retryable("");
    while (true) {
      if (kafka::remainingMs(deadline) == 0)
        return core::fail(last.message.empty() ? unreachableError(RD_KAFKA_RESP_ERR__TIMED_OUT, "metadata") : last);
      const rd_kafka_metadata_t* raw = nullptr;
      rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), 0, topic_.get(), &raw, kafka::remainingMs(deadline));
      kafka::MetadataPtr metadata(raw);
      if (err) {
        if (!kafka::isUnreachable(err)) return core::fail(kafka::kafkaError(err, "state topic " + topic_name_ + " metadata"));
        last = unreachableError(err, "metadata");
        std::this_thread::sleep_for(std::min(std::chrono::milliseconds(kafka::remainingMs(deadline)), 200ms));
        continue;
      }
      const rd_kafka_metadata_topic_t* topic = nullptr;
      for (int i = 0; i < metadata->topic_cnt; ++i) {
        if (topic_name_ == metadata->topics[i].topic) topic = &metadata->topics[i];
      }
      rd_kafka_resp_err_t topic_err = topic ? topic->err : RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART;
      if (topic_err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART && !created) {
        log::notice(component(), "creating the state topic {} (compacted, 1 partition)", topic_name_);
        auto status = kafka::createTopic(producer_.get(), kafka::TopicSpec{topic_name_, 1, 1, true}, deadline);
        if (!status) return core::fail(status.error());
        created = true;
        continue;
      }
      bool leaders = topic && topic_err == RD_KAFKA_RESP_ERR_NO_ERROR && topic->partition_cnt > 0;
      for (int i = 0; leaders && i < topic->partition_cnt; ++i) leaders = topic->partitions[i].leader >= 0;
      if (leaders) return topic->partition_cnt;
      // Just created, or a leader election under way.
      last = core::Error::retryable(
          fmt::format("state topic {} is not available yet: {}", topic_name_, rd_kafka_err2str(topic_err)));
      std::this_thread::sleep_for(std::min(std::chrono::milliseconds(kafka::remainingMs(deadline)), 200ms));
    }
  }

  core::Status restore(int partitions, std::chrono::milliseconds timeout) {
    std::string client_id = "dutybridge";
    for (const auto& [name, value] : base_) {
      if (name == "client.id") client_id = value;
    }
    kafka::TopicSnapshotOptions options{topic_name_, base_, client_id + "-restore", partitions, timeout,
                                        "state topic " + topic_name_, bootstrap_};
    auto snapshot = kafka::readTopicSnapshot(options, *this);
    if (!snapshot) return core::fail(snapshot.error());
    std::map<std::string, std::string, std::less<>> values;
    std::map<std::string, int64_t, std::less<>> stored_at;
    for (auto& [key, entry] : snapshot->entries) {
      values.emplace(key, std::move(entry.value));
      stored_at.emplace(key, entry.timestamp_unix_ms);
    }
    if (snapshot->messages == 0) {
      log::info(component(), "state topic {} is empty", topic_name_);
    } else {
      log::info(component(), "restored {} keys from {} messages of {}", values.size(), snapshot->messages,
                topic_name_);
    }
    std::lock_guard lock(mutex_);
    values_ = std::move(values);
    stored_at_ = std::move(stored_at);
    return {};
  }

  std::string topic_name_;
  kafka::Properties base_;
  std::string bootstrap_;
  kafka::KafkaHandle producer_;
  kafka::TopicPtr topic_;

  std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> values_;
  std::map<std::string, int64_t, std::less<>> stored_at_;  // key -> Unix ms (storedAtUnixMs)
  std::atomic<bool> closing_{false};
  mutable std::mutex failure_mutex_;
  std::optional<core::Error> failure_;
};

}  // namespace

core::Result<std::unique_ptr<core::StateStore>> openKafkaStateStore(const core::KafkaCluster& cluster,
                                                                    std::string_view client_id_suffix) {
  return openKafkaStateStore(cluster, client_id_suffix, KafkaStateStoreOptions{});
}

core::Result<std::unique_ptr<core::StateStore>> openKafkaStateStore(const core::KafkaCluster& cluster,
                                                                    std::string_view client_id_suffix,
                                                                    const KafkaStateStoreOptions& options) {
  std::string topic = cluster.state_topic;
  if (topic.empty()) topic = "dutybridge.state";
  auto store = std::make_unique<KafkaStateStore>(topic, kafka::clientProperties(cluster, client_id_suffix),
                                                 cluster.bootstrapServers());
  if (auto opened = store->open(options); !opened) return core::fail(opened.error());
  return std::unique_ptr<core::StateStore>(std::move(store));
}

}  // namespace dutybridge::connectors
