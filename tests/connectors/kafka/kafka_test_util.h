#pragma once
// Helpers for the Kafka connector tests: validated configs (through the real config loader, so
// schema defaults apply exactly as in the daemon), a consumer that reads a topic back from the
// beginning (tests/support/kafka.h), test records, and the pipeline's write/poll loop.

#include <fmt/format.h>
#include <openssl/evp.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "connectors/generate/generate_source.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_handles.h"
#include "connectors/kafka/kafka_sink.h"
#include "src/config/daemon_config.h"
#include "src/core/connector.h"
#include "src/core/decimal.h"
#include "src/core/registry.h"
#include "tests/support/files.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"

namespace dutybridge::testing {

using SteadyClock = std::chrono::steady_clock;

inline core::Registry& kafkaRegistry() {
  static core::Registry* registry = [] {
    auto* r = new core::Registry;
    connectors::registerGenerateSource(*r);
    connectors::registerKafkaSink(*r);
    return r;
  }();
  return *registry;
}

// A daemon config with a kafka: section and one pipeline whose sink is `sink_yaml` (a YAML flow
// mapping without `type`). Validation problems fail the test with the diagnostics.
struct SinkConfig {
  std::unique_ptr<config::DaemonConfig> daemon;
  const core::KafkaCluster& kafka() const { return *daemon->kafka; }
  const core::ConfigObject& sink() const { return daemon->pipelines.at(0).sink.settings; }
};

inline std::expected<std::unique_ptr<config::DaemonConfig>, diag::Diagnostics> parseConfig(
    const std::string& bootstrap, const std::string& sink_yaml, const std::string& pipeline = "it",
    const std::string& state_topic = "dutybridge.state") {
  std::string text = fmt::format(R"(
kafka:
  bootstrap_servers: "{}"
  client_id: dutybridge-test
  state_topic: "{}"
pipelines:
  - name: {}
    source: {{type: generate}}
    sink: {{type: kafka, {}}}
)",
                                 bootstrap, state_topic, pipeline, sink_yaml);
  schema::SecretResolver secrets([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  return config::parseDaemonConfig(text, "test.yaml", kafkaRegistry(), secrets);
}

inline SinkConfig sinkConfig(const std::string& bootstrap, const std::string& sink_yaml,
                             const std::string& pipeline = "it", const std::string& state_topic = "dutybridge.state") {
  auto parsed = parseConfig(bootstrap, sink_yaml, pipeline, state_topic);
  if (!parsed) FAIL(parsed.error().format());
  return SinkConfig{std::move(*parsed)};
}

inline core::Result<std::unique_ptr<core::Sink>> createSink(const SinkConfig& config,
                                                            const std::string& pipeline = "it",
                                                            const core::Clock* clock = nullptr) {
  core::ConnectorContext context;
  context.pipeline_name = pipeline;
  context.clock = clock;
  context.kafka = config.daemon->kafkaCluster();
  return kafkaRegistry().findSink("kafka")->create(config.sink(), context);
}

inline std::unique_ptr<core::Sink> openSink(const SinkConfig& config, const std::string& pipeline = "it") {
  auto sink = createSink(config, pipeline);
  if (!sink) FAIL("create: " + sink.error().describe());
  auto opened = (*sink)->open();
  if (!opened) FAIL("open: " + opened.error().describe());
  return std::move(*sink);
}

inline std::shared_ptr<const core::RecordSchema> testSchema() {
  static auto schema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{
      "id", "employee", "workshop", "qty", "price", "shift_start", "day", "note", "ok", "ratio"});
  return schema;
}

// Record i: exact decimals, Chinese text, nulls, timestamps; position "pos-<i>".
inline core::Record testRecord(int i, bool with_event_time = true) {
  using core::Value;
  std::vector<Value> values{
      Value(int64_t{i}),
      Value(fmt::format("E{:05d}", i % 97)),
      Value(i % 2 ? "注塑车间 二号线" : "装配车间"),
      Value(*core::Decimal::parse(fmt::format("{}.{:03d}", i, i % 1000))),
      Value(*core::Decimal::parse("12345678901234567890.123456789012345678")),
      Value(core::Timestamp{1'741'953'600'000'000 + int64_t{i} * 1'000'123}),
      Value(core::Date{20'161 + i % 30}),
      i % 3 == 0 ? Value() : Value("备注 \"quoted\" \\ tab\t end"),
      Value(i % 5 != 0),
      Value(0.1 * i),
  };
  core::Record record(testSchema(), std::move(values));
  record.meta.source_position = fmt::format("pos-{}", i);
  if (with_event_time) record.meta.event_time = core::Timestamp{1'741'953'600'123'456 + int64_t{i}};
  return record;
}

inline std::vector<core::Record> testRecords(int from, int count, bool with_event_time = true) {
  std::vector<core::Record> out;
  for (int i = from; i < from + count; ++i) out.push_back(testRecord(i, with_event_time));
  return out;
}

inline std::string sha256Hex(const std::string& text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  REQUIRE(EVP_Digest(text.data(), text.size(), digest, &length, EVP_sha256(), nullptr) == 1);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) hex += fmt::format("{:02x}", digest[i]);
  return hex;
}

// Offers `records` as batch `sequence` the way the pipeline does: write, poll while the queue is
// full, write the rest. Returns how many write() calls accepted only part of what was offered.
inline int writeAll(core::Sink& sink, std::span<const core::Record> records, uint64_t sequence,
                    std::chrono::seconds timeout = std::chrono::seconds(60)) {
  size_t written = 0;
  int partial = 0;
  auto deadline = SteadyClock::now() + timeout;
  while (written < records.size()) {
    auto accepted = sink.write(records.subspan(written), sequence);
    if (!accepted) FAIL("write: " + accepted.error().describe());
    written += *accepted;
    if (written < records.size()) {
      ++partial;
      auto delivered = sink.poll(std::chrono::milliseconds(50));
      if (!delivered) FAIL("poll: " + delivered.error().describe());
      // The batch is not complete, so it must not count as delivered.
      REQUIRE(*delivered < sequence);
    }
    if (SteadyClock::now() > deadline) FAIL("writing timed out");
  }
  return partial;
}

// Polls until poll() reports `sequence` (or fails the test after `timeout`).
inline void awaitDelivered(core::Sink& sink, uint64_t sequence,
                           std::chrono::seconds timeout = std::chrono::seconds(60)) {
  auto deadline = SteadyClock::now() + timeout;
  uint64_t delivered = 0;
  while (delivered < sequence) {
    auto polled = sink.poll(std::chrono::milliseconds(100));
    if (!polled) FAIL("poll: " + polled.error().describe());
    delivered = *polled;
    if (SteadyClock::now() > deadline) FAIL(fmt::format("sequence {} not delivered (at {})", sequence, delivered));
  }
}

// The value of one topic config (e.g. cleanup.policy) via DescribeConfigs; empty when unknown.
inline std::string topicConfig(const std::string& bootstrap, const std::string& topic, const std::string& name) {
  kafka::KafkaConfig config;
  REQUIRE(config.setAll({{"bootstrap.servers", bootstrap}}));
  auto admin = kafka::createClient(RD_KAFKA_PRODUCER, std::move(config));
  REQUIRE(admin);
  kafka::QueuePtr queue(rd_kafka_queue_new(admin->get()));
  rd_kafka_ConfigResource_t* resource = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic.c_str());
  rd_kafka_DescribeConfigs(admin->get(), &resource, 1, nullptr, queue.get());
  rd_kafka_ConfigResource_destroy(resource);
  kafka::EventPtr event(rd_kafka_queue_poll(queue.get(), 30'000));
  REQUIRE(event);
  INFO((rd_kafka_event_error(event.get()) ? rd_kafka_event_error_string(event.get()) : "ok"));
  REQUIRE_FALSE(rd_kafka_event_error(event.get()));
  const rd_kafka_DescribeConfigs_result_t* result = rd_kafka_event_DescribeConfigs_result(event.get());
  REQUIRE(result);
  size_t resources = 0;
  const rd_kafka_ConfigResource_t** described = rd_kafka_DescribeConfigs_result_resources(result, &resources);
  for (size_t r = 0; r < resources; ++r) {
    size_t entries = 0;
    const rd_kafka_ConfigEntry_t** configs = rd_kafka_ConfigResource_configs(described[r], &entries);
    for (size_t i = 0; i < entries; ++i) {
      const char* value = rd_kafka_ConfigEntry_value(configs[i]);
      if (name == rd_kafka_ConfigEntry_name(configs[i])) return value ? value : "";
    }
  }
  return "";
}

}  // namespace dutybridge::testing
