#include "connectors/kafka/kafka_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <climits>
#include <thread>

#include "src/common/log.h"

namespace dutybridge::kafka {

int remainingMs(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now()).count();
  return static_cast<int>(std::clamp<int64_t>(left, 0, INT_MAX));
}

bool RateLimiter::admit(const std::string& key, size_t& suppressed) {
  auto now = SteadyClock::now();
  std::lock_guard lock(mutex_);
  auto it = slots_.find(key);
  if (it == slots_.end()) it = slots_.emplace(key, Slot{}).first;
  Slot& slot = it->second;
  if (slot.last != SteadyClock::time_point{} && now - slot.last < window_) {
    ++slot.suppressed;
    return false;
  }
  suppressed = slot.suppressed;
  slot.suppressed = 0;
  slot.last = now;
  return true;
}

ClientEvents::ClientEvents(std::string component, std::string outage_hint)
    : component_(std::move(component)), outage_hint_(std::move(outage_hint)) {}

void ClientEvents::attach(KafkaConfig& config, bool delivery_reports) {
  rd_kafka_conf_set_opaque(config.get(), this);
  rd_kafka_conf_set_log_cb(config.get(), &ClientEvents::logCallback);
  rd_kafka_conf_set_error_cb(config.get(), &ClientEvents::errorCallback);
  if (delivery_reports) rd_kafka_conf_set_dr_msg_cb(config.get(), &ClientEvents::deliveryCallback);
}

std::string ClientEvents::fatalReason() const {
  std::lock_guard lock(fatal_mutex_);
  return fatal_reason_;
}

bool ClientEvents::checkFatal(rd_kafka_t* rk) {
  if (fatal()) return true;
  if (rd_kafka_fatal_error(rk, nullptr, 0) == RD_KAFKA_RESP_ERR_NO_ERROR) return false;
  setFatal(rk, "fatal error");
  return true;
}

bool ClientEvents::setFatal(rd_kafka_t* rk, const char* fallback_reason) {
  char buffer[512] = {};
  rd_kafka_resp_err_t cause = rd_kafka_fatal_error(rk, buffer, sizeof buffer);
  {
    std::lock_guard lock(fatal_mutex_);
    if (fatal_.load(std::memory_order_acquire)) return false;
    fatal_reason_ = fmt::format("{} ({})", buffer[0] ? buffer : fallback_reason, rd_kafka_err2name(cause));
    fatal_.store(true, std::memory_order_release);
  }
  log::error(component_, "fatal Kafka client error: {}", fatalReason());
  return true;
}

void ClientEvents::logCallback(const rd_kafka_t* rk, int level, const char* facility, const char* text) {
  auto* self = static_cast<ClientEvents*>(rd_kafka_opaque(rk));
  if (self) self->log(level, facility, text);
}

void ClientEvents::errorCallback(rd_kafka_t* rk, int err, const char* reason, void* opaque) {
  auto* self = static_cast<ClientEvents*>(opaque);
  if (self) self->error(rk, static_cast<rd_kafka_resp_err_t>(err), reason);
}

void ClientEvents::deliveryCallback(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
  auto* self = static_cast<ClientEvents*>(opaque);
  if (self && message) self->onDelivery(*message);
}

void ClientEvents::log(int level, const char* facility, const char* text) {
  // librdkafka uses syslog levels; anything below warning is for debugging only. Connection
  // failures (FAIL) also reach the error callback, which reports them once.
  if (level > 4 || std::string_view(facility) == "FAIL") {
    log::debug(component_, "librdkafka {}: {}", facility, text);
    return;
  }
  size_t suppressed = 0;
  if (!limiter_.admit(std::string("log:") + facility, suppressed)) return;
  if (suppressed > 0) {
    log::warning(component_, "librdkafka {}: {} ({} similar messages suppressed)", facility, text, suppressed);
  } else {
    log::warning(component_, "librdkafka {}: {}", facility, text);
  }
}

void ClientEvents::error(rd_kafka_t* rk, rd_kafka_resp_err_t err, const char* reason) {
  if (err == RD_KAFKA_RESP_ERR__FATAL) {
    setFatal(rk, reason);
    return;
  }
  size_t suppressed = 0;
  if (!limiter_.admit(std::string("error:") + rd_kafka_err2name(err), suppressed)) return;
  std::string hint;
  if (!outage_hint_.empty() && (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || err == RD_KAFKA_RESP_ERR__TRANSPORT ||
                                err == RD_KAFKA_RESP_ERR__RESOLVE)) {
    hint = "; " + outage_hint_;
  }
  if (suppressed > 0) {
    log::warning(component_, "Kafka: {}{} ({} similar messages suppressed)", reason, hint, suppressed);
  } else {
    log::warning(component_, "Kafka: {}{}", reason, hint);
  }
}

Properties clientProperties(const core::KafkaCluster& cluster, std::string_view client_id_suffix) {
  Properties out;
  out.emplace_back("bootstrap.servers", cluster.bootstrapServers());
  std::string client_id = cluster.client_id;
  if (client_id.empty()) client_id = "dutybridge";
  if (!client_id_suffix.empty()) client_id = fmt::format("{}-{}", client_id, client_id_suffix);
  out.emplace_back("client.id", client_id);
  out.insert(out.end(), cluster.connection.librdkafka.begin(), cluster.connection.librdkafka.end());
  return out;
}

TopicCreator::~TopicCreator() = default;

core::Status TopicCreator::start(std::chrono::milliseconds timeout) {
  if (queue_) return {};
  char errstr[512];
  std::unique_ptr<rd_kafka_NewTopic_t, decltype(&rd_kafka_NewTopic_destroy)> topic(
      rd_kafka_NewTopic_new(spec_.name.c_str(), spec_.partitions, spec_.replication_factor, errstr, sizeof errstr),
      &rd_kafka_NewTopic_destroy);
  if (!topic) {
    return core::fail(core::ErrorKind::InvalidConfig, fmt::format("topic {}: {}", spec_.name, errstr));
  }
  if (spec_.compacted) {
    rd_kafka_resp_err_t err = rd_kafka_NewTopic_set_config(topic.get(), "cleanup.policy", "compact");
    if (err) return core::fail(kafkaError(err, "topic " + spec_.name));
  }
  std::unique_ptr<rd_kafka_AdminOptions_t, decltype(&rd_kafka_AdminOptions_destroy)> options(
      rd_kafka_AdminOptions_new(client_, RD_KAFKA_ADMIN_OP_CREATETOPICS), &rd_kafka_AdminOptions_destroy);
  int ms = static_cast<int>(std::clamp<int64_t>(timeout.count(), 1, INT_MAX));
  // The broker answers only once the topic exists everywhere (or after this long).
  if (rd_kafka_AdminOptions_set_request_timeout(options.get(), ms, errstr, sizeof errstr) ||
      rd_kafka_AdminOptions_set_operation_timeout(options.get(), ms, errstr, sizeof errstr)) {
    return core::fail(core::ErrorKind::InvalidConfig, fmt::format("CreateTopics options: {}", errstr));
  }
  queue_.reset(rd_kafka_queue_new(client_));
  rd_kafka_NewTopic_t* topics[] = {topic.get()};
  rd_kafka_CreateTopics(client_, topics, 1, options.get(), queue_.get());
  return {};
}

std::optional<core::Status> TopicCreator::poll(std::chrono::milliseconds wait) {
  if (!queue_) return std::nullopt;
  EventPtr event(rd_kafka_queue_poll(queue_.get(), static_cast<int>(std::clamp<int64_t>(wait.count(), 0, INT_MAX))));
  if (!event) return std::nullopt;
  queue_.reset();
  const std::string what = "creating topic " + spec_.name;
  if (rd_kafka_event_error(event.get())) {
    return core::fail(core::ErrorKind::Retryable,
                      fmt::format("{}: {}", what, rd_kafka_event_error_string(event.get())));
  }
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = result ? rd_kafka_CreateTopics_result_topics(result, &count) : nullptr;
  if (count != 1) return core::fail(core::ErrorKind::Retryable, what + ": no result from the cluster");
  rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[0]);
  const char* message = rd_kafka_topic_result_error_string(results[0]);
  std::string text = fmt::format("{}: {}", what, message && *message ? message : rd_kafka_err2str(err));
  switch (err) {
    case RD_KAFKA_RESP_ERR_NO_ERROR:
    case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
      return core::Status{};
    case RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR:
    case RD_KAFKA_RESP_ERR_INVALID_PARTITIONS:
    case RD_KAFKA_RESP_ERR_INVALID_CONFIG:
    case RD_KAFKA_RESP_ERR_INVALID_REPLICA_ASSIGNMENT:
    case RD_KAFKA_RESP_ERR_POLICY_VIOLATION:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION:
      return core::fail(core::ErrorKind::InvalidConfig, std::move(text));
    default:
      return core::fail(core::ErrorKind::Retryable, std::move(text));
  }
}

core::Status createTopic(rd_kafka_t* client, const TopicSpec& spec, SteadyClock::time_point deadline) {
  TopicCreator creator(client, spec);
  core::Status last = core::fail(core::ErrorKind::Retryable, "creating topic " + spec.name + ": timed out");
  while (remainingMs(deadline) > 0) {
    auto started = SteadyClock::now();
    if (auto sent = creator.start(std::chrono::milliseconds(std::max(remainingMs(deadline), 1))); !sent) return sent;
    std::optional<core::Status> answer;
    while (!answer && remainingMs(deadline) > 0) {
      answer = creator.poll(std::chrono::milliseconds(std::min(remainingMs(deadline), 200)));
    }
    if (!answer) break;
    if (*answer || answer->error().kind != core::ErrorKind::Retryable) return *answer;
    last = *answer;
    // A refused connection fails fast; do not hammer the cluster.
    auto next = started + std::chrono::milliseconds(500);
    if (next > SteadyClock::now()) std::this_thread::sleep_until(std::min(next, deadline));
  }
  return last;
}

}  // namespace dutybridge::kafka
