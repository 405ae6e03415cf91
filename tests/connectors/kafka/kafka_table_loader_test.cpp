// The `kafka:` reference-table loader against the real broker (DUTYBRIDGE_TEST_KAFKA): a fresh
// compacted topic with keyed messages, an update and a tombstone, read as text and as JSON
// objects (through a mapping file with an effective-dated lookup), plus a missing topic and an
// unreachable cluster.

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "connectors/builtin.h"
#include "src/mapping/mapping.h"
#include "tests/connectors/kafka/kafka_test_util.h"
#include "tests/connectors/table_test_util.h"
#include "tests/support/env.h"

using namespace dutybridge;
using namespace std::chrono_literals;
using core::Value;

namespace {

// Creates `topic` (compacted) and produces the messages in order; a nullopt value is a tombstone.
void produce(const std::string& bootstrap, const std::string& topic, int partitions,
             const std::vector<std::pair<std::string, std::optional<std::string>>>& messages) {
  kafka::KafkaConfig config;
  REQUIRE(config.setAll({{"bootstrap.servers", bootstrap}, {"enable.idempotence", "true"}, {"acks", "all"}}));
  auto producer = kafka::createClient(RD_KAFKA_PRODUCER, std::move(config));
  REQUIRE(producer);
  auto created = kafka::createTopic(producer->get(), kafka::TopicSpec{topic, partitions, 1, true},
                                    testing::SteadyClock::now() + 30s);
  if (!created) FAIL(created.error().describe());
  REQUIRE(testing::partitionCount(producer->get(), topic, 30s) == partitions);
  for (const auto& [key, value] : messages) {
    void* payload = value ? const_cast<char*>(value->data()) : nullptr;
    size_t size = value ? value->size() : 0;
    rd_kafka_resp_err_t err = rd_kafka_producev(producer->get(), RD_KAFKA_V_TOPIC(topic.c_str()),
                                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                RD_KAFKA_V_KEY(key.data(), key.size()),
                                                RD_KAFKA_V_VALUE(payload, size), RD_KAFKA_V_END);
    REQUIRE(err == RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  REQUIRE(rd_kafka_flush(producer->get(), 30'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
}

std::map<std::string, std::vector<std::optional<std::string>>> rowsByKey(const expr::RawTable& table) {
  std::map<std::string, std::vector<std::optional<std::string>>> out;
  for (const auto& row : table.rows) out[*row.cells.at(0)] = row.cells;
  return out;
}

// A `kafka:` block in flow style from its settings (values quoted).
std::string block(const std::vector<std::pair<std::string, std::string>>& settings) {
  std::vector<std::string> parts;
  for (const auto& [key, value] : settings) parts.push_back(fmt::format("{}: '{}'", key, value));
  return fmt::format("{{{}}}", fmt::join(parts, ", "));
}

}  // namespace

TEST_CASE("kafka tables: the latest value per key, tombstones delete, every partition read",
          "[integration][kafka][tables]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = testing::uniqueName("dutybridge.it.table");
  produce(bootstrap, topic, 3,
          {{"WC-10", "Moulding"},
           {"WC-20", "Assembly"},
           {"WC-30", "Paint"},
           {"WC-20", "Final assembly"},  // the later value wins
           {"WC-30", std::nullopt},      // tombstone
           {"WC-40", "Packing 包装"}});

  auto loader = testing::tableLoader("kafka", "workcenters",
                                     block({{"topic", topic}, {"bootstrap_servers", bootstrap}, {"timeout", "20s"}}));
  if (!loader) FAIL(loader.error());
  CHECK((*loader)->describe() == "kafka topic " + topic);
  auto raw = (*loader)->load();
  if (!raw) FAIL(raw.error().describe());
  CHECK(raw->columns == std::vector<std::string>{"key", "value"});
  auto rows = rowsByKey(*raw);
  REQUIRE(rows.size() == 3);
  CHECK(rows["WC-10"][1] == "Moulding");
  CHECK(rows["WC-20"][1] == "Final assembly");
  CHECK(rows["WC-40"][1] == "Packing 包装");
  CHECK_FALSE(rows.contains("WC-30"));
  CHECK_THAT(raw->rows.front().where.file, Catch::StartsWith("kafka:" + topic + "/"));

  // The daemon's kafka section is the default cluster; the table's column names name the columns.
  auto daemon = testing::sinkConfig(bootstrap, "topic: unused");
  auto named =
      testing::tableLoader("kafka", "workcenters", block({{"topic", topic}}), &daemon.kafka(), {"wc", "name", "", ""});
  if (!named) FAIL(named.error());
  auto again = (*named)->load();
  if (!again) FAIL(again.error().describe());
  CHECK(again->columns == std::vector<std::string>{"wc", "name"});
  CHECK(again->rows.size() == 3);
}

TEST_CASE("kafka tables: JSON values give dated columns to a mapping, refresh sees new messages",
          "[integration][kafka][tables]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = testing::uniqueName("dutybridge.it.badges");
  // One key per badge, so a badge's history lives in one message: here the current assignment.
  produce(bootstrap, topic, 1,
          {{"B000123", R"({"employee_no":"E10031","valid_from":"2025-03-15","valid_to":null})"},
           {"B000124", R"({"employee_no":"E10024","valid_from":null,"valid_to":"2025-06-01","shift":3})"},
           {"B000125", R"({"employee_no":"E10025"})"},
           {"B000125", std::nullopt}});

  testing::TempDir dir("table-kafka");
  auto file = dir.write("mapping.yaml", fmt::format(R"(name: badge_lookup
input: {{badge: string, day: date}}
tables:
  badges:
    kafka:
      topic: "{}"
      format: json
      timeout: 20s
      librdkafka:
        fetch.wait.max.ms: 100
    key: badge
    value: employee_no
    valid_from: valid_from
    valid_to: valid_to
    refresh: 1m
emit:
  - fields:
      employee_no: >-
        lookup("badges", badge, at: day)
)",
                                                    topic));
  auto daemon = testing::sinkConfig(bootstrap, "topic: unused");
  auto loaded = mapping::loadMapping(file, {.table_sources = &testing::builtinRegistry(), .kafka = &daemon.kafka()});
  INFO((loaded ? std::string() : loaded.error().format()));
  REQUIRE(loaded);
  const mapping::Mapping& mapping = **loaded;
  auto employee = [&](const char* badge, const char* day) { return testing::emittedEmployee(mapping, badge, day); };
  CHECK(employee("B000123", "2025-03-14") == "null");
  CHECK(employee("B000123", "2025-03-15") == "E10031");
  CHECK(employee("B000124", "2025-05-31") == "E10024");
  CHECK(employee("B000124", "2025-06-01") == "null");
  CHECK(employee("B000125", "2025-03-15") == "null");  // deleted by its tombstone

  produce(bootstrap, topic, 1, {{"B000125", R"({"employee_no":"E10099","valid_from":"2025-04-01"})"}});
  REQUIRE(mapping.table_refreshers.size() == 1);
  auto refreshed = mapping.table_refreshers[0]->refreshNow();
  if (!refreshed) FAIL(refreshed.error().describe());
  CHECK(employee("B000125", "2025-04-01") == "E10099");

  // A value that is not a JSON object fails the refresh at its offset; the old table stays.
  produce(bootstrap, topic, 1, {{"B000126", "E10100"}});
  auto refused = mapping.table_refreshers[0]->refreshNow();
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(refused.error().message, Catch::Contains("kafka:" + topic + "/0:5:1: the message value is not a JSON object"));
  CHECK(refused.error().message.find("E10100") == std::string::npos);
  CHECK(employee("B000125", "2025-04-01") == "E10099");
}

TEST_CASE("kafka tables: a missing topic is Permanent, an unreachable cluster Retryable, settings are checked",
          "[integration][kafka][tables]") {
  std::string bootstrap = testing::kafkaBootstrap();
  auto missing = testing::tableLoader("kafka", "t",
                                      block({{"topic", testing::uniqueName("dutybridge.it.none")},
                                             {"bootstrap_servers", bootstrap},
                                             {"timeout", "10s"}}));
  if (!missing) FAIL(missing.error());
  auto none = (*missing)->load();
  REQUIRE_FALSE(none);
  CHECK(none.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(none.error().message, Catch::Contains("does not exist"));

  std::string nowhere = fmt::format("127.0.0.1:{}", testing::freePort());
  auto down =
      testing::tableLoader("kafka", "t", block({{"topic", "x"}, {"bootstrap_servers", nowhere}, {"timeout", "2s"}}));
  if (!down) FAIL(down.error());
  auto unreachable = (*down)->load();
  REQUIRE_FALSE(unreachable);
  CHECK(unreachable.error().kind == core::ErrorKind::Retryable);
  CHECK_THAT(unreachable.error().message, Catch::Contains("Kafka cluster " + nowhere + " did not answer"));

  auto no_cluster = testing::tableLoader("kafka", "t", block({{"topic", "x"}}));
  REQUIRE_FALSE(no_cluster);
  CHECK_THAT(no_cluster.error(), Catch::Contains("needs 'bootstrap_servers'"));
  auto bad_format =
      testing::tableLoader("kafka", "t", block({{"topic", "x"}, {"bootstrap_servers", bootstrap}, {"format", "avro"}}));
  REQUIRE_FALSE(bad_format);
  CHECK_THAT(bad_format.error(), Catch::Contains("tables.t.kafka.format") && Catch::Contains("text, json"));
  auto bad_property = testing::tableLoader(
      "kafka", "t", "{topic: x, bootstrap_servers: '" + bootstrap + "', librdkafka: {no.such.property: 1}}");
  REQUIRE_FALSE(bad_property);
  CHECK_THAT(bad_property.error(), Catch::Contains("no.such.property"));
  auto typo = testing::tableLoader("kafka", "t", block({{"topik", "x"}, {"bootstrap_servers", bootstrap}}));
  REQUIRE_FALSE(typo);
  CHECK_THAT(typo.error(), Catch::Contains("did you mean 'topic'?") && Catch::Contains("tables.t.kafka.topik"));
  auto slow =
      testing::tableLoader("kafka", "t", block({{"topic", "x"}, {"bootstrap_servers", bootstrap}, {"timeout", "1h"}}));
  REQUIRE_FALSE(slow);
  CHECK_THAT(slow.error(), Catch::Contains("tables.t.kafka.timeout"));
}
