// The `kafka` source against the real broker (DUTYBRIDGE_TEST_KAFKA): fields, keys, headers and
// positions; resuming from a batch's position; read_committed across an aborted transaction;
// two instances in one group; values that are not JSON objects; and a whole Pipeline.

#include "connectors/kafka/kafka_source.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <stop_token>

#include "src/runtime/memory_state_store.h"
#include "src/runtime/pipeline.h"
#include "tests/connectors/kafka/kafka_test_util.h"
#include "tests/fakes/fakes.h"
#include "tests/support/env.h"
#include "tests/support/metric_samples.h"

using namespace dutybridge;
using namespace std::chrono_literals;
using testing::SteadyClock;

namespace {

constexpr int64_t kBaseTimeMs = 1'741'953'600'000;

core::Registry& registry() {
  static core::Registry* registry = [] {
    auto* r = new core::Registry;
    connectors::registerKafkaSink(*r);
    connectors::registerKafkaSource(*r);
    return r;
  }();
  return *registry;
}

// The daemon config of one pipeline `pipeline` whose source is `{type: kafka, <source_yaml>}`.
struct SourceConfig {
  std::unique_ptr<config::DaemonConfig> daemon;
  std::string pipeline;
};

SourceConfig sourceConfig(const std::string& bootstrap, const std::string& source_yaml,
                          const std::string& pipeline = "hr-store") {
  std::string text = fmt::format(R"(
kafka:
  bootstrap_servers: "{}"
  client_id: dutybridge-test
pipelines:
  - name: {}
    source: {{type: kafka, {}}}
    sink: {{type: kafka, topic: unused}}
)",
                                 bootstrap, pipeline, source_yaml);
  schema::SecretResolver secrets([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  auto parsed = config::parseDaemonConfig(text, "test.yaml", registry(), secrets);
  if (!parsed) FAIL(parsed.error().format());
  return SourceConfig{std::move(*parsed), pipeline};
}

std::unique_ptr<core::Source> createSource(const SourceConfig& config) {
  core::ConnectorContext context;
  context.pipeline_name = config.pipeline;
  context.kafka = config.daemon->kafkaCluster();
  auto source = registry().findSource("kafka")->create(config.daemon->pipelines.at(0).source.settings, context);
  if (!source) FAIL("create: " + source.error().describe());
  return std::move(*source);
}

std::unique_ptr<core::Source> openSource(const SourceConfig& config, const std::optional<std::string>& position) {
  auto source = createSource(config);
  auto opened = source->open(position);
  if (!opened) FAIL("open: " + opened.error().describe());
  return source;
}

kafka::KafkaHandle producer(const std::string& bootstrap, const std::string& transactional_id = "") {
  kafka::KafkaConfig config;
  REQUIRE(config.setAll({{"bootstrap.servers", bootstrap}, {"enable.idempotence", "true"}, {"linger.ms", "1"}}));
  if (!transactional_id.empty()) REQUIRE(config.set("transactional.id", transactional_id));
  auto client = kafka::createClient(RD_KAFKA_PRODUCER, std::move(config));
  REQUIRE(client);
  return std::move(*client);
}

std::string freshTopic(const std::string& bootstrap, const std::string& prefix, int partitions = 3) {
  std::string topic = testing::uniqueName(prefix);
  auto admin = producer(bootstrap);
  auto created = kafka::createTopic(admin.get(), kafka::TopicSpec{topic, partitions, 1, false}, SteadyClock::now() + 30s);
  if (!created) FAIL("create topic: " + created.error().describe());
  REQUIRE(testing::partitionCount(admin.get(), topic, 30s) == partitions);
  return topic;
}

// Message i: partition i % 3, key "emp-<i>", two headers, an exact decimal and Chinese text.
std::string messageJson(int i) {
  return fmt::format(R"({{"id": {}, "employee": "E{:05d}", "hours": 7.{:02d}, "rate": 12345678901234567890.123456789,)"
                     R"( "shop": "注塑车间", "night": {}, "note": null}})",
                     i, i, i % 100, i % 2 ? "true" : "false");
}

void produce(rd_kafka_t* client, const std::string& topic, int32_t partition, const std::optional<std::string>& key,
             const std::optional<std::string>& value, const std::vector<std::pair<std::string, std::string>>& headers,
             int64_t timestamp_ms = 0) {
  rd_kafka_headers_t* hdrs = rd_kafka_headers_new(headers.size());
  for (const auto& [name, text] : headers) {
    rd_kafka_header_add(hdrs, name.c_str(), static_cast<ssize_t>(name.size()), text.data(), static_cast<ssize_t>(text.size()));
  }
  // The RD_KAFKA_V_* macros cast their arguments textually: pass plain variables.
  const void* key_data = key ? key->data() : nullptr;
  size_t key_size = key ? key->size() : 0;
  void* value_data = value ? const_cast<char*>(value->data()) : nullptr;
  size_t value_size = value ? value->size() : 0;
  rd_kafka_resp_err_t err = rd_kafka_producev(
      client, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_KEY(key_data, key_size),
      RD_KAFKA_V_VALUE(value_data, value_size),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_HEADERS(hdrs),
      RD_KAFKA_V_END);
  if (err) rd_kafka_headers_destroy(hdrs);
  REQUIRE(err == RD_KAFKA_RESP_ERR_NO_ERROR);
}

void produceMessages(rd_kafka_t* client, const std::string& topic, int from, int count) {
  for (int i = from; i < from + count; ++i) {
    produce(client, topic, i % 3, fmt::format("emp-{}", i), messageJson(i),
            {{"ce_id", fmt::format("id-{}", i)}, {"trace", "t"}, {"trace", "second"}}, kBaseTimeMs + i);
  }
}

void flush(rd_kafka_t* client) {
  REQUIRE(rd_kafka_flush(client, 30'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  REQUIRE(rd_kafka_outq_len(client) == 0);
}

struct Read {
  std::vector<core::Record> records;
  std::vector<core::SourceFailure> failures;
  std::vector<std::string> positions;  // one per non-empty batch
  size_t largest_batch = 0;
};

// Polls until `expected` records arrived (then `settle` more to see that nothing else comes).
Read readUntil(core::Source& source, size_t expected, std::chrono::milliseconds settle = 0ms,
               std::chrono::seconds timeout = 60s) {
  Read read;
  auto deadline = SteadyClock::now() + timeout;
  while (read.records.size() + read.failures.size() < expected && SteadyClock::now() < deadline) {
    auto batch = source.poll(500ms);
    if (!batch) FAIL("poll: " + batch.error().describe());
    for (auto& failure : batch->failures) read.failures.push_back(std::move(failure));
    if (batch->records.empty() && batch->failures.empty()) {
      CHECK(batch->position.empty());
      continue;
    }
    read.largest_batch = std::max(read.largest_batch, batch->records.size());
    read.positions.push_back(batch->position);
    for (auto& record : batch->records) read.records.push_back(std::move(record));
  }
  for (auto until = SteadyClock::now() + settle; SteadyClock::now() < until;) {
    auto batch = source.poll(200ms);
    if (!batch) FAIL("poll: " + batch.error().describe());
    for (auto& record : batch->records) read.records.push_back(std::move(record));
  }
  return read;
}

int64_t idOf(const core::Record& record) {
  const core::Value* id = record.find("id");
  REQUIRE(id);
  REQUIRE(id->type() == core::ValueType::Int);
  return id->asInt();
}

std::multiset<int64_t> ids(const std::vector<core::Record>& records) {
  std::multiset<int64_t> out;
  for (const auto& record : records) out.insert(idOf(record));
  return out;
}

std::multiset<int64_t> range(int from, int count) {
  std::multiset<int64_t> out;
  for (int i = from; i < from + count; ++i) out.insert(i);
  return out;
}

}  // namespace

TEST_CASE("the kafka source reads JSON messages with exact fields, keys, headers and positions",
          "[integration][kafka][source]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = freshTopic(bootstrap, "dutybridge.it.source");
  auto client = producer(bootstrap);
  constexpr int kMessages = 60;
  produceMessages(client.get(), topic, 0, kMessages);
  flush(client.get());

  auto config = sourceConfig(bootstrap, fmt::format("topics: [{}], batch_rows: 7", topic));
  auto source = openSource(config, std::nullopt);
  auto described = source->describe();
  REQUIRE(described);
  CHECK_FALSE(*described);  // JSON messages have no fixed shape
  Read read = readUntil(*source, kMessages, 1s);
  source->close();

  REQUIRE(read.records.size() == kMessages);
  CHECK(ids(read.records) == range(0, kMessages));
  CHECK(read.largest_batch <= 7);
  for (const auto& record : read.records) {
    int64_t i = idOf(record);
    INFO("message " << i);
    REQUIRE(record.size() == 7);
    CHECK(record.name(0) == "id");
    CHECK(record.find("employee")->asString() == fmt::format("E{:05d}", i));
    REQUIRE(record.find("hours")->type() == core::ValueType::Decimal);
    CHECK(record.find("hours")->asDecimal() == *core::Decimal::parse(fmt::format("7.{:02d}", i % 100)));
    REQUIRE(record.find("rate")->type() == core::ValueType::Decimal);
    CHECK(record.find("rate")->toText() == "12345678901234567890.123456789");
    CHECK(record.find("shop")->asString() == "注塑车间");
    CHECK(record.find("night")->asBool() == (i % 2 == 1));
    CHECK(record.find("note")->isNull());
    REQUIRE(record.meta.key);
    CHECK(*record.meta.key == fmt::format("emp-{}", i));
    std::vector<std::pair<std::string, std::string>> headers{
        {"ce_id", fmt::format("id-{}", i)}, {"trace", "t"}, {"trace", "second"}};
    CHECK(record.meta.headers == headers);
    CHECK(record.meta.source_position == fmt::format("{}/{}/{}", topic, i % 3, i / 3));
    REQUIRE(record.meta.event_time);
    CHECK(record.meta.event_time->micros == (kBaseTimeMs + i) * 1000);
  }
  // The last batch's position: every partition, at the offset after its last message.
  auto last = nlohmann::json::parse(read.positions.back());
  CHECK(last == nlohmann::json{{topic + "/0", 20}, {topic + "/1", 20}, {topic + "/2", 20}});
}

TEST_CASE("the kafka source resumes right after a batch's position and commits it to the group",
          "[integration][kafka][source]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = freshTopic(bootstrap, "dutybridge.it.source.resume");
  auto client = producer(bootstrap);
  constexpr int kMessages = 90;
  produceMessages(client.get(), topic, 0, kMessages);
  flush(client.get());
  std::string group = testing::uniqueName("dutybridge-it-source");
  auto config = sourceConfig(bootstrap, fmt::format("topics: [{}], batch_rows: 10, group_id: {}", topic, group));

  // First run: two batches are "durable"; what it read beyond them is lost with it.
  std::vector<core::Record> first;
  std::string position;
  {
    auto source = openSource(config, std::nullopt);
    int batches = 0;
    auto deadline = SteadyClock::now() + 60s;
    while (batches < 2 && SteadyClock::now() < deadline) {
      auto batch = source->poll(500ms);
      REQUIRE(batch);
      if (batch->records.empty()) continue;
      ++batches;
      position = batch->position;
      for (auto& record : batch->records) first.push_back(std::move(record));
    }
    REQUIRE(batches == 2);
    // Consumer lag per partition: what is fetched or known beyond what was returned.
    double lag = 0;
    const auto samples = testing::metricsOf(*source);
    for (const auto* sample :
         testing::findMetrics(samples, "dutybridge_kafka_source_consumer_lag_messages", {{"topic", topic}})) {
      lag += sample->value;
    }
    CHECK(lag > 0);
    CHECK(lag <= kMessages - 20);
    REQUIRE(source->commit(position));
    readUntil(*source, 5);  // read on past the committed position
    source->close();
  }
  CAPTURE(position);
  // The position covers exactly the partitions delivered from, at the offset after each one's
  // last record.
  std::map<std::string, int64_t> expected;
  for (const auto& record : first) {
    auto at = record.meta.source_position.rfind('/');
    int64_t next = std::stoll(record.meta.source_position.substr(at + 1)) + 1;
    auto& slot = expected[record.meta.source_position.substr(0, at)];
    slot = std::max(slot, next);
  }
  CHECK(nlohmann::json::parse(position) == nlohmann::json(expected));

  // The group's committed offsets follow commit() (asynchronously).
  {
    kafka::KafkaConfig consumer_config;
    REQUIRE(consumer_config.setAll({{"bootstrap.servers", bootstrap}, {"group.id", group}}));
    auto consumer = kafka::createClient(RD_KAFKA_CONSUMER, std::move(consumer_config));
    REQUIRE(consumer);
    std::map<std::string, int64_t> committed;
    for (auto until = SteadyClock::now() + 20s; committed != expected && SteadyClock::now() < until;) {
      kafka::PartitionList list(rd_kafka_topic_partition_list_new(3));
      for (int p = 0; p < 3; ++p) rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p);
      REQUIRE(rd_kafka_committed(consumer->get(), list.get(), 10'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
      committed.clear();
      for (int p = 0; p < 3; ++p) {
        if (list->elems[p].offset >= 0) committed[fmt::format("{}/{}", topic, p)] = list->elems[p].offset;
      }
      if (committed != expected) usleep(200'000);
    }
    CHECK(committed == expected);
    rd_kafka_consumer_close(consumer->get());
  }

  // Second run from the stored position: the rest, no gaps, no repeats.
  auto source = openSource(config, position);
  Read rest = readUntil(*source, kMessages - first.size(), 1s);
  const auto read_all = testing::metricsOf(*source);
  const auto lags = testing::findMetrics(read_all, "dutybridge_kafka_source_consumer_lag_messages");
  CHECK_FALSE(lags.empty());
  for (const auto* sample : lags) CHECK(sample->value == 0);
  source->close();
  CHECK(testing::metricsOf(*source).empty());  // closed: no partitions, no lag
  std::vector<core::Record> all = std::move(first);
  for (auto& record : rest.records) all.push_back(std::move(record));
  CHECK(ids(all) == range(0, kMessages));

  // A position this source did not write is refused.
  auto other = createSource(config);
  auto refused = other->open(std::string("cursor-17"));
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == core::ErrorKind::Permanent);
}

TEST_CASE("the kafka source never returns messages of an aborted transaction", "[integration][kafka][source]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = freshTopic(bootstrap, "dutybridge.it.source.txn");
  auto client = producer(bootstrap, testing::uniqueName("dutybridge-it-txn"));
  auto check = [](rd_kafka_error_t* error) {
    if (error) {
      std::string text = rd_kafka_error_string(error);
      rd_kafka_error_destroy(error);
      FAIL(text);
    }
  };
  check(rd_kafka_init_transactions(client.get(), 30'000));
  check(rd_kafka_begin_transaction(client.get()));
  produceMessages(client.get(), topic, 1000, 30);
  flush(client.get());  // the aborted records really are in the log
  check(rd_kafka_abort_transaction(client.get(), 30'000));
  check(rd_kafka_begin_transaction(client.get()));
  produceMessages(client.get(), topic, 0, 30);
  check(rd_kafka_commit_transaction(client.get(), 30'000));

  auto source = openSource(sourceConfig(bootstrap, fmt::format("topics: [{}]", topic)), std::nullopt);
  Read read = readUntil(*source, 30, 2s);
  source->close();
  CHECK(ids(read.records) == range(0, 30));
  // Each partition holds 10 aborted records, an abort marker, 10 committed ones and a commit
  // marker: the position after the last committed record is offset 21.
  auto last = nlohmann::json::parse(read.positions.back());
  CHECK(last == nlohmann::json{{topic + "/0", 21}, {topic + "/1", 21}, {topic + "/2", 21}});
}

TEST_CASE("two kafka sources in one group split the partitions and together read everything",
          "[integration][kafka][source]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = freshTopic(bootstrap, "dutybridge.it.source.group");
  auto config = sourceConfig(bootstrap, fmt::format("topics: [{}], group_id: {}", topic,
                                                    testing::uniqueName("dutybridge-it-split")));
  auto a = openSource(config, std::nullopt);
  auto b = openSource(config, std::nullopt);
  // Both join the group before there is anything to read, so the split is settled first.
  for (auto until = SteadyClock::now() + 6s; SteadyClock::now() < until;) {
    REQUIRE(a->poll(100ms));
    REQUIRE(b->poll(100ms));
  }
  auto client = producer(bootstrap);
  constexpr int kMessages = 60;
  produceMessages(client.get(), topic, 0, kMessages);
  flush(client.get());

  std::vector<core::Record> from_a;
  std::vector<core::Record> from_b;
  auto deadline = SteadyClock::now() + 60s;
  while (from_a.size() + from_b.size() < kMessages && SteadyClock::now() < deadline) {
    for (auto [source, out] : {std::pair{a.get(), &from_a}, std::pair{b.get(), &from_b}}) {
      auto batch = source->poll(200ms);
      REQUIRE(batch);
      for (auto& record : batch->records) out->push_back(std::move(record));
    }
  }
  a->close();
  b->close();
  std::vector<core::Record> all = from_a;
  all.insert(all.end(), from_b.begin(), from_b.end());
  CHECK(ids(all) == range(0, kMessages));
  auto partitions = [](const std::vector<core::Record>& records) {
    std::set<int> out;
    for (const auto& record : records) out.insert(static_cast<int>(idOf(record) % 3));
    return out;
  };
  auto pa = partitions(from_a);
  auto pb = partitions(from_b);
  CHECK_FALSE(pa.empty());
  CHECK_FALSE(pb.empty());
  std::vector<int> shared;
  std::set_intersection(pa.begin(), pa.end(), pb.begin(), pb.end(), std::back_inserter(shared));
  CHECK(shared.empty());
}

TEST_CASE("a kafka message that is not a JSON object becomes a source failure (a dead letter), never dropped",
          "[integration][kafka][source]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = freshTopic(bootstrap, "dutybridge.it.source.invalid", 1);
  auto client = producer(bootstrap);
  produce(client.get(), topic, 0, "k0", std::string(R"({"id": 0})"), {});
  produce(client.get(), topic, 0, "k1", std::string(R"({"name": "Zhang Wei", "id": )"), {{"h", "v"}});
  produce(client.get(), topic, 0, "k2", std::string("[1, 2]"), {});
  produce(client.get(), topic, 0, "k3", std::nullopt, {});
  produce(client.get(), topic, 0, "k4", std::string(R"({"id": 4})"), {});
  produce(client.get(), topic, 0, "k5", std::string(200, '[') + std::string(200, ']'), {});
  flush(client.get());

  auto source = openSource(sourceConfig(bootstrap, fmt::format("topics: [{}]", topic)), std::nullopt);
  Read read = readUntil(*source, 6, 1s);
  source->close();
  REQUIRE(read.records.size() == 2);
  CHECK(idOf(read.records[0]) == 0);
  CHECK(idOf(read.records[1]) == 4);
  REQUIRE(read.failures.size() == 4);
  const std::vector<int> failed = {1, 2, 3, 5};
  for (size_t i = 0; i < failed.size(); ++i) {
    const core::SourceFailure& failure = read.failures[i];
    INFO("message " << failed[i]);
    CHECK(failure.position == fmt::format("{}/0/{}", topic, failed[i]));
    CHECK(failure.event_time.has_value());
    // The reason, never the content (personal data).
    CHECK_THAT(failure.reason, !Catch::Contains("Zhang"));
  }
  CHECK_THAT(read.failures[0].reason, Catch::StartsWith("message value: invalid JSON"));
  CHECK_THAT(read.failures[1].reason, Catch::Contains("not an object"));
  CHECK_THAT(read.failures[2].reason, Catch::Contains("tombstone"));
  CHECK_THAT(read.failures[3].reason, Catch::Contains("deeper"));
  // The position moves past the failures, as past records.
  CHECK(nlohmann::json::parse(read.positions.back()) == nlohmann::json{{topic + "/0", 6}});

  // format: text passes any value on as the field `value`.
  auto text = openSource(sourceConfig(bootstrap, fmt::format("topics: [{}], format: text", topic)), std::nullopt);
  auto described = text->describe();
  REQUIRE(described);
  REQUIRE(*described);
  REQUIRE((*described)->size() == 1);
  CHECK((**described)[0].name == "value");
  Read raw = readUntil(*text, 6, 1s);
  text->close();
  REQUIRE(raw.records.size() == 6);
  CHECK(raw.records[2].value(0).asString() == "[1, 2]");
  CHECK(raw.records[3].value(0).isNull());
}

TEST_CASE("a pipeline reads a whole topic from the kafka source", "[integration][kafka][source][pipeline]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = freshTopic(bootstrap, "dutybridge.it.source.pipeline");
  auto client = producer(bootstrap);
  constexpr int kMessages = 500;
  produceMessages(client.get(), topic, 0, kMessages);
  flush(client.get());

  auto config = sourceConfig(bootstrap, fmt::format("topics: [{}], batch_rows: 64", topic), "hr-pipeline");
  auto sink = std::make_unique<testing::FakeSink>(10'000);
  testing::FakeSink& fake = *sink;
  runtime::MemoryStateStore state;
  runtime::PipelineOptions options;
  options.stop_when_idle = true;
  options.poll_wait = 5s;  // the first poll includes joining the group
  runtime::Pipeline pipeline("hr-pipeline", createSource(config), std::move(sink), state, options);
  std::stop_source stop;
  auto status = pipeline.run(stop.get_token());
  REQUIRE(status);
  std::vector<int64_t> delivered = fake.delivered;
  std::sort(delivered.begin(), delivered.end());
  std::vector<int64_t> expected;
  for (int i = 0; i < kMessages; ++i) expected.push_back(i);
  CHECK(delivered == expected);
  auto cursor = state.get(pipeline.cursorKey());
  REQUIRE(cursor);
  REQUIRE(*cursor);
  CHECK(nlohmann::json::parse(**cursor) ==
        nlohmann::json{{topic + "/0", kMessages / 3 + 1}, {topic + "/1", kMessages / 3 + 1}, {topic + "/2", kMessages / 3}});
}

TEST_CASE("a stored offset the topic no longer has stops the kafka source, an unreachable cluster does not",
          "[integration][kafka][source]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = freshTopic(bootstrap, "dutybridge.it.source.range", 1);
  auto client = producer(bootstrap);
  produceMessages(client.get(), topic, 0, 3);
  flush(client.get());
  // Offset 1000 of a 3-message partition: as if retention had deleted what the position names.
  auto source = openSource(sourceConfig(bootstrap, fmt::format("topics: [{}]", topic)),
                           nlohmann::json{{topic + "/0", 1000}}.dump());
  std::optional<core::Error> failure;
  for (auto until = SteadyClock::now() + 30s; !failure && SteadyClock::now() < until;) {
    auto batch = source->poll(500ms);
    if (!batch) failure = batch.error();
    else REQUIRE(batch->records.empty());
  }
  source->close();
  REQUIRE(failure);
  CHECK(failure->kind == core::ErrorKind::Permanent);
  CHECK_THAT(failure->message, Catch::Contains(topic + "/0"));

  // Nobody listens there: polls return empty batches while librdkafka retries.
  auto unreachable = openSource(
      sourceConfig(fmt::format("127.0.0.1:{}", testing::freePort()), fmt::format("topics: [{}]", topic)), std::nullopt);
  for (int i = 0; i < 3; ++i) {
    auto batch = unreachable->poll(300ms);
    REQUIRE(batch);
    CHECK(batch->records.empty());
    CHECK(batch->position.empty());
  }
  unreachable->close();
}
