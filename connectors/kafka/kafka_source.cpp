#include "connectors/kafka/kafka_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <expected>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_handles.h"
#include "src/codec/json_value.h"
#include "src/common/log.h"
#include "src/core/settings.h"

namespace dutybridge::connectors {
namespace {

using core::ConfigObject;
using core::FieldSpec;
using core::FieldType;
using kafka::SteadyClock;

// "topic/partition" -> next offset to read. Ordered, so the same offsets always print the same
// text (the pipeline compares positions as text).
using Offsets = std::map<std::string, int64_t>;

std::string partitionKey(std::string_view topic, int32_t partition) { return fmt::format("{}/{}", topic, partition); }

// Splits "topic/partition"; nullopt when it is not one. Topic names cannot contain '/'.
std::optional<std::pair<std::string, int32_t>> splitPartitionKey(const std::string& key) {
  size_t slash = key.rfind('/');
  if (slash == std::string::npos || slash == 0 || slash + 1 == key.size()) return std::nullopt;
  int32_t partition = 0;
  for (size_t i = slash + 1; i < key.size(); ++i) {
    if (key[i] < '0' || key[i] > '9' || partition > (INT32_MAX - 9) / 10) return std::nullopt;
    partition = partition * 10 + (key[i] - '0');
  }
  return std::make_pair(key.substr(0, slash), partition);
}

std::string formatPosition(const Offsets& offsets) {
  nlohmann::json json = nlohmann::json::object();
  for (const auto& [key, offset] : offsets) json[key] = offset;
  return json.dump();
}

// The position text is ours (a batch's position, stored by the pipeline or the sink); anything
// else is a Permanent error that quotes no content (the text came from a database).
core::Result<Offsets> parsePosition(std::string_view text) {
  Offsets out;
  if (text.empty()) return out;
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object()) {
    return core::fail(core::ErrorKind::Permanent,
                      "the stored position is not a kafka source position (a JSON object of topic/partition: offset)");
  }
  for (const auto& [key, value] : json.items()) {
    if (!splitPartitionKey(key) || !value.is_number_integer() || value.get<int64_t>() < 0) {
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("the stored position has an invalid entry for '{}' (want topic/partition: offset)",
                                    key));
    }
    out[key] = value.get<int64_t>();
  }
  return out;
}

enum class Format { Json, Text };

struct SourceSettings {
  std::string component;
  kafka::Properties properties;
  std::vector<std::string> topics;
  Format format = Format::Json;
  size_t batch_rows = 0;
  bool start_latest = false;
  codec::JsonLimits json_limits;
};

class KafkaSource final : public core::Source, private kafka::ClientEvents {
 public:
  explicit KafkaSource(SourceSettings settings)
      : kafka::ClientEvents(settings.component, "the source reads on when the cluster is back"),
        settings_(std::move(settings)) {}

  ~KafkaSource() override { close(); }

  core::Status checkPosition(std::string_view position) const override {
    auto parsed = parsePosition(position);
    return parsed ? core::Status{} : core::fail(parsed.error());
  }

  core::Status open(const std::optional<std::string>& position) override {
    if (consumer_) return {};
    auto known = parsePosition(position.value_or(""));
    if (!known) return core::fail(known.error());
    known_ = *known;
    delivered_ = known_;
    last_ = {};
    end_offsets_.clear();

    kafka::KafkaConfig config;
    if (auto status = config.setAll(settings_.properties); !status) return status;
    attach(config, false);
    rd_kafka_conf_set_rebalance_cb(config.get(), &KafkaSource::rebalanceCallback);
    rd_kafka_conf_set_offset_commit_cb(config.get(), &KafkaSource::commitCallback);
    auto client = kafka::createClient(RD_KAFKA_CONSUMER, std::move(config));
    if (!client) return core::fail(client.error());
    consumer_ = std::move(*client);
    // Everything (rebalances, errors, messages) is served by rd_kafka_consumer_poll.
    rd_kafka_poll_set_consumer(consumer_.get());

    kafka::PartitionList topics(rd_kafka_topic_partition_list_new(static_cast<int>(settings_.topics.size())));
    for (const auto& topic : settings_.topics) {
      rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
    }
    if (rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_.get(), topics.get()); err) {
      consumer_.reset();
      return core::fail(kafka::kafkaError(err, "subscribing to " + topicList()));
    }
    log::info(component(), "subscribed to {} ({} partition(s) with a stored position)", topicList(), known_.size());
    return {};
  }

  core::Result<core::SourceBatch> poll(std::chrono::milliseconds max_wait) override {
    core::SourceBatch batch;
    if (!consumer_) return core::fail(core::ErrorKind::Retryable, "the kafka source is not open");
    auto deadline = SteadyClock::now() + max_wait;
    while (batch.records.size() + batch.failures.size() < settings_.batch_rows) {
      if (checkFatal(consumer_.get())) return core::fail(core::ErrorKind::Fatal, fatalReason());
      if (rebalance_error_) {
        core::Error error = std::move(*rebalance_error_);
        rebalance_error_.reset();
        return core::fail(std::move(error));
      }
      // Wait for the first record; after it, take only what is already fetched.
      int wait = batch.records.empty() && batch.failures.empty() ? kafka::remainingMs(deadline) : 0;
      kafka::MessagePtr message(rd_kafka_consumer_poll(consumer_.get(), wait));
      if (!message) {
        if (!batch.records.empty() || !batch.failures.empty() || kafka::remainingMs(deadline) == 0) break;
        continue;
      }
      if (message->err) {
        if (auto failed = consumerError(*message)) return core::fail(std::move(*failed));
        continue;
      }
      // One allocation for the batch instead of a dozen growing ones (each a large malloc).
      if (batch.records.empty()) batch.records.reserve(std::min<size_t>(settings_.batch_rows, 4096));
      LastPartition& from = partitionOf(*message);
      if (!at_end_.empty()) at_end_.erase(from.key);
      addRecord(*message, from, batch);
    }
    if (!batch.records.empty() || !batch.failures.empty()) batch.position = formatPosition(delivered_);
    // Until the group has assigned partitions and each has been read to its end, an empty batch
    // is not "idle": a consumer joining its group first sees nothing.
    batch.more_pending = assigned_.empty() ||
                         std::any_of(assigned_.begin(), assigned_.end(), [&](const std::string& key) { return !at_end_.contains(key); });
    return batch;
  }

  core::Status commit(std::string_view position) override {
    auto offsets = parsePosition(position);
    if (!offsets) return core::fail(offsets.error());
    for (const auto& [key, offset] : *offsets) known_[key] = offset;
    if (!consumer_) return {};
    if (checkFatal(consumer_.get())) return core::fail(core::ErrorKind::Fatal, fatalReason());
    // Only partitions this instance owns: another member's progress must not be overwritten.
    kafka::PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size())));
    for (const auto& key : assigned_) {
      auto it = offsets->find(key);
      if (it == offsets->end()) continue;
      auto parts = splitPartitionKey(key);
      rd_kafka_topic_partition_list_add(list.get(), parts->first.c_str(), parts->second)->offset = it->second;
    }
    if (list->cnt == 0) return {};
    // Asynchronous and best effort: the group offsets only show lag; failures are logged by
    // commitCallback and the next commit repeats them.
    if (rd_kafka_resp_err_t err = rd_kafka_commit(consumer_.get(), list.get(), 1); err) {
      log::debug(component(), "committing offsets to group: {}", rd_kafka_err2str(err));
    }
    return {};
  }

  core::Result<std::optional<core::SourceDescription>> describe() override {
    if (settings_.format == Format::Text) {
      return std::optional<core::SourceDescription>(core::SourceDescription{{"value", core::ValueType::String, true}});
    }
    return std::optional<core::SourceDescription>();
  }

  // Lag per assigned partition from what librdkafka already knows (no request to the broker):
  // the high watermark cached from the last fetch response (librdkafka goes on fetching while the
  // pipeline does not poll, so it grows while the sink is down) minus the next offset to read:
  // the offset after the last record returned, or the end offset of the last partition EOF when
  // that is further (with transactional producers the commit marker after the last record takes
  // an offset that no record ever moves past). Offsets count, so control records in between do
  // too. Cheaper than the statistics callback (a JSON document per interval on librdkafka's thread).
  void metrics(std::vector<core::MetricSample>& out) const override {
    if (!consumer_ || assigned_.empty()) return;
    kafka::PartitionList positions(rd_kafka_topic_partition_list_new(static_cast<int>(assigned_.size())));
    std::vector<std::pair<std::string, int32_t>> parts;
    for (const auto& key : assigned_) {
      auto split = splitPartitionKey(key);
      if (!split) continue;
      rd_kafka_topic_partition_list_add(positions.get(), split->first.c_str(), split->second);
      parts.push_back(std::move(*split));
    }
    rd_kafka_position(consumer_.get(), positions.get());  // for partitions nothing was read from yet
    for (int i = 0; i < positions->cnt; ++i) {
      const auto& [topic, partition] = parts[static_cast<size_t>(i)];
      const std::string key = partitionKey(topic, partition);
      int64_t low = RD_KAFKA_OFFSET_INVALID;
      int64_t high = RD_KAFKA_OFFSET_INVALID;
      if (rd_kafka_get_watermark_offsets(consumer_.get(), topic.c_str(), partition, &low, &high) || high < 0) {
        continue;  // no fetch response yet: unknown, not 0
      }
      int64_t next = positions->elems[i].offset;
      if (auto it = delivered_.find(key); it != delivered_.end()) next = it->second;
      if (auto it = end_offsets_.find(key); it != end_offsets_.end()) next = std::max(next, it->second);
      if (next < 0) next = low;  // starting from the beginning, nothing fetched yet
      if (next < 0) continue;
      const int64_t lag = std::max<int64_t>(0, high - next);
      out.push_back({"dutybridge_kafka_source_consumer_lag_messages",
                     {{"topic", topic}, {"partition", std::to_string(partition)}},
                     core::MetricKind::Gauge,
                     static_cast<double>(lag),
                     {}});
    }
  }

  void close() override {
    if (!consumer_) return;
    // Leaves the group (the revoke callback unassigns) so the partitions move on at once.
    if (rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_.get()); err) {
      log::debug(component(), "closing the consumer: {}", rd_kafka_err2str(err));
    }
    consumer_.reset();
    assigned_.clear();
  }

 private:
  void onDelivery(const rd_kafka_message_t&) override {}

  std::string topicList() const { return fmt::format("topic(s) {}", fmt::join(settings_.topics, ", ")); }

  static KafkaSource* self(void* opaque) { return static_cast<KafkaSource*>(static_cast<kafka::ClientEvents*>(opaque)); }

  static void rebalanceCallback(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions,
                                void* opaque) {
    self(opaque)->rebalance(rk, err, partitions);
  }

  static void commitCallback(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t*, void* opaque) {
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
    KafkaSource* source = self(opaque);
    size_t suppressed = 0;
    if (source->limiter_.admit("commit", suppressed)) {
      log::warning(source->component(), "committing offsets to the consumer group failed ({}); lag shown by Kafka "
                   "tools may be stale, reading goes on", rd_kafka_err2str(err));
    }
  }

  void rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* partitions) {
    const bool cooperative = std::string_view(rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE";
    if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
      for (int i = 0; i < partitions->cnt; ++i) {
        rd_kafka_topic_partition_t& p = partitions->elems[i];
        std::string key = partitionKey(p.topic, p.partition);
        auto it = known_.find(key);
        p.offset = it != known_.end() ? it->second
                                      : (settings_.start_latest ? RD_KAFKA_OFFSET_END : RD_KAFKA_OFFSET_BEGINNING);
        at_end_.erase(key);
        end_offsets_.erase(key);
        assigned_.insert(std::move(key));
      }
      if (cooperative) {
        if (rd_kafka_error_t* error = rd_kafka_incremental_assign(rk, partitions)) failRebalance(error, "assign");
      } else if (rd_kafka_resp_err_t code = rd_kafka_assign(rk, partitions); code) {
        rebalance_error_ = kafka::kafkaError(code, "assigning partitions");
      }
      log::info(component(), "assigned {} partition(s)", partitions->cnt);
      return;
    }
    // Revoked (or an assignment error): records already returned belong to the pipeline; the
    // new owner starts from the last position it knows.
    for (int i = 0; i < partitions->cnt; ++i) {
      assigned_.erase(partitionKey(partitions->elems[i].topic, partitions->elems[i].partition));
      at_end_.erase(partitionKey(partitions->elems[i].topic, partitions->elems[i].partition));
    }
    if (cooperative) {
      if (rd_kafka_error_t* error = rd_kafka_incremental_unassign(rk, partitions)) failRebalance(error, "unassign");
    } else {
      assigned_.clear();
      at_end_.clear();
      rd_kafka_assign(rk, nullptr);
    }
    if (err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS) {
      log::warning(component(), "rebalance failed: {}", rd_kafka_err2str(err));
    } else {
      log::info(component(), "revoked {} partition(s)", partitions->cnt);
    }
  }

  void failRebalance(rd_kafka_error_t* error, std::string_view what) {
    rebalance_error_ = core::Error{rd_kafka_error_is_fatal(error) ? core::ErrorKind::Fatal : core::ErrorKind::Retryable,
                                   fmt::format("{} partitions: {}", what, rd_kafka_error_string(error))};
    rd_kafka_error_destroy(error);
  }

  // A consumer error event: nullopt when reading goes on (librdkafka retries), else the error
  // that stops the pipeline.
  std::optional<core::Error> consumerError(const rd_kafka_message_t& message) {
    const rd_kafka_resp_err_t err = message.err;
    std::string where;
    if (message.rkt) {
      where = fmt::format(" ({})", partitionKey(rd_kafka_topic_name(message.rkt), message.partition));
    }
    switch (err) {
      case RD_KAFKA_RESP_ERR__PARTITION_EOF:
        if (message.rkt) {
          std::string key = partitionKey(rd_kafka_topic_name(message.rkt), message.partition);
          end_offsets_[key] = message.offset;  // the offset it would fetch next
          at_end_.insert(std::move(key));
        }
        return std::nullopt;
      case RD_KAFKA_RESP_ERR__FATAL:
        checkFatal(consumer_.get());
        return core::Error::fatal(fatalReason());
      case RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET:
      case RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE:
        return core::Error::permanent(fmt::format(
            "the offset to resume from is no longer in the topic{} (deleted by retention?): {}; records would be "
            "skipped, so the source stops (set librdkafka auto.offset.reset to accept that)",
            where, rd_kafka_message_errstr(&message)));
      case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
      case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
        return core::Error::permanent(fmt::format("{}: {}{}", topicList(), rd_kafka_err2str(err), where));
      default:
        break;
    }
    size_t suppressed = 0;
    if (limiter_.admit(std::string("consume:") + rd_kafka_err2name(err), suppressed)) {
      log::warning(component(), "consuming{}: {}{}", where, rd_kafka_message_errstr(&message),
                   suppressed ? fmt::format(" ({} similar messages suppressed)", suppressed) : std::string());
    }
    return std::nullopt;
  }

  // The partition of the last message read: messages come in runs per partition, so its key and
  // delivered_ entry are looked up once per run, not per message.
  struct LastPartition {
    std::string topic;
    int32_t partition = -1;
    std::string key;              // partitionKey(topic, partition)
    int64_t* delivered = nullptr;  // its entry in delivered_ (std::map: stays valid)
  };

  LastPartition& partitionOf(const rd_kafka_message_t& message) {
    const std::string_view topic = rd_kafka_topic_name(message.rkt);
    if (!last_.delivered || message.partition != last_.partition || topic != last_.topic) {
      last_.topic = std::string(topic);
      last_.partition = message.partition;
      last_.key = partitionKey(topic, message.partition);
      last_.delivered = &delivered_[last_.key];
    }
    return last_;
  }

  // The message as a record of the batch, or as a failure (a dead letter, stage source) when
  // its value is not a JSON object.
  void addRecord(const rd_kafka_message_t& message, LastPartition& from, core::SourceBatch& batch) {
    std::string_view payload;
    if (message.payload) payload = std::string_view(static_cast<const char*>(message.payload), message.len);
    std::optional<core::Timestamp> event_time;
    rd_kafka_timestamp_type_t type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE;
    int64_t millis = rd_kafka_message_timestamp(&message, &type);
    if (type != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && millis >= 0) event_time = core::Timestamp{millis * 1000};
    *from.delivered = message.offset + 1;
    core::Record record;
    if (settings_.format == Format::Text) {
      static const auto kTextSchema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"value"});
      record = core::Record(kTextSchema, {message.payload ? core::Value(payload) : core::Value()});
    } else {
      auto parsed = jsonRecord(payload, message.payload != nullptr);
      if (!parsed) {
        std::string position = fmt::format("{}/{}", from.key, message.offset);
        size_t suppressed = 0;
        if (limiter_.admit("invalid", suppressed)) {
          log::warning(component(), "message {} is not a JSON object ({}); sent to the dead-letter topic{}", position,
                       parsed.error(), suppressed ? fmt::format(" ({} similar messages suppressed)", suppressed) : std::string());
        }
        batch.failures.push_back({std::move(position), "message value: " + parsed.error(), event_time});
        return;
      }
      record = std::move(*parsed);
    }
    record.meta.source_position = fmt::format("{}/{}", from.key, message.offset);
    if (message.key) record.meta.key.emplace(static_cast<const char*>(message.key), message.key_len);
    record.meta.event_time = event_time;
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        record.meta.headers.emplace_back(name, value ? std::string(static_cast<const char*>(value), size) : "");
      }
    }
    batch.records.push_back(std::move(record));
  }

  // The reason, when the value is not a JSON object: the parser's message (a byte offset, never
  // content) or what the value is instead.
  std::expected<core::Record, std::string> jsonRecord(std::string_view payload, bool has_payload) {
    auto invalid = [](std::string reason) { return std::unexpected<std::string>(std::move(reason)); };
    if (!has_payload) return invalid("the message has no value (a tombstone)");
    core::ValueType type = core::ValueType::Null;
    auto parsed = codec::parseJsonObject(payload, &type, settings_.json_limits);
    if (!parsed) return invalid(parsed.error().message);  // "invalid JSON at byte N: ...", no content
    if (!*parsed) return invalid(fmt::format("the value is a JSON {}, not an object", core::toString(type)));
    core::ValueMap& members = **parsed;
    // Messages of one topic usually share their fields: reuse the schema while they do.
    bool same = schema_ && schema_->size() == members.size();
    for (size_t i = 0; same && i < members.size(); ++i) same = schema_->names()[i] == members[i].first;
    if (!same) {
      std::vector<std::string> names;
      names.reserve(members.size());
      for (const auto& member : members) names.push_back(member.first);
      schema_ = std::make_shared<const core::RecordSchema>(std::move(names));
    }
    std::vector<core::Value> values;
    values.reserve(members.size());
    for (auto& member : members) values.push_back(std::move(member.second));  // owned: moved, not copied
    return core::Record(schema_, std::move(values));
  }

  SourceSettings settings_;
  kafka::KafkaHandle consumer_;
  Offsets known_;      // newest durable position: open() merged with every commit()
  Offsets delivered_;  // known_ at open, then moved by every record returned
  LastPartition last_;  // points into delivered_: reset whenever delivered_ is assigned
  std::set<std::string> assigned_;
  std::set<std::string> at_end_;  // assigned partitions read to their end (partition EOF)
  std::map<std::string, int64_t> end_offsets_;  // the end offset of each partition's last EOF (lag)
  std::optional<core::Error> rebalance_error_;
  std::shared_ptr<const core::RecordSchema> schema_;
  kafka::RateLimiter limiter_{std::chrono::seconds(30)};
};

// What the source's config says (sourceConfig() binds every field); create() adds the cluster's
// properties and what correctness needs.
struct SourceConfig {
  std::vector<std::string> topics;
  std::optional<std::string> group_id;  // default <client_id>-<pipeline>
  Format format = Format::Json;
  size_t json_max_depth = 0;
  size_t batch_rows = 0;
  bool start_latest = false;
  std::vector<std::pair<std::string, std::string>> librdkafka;
};

const core::SettingsSchema<SourceConfig>& sourceConfig() {
  static const core::SettingsSchema<SourceConfig> settings = [] {
    core::SettingsSchema<SourceConfig> s;
    s.field(
        FieldSpec::make("topics", FieldType::StringList).req().doc("Topics to read (one consumer group subscription)."),
        &SourceConfig::topics);
    s.field(FieldSpec::make("group_id", FieldType::String)
                .doc("Consumer group; default CLIENT_ID-PIPELINE (kafka.client_id and the pipeline name). Its "
                     "committed offsets only show lag: the source resumes from the position stored downstream."),
            &SourceConfig::group_id);
    s.field(FieldSpec::make("format", FieldType::Enum)
                .def("json")
                .oneOf({"json", "text"})
                .doc("json: the value is a JSON object whose members become the fields (numbers exact); a value "
                     "that is not one (invalid JSON, an array, a tombstone) becomes a dead letter (stage source) and "
                     "reading goes on. text: one field `value`."),
            &SourceConfig::format,
            [](const std::string& text) { return text == "text" ? Format::Text : Format::Json; });
    s.field(FieldSpec::make("json_max_depth", FieldType::Int)
                .def("128")
                .range(1, 10'000)
                .doc("Deepest nesting of objects and arrays a JSON message may have; a deeper one becomes a dead "
                     "letter naming the reason, never a stack overflow."),
            &SourceConfig::json_max_depth);
    s.field(FieldSpec::make("batch_rows", FieldType::Int)
                .def("1000")
                .range(1, 1'000'000)
                .formerly("batch_max")
                .doc("Most records per batch (per poll)."),
            &SourceConfig::batch_rows);
    s.field(FieldSpec::make("start", FieldType::Enum)
                .def("earliest")
                .oneOf({"earliest", "latest"})
                .doc("Where a partition without a stored position starts."),
            &SourceConfig::start_latest, [](const std::string& text) { return text == "latest"; });
    s.field(FieldSpec::make("librdkafka", FieldType::StringMap)
                .def("{}")
                .secret()
                .doc("librdkafka consumer properties overriding the kafka: section (TLS, SASL); group.id, "
                     "isolation.level and the offset-commit settings cannot be overridden."),
            &SourceConfig::librdkafka);
    return s;
  }();
  return settings;
}

class KafkaSourceFactory final : public core::SourceFactory {
 public:
  std::string_view name() const override { return "kafka"; }
  std::string_view description() const override {
    return "Kafka consumer group, read_committed: JSON or text messages, resumes from the position stored "
           "downstream.";
  }
  const core::ConfigSchema& configSchema() const override { return sourceConfig().schema(); }

  core::Result<std::unique_ptr<core::Source>> create(const ConfigObject& config,
                                                     const core::ConnectorContext& context) const override {
    if (!context.kafka) {
      return core::fail(core::ErrorKind::InvalidConfig,
                        "the kafka source needs a kafka: section (bootstrap_servers) in the daemon configuration");
    }
    auto c = sourceConfig().read(config);
    if (!c) return core::fail(c.error());
    SourceSettings settings;
    settings.component =
        context.pipeline_name.empty() ? "kafka source" : "pipeline " + context.pipeline_name + ": kafka source";
    settings.topics = c->topics;
    if (settings.topics.empty()) return core::fail(core::ErrorKind::InvalidConfig, "the kafka source needs topics");
    settings.format = c->format;
    settings.batch_rows = c->batch_rows;
    settings.start_latest = c->start_latest;
    settings.json_limits.max_depth = c->json_max_depth;
    std::string group = c->group_id.value_or("");
    if (group.empty()) {
      std::string client_id = context.kafka->client_id;
      if (client_id.empty()) client_id = "dutybridge";
      group = context.pipeline_name.empty() ? client_id : client_id + "-" + context.pipeline_name;
    }

    // Later entries win: the daemon section (cluster, TLS, SASL), defaults this source's own
    // map may override, then what correctness needs.
    auto& p = settings.properties;
    p = kafka::clientProperties(*context.kafka, context.pipeline_name);
    // A stored offset that retention deleted must not silently skip records.
    p.emplace_back("auto.offset.reset", "error");
    p.emplace_back("allow.auto.create.topics", "false");
    for (auto& property : c->librdkafka) p.push_back(std::move(property));
    p.emplace_back("group.id", group);
    p.emplace_back("isolation.level", "read_committed");
    // Partition ends tell `run --once` when the source has caught up (SourceBatch::more_pending).
    p.emplace_back("enable.partition.eof", "true");
    p.emplace_back("enable.auto.commit", "false");
    p.emplace_back("enable.auto.offset.store", "false");

    kafka::KafkaConfig check;
    if (auto status = check.setAll(p); !status) return core::fail(status.error());
    return std::make_unique<KafkaSource>(std::move(settings));
  }
};

}  // namespace

void registerKafkaSource(core::Registry& registry) {
  registry.add(std::make_unique<KafkaSourceFactory>());
}

}  // namespace dutybridge::connectors
