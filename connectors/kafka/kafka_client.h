#pragma once
// Pieces the Kafka sink and the Kafka state store share (internal to connectors/kafka):
//
// - ClientEvents: the opaque every librdkafka client of ours carries. It turns librdkafka's log
//   and error callbacks into rate-limited warnings (a broker outage would otherwise print a line
//   per reconnect attempt), remembers a fatal error, and forwards delivery reports to the owner.
//   Log and error callbacks may run on librdkafka's own threads, so everything here is
//   thread-safe; delivery reports run on whichever thread calls rd_kafka_poll()/rd_kafka_flush().
//   Nothing logged here ever contains a key or a value: librdkafka only logs them with
//   `debug=msg`, which dutybridge never sets.
// - clientProperties(): bootstrap servers and pass-through properties from the daemon `kafka:`
//   section.
// - TopicCreator: one asynchronous CreateTopics request at a time, with "already exists" counted
//   as success and configuration problems (replication factor larger than the cluster, policy
//   violations) told apart from transient ones.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "connectors/kafka/kafka_handles.h"
#include "src/core/error.h"
#include "src/core/kafka_cluster.h"

namespace dutybridge::kafka {

using Properties = std::vector<std::pair<std::string, std::string>>;
using SteadyClock = std::chrono::steady_clock;

struct QueueDeleter {
  void operator()(rd_kafka_queue_t* queue) const { rd_kafka_queue_destroy(queue); }
};
struct EventDeleter {
  void operator()(rd_kafka_event_t* event) const { rd_kafka_event_destroy(event); }
};
struct TopicDeleter {
  void operator()(rd_kafka_topic_t* topic) const { rd_kafka_topic_destroy(topic); }
};
struct MetadataDeleter {
  void operator()(const rd_kafka_metadata_t* metadata) const { rd_kafka_metadata_destroy(metadata); }
};
using QueuePtr = std::unique_ptr<rd_kafka_queue_t, QueueDeleter>;
using EventPtr = std::unique_ptr<rd_kafka_event_t, EventDeleter>;
using TopicPtr = std::unique_ptr<rd_kafka_topic_t, TopicDeleter>;
using MetadataPtr = std::unique_ptr<const rd_kafka_metadata_t, MetadataDeleter>;

// Milliseconds left until `deadline`, clamped to [0, INT_MAX].
int remainingMs(SteadyClock::time_point deadline);

// At most one line per key and window; the next line after a quiet period says how many were
// suppressed. Thread-safe.
class RateLimiter {
 public:
  explicit RateLimiter(std::chrono::seconds window) : window_(window) {}
  // Returns false when the line must be suppressed; otherwise the number suppressed since the
  // last line for this key.
  bool admit(const std::string& key, size_t& suppressed);

 private:
  struct Slot {
    SteadyClock::time_point last{};
    size_t suppressed = 0;
  };
  std::chrono::seconds window_;
  std::mutex mutex_;
  std::map<std::string, Slot, std::less<>> slots_;
};

class ClientEvents {
 public:
  // `outage_hint` ends the warning about an unreachable cluster (what happens meanwhile).
  ClientEvents(std::string component, std::string outage_hint);
  virtual ~ClientEvents() = default;
  ClientEvents(const ClientEvents&) = delete;
  ClientEvents& operator=(const ClientEvents&) = delete;

  // Sets this object as the opaque of `config` and installs the log and error callbacks, and the
  // delivery-report callback when `delivery_reports` is set. The object must outlive the client.
  void attach(KafkaConfig& config, bool delivery_reports);

  const std::string& component() const { return component_; }
  // Set once librdkafka raised ERR__FATAL (idempotence guarantees broken): the client is unusable.
  bool fatal() const { return fatal_.load(std::memory_order_acquire); }
  std::string fatalReason() const;
  // Asks librdkafka directly (rd_kafka_fatal_error), so a fatal error is seen even before its
  // error event has been served by a poll. Cheap: an atomic read unless an error is set.
  bool checkFatal(rd_kafka_t* rk);

 protected:
  // Called for every delivery report (only if attached with delivery_reports).
  virtual void onDelivery(const rd_kafka_message_t& message) = 0;

 private:
  static void logCallback(const rd_kafka_t* rk, int level, const char* facility, const char* text);
  static void errorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque);
  static void deliveryCallback(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

  void log(int level, const char* facility, const char* text);
  void error(rd_kafka_t* rk, rd_kafka_resp_err_t err, const char* reason);
  // Records the fatal error; returns true the first time.
  bool setFatal(rd_kafka_t* rk, const char* fallback_reason);

  std::string component_;
  std::string outage_hint_;
  RateLimiter limiter_{std::chrono::seconds(30)};
  std::atomic<bool> fatal_{false};
  mutable std::mutex fatal_mutex_;
  std::string fatal_reason_;
};

// bootstrap.servers, client.id (client_id + "-" + suffix) and the section's librdkafka map.
Properties clientProperties(const core::KafkaCluster& cluster, std::string_view client_id_suffix);

struct TopicSpec {
  std::string name;
  int partitions = 1;
  int replication_factor = 1;
  bool compacted = false;
};

// The fate of a CreateTopics request: ok (created, or it existed already), Retryable (the
// cluster could not be asked), or InvalidConfig (the cluster refused the topic as specified).
class TopicCreator {
 public:
  TopicCreator(rd_kafka_t* client, TopicSpec spec) : client_(client), spec_(std::move(spec)) {}
  ~TopicCreator();

  // Sends a CreateTopics request unless one is in flight. `timeout` bounds the request.
  core::Status start(std::chrono::milliseconds timeout);
  bool inFlight() const { return queue_ != nullptr; }
  // Waits up to `wait` for the answer; nullopt while it is still outstanding (or none was sent).
  std::optional<core::Status> poll(std::chrono::milliseconds wait);
  const TopicSpec& spec() const { return spec_; }

 private:
  rd_kafka_t* client_;
  TopicSpec spec_;
  QueuePtr queue_;
};

// Blocks until the topic is created or existed (ok), the cluster refuses it (InvalidConfig) or
// the deadline passes (Retryable).
core::Status createTopic(rd_kafka_t* client, const TopicSpec& spec, SteadyClock::time_point deadline);

}  // namespace dutybridge::kafka
