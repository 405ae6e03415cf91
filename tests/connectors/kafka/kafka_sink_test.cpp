#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <set>

#include "src/codec/json.h"
#include "tests/connectors/kafka/kafka_test_util.h"
#include "tests/support/env.h"
#include "tests/support/metric_samples.h"

using namespace dutybridge;
using namespace std::chrono_literals;
using testing::Message;
using testing::SteadyClock;

namespace {

std::string referenceJson(const core::Record& record) {
  std::string out;
  codec::appendJson(record, out);
  return out;
}

std::map<int64_t, Message> byId(const std::vector<Message>& messages) {
  std::map<int64_t, Message> out;
  for (const auto& message : messages) {
    REQUIRE(message.value);
    out[nlohmann::json::parse(*message.value).at("id").get<int64_t>()] = message;
  }
  return out;
}

}  // namespace

TEST_CASE("the kafka sink delivers JSON records with keys and CloudEvents headers", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = testing::uniqueName("dutybridge.it.sink");
  auto config = testing::sinkConfig(
      bootstrap, fmt::format("topic: {}, key: [employee, id], ce_type: hr.test.v1", topic), "mes-reports");
  auto sink = testing::openSink(config, "mes-reports");

  constexpr int kRecords = 300;
  auto first = testing::testRecords(0, kRecords / 2, true);
  auto second = testing::testRecords(kRecords / 2, kRecords / 2, false);  // no event time: ce_time is now
  auto before = core::SystemClock().now();
  testing::writeAll(*sink, first, 1);
  testing::writeAll(*sink, second, 2);
  testing::awaitDelivered(*sink, 2);
  auto after = core::SystemClock().now();
  REQUIRE(sink->flush(SteadyClock::now() + 10s));

  auto messages = testing::consumeAll(bootstrap, topic, kRecords);
  REQUIRE(messages.size() == kRecords);
  auto received = byId(messages);
  REQUIRE(received.size() == kRecords);
  for (int i = 0; i < kRecords; ++i) {
    INFO("record " << i);
    const core::Record record = testing::testRecord(i, i < kRecords / 2);
    const Message& message = received.at(i);
    CHECK(*message.value == referenceJson(record));
    REQUIRE(message.key);
    CHECK(*message.key == fmt::format("E{:05d}|{}", i % 97, i));
    CHECK(message.headers.at("ce_specversion") == "1.0");
    CHECK(message.headers.at("ce_source") == "dutybridge/mes-reports");
    CHECK(message.headers.at("ce_type") == "hr.test.v1");
    CHECK(message.headers.at("content-type") == "application/json");
    CHECK(message.headers.at("ce_id") == testing::sha256Hex(fmt::format("dutybridge/mes-reports\npos-{}", i)));
    if (record.meta.event_time) {
      CHECK(message.headers.at("ce_time") == core::formatTimestamp(*record.meta.event_time));
    } else {
      auto time = core::parseTimestamp(message.headers.at("ce_time"));
      REQUIRE(time);
      CHECK(*time >= core::Timestamp{before.micros - 1'000'000});
      CHECK(*time <= after);
    }
  }

  // Values as a consumer sees them: exact decimals as strings, Chinese text, nulls.
  auto json = nlohmann::json::parse(*received.at(3).value);
  CHECK(json.at("qty") == "3.003");
  CHECK(json.at("price") == "12345678901234567890.123456789012345678");
  CHECK(json.at("workshop") == "注塑车间 二号线");
  CHECK(json.at("note").is_null());
  CHECK(json.at("shift_start") == "2025-03-14T12:00:03.000369Z");
  CHECK(json.at("day") == "2025-03-17");
  CHECK(nlohmann::json::parse(*received.at(4).value).at("note") == "备注 \"quoted\" \\ tab\t end");
  sink->close();

  SECTION("a re-send after a restart carries the same ce_id") {
    std::string again_topic = testing::uniqueName("dutybridge.it.sink-again");
    auto again_config = testing::sinkConfig(bootstrap, fmt::format("topic: {}", again_topic), "mes-reports");
    auto again = testing::openSink(again_config, "mes-reports");
    auto resent = testing::testRecords(0, 20);
    testing::writeAll(*again, resent, 1);
    testing::awaitDelivered(*again, 1);
    auto copies = testing::consumeAll(bootstrap, again_topic, 20);
    REQUIRE(copies.size() == 20);
    for (const auto& [id, copy] : byId(copies)) {
      CHECK(copy.headers.at("ce_id") == received.at(id).headers.at("ce_id"));
      CHECK_FALSE(copy.key);  // no key configured
    }
  }
}

TEST_CASE("poll reports a sequence only once all its records are delivered", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = testing::uniqueName("dutybridge.it.accounting");
  // A long linger holds the records in the producer, so "written" and "delivered" are apart.
  auto config = testing::sinkConfig(bootstrap, fmt::format("topic: {}, linger: 1500ms", topic));
  auto sink = testing::openSink(config);
  // Warm up: the topic exists and the producer has its id before the timing matters.
  auto warm = testing::testRecords(0, 1);
  testing::writeAll(*sink, warm, 1);
  testing::awaitDelivered(*sink, 1);

  auto a = testing::testRecords(1, 10);
  auto b = testing::testRecords(11, 10);
  REQUIRE(*sink->write(a, 2) == 10);
  REQUIRE(*sink->write(b, 3) == 10);
  auto early = sink->poll(0ms);
  REQUIRE(early);
  CHECK(*early == 1);
  auto still = sink->poll(200ms);  // well inside the linger: nothing sent yet
  REQUIRE(still);
  CHECK(*still == 1);
  // The producer's queue holds the 20 records.
  auto queued = testing::metricsOf(*sink);
  auto messages = testing::findMetrics(queued, "dutybridge_kafka_producer_queue_messages");
  auto bytes = testing::findMetrics(queued, "dutybridge_kafka_producer_queue_bytes");
  REQUIRE(messages.size() == 1);
  REQUIRE(bytes.size() == 1);
  CHECK(messages[0]->value >= 20);
  CHECK(bytes[0]->value >= 20 * 10);
  testing::awaitDelivered(*sink, 3);
  auto drained = testing::metricsOf(*sink);
  CHECK(testing::findMetrics(drained, "dutybridge_kafka_producer_queue_bytes")[0]->value == 0);
  CHECK(testing::findMetrics(drained, "dutybridge_kafka_producer_queue_messages")[0]->value == 0);
  CHECK(testing::consumeAll(bootstrap, topic, 21).size() == 21);

  // An empty flush succeeds immediately; a later poll keeps reporting the same sequence.
  REQUIRE(sink->flush(SteadyClock::now() + 1s));
  CHECK(*sink->poll(0ms) == 3);
}

TEST_CASE("a tiny queue makes write accept part of a batch and nothing is lost", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = testing::uniqueName("dutybridge.it.backpressure");
  auto config = testing::sinkConfig(bootstrap, fmt::format("topic: {}, queue_max_bytes: 2KiB, linger: 1ms", topic));
  auto sink = testing::openSink(config);

  constexpr int kBatches = 8;
  constexpr int kPerBatch = 50;
  int partial = 0;
  std::vector<std::vector<core::Record>> batches;
  for (int b = 0; b < kBatches; ++b) batches.push_back(testing::testRecords(b * kPerBatch, kPerBatch));
  for (int b = 0; b < kBatches; ++b) partial += testing::writeAll(*sink, batches[b], static_cast<uint64_t>(b + 1));
  testing::awaitDelivered(*sink, kBatches);
  INFO("partial writes: " << partial);
  CHECK(partial >= kBatches);  // every batch needed several writes

  auto messages = testing::consumeAll(bootstrap, topic, kBatches * kPerBatch);
  std::set<std::string> positions;
  for (const auto& message : messages) positions.insert(message.headers.at("ce_id"));
  CHECK(messages.size() == kBatches * kPerBatch);
  CHECK(positions.size() == kBatches * kPerBatch);
}

TEST_CASE("a record larger than the whole queue is a permanent error", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  auto config = testing::sinkConfig(bootstrap, "topic: dutybridge.it.unused, queue_max_bytes: 1KiB");
  auto sink = testing::openSink(config);
  auto schema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"blob"});
  std::vector<core::Record> records{core::Record(schema, {core::Value(std::string(4000, 'x'))})};
  records[0].meta.source_position = "row 9";
  auto written = sink->write(records, 1);
  REQUIRE_FALSE(written);
  CHECK(written.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(written.error().message, Catch::Contains("row 9") && Catch::Contains("queue_max_bytes"));
}

TEST_CASE("a record larger than message.max.bytes is refused alone, by its index, without its value",
          "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = testing::uniqueName("dutybridge.it.too-large");
  auto config =
      testing::sinkConfig(bootstrap, fmt::format("topic: {}, librdkafka: {{message.max.bytes: \"2000\"}}", topic));
  auto sink = testing::openSink(config);
  auto schema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"blob"});
  std::vector<core::Record> records{core::Record(schema, {core::Value("small")}),
                                    core::Record(schema, {core::Value("SECRET" + std::string(5000, 'x'))}),
                                    core::Record(schema, {core::Value("small too")})};
  for (size_t i = 0; i < records.size(); ++i) records[i].meta.source_position = fmt::format("row {}", i);
  auto first = sink->write(records, 1);
  REQUIRE(first);
  CHECK(*first == 1);  // the record before it is taken; the large one then fails on its own
  auto second = sink->write(std::span<const core::Record>(records).subspan(1), 1);
  REQUIRE_FALSE(second);
  CHECK(second.error().kind == core::ErrorKind::Abortable);
  CHECK_THAT(second.error().message, Catch::Contains("message.max.bytes") && !Catch::Contains("SECRET"));
  auto refusals = sink->takeWriteRefusals();
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].index == std::optional<size_t>(0));
  CHECK_THAT(refusals[0].reason, Catch::Contains("larger than the producer's message.max.bytes"));
  CHECK(sink->takeWriteRefusals().empty());
  // The sink is done: the pipeline ends its run and the daemon builds a new one.
  auto polled = sink->poll(0ms);
  REQUIRE_FALSE(polled);
  CHECK(polled.error().kind == core::ErrorKind::Abortable);
}

TEST_CASE("a record without a key field is a permanent error naming the field, not the value", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = testing::uniqueName("dutybridge.it.keys");
  auto config = testing::sinkConfig(bootstrap, fmt::format("topic: {}, key: [employee, badge]", topic));
  auto sink = testing::openSink(config);
  auto schema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"employee", "badge"});
  std::vector<core::Record> records{core::Record(schema, {core::Value("张伟"), core::Value("B-1001")}),
                                    core::Record(schema, {core::Value("李娜"), core::Value()}),
                                    core::Record(schema, {core::Value("王芳"), core::Value("B-1003")})};
  for (size_t i = 0; i < records.size(); ++i) records[i].meta.source_position = fmt::format("row {}", i);

  // screen() names the record the pipeline turns into a dead letter (stage sink) first.
  auto refusals = sink->screen(records);
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].index == 1);
  CHECK_THAT(refusals[0].reason, Catch::Contains("'badge'") && !Catch::Contains("李娜"));
  core::Record keyed = records[1];
  keyed.meta.key = "chosen by the mapping";
  CHECK(sink->screen(std::span<const core::Record>(&keyed, 1)).empty());

  // Offered anyway: the good record before the bad one is taken; the bad one then fails on its own.
  auto first = sink->write(records, 1);
  REQUIRE(first);
  CHECK(*first == 1);
  auto second = sink->write(std::span<const core::Record>(records).subspan(1), 1);
  REQUIRE_FALSE(second);
  CHECK(second.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(second.error().message, Catch::Contains("'badge'") && Catch::Contains("row 1"));
  CHECK_THAT(second.error().message, !Catch::Contains("李娜"));

  auto other = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"employee"});
  std::vector<core::Record> lacking{core::Record(other, {core::Value("赵六")})};
  lacking[0].meta.source_position = "row 7";
  auto missing = sink->write(lacking, 2);
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(missing.error().message, Catch::Contains("'badge'") && !Catch::Contains("赵六"));
  REQUIRE(sink->screen(lacking).size() == 1);

  auto messages = testing::consumeAll(bootstrap, topic, 1);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0].key == "张伟|B-1001");
}

TEST_CASE("create_topic creates a compacted topic with the configured partitions", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = testing::uniqueName("dutybridge.it.created");
  auto config = testing::sinkConfig(
      bootstrap, fmt::format("topic: {}, key: [id], create_topic: true, partitions: 3, compacted: true", topic));
  auto sink = testing::openSink(config);

  CHECK(testing::topicConfig(bootstrap, topic, "cleanup.policy") == "compact");
  auto records = testing::testRecords(0, 60);
  testing::writeAll(*sink, records, 1);
  testing::awaitDelivered(*sink, 1);
  auto messages = testing::consumeAll(bootstrap, topic, 60);
  REQUIRE(messages.size() == 60);
  std::set<int32_t> partitions;
  for (const auto& message : messages) partitions.insert(message.partition);
  CHECK(partitions.size() == 3);
  sink->close();

  SECTION("a topic that exists already is fine") {
    auto existing = testing::openSink(config);
    auto more = testing::testRecords(60, 5);
    testing::writeAll(*existing, more, 1);
    testing::awaitDelivered(*existing, 1);
  }
  SECTION("a replication factor larger than the cluster is refused at open") {
    auto refused_config =
        testing::sinkConfig(bootstrap, fmt::format("topic: {}, create_topic: true, replication_factor: 3",
                                                   testing::uniqueName("dutybridge.it.refused")));
    auto refused = testing::createSink(refused_config);
    REQUIRE(refused);
    auto opened = (*refused)->open();
    REQUIRE_FALSE(opened);
    CHECK(opened.error().kind == core::ErrorKind::InvalidConfig);
    CHECK_THAT(opened.error().message, Catch::Contains("replication", Catch::CaseSensitive::No));
  }
}

TEST_CASE("kafka sink configuration errors", "[integration][kafka]") {
  SECTION("no kafka: section") {
    auto config = testing::sinkConfig("127.0.0.1:1", "topic: t");
    core::ConnectorContext context;
    context.pipeline_name = "p";
    auto sink = testing::kafkaRegistry().findSink("kafka")->create(config.sink(), context);
    REQUIRE_FALSE(sink);
    CHECK(sink.error().kind == core::ErrorKind::InvalidConfig);
    CHECK_THAT(sink.error().message, Catch::Contains("the kafka sink needs a kafka: section"));
  }
  SECTION("a bad librdkafka property, without echoing secret-looking values") {
    // Found when the config loads (as `check` does), located at the sink.
    auto parsed = testing::parseConfig("127.0.0.1:1", "topic: t, librdkafka: {sasl.password.typo: hunter2}");
    REQUIRE_FALSE(parsed);
    std::string text = parsed.error().format();
    CHECK_THAT(text, Catch::Contains("test.yaml:9:5: error: pipeline 'it': kafka sink: librdkafka property "
                                     "sasl.password.typo"));
    CHECK_THAT(text, !Catch::Contains("hunter2"));
  }
  SECTION("compacted needs create_topic and a key") {
    auto parsed = testing::parseConfig("127.0.0.1:1", "topic: t, compacted: true");
    REQUIRE_FALSE(parsed);
    std::string text = parsed.error().format();
    CHECK_THAT(text, Catch::Contains("set create_topic: true"));
    CHECK_THAT(text, Catch::Contains("a compacted topic needs a 'key'"));
  }
  SECTION("defaults reach librdkafka") {
    auto config = testing::sinkConfig("127.0.0.1:1", "topic: t");
    CHECK(config.sink().getSize("queue_max_bytes") == 64 << 20);
    CHECK(config.sink().getDuration("linger") == 5ms);
    CHECK(config.sink().getDuration("delivery_timeout") == 0ms);
    CHECK(config.sink().getString("ce_type") == "dutybridge.record.v1");
  }
}
