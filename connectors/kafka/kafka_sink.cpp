#include "connectors/kafka/kafka_sink.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <deque>
#include <optional>

#include "connectors/kafka/event_id.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_handles.h"
#include "src/codec/json_writer.h"
#include "src/common/log.h"
#include "src/core/settings.h"

namespace dutybridge::connectors {
namespace {

using namespace std::chrono_literals;
using core::ConfigObject;
using core::FieldSpec;
using core::FieldType;
using kafka::SteadyClock;

static_assert(sizeof(void*) >= sizeof(uint64_t), "the batch sequence travels in the message opaque");

// open() waits this long for the topic to be created, so that a refusal (replication factor
// larger than the cluster) surfaces at start-up; after that creation goes on in the background.
constexpr auto kOpenTopicWait = 5s;
constexpr auto kTopicRequestTimeout = 30s;
constexpr auto kTopicRetryInterval = 1s;
// close() after the pipeline's own flush: one last short chance for in-flight records.
constexpr auto kCloseFlush = 1s;

struct SinkSettings {
  std::string component;
  kafka::Properties properties;
  std::string topic;
  std::vector<std::string> key_fields;
  std::string ce_source;
  std::string ce_type;
  bool create_topic = false;
  kafka::TopicSpec topic_spec;
  // With create_topic: the other topics records may name (the dead-letter topic, a mapping's
  // emit topics), created the same way (not compacted) after the sink's own.
  std::vector<kafka::TopicSpec> extra_topics;
  const core::Clock* clock = nullptr;
  // Exactly-once: records of a transaction and the pipeline's state entries (to state_topic)
  // commit together. `fallback`: when the cluster does not support transactions, go on
  // idempotent (at-least-once) with a warning instead of failing (delivery: auto).
  std::string transactional_id;
  std::string state_topic;
  bool fallback = false;
};

// One attempt; a timeout is Retryable and the pipeline tries again after its backoff, which a stop
// cuts short. Short, so that SIGTERM while the cluster is away stops the daemon within seconds
// (systemd's TimeoutStopSec), not after one long blocking call.
constexpr auto kInitTransactionsTimeout = 4s;
// How long the broker lets a transaction stay open before it aborts it (a zombie's, say).
constexpr int64_t kTransactionTimeoutMs = 60'000;

// librdkafka's transactional API reports rd_kafka_error_t; its flags decide what the pipeline does
// (librdkafka examples/transactions.c): abort and rewind, retry the call, or stop.
core::Error transactionError(rd_kafka_error_t* error, std::string_view what) {
  std::string message = fmt::format("{}: {}", what, rd_kafka_error_string(error));
  core::ErrorKind kind = core::ErrorKind::Fatal;
  if (rd_kafka_error_is_fatal(error)) {
    kind = core::ErrorKind::Fatal;
  } else if (rd_kafka_error_txn_requires_abort(error)) {
    kind = core::ErrorKind::Abortable;
  } else if (rd_kafka_error_is_retriable(error)) {
    kind = core::ErrorKind::Retryable;
  }
  rd_kafka_error_destroy(error);
  return core::Error{kind, std::move(message)};
}

// The cluster (or its ACLs) cannot do transactions at all: the only case `delivery: auto` falls
// back from.
bool transactionsUnsupported(rd_kafka_resp_err_t code) {
  return code == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE || code == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION ||
         code == RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED ||
         code == RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED || code == RD_KAFKA_RESP_ERR__NOT_IMPLEMENTED;
}

std::string millisText(int64_t micros) {
  if (micros % 1000 == 0) return std::to_string(micros / 1000);
  return fmt::format("{:.3f}", static_cast<double>(micros) / 1000.0);
}

bool isPermanentDeliveryError(rd_kafka_resp_err_t err) {
  switch (err) {
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
    case RD_KAFKA_RESP_ERR_INVALID_MSG_SIZE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_RECORD_LIST_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_REQUIRED_ACKS:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
      return true;
    default:
      return false;
  }
}

class KafkaSink final : public core::Sink, private kafka::ClientEvents {
 public:
  explicit KafkaSink(SinkSettings settings)
      : kafka::ClientEvents(settings.component, "records wait in the bounded queue until the cluster is back"),
        settings_(std::move(settings)),
        transactional_(!settings_.transactional_id.empty()) {}

  ~KafkaSink() override { close(); }

  core::Status open() override {
    if (producer_) return {};
    kafka::KafkaConfig config;
    if (auto status = config.setAll(settings_.properties); !status) return status;
    attach(config, true);
    auto client = kafka::createClient(RD_KAFKA_PRODUCER, std::move(config));
    if (!client) return core::fail(client.error());
    producer_ = std::move(*client);
    if (transactional_) {
      if (auto initialised = initTransactions(); !initialised) {
        producer_.reset();
        return initialised;
      }
      if (!transactional_) return open();  // fell back: a plain idempotent producer
    }
    topic_.reset(rd_kafka_topic_new(producer_.get(), settings_.topic.c_str(), nullptr));
    if (!topic_) {
      auto err = rd_kafka_last_error();
      producer_.reset();
      return core::fail(core::ErrorKind::InvalidConfig,
                        fmt::format("topic {}: {}", settings_.topic, rd_kafka_err2str(err)));
    }
    if (!settings_.create_topic) return {};

    pending_topics_.assign(settings_.extra_topics.begin(), settings_.extra_topics.end());
    creator_ = std::make_unique<kafka::TopicCreator>(producer_.get(), settings_.topic_spec);
    auto deadline = SteadyClock::now() + kOpenTopicWait;
    while (creator_ && !topic_error_ && SteadyClock::now() < deadline) {
      driveTopicCreation(std::min(std::chrono::milliseconds(kafka::remainingMs(deadline)), 100ms));
    }
    if (topic_error_) {
      core::Error error = *topic_error_;
      close();
      topic_error_.reset();
      return core::fail(std::move(error));
    }
    if (creator_) {
      log::warning(component(), "topic {} is not confirmed yet (cluster unreachable?); records wait until it is",
                   settings_.topic);
    }
    return {};
  }

  std::vector<core::Refusal> screen(std::span<const core::Record> records) override {
    std::vector<core::Refusal> refusals;
    if (settings_.key_fields.empty()) return refusals;
    for (size_t r = 0; r < records.size(); ++r) {
      if (records[r].meta.key) continue;  // keyed by the mapping
      if (auto missing = missingKeyField(records[r])) {
        refusals.push_back({r, fmt::format("the record has no value for key field '{}' of the kafka sink",
                                           settings_.key_fields[*missing])});
      }
    }
    return refusals;
  }

  core::Result<size_t> write(std::span<const core::Record> records, uint64_t sequence) override {
    if (!producer_) return core::fail(core::ErrorKind::Retryable, "the kafka sink is not open");
    checkFatal(producer_.get());
    if (auto failed = stickyError()) return core::fail(std::move(*failed));
    if (sequence < last_sequence_) {
      return core::fail(core::ErrorKind::Fatal,
                        fmt::format("batch sequence went backwards ({} after {})", sequence, last_sequence_));
    }
    if (batches_.empty() || batches_.back().sequence != sequence) {
      if (sequence == last_sequence_ && last_sequence_ != 0) {
        return core::fail(core::ErrorKind::Fatal, fmt::format("batch {} was already complete", sequence));
      }
      batches_.push_back(Batch{sequence});
      last_sequence_ = sequence;
    }
    if (transactional_ && !in_transaction_) {
      if (auto begun = beginTransaction(); !begun) return core::fail(begun.error());
    }
    Batch& batch = batches_.back();
    // Until the topic exists as configured nothing is produced: a producer would otherwise let
    // the broker auto-create it with default settings. Accepting nothing is backpressure.
    if (creator_) {
      if (records.empty()) batch.sealed = true;
      return size_t{0};
    }

    const core::Timestamp now = settings_.clock ? settings_.clock->now() : system_clock_.now();
    size_t accepted = 0;
    for (const core::Record& record : records) {
      auto status = produce(record, sequence, now);
      if (!status) {
        if (accepted > 0) break;  // the failing record is offered again and fails alone
        if (status.error().kind == core::ErrorKind::Abortable) {
          // This record alone can never be sent (too large): the pipeline dead-letters it on its
          // next run. What this run sent of the batch is aborted (a transaction) or sent again.
          write_refusals_.push_back({std::string(), status.error().message, size_t{0}});
          failure_ =
              core::Error{core::ErrorKind::Abortable, fmt::format("a record was refused: {}", status.error().message)};
          return core::fail(*failure_);
        }
        return core::fail(std::move(status.error()));
      }
      if (!*status) break;  // queue full
      ++batch.outstanding;
      ++accepted;
    }
    if (accepted == records.size()) batch.sealed = true;
    return accepted;
  }

  core::Result<uint64_t> poll(std::chrono::milliseconds max_wait) override {
    if (!producer_) return delivered_;
    driveTopicCreation(0ms);
    rd_kafka_poll(producer_.get(), static_cast<int>(std::clamp<int64_t>(max_wait.count(), 0, INT_MAX)));
    checkFatal(producer_.get());
    if (auto failed = stickyError()) return core::fail(std::move(*failed));
    // In a transaction a delivered record is not yet visible: batches count as delivered when
    // their transaction commits.
    if (!transactional_) advance();
    return delivered_;
  }

  core::Status flush(SteadyClock::time_point deadline) override {
    if (!producer_) return {};
    if (transactional_) return {};  // the pipeline commits (or aborts) the open transaction itself
    rd_kafka_flush(producer_.get(), kafka::remainingMs(deadline));
    checkFatal(producer_.get());
    if (auto failed = stickyError()) return core::fail(std::move(*failed));
    advance();
    if (int left = rd_kafka_outq_len(producer_.get()); left > 0) {
      return core::fail(core::ErrorKind::Retryable,
                        fmt::format("{} records to topic {} not yet delivered at the flush deadline", left,
                                    settings_.topic));
    }
    return {};
  }

  void close() override {
    if (!producer_) return;
    if (transactional_ && in_transaction_) {
      // Not committed: nothing of it may become visible. A restart resumes from the last commit.
      if (rd_kafka_error_t* error = rd_kafka_abort_transaction(producer_.get(), 5000)) rd_kafka_error_destroy(error);
      in_transaction_ = false;
      batches_.clear();
    }
    rd_kafka_flush(producer_.get(), static_cast<int>(std::chrono::milliseconds(kCloseFlush).count()));
    closing_ = true;
    if (int left = rd_kafka_outq_len(producer_.get()); left > 0) {
      log::warning(component(),
                   "closing with {} records to topic {} undelivered; they are read and sent again after a restart",
                   left, settings_.topic);
      rd_kafka_purge(producer_.get(), RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
      rd_kafka_poll(producer_.get(), 0);
    }
    creator_.reset();
    topic_.reset();
    producer_.reset();
    closing_ = false;
  }

  bool transactional() const override { return transactional_; }

  // The queue from librdkafka's own count (messages and requests not yet acknowledged, all
  // topics) and our count of record bytes produced and not yet reported (the statistics callback
  // has msg_size too, but only per interval and as JSON to parse).
  void metrics(std::vector<core::MetricSample>& out) const override {
    const double messages = producer_ ? static_cast<double>(rd_kafka_outq_len(producer_.get())) : 0;
    out.push_back({"dutybridge_kafka_producer_queue_messages", {}, core::MetricKind::Gauge, messages, {}});
    out.push_back({"dutybridge_kafka_producer_queue_bytes",
                   {},
                   core::MetricKind::Gauge,
                   producer_ ? static_cast<double>(queued_bytes_) : 0,
                   {}});
  }

  std::vector<core::WriteRefusal> takeWriteRefusals() override { return std::move(write_refusals_); }

  core::Status beginTransaction() override {
    if (!producer_) return core::fail(core::ErrorKind::Retryable, "the kafka sink is not open");
    if (in_transaction_) return {};
    if (rd_kafka_error_t* error = rd_kafka_begin_transaction(producer_.get())) {
      return core::fail(transactionError(error, "beginning a transaction"));
    }
    in_transaction_ = true;
    return {};
  }

  core::Status commitTransaction(const std::vector<core::StateEntry>& state, SteadyClock::time_point deadline) override {
    if (!producer_) return core::fail(core::ErrorKind::Retryable, "the kafka sink is not open");
    if (!in_transaction_) {
      if (auto begun = beginTransaction(); !begun) return begun;
    }
    if (auto failed = stickyError()) return core::fail(std::move(*failed));
    for (; state_written_ < state.size(); ++state_written_) {
      const core::StateEntry& entry = state[state_written_];
      while (true) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer_.get(), RD_KAFKA_V_TOPIC(settings_.state_topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(entry.key.data(), entry.key.size()),
            RD_KAFKA_V_VALUE(entry.value.empty() ? nullptr : const_cast<char*>(entry.value.data()), entry.value.size()),
            RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(kStateOpaque))), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && SteadyClock::now() < deadline) {
          rd_kafka_poll(producer_.get(), 10);
          continue;
        }
        // The entry's kind only ("w/", "s/", "cursor/"): window keys hold employee numbers.
        core::Error error = kafka::kafkaError(
            err, fmt::format("a state entry ({}/...) to {}", std::string_view(entry.key).substr(0, entry.key.find('/')),
                             settings_.state_topic));
        if (error.kind == core::ErrorKind::Retryable) return core::fail(std::move(error));
        error.kind = core::ErrorKind::Abortable;
        return core::fail(std::move(error));
      }
    }
    rd_kafka_error_t* error = rd_kafka_commit_transaction(producer_.get(), std::max(1, kafka::remainingMs(deadline)));
    if (error) {
      core::Error failed = transactionError(error, "committing the transaction");
      // A retried commit must not write the state entries twice.
      if (failed.kind != core::ErrorKind::Retryable) state_written_ = 0;
      return core::fail(std::move(failed));
    }
    state_written_ = 0;
    in_transaction_ = false;
    if (auto failed = stickyError()) return core::fail(std::move(*failed));
    // Every record of the transaction is delivered and visible now.
    delivered_ = last_sequence_;
    batches_.clear();
    return {};
  }

  core::Status abortTransaction(SteadyClock::time_point deadline) override {
    if (!producer_ || !in_transaction_) {
      batches_.clear();
      failure_.reset();
      return {};
    }
    if (rd_kafka_error_t* error = rd_kafka_abort_transaction(producer_.get(), std::max(1, kafka::remainingMs(deadline)))) {
      core::Error failed = transactionError(error, "aborting the transaction");
      if (failed.kind == core::ErrorKind::Abortable) failed.kind = core::ErrorKind::Retryable;
      return core::fail(std::move(failed));
    }
    in_transaction_ = false;
    state_written_ = 0;
    batches_.clear();
    failure_.reset();
    return {};
  }

 private:
  // Delivery reports of state entries carry this opaque instead of a batch sequence.
  static constexpr uint64_t kStateOpaque = UINT64_MAX;

  core::Status initTransactions() {
    rd_kafka_error_t* error = rd_kafka_init_transactions(
        producer_.get(), static_cast<int>(std::chrono::milliseconds(kInitTransactionsTimeout).count()));
    if (!error) {
      log::info(component(), "transactions initialised (transactional.id {})", settings_.transactional_id);
      return {};
    }
    rd_kafka_resp_err_t code = rd_kafka_error_code(error);
    if (settings_.fallback && transactionsUnsupported(code)) {
      log::warning(component(), "the cluster cannot do transactions ({}): delivery falls back to at-least-once",
                   rd_kafka_error_string(error));
      rd_kafka_error_destroy(error);
      transactional_ = false;
      // A producer configured with a transactional.id cannot produce outside transactions.
      std::erase_if(settings_.properties, [](const auto& p) { return p.first == "transactional.id" || p.first == "transaction.timeout.ms"; });
      producer_.reset();
      return {};
    }
    core::Error failed = transactionError(error, "initialising transactions");
    if (transactionsUnsupported(code)) failed.kind = core::ErrorKind::InvalidConfig;
    // Why it timed out (a refused SASL login, a certificate that does not verify, brokers down)
    // waits in the error callback queue, which only a poll serves: log it now, or the admin sees
    // nothing but a timeout.
    rd_kafka_poll(producer_.get(), 0);
    return core::fail(std::move(failed));
  }

  struct Batch {
    uint64_t sequence = 0;
    size_t outstanding = 0;  // produced, delivery report not yet in
    bool sealed = false;     // every record of the batch has been produced
    bool failed = false;
  };

  std::optional<core::Error> stickyError() const {
    if (fatal()) return core::Error::fatal("Kafka producer: " + fatalReason());
    if (topic_error_) return topic_error_;
    if (failure_) return failure_;
    return std::nullopt;
  }

  void advance() {
    while (!batches_.empty() && batches_.front().sealed && batches_.front().outstanding == 0 &&
           !batches_.front().failed) {
      delivered_ = batches_.front().sequence;
      batches_.pop_front();
    }
  }

  Batch* findBatch(uint64_t sequence) {
    auto it = std::lower_bound(batches_.begin(), batches_.end(), sequence,
                               [](const Batch& batch, uint64_t s) { return batch.sequence < s; });
    return it != batches_.end() && it->sequence == sequence ? &*it : nullptr;
  }

  // Builds key, value and headers of one record and hands it to librdkafka. true: queued;
  // false: the queue is full.
  core::Result<bool> produce(const core::Record& record, uint64_t sequence, core::Timestamp now) {
    const char* key = nullptr;
    size_t key_size = 0;
    if (record.meta.key) {
      // A mapping chose the key (and maybe the topic) for this record.
      key = record.meta.key->data();
      key_size = record.meta.key->size();
    } else if (!settings_.key_fields.empty()) {
      if (auto built = buildKey(record); !built) return core::fail(std::move(built.error()));
      key = key_.data();
      key_size = key_.size();
    }
    std::string_view value = json_.write(record);
    char id[kafka::EventIdHasher::kHexLength];
    bool hashed = true;
    if (record.meta.topic || record.meta.key) {
      // One source record may yield several outputs (several emit blocks): the destination and
      // key tell them apart, and stay the same when the record is sent again.
      id_input_.assign(record.meta.source_position);
      id_input_ += '\n';
      id_input_ += record.meta.topic.value_or(settings_.topic);
      id_input_ += '\n';
      id_input_ += record.meta.key.value_or("");
      hashed = hasher_.compute(settings_.ce_source, id_input_, id);
    } else {
      hashed = hasher_.compute(settings_.ce_source, record.meta.source_position, id);
    }
    if (!hashed) return core::fail(core::ErrorKind::Fatal, "OpenSSL SHA-256 failed");
    char time[48];
    size_t time_size = codec::formatTimestampTo(record.meta.event_time.value_or(now), time);

    rd_kafka_resp_err_t err;
    if (!record.meta.topic && record.meta.headers.empty()) {
      err = rd_kafka_producev(
          producer_.get(), RD_KAFKA_V_RKT(topic_.get()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
          RD_KAFKA_V_KEY(key, key_size),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(sequence))),
          RD_KAFKA_V_HEADER("ce_specversion", "1.0", 3),
          RD_KAFKA_V_HEADER("ce_id", id, static_cast<ssize_t>(sizeof id)),
          RD_KAFKA_V_HEADER("ce_source", settings_.ce_source.data(), static_cast<ssize_t>(settings_.ce_source.size())),
          RD_KAFKA_V_HEADER("ce_type", settings_.ce_type.data(), static_cast<ssize_t>(settings_.ce_type.size())),
          RD_KAFKA_V_HEADER("ce_time", time, static_cast<ssize_t>(time_size)),
          RD_KAFKA_V_HEADER("content-type", "application/json", 16), RD_KAFKA_V_END);
    } else {
      // Mapping outputs to another topic and dead letters (which carry their own headers).
      rd_kafka_headers_t* headers = rd_kafka_headers_new(6 + record.meta.headers.size());
      rd_kafka_header_add(headers, "ce_specversion", -1, "1.0", 3);
      rd_kafka_header_add(headers, "ce_id", -1, id, static_cast<ssize_t>(sizeof id));
      rd_kafka_header_add(headers, "ce_source", -1, settings_.ce_source.data(),
                          static_cast<ssize_t>(settings_.ce_source.size()));
      rd_kafka_header_add(headers, "ce_type", -1, settings_.ce_type.data(), static_cast<ssize_t>(settings_.ce_type.size()));
      rd_kafka_header_add(headers, "ce_time", -1, time, static_cast<ssize_t>(time_size));
      rd_kafka_header_add(headers, "content-type", -1, "application/json", 16);
      for (const auto& [name, header_value] : record.meta.headers) {
        rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), header_value.data(),
                            static_cast<ssize_t>(header_value.size()));
      }
      const std::string& topic = record.meta.topic ? *record.meta.topic : settings_.topic;
      err = rd_kafka_producev(producer_.get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                              RD_KAFKA_V_KEY(key, key_size),
                              RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(sequence))),
                              RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_END);
      // On success librdkafka owns the headers; on failure they are still ours.
      if (err != RD_KAFKA_RESP_ERR_NO_ERROR) rd_kafka_headers_destroy(headers);
    }
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      queued_bytes_ += static_cast<int64_t>(value.size() + key_size);
      return true;
    }
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
      // Abortable marks a refusal of this record alone (write() reports it as one).
      return core::fail(core::ErrorKind::Abortable,
                        fmt::format("the message ({} bytes with its key) is larger than the producer's "
                                    "message.max.bytes (librdkafka), so the broker would never take it",
                                    value.size() + key_size));
    }
    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      // Nothing else queued and still no room: this one record is larger than the whole queue.
      if (rd_kafka_outq_len(producer_.get()) == 0) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("record at source position '{}' ({} bytes) is larger than queue_max_bytes",
                                      record.meta.source_position, value.size() + key_size));
      }
      return false;
    }
    core::Error error = kafka::kafkaError(err, fmt::format("record at source position '{}' to topic {}",
                                                           record.meta.source_position, settings_.topic));
    if (err == RD_KAFKA_RESP_ERR__FATAL && checkFatal(producer_.get())) error.message += ": " + fatalReason();
    return core::fail(std::move(error));
  }

  // The key fields' indexes in the record's schema (cached while records share one).
  void indexKeyFields(const core::Record& record) {
    if (key_schema_ == record.schema()) return;
    key_schema_ = record.schema();
    key_index_.clear();
    for (const auto& field : settings_.key_fields) {
      key_index_.push_back(key_schema_ ? key_schema_->indexOf(field) : std::nullopt);
    }
  }

  // The first key field the record has no value for (the record cannot be keyed).
  std::optional<size_t> missingKeyField(const core::Record& record) {
    indexKeyFields(record);
    for (size_t i = 0; i < key_index_.size(); ++i) {
      if (!key_index_[i] || record.value(*key_index_[i]).isNull()) return i;
    }
    return std::nullopt;
  }

  core::Status buildKey(const core::Record& record) {
    indexKeyFields(record);
    key_.clear();
    for (size_t i = 0; i < key_index_.size(); ++i) {
      const core::Value* value = key_index_[i] ? &record.value(*key_index_[i]) : nullptr;
      if (!value || value->isNull()) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("record at source position '{}' has no value for key field '{}'",
                                      record.meta.source_position, settings_.key_fields[i]));
      }
      if (i > 0) key_ += '|';
      codec::appendKeyText(key_, *value);
    }
    return {};
  }

  void driveTopicCreation(std::chrono::milliseconds wait) {
    if (!creator_ || topic_error_) return;
    if (!creator_->inFlight()) {
      if (SteadyClock::now() < next_topic_attempt_) {
        if (wait > 0ms) rd_kafka_poll(producer_.get(), static_cast<int>(wait.count()));
        return;
      }
      if (auto started = creator_->start(kTopicRequestTimeout); !started) {
        topic_error_ = started.error();
        return;
      }
    }
    auto answer = creator_->poll(wait);
    if (!answer) return;
    if (*answer) {
      log::info(component(), "topic {} is ready", creator_->spec().name);
      if (pending_topics_.empty()) {
        creator_.reset();
      } else {
        creator_ = std::make_unique<kafka::TopicCreator>(producer_.get(), pending_topics_.front());
        pending_topics_.pop_front();
      }
      return;
    }
    if (answer->error().kind != core::ErrorKind::Retryable) {
      topic_error_ = answer->error();
      return;
    }
    next_topic_attempt_ = SteadyClock::now() + kTopicRetryInterval;
    if (SteadyClock::now() - last_topic_warning_ >= 30s) {
      last_topic_warning_ = SteadyClock::now();
      log::warning(component(), "{}; retrying", answer->error().message);
    }
  }

  // Runs inside rd_kafka_poll()/rd_kafka_flush(), i.e. on the pipeline thread.
  void onDelivery(const rd_kafka_message_t& message) override {
    auto sequence = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message._private));
    if (sequence != kStateOpaque) {
      queued_bytes_ = std::max<int64_t>(0, queued_bytes_ - static_cast<int64_t>(message.len + message.key_len));
    }
    Batch* batch = findBatch(sequence);
    if (batch && batch->outstanding > 0) --batch->outstanding;
    if (message.err == RD_KAFKA_RESP_ERR_NO_ERROR || closing_) return;
    if (batch) batch->failed = true;
    if (failure_) return;

    std::string id = "unknown";
    rd_kafka_headers_t* headers = nullptr;
    const void* header = nullptr;
    size_t header_size = 0;
    if (rd_kafka_message_headers(&message, &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, "ce_id", &header, &header_size) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      id.assign(static_cast<const char*>(header), header_size);
    }
    std::string what = sequence == kStateOpaque
                           ? fmt::format("delivery of a state entry to {} failed: {}", settings_.state_topic,
                                         rd_kafka_err2str(message.err))
                           : fmt::format("delivery of ce_id {} (batch {}) to topic {} failed: {}", id, sequence,
                                         rd_kafka_topic_name(message.rkt), rd_kafka_err2str(message.err));
    if (message.err == RD_KAFKA_RESP_ERR__FATAL) {
      failure_ = core::Error::fatal(what + (checkFatal(producer_.get()) ? ": " + fatalReason() : ""));
    } else if (transactional_) {
      // The transaction cannot commit with a record missing: abort, resume from the last commit.
      failure_ = core::Error{core::ErrorKind::Abortable, what};
    } else if (message.err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) {
      // librdkafka gave the record up (finite delivery_timeout); only re-reading the source from
      // the stored cursor brings it back, so the pipeline has to restart.
      failure_ = core::Error::fatal(what + " (delivery_timeout passed; a restart sends again from the stored cursor)");
    } else if (isPermanentDeliveryError(message.err)) {
      failure_ = core::Error::permanent(what);
    } else {
      failure_ = core::Error::fatal(what);
    }
    log::error(component(), "{}", failure_->message);
  }

  SinkSettings settings_;
  kafka::KafkaHandle producer_;
  kafka::TopicPtr topic_;
  std::unique_ptr<kafka::TopicCreator> creator_;  // while a topic is not confirmed
  std::deque<kafka::TopicSpec> pending_topics_;    // extra topics still to create
  std::optional<core::Error> topic_error_;
  SteadyClock::time_point next_topic_attempt_{};
  SteadyClock::time_point last_topic_warning_{};

  std::vector<core::WriteRefusal> write_refusals_;  // refused in write(), until taken
  std::deque<Batch> batches_;  // ascending sequences, not yet fully delivered
  uint64_t last_sequence_ = 0;
  uint64_t delivered_ = 0;
  std::optional<core::Error> failure_;
  bool closing_ = false;
  bool transactional_ = false;
  bool in_transaction_ = false;
  size_t state_written_ = 0;  // state entries of the commit in progress already produced
  int64_t queued_bytes_ = 0;  // key and value bytes of records produced, delivery report not yet in

  codec::RecordJsonWriter json_;
  kafka::EventIdHasher hasher_;
  std::string key_;
  std::string id_input_;  // source position + topic + key of mapping outputs, hashed into ce_id
  std::shared_ptr<const core::RecordSchema> key_schema_;
  std::vector<std::optional<size_t>> key_index_;
  core::SystemClock system_clock_;
};

std::vector<core::ConfigProblem> checkSink(const ConfigObject& config) {
  std::vector<core::ConfigProblem> problems;
  if (config.getBool("compacted")) {
    if (!config.getBool("create_topic")) {
      problems.push_back({"compacted", "'compacted' only applies to a topic the sink creates: set create_topic: true"});
    }
    if (config.getStringList("key").empty()) {
      problems.push_back({"compacted", "a compacted topic needs a 'key': the broker rejects records without one"});
    }
  }
  return problems;
}

// What the sink's config says (sinkConfig() binds every field); create() turns it into the
// producer's SinkSettings.
struct SinkConfig {
  std::string topic;
  std::vector<std::string> key;
  std::optional<std::string> ce_source;  // default dutybridge/<pipeline>
  std::string ce_type;
  bool create_topic = false;
  int partitions = 0;
  int replication_factor = 0;
  bool compacted = false;
  int64_t queue_max_bytes = 0;
  std::chrono::microseconds linger{};
  std::chrono::microseconds delivery_timeout{};
  std::vector<std::pair<std::string, std::string>> librdkafka;
};

const core::SettingsSchema<SinkConfig>& sinkConfig() {
  static const core::SettingsSchema<SinkConfig> settings = [] {
    core::SettingsSchema<SinkConfig> s;
    s.field(FieldSpec::make("topic", FieldType::String).req().doc("Topic the records are written to."),
            &SinkConfig::topic);
    s.field(FieldSpec::make("key", FieldType::StringList)
                .doc("Record fields whose values, joined by a vertical bar, form the Kafka key. Without it "
                     "records have no key. A record lacking a key field (or holding null) is a permanent error."),
            &SinkConfig::key);
    s.field(FieldSpec::make("ce_source", FieldType::String)
                .doc("CloudEvents source (ce_source header); default dutybridge/PIPELINE (the pipeline name)."),
            &SinkConfig::ce_source);
    s.field(FieldSpec::make("ce_type", FieldType::String)
                .def("dutybridge.record.v1")
                .doc("CloudEvents type (ce_type header)."),
            &SinkConfig::ce_type);
    s.field(FieldSpec::make("create_topic", FieldType::Bool)
                .def("false")
                .doc("Create the topic at start-up if it does not exist (Admin API), and the dead-letter "
                     "topic and the mapping's emit topics too (same partitions and replication, not "
                     "compacted); records wait until they are confirmed."),
            &SinkConfig::create_topic);
    s.field(FieldSpec::make("partitions", FieldType::Int)
                .def("1")
                .range(1, 100'000)
                .doc("Partitions of a topic the sink creates."),
            &SinkConfig::partitions);
    s.field(FieldSpec::make("replication_factor", FieldType::Int)
                .def("1")
                .range(1, 32'767)
                .doc("Replication factor of a topic the sink creates."),
            &SinkConfig::replication_factor);
    s.field(FieldSpec::make("compacted", FieldType::Bool)
                .def("false")
                .doc("Create the topic with cleanup.policy=compact (needs create_topic and key)."),
            &SinkConfig::compacted);
    s.field(FieldSpec::make("queue_max_bytes", FieldType::Size)
                .def("64MiB")
                .range(1024, int64_t{4} << 30)
                .doc("Bound of the producer queue (queue.buffering.max.kbytes). When it is full the "
                     "pipeline stops reading until deliveries make room."),
            &SinkConfig::queue_max_bytes);
    s.field(FieldSpec::make("linger", FieldType::Duration)
                .def("5ms")
                .range(0, 900'000'000)
                .doc("How long the producer waits to fill a batch (linger.ms)."),
            &SinkConfig::linger);
    s.field(FieldSpec::make("delivery_timeout", FieldType::Duration)
                .def("0s")
                .range(0, int64_t{7} * 86'400'000'000)
                .doc("Give a record up after this long (message.timeout.ms); 0 waits forever, so a broker "
                     "outage only fills the queue. A record given up stops the pipeline (Fatal)."),
            &SinkConfig::delivery_timeout);
    s.field(FieldSpec::make("librdkafka", FieldType::StringMap)
                .def("{}")
                .secret()
                .doc("librdkafka producer properties overriding the kafka: section (TLS, SASL)."),
            &SinkConfig::librdkafka);
    s.check(checkSink);
    return s;
  }();
  return settings;
}

class KafkaFactory final : public core::SinkFactory {
 public:
  core::SinkCapabilities capabilities() const override {
    return {.transactions = true, .stores_position = false, .carries_dead_letters = true};
  }

  std::string_view name() const override { return "kafka"; }
  std::string_view description() const override {
    return "Idempotent Kafka producer: JSON records with CloudEvents headers, bounded queue with backpressure.";
  }
  const core::ConfigSchema& configSchema() const override { return sinkConfig().schema(); }

  core::Result<std::unique_ptr<core::Sink>> create(const ConfigObject& config,
                                                   const core::ConnectorContext& context) const override {
    if (!context.kafka) {
      return core::fail(core::ErrorKind::InvalidConfig,
                        "the kafka sink needs a kafka: section (bootstrap_servers) in the daemon configuration");
    }
    auto c = sinkConfig().read(config);
    if (!c) return core::fail(c.error());
    SinkSettings settings;
    settings.component =
        context.pipeline_name.empty() ? "kafka sink" : "pipeline " + context.pipeline_name + ": kafka sink";
    settings.topic = c->topic;
    if (settings.topic.empty()) return core::fail(core::ErrorKind::InvalidConfig, "the kafka sink needs a topic");
    settings.key_fields = c->key;
    settings.ce_source = c->ce_source.value_or("dutybridge/" + context.pipeline_name);
    settings.ce_type = c->ce_type;
    settings.create_topic = c->create_topic;
    settings.topic_spec = kafka::TopicSpec{settings.topic, c->partitions, c->replication_factor, c->compacted};
    settings.clock = context.clock;
    for (const auto& extra : context.extra_topics) {
      if (extra == settings.topic || extra.empty()) continue;
      settings.extra_topics.push_back(kafka::TopicSpec{extra, settings.topic_spec.partitions,
                                                       settings.topic_spec.replication_factor, false});
    }

    // Later entries win: required producer settings, then the daemon section (cluster, TLS,
    // SASL for every client), then this sink's own fields and pass-through.
    auto& p = settings.properties;
    p = {{"enable.idempotence", "true"}, {"acks", "all"}, {"compression.codec", "lz4"}};
    // The topic is created with its settings before anything is produced; the broker must not
    // auto-create it first with defaults.
    if (settings.create_topic) p.emplace_back("allow.auto.create.topics", "false");
    for (auto& property : kafka::clientProperties(*context.kafka, context.pipeline_name)) {
      p.push_back(std::move(property));
    }
    p.emplace_back("queue.buffering.max.kbytes", std::to_string(std::max<int64_t>(1, c->queue_max_bytes / 1024)));
    p.emplace_back("linger.ms", millisText(c->linger.count()));
    int64_t timeout = c->delivery_timeout.count();
    if (context.exactly_once) {
      // Stable per pipeline: a restarted instance, or a zombie, is fenced by the next one. The
      // transaction also writes the pipeline's cursor and state, to the state topic.
      settings.transactional_id = context.kafka->client_id + "-" + context.pipeline_name;
      settings.state_topic = context.kafka->state_topic;
      settings.fallback = context.exactly_once_fallback;
      p.emplace_back("transactional.id", settings.transactional_id);
      p.emplace_back("transaction.timeout.ms", std::to_string(kTransactionTimeoutMs));
      // A record may not outlive its transaction: librdkafka requires message.timeout.ms <=
      // transaction.timeout.ms. A record that times out aborts the transaction (rewind, retry).
      int64_t ms = timeout == 0 ? kTransactionTimeoutMs : std::min<int64_t>(kTransactionTimeoutMs, std::max<int64_t>(1, timeout / 1000));
      p.emplace_back("message.timeout.ms", std::to_string(ms));
    } else {
      p.emplace_back("message.timeout.ms", std::to_string(timeout == 0 ? 0 : std::max<int64_t>(1, timeout / 1000)));
    }
    for (auto& property : c->librdkafka) p.push_back(std::move(property));

    // Property names and values are checked now; nothing connects before open().
    kafka::KafkaConfig check;
    if (auto status = check.setAll(p); !status) return core::fail(status.error());
    return std::make_unique<KafkaSink>(std::move(settings));
  }
};

}  // namespace

void registerKafkaSink(core::Registry& registry) {
  registry.add(std::make_unique<KafkaFactory>());
  // Pipelines whose sink writes one place (the odbc sink) send dead letters to kafka.dlq_topic.
  registry.setDeadLetterRoute(core::DeadLetterRoute{
      .sink = "kafka",
      .where = "kafka.dlq_topic",
      .needs = "a kafka section (bootstrap_servers, dlq_topic)",
      .settings =
          [](const core::KafkaCluster* cluster) -> std::optional<std::vector<std::pair<std::string, std::string>>> {
        if (!cluster) return std::nullopt;
        return std::vector<std::pair<std::string, std::string>>{{"topic", cluster->dlq_topic},
                                                                {"create_topic", "true"}};
      }});
}

}  // namespace dutybridge::connectors
