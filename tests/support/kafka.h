#pragma once
// Kafka readers for tests: a read_committed consumer, partition counts and high watermarks (with
// retry while a broker is busy), and reading a topic from the beginning to its end.

#include <librdkafka/rdkafka.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_handles.h"
#include "tests/support/files.h"

namespace dutybridge::testing {

// One message as a consumer saw it.
struct Message {
  int32_t partition = 0;
  int64_t offset = 0;
  std::optional<std::string> key;              // nullopt: no key
  std::optional<std::string> value;            // nullopt: no payload (a tombstone)
  std::map<std::string, std::string> headers;  // the last value of each name
  nlohmann::json json;                         // the value parsed, when the reader was asked to (readTopic)

  std::string keyText() const { return key.value_or(""); }
  std::string valueText() const { return value.value_or(""); }
};

// Copies a consumed message (no Catch macros).
inline Message toMessage(const rd_kafka_message_t* message) {
  Message m;
  m.partition = message->partition;
  m.offset = message->offset;
  if (message->key) m.key.emplace(static_cast<const char*>(message->key), message->key_len);
  if (message->payload) m.value.emplace(static_cast<const char*>(message->payload), message->len);
  rd_kafka_headers_t* headers = nullptr;
  // rd_kafka_message_headers takes a non-const message but only reads it.
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(message), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* name = nullptr;
    const void* value = nullptr;
    size_t size = 0;
    for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
      m.headers[name] = value ? std::string(static_cast<const char*>(value), size) : std::string();
    }
  }
  return m;
}

// A read_committed consumer (no group subscription: readers assign partitions themselves) with a
// group id of its own, reporting partition EOF.
inline kafka::KafkaHandle consumer(const std::string& bootstrap,
                                   const std::string& group_prefix = "dutybridge-test-reader",
                                   const std::string& log_level = "") {
  kafka::KafkaConfig config;
  std::vector<std::pair<std::string, std::string>> settings{
      {"bootstrap.servers", bootstrap}, {"group.id", uniqueName(group_prefix)}, {"enable.auto.commit", "false"},
      {"enable.partition.eof", "true"}, {"isolation.level", "read_committed"},  {"allow.auto.create.topics", "false"}};
  if (!log_level.empty()) settings.emplace_back("log_level", log_level);
  REQUIRE(config.setAll(settings));
  auto handle = kafka::createClient(RD_KAFKA_CONSUMER, std::move(config));
  REQUIRE(handle);
  return std::move(*handle);
}

// Partitions of the topic, asked until it exists or `timeout` passes (0: asked once); 0 when it
// does not exist. No Catch macros: callable from any thread.
inline int partitionCount(rd_kafka_t* client, const std::string& topic,
                          std::chrono::milliseconds timeout = std::chrono::milliseconds(0)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    rd_kafka_topic_t* handle = rd_kafka_topic_new(client, topic.c_str(), nullptr);
    const rd_kafka_metadata_t* metadata = nullptr;
    rd_kafka_resp_err_t err = rd_kafka_metadata(client, 0, handle, &metadata, 5000);
    int partitions = 0;
    if (!err && metadata->topic_cnt == 1 && !metadata->topics[0].err) partitions = metadata->topics[0].partition_cnt;
    if (metadata) rd_kafka_metadata_destroy(metadata);
    if (handle) rd_kafka_topic_destroy(handle);
    if (partitions > 0) return partitions;
    if (std::chrono::steady_clock::now() >= deadline) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

// The high watermark of a partition, or 0 when it cannot be read (a probe: watchers of progress).
inline int64_t highWatermark(rd_kafka_t* client, const std::string& topic, int32_t partition = 0) {
  int64_t low = 0, high = 0;
  if (rd_kafka_query_watermark_offsets(client, topic.c_str(), partition, &low, &high, 5000) !=
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    return 0;
  }
  return high;
}

// The same, strict: a topic that does not exist is empty (0), but a query that fails otherwise (a
// broker just started or busy: timeouts, no leader yet) is retried for up to a minute and then
// fails the test; it never reads as "the topic is empty".
inline int64_t requireHighWatermark(rd_kafka_t* client, const std::string& topic, int32_t partition = 0) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  do {
    int64_t low = 0, high = 0;
    err = rd_kafka_query_watermark_offsets(client, topic.c_str(), partition, &low, &high, 5000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return high;
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  } while (std::chrono::steady_clock::now() < deadline);
  FAIL("the high watermark of " << topic << " could not be read: " << rd_kafka_err2str(err));
  return 0;
}

// How readCommitted reads.
struct ReadOptions {
  std::chrono::seconds timeout{300};
  bool wait_for_topic = false;  // wait (up to timeout) for the topic to exist; else none: no messages
  bool fail_on_errors = true;   // a consumer error fails the test; else it is skipped
  bool parse_json = false;      // fill Message::json from the value
};

// Every committed message of every partition of the topic, from the beginning to the end, in
// partition order (read_committed: aborted records are skipped). The end of a partition is a
// partition-EOF event at or past its high watermark taken before reading (with transactions the
// last offsets are commit markers, which a consumer never receives). Call it when no transaction
// is open (the producer stopped), else the end waits for it.
inline std::vector<Message> readCommitted(const std::string& bootstrap, const std::string& topic,
                                          const ReadOptions& options = {}) {
  auto client = consumer(bootstrap);
  int partitions =
      partitionCount(client.get(), topic, options.wait_for_topic ? options.timeout : std::chrono::seconds(0));
  if (options.wait_for_topic) REQUIRE(partitions > 0);
  std::vector<Message> out;
  if (partitions == 0) return out;
  kafka::PartitionList list(rd_kafka_topic_partition_list_new(partitions));
  std::vector<int64_t> end(static_cast<size_t>(partitions), 0);
  std::set<int32_t> pending;
  for (int32_t p = 0; p < partitions; ++p) {
    end[static_cast<size_t>(p)] = requireHighWatermark(client.get(), topic, p);
    if (end[static_cast<size_t>(p)] > 0) pending.insert(p);
    rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  if (pending.empty()) return out;
  REQUIRE(rd_kafka_assign(client.get(), list.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  while (!pending.empty() && std::chrono::steady_clock::now() < deadline) {
    kafka::MessagePtr message(rd_kafka_consumer_poll(client.get(), 500));
    if (!message) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      if (message->offset >= end[static_cast<size_t>(message->partition)]) pending.erase(message->partition);
      continue;
    }
    if (message->err) {
      INFO(rd_kafka_message_errstr(message.get()));
      if (options.fail_on_errors) REQUIRE(message->err == RD_KAFKA_RESP_ERR_NO_ERROR);
      continue;
    }
    Message m = toMessage(message.get());
    if (options.parse_json) m.json = nlohmann::json::parse(m.valueText());
    out.push_back(std::move(m));
  }
  rd_kafka_assign(client.get(), nullptr);
  INFO("topic " << topic << ": " << pending.size() << " partitions not read to their end");
  REQUIRE(pending.empty());
  return out;
}

// Every message of a topic of JSON values (parsed into Message::json), from the beginning to the
// end; none when the topic does not exist.
inline std::vector<Message> readTopic(const std::string& bootstrap, const std::string& topic) {
  return readCommitted(bootstrap, topic,
                       ReadOptions{.timeout = std::chrono::seconds(120), .fail_on_errors = false, .parse_json = true});
}

// Reads `topic` from the beginning of every partition until `expected` messages arrived (or the
// timeout passed: then fewer), for a topic still being written.
inline std::vector<Message> consumeAll(const std::string& bootstrap, const std::string& topic, size_t expected,
                                       std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto client = consumer(bootstrap, "dutybridge-it-reader");
  int partitions = partitionCount(client.get(), topic, timeout);
  REQUIRE(partitions > 0);
  kafka::PartitionList assignment(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    rd_kafka_topic_partition_list_add(assignment.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
  }
  REQUIRE(rd_kafka_assign(client.get(), assignment.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<Message> out;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (out.size() < expected && std::chrono::steady_clock::now() < deadline) {
    kafka::MessagePtr message(rd_kafka_consumer_poll(client.get(), 200));
    if (!message || message->err) continue;
    out.push_back(toMessage(message.get()));
  }
  rd_kafka_consumer_close(client.get());
  return out;
}

// Waits until partition 0 of the topic holds at least `count` messages.
inline void waitForMessages(const std::string& bootstrap, const std::string& topic, int64_t count,
                            std::chrono::seconds timeout = std::chrono::seconds(120)) {
  auto client = consumer(bootstrap);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (highWatermark(client.get(), topic) < count) {
    if (std::chrono::steady_clock::now() > deadline) FAIL("topic " + topic + " did not reach " + std::to_string(count));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace dutybridge::testing
