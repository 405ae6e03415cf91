#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>

#include "connectors/builtin.h"
#include "src/config/daemon_config.h"
#include "src/schema/schema_doc.h"
#include "tests/support/docs.h"

using namespace dutybridge;

namespace {

core::Registry registry() {
  core::Registry r;
  connectors::registerBuiltinConnectors(r);
  return r;
}

schema::SecretResolver fakeEnv(std::map<std::string, std::string> values) {
  return schema::SecretResolver([values](const std::string& name) -> std::optional<std::string> {
    auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  });
}

const std::filesystem::path kData = DUTYBRIDGE_TEST_DATA;

}  // namespace

TEST_CASE("five mistakes give five located messages", "[config]") {
  auto reg = registry();
  auto secrets = fakeEnv({});
  auto file = kData / "config" / "five_mistakes.yaml";
  auto result = config::loadDaemonConfig(file, reg, secrets);
  REQUIRE_FALSE(result.has_value());
  const auto& diagnostics = result.error();
  std::string text = diagnostics.format();
  INFO(text);
  REQUIRE(diagnostics.size() == 5);
  std::string f = file.string();
  CHECK_THAT(text, Catch::Contains(f + ":4:3: error: unknown key 'client_idd' (at kafka.client_idd)"));
  CHECK_THAT(text, Catch::Contains("hint: did you mean 'client_id'?"));
  CHECK_THAT(text, Catch::Contains(f + ":6:10: error: 'level' must be one of error, warning, notice, info, debug, found 'verbose'"));
  CHECK_THAT(text, Catch::Contains(f + ":11:19: error: 'batch_rows' must be an integer, found 'lots' (at pipelines[0].source.batch_rows)"));
  CHECK_THAT(text, Catch::Contains(f + ":16:13: error: unknown source connector 'generat' (at pipelines[1].source.type)"));
  CHECK_THAT(text, Catch::Contains("hint: did you mean 'generate'?"));
  CHECK_THAT(text, Catch::Contains(f + ":19:5: error: missing required key 'sink' (sink connector) (at pipelines[2])"));
  CHECK_THAT(text, Catch::Contains(" 4 |   client_idd: dutybridge-test\n   |   ^~~~~~~~~~\n"));
  CHECK_THAT(text, Catch::EndsWith("5 errors found\n"));
}

TEST_CASE("a valid config fills in defaults", "[config]") {
  auto reg = registry();
  auto secrets = fakeEnv({});
  auto result = config::parseDaemonConfig(R"(
pipelines:
  - name: smoke
    source: {type: generate, count: 10}
    sink: {type: stdout}
)", "inline.yaml", reg, secrets);
  REQUIRE(result.has_value());
  const auto& cfg = **result;
  REQUIRE(cfg.pipelines.size() == 1);
  CHECK_FALSE(cfg.kafka);
  CHECK(cfg.pipelines[0].source.type == "generate");
  CHECK(cfg.pipelines[0].source.settings.getInt("batch_rows") == 1000);
  CHECK(cfg.pipelines[0].sink.settings.getString("path") == "-");
  // Absent sections are their defaults, typed.
  CHECK(cfg.log.level == "info");
  CHECK(cfg.log.stats_interval == std::chrono::seconds(30));
  CHECK(cfg.admin.listen == "127.0.0.1:8088");
  CHECK_FALSE(cfg.admin.enabled);
}

TEST_CASE("the kafka, admin and log sections are read into typed settings", "[config]") {
  auto reg = registry();
  auto secrets = fakeEnv({{"KAFKA_PW", "pw-77"}});
  auto result = config::parseDaemonConfig(R"(
kafka:
  bootstrap_servers: 10.0.0.1:9092
  state_topic: plant.state
  librdkafka: {sasl.password: "${env:KAFKA_PW}"}
admin: {enabled: true}
log: {level: debug, stats_interval: 5s}
pipelines:
  - name: smoke
    source: {type: generate, count: 10}
    sink: {type: stdout}
)",
                                          "typed.yaml", reg, secrets);
  if (!result) FAIL(result.error().format());
  const auto& cfg = **result;
  REQUIRE(cfg.kafka);
  CHECK(cfg.kafka->bootstrapServers() == "10.0.0.1:9092");
  CHECK(cfg.kafka->client_id == "dutybridge");
  CHECK(cfg.kafka->state_topic == "plant.state");
  CHECK(cfg.kafka->dlq_topic == "dutybridge.dlq");
  CHECK(cfg.dead_letter_topic == "dutybridge.dlq");
  REQUIRE(cfg.kafka->connection.librdkafka.size() == 1);
  CHECK(cfg.kafka->connection.librdkafka[0].second == "pw-77");
  CHECK(cfg.kafkaCluster() == &*cfg.kafka);
  CHECK(cfg.admin.enabled);
  CHECK(cfg.admin.listen == "127.0.0.1:8088");
  CHECK(cfg.log.level == "debug");
  CHECK(cfg.log.stats_interval == std::chrono::seconds(5));

  // Bounds come from the section's schema: located, nothing read.
  auto bounded = config::parseDaemonConfig(R"(
kafka: {bootstrap_servers: " "}
log: {stats_interval: 0s}
pipelines:
  - name: smoke
    source: {type: generate, count: 10}
    sink: {type: stdout}
)",
                                           "bounded.yaml", reg, secrets);
  REQUIRE_FALSE(bounded);
  std::string text = bounded.error().format();
  INFO(text);
  CHECK_THAT(text, Catch::Contains("bounded.yaml:3:23:") && Catch::Contains("(at log.stats_interval)"));
  CHECK_THAT(text, Catch::Contains("'bootstrap_servers' is empty"));
}

TEST_CASE("bounds, durations, sizes and duplicates are checked", "[config]") {
  auto reg = registry();
  auto secrets = fakeEnv({});
  auto result = config::parseDaemonConfig(R"(
pipelines:
  - name: a
    source: {type: generate, batch_rows: 0, batch_rows: 5}
    sink: {type: stdout}
  - name: a
    source: {type: generate, rate: -1}
    sink: {type: stdout, colour: red}
  - name: "Bad Name"
    source: [1, 2]
    sink: {type: stdout}
)", "inline.yaml", reg, secrets);
  REQUIRE_FALSE(result.has_value());
  std::string text = result.error().format();
  INFO(text);
  CHECK_THAT(text, Catch::Contains("'batch_rows' must be between 1 and 100000, found '0'"));
  CHECK_THAT(text, Catch::Contains("duplicate key 'batch_rows'"));
  CHECK_THAT(text, Catch::Contains("duplicate pipeline name 'a'"));
  CHECK_THAT(text, Catch::Contains("'rate' must be between 0 and 10000000, found '-1'"));
  CHECK_THAT(text, Catch::Contains("unknown key 'colour'"));
  CHECK_THAT(text, Catch::Contains("pipeline name 'Bad Name' must be"));
  CHECK_THAT(text, Catch::Contains("expected a connector mapping with a 'type' key, found a list"));
}

TEST_CASE("YAML syntax errors are located", "[config]") {
  auto reg = registry();
  auto secrets = fakeEnv({});
  auto result = config::parseDaemonConfig("pipelines:\n  - name: [unclosed\n", "broken.yaml", reg, secrets);
  REQUIRE_FALSE(result.has_value());
  CHECK_THAT(result.error().format(), Catch::StartsWith("broken.yaml:3:1: error: YAML syntax:"));
}

TEST_CASE("a config value in another encoding prints, it does not end the program", "[config][hostile]") {
  // `check --print-config` on a file with a GBK byte in a value threw from the JSON writer and
  // terminated (found by fuzz/config_fuzz.cpp; regression input fuzz/regressions/config).
  auto reg = registry();
  auto secrets = fakeEnv({});
  auto ok = config::parseDaemonConfig("pipelines:\n  - name: workshop\n    source: {type: generate}\n"
                                      "    sink: {type: stdout, path: \"/tmp/\xb3\xb5\xbc\xe4.jsonl\"}\n",
                                      "gbk.yaml", reg, secrets);
  REQUIRE(ok.has_value());
  std::string echoed;
  REQUIRE_NOTHROW(echoed = config::renderRedacted((*ok)->root));
  CHECK_THAT(echoed, Catch::Contains("\xef\xbf\xbd"));  // U+FFFD in place of each invalid byte
}

TEST_CASE("duration and size parsing", "[config]") {
  CHECK(core::parseDuration("250ms") == 250'000);
  CHECK(core::parseDuration("1h30m") == 5'400'000'000);
  CHECK_FALSE(core::parseDuration("5").has_value());
  CHECK_FALSE(core::parseDuration("5 s").has_value());
  CHECK(core::parseSize("64MiB") == 64 << 20);
  CHECK(core::parseSize("4096") == 4096);
  CHECK_FALSE(core::parseSize("lots").has_value());
  CHECK(core::formatDuration(5'000'000) == "5s");
}

TEST_CASE("secret references resolve and never appear in output", "[config][secrets]") {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-secrets-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "creds");
  std::ofstream(dir / "pw.txt") << "file-secret-4711\n";
  std::ofstream(dir / "creds" / "kafka_password") << "cred-secret-0815";
  auto secrets = fakeEnv({{"DB_PASSWORD", "env-secret-1234"}, {"CREDENTIALS_DIRECTORY", (dir / "creds").string()}});

  auto resolved = secrets.resolve("Driver=X;Pwd=${env:DB_PASSWORD};Uid=u");
  REQUIRE(resolved);
  CHECK(resolved->text == "Driver=X;Pwd=env-secret-1234;Uid=u");
  CHECK(resolved->secret);
  CHECK(secrets.resolve("${file:" + (dir / "pw.txt").string() + "}")->text == "file-secret-4711");
  CHECK(secrets.resolve("${cred:kafka_password}")->text == "cred-secret-0815");
  CHECK(secrets.resolve("cost $${not.a.ref}")->text == "cost ${not.a.ref}");
  CHECK_FALSE(secrets.resolve("cost $${x}")->secret);
  CHECK(secrets.resolve("${env:NOPE}").error().message == "environment variable NOPE is not set");
  CHECK_FALSE(secrets.resolve("${cred:../etc/passwd}").has_value());
  CHECK_FALSE(secrets.resolve("${vault:x}").has_value());
  CHECK_FALSE(secrets.resolve("${env:X").has_value());

  auto reg = registry();
  std::string yaml = R"(
kafka:
  bootstrap_servers: 127.0.0.1:9092
  librdkafka:
    sasl.username: dutybridge
    sasl.password: ${cred:kafka_password}
pipelines:
  - name: smoke
    source: {type: generate}
    sink: {type: stdout, path: "/tmp/${env:DB_PASSWORD}.jsonl"}
  - name: broken
    source: {type: generate}
    sink: {type: stdout, path: "${file:)" + (dir / "missing").string() + R"(}"}
)";
  auto failed = config::parseDaemonConfig(yaml, "secrets.yaml", reg, secrets);
  REQUIRE_FALSE(failed.has_value());
  std::string diagnostics = failed.error().format();
  CHECK_THAT(diagnostics, Catch::Contains("cannot be read"));
  CHECK_THAT(diagnostics, !Catch::Contains("env-secret-1234"));
  CHECK_THAT(diagnostics, !Catch::Contains("cred-secret-0815"));

  auto ok = config::parseDaemonConfig(yaml.substr(0, yaml.find("  - name: broken")), "secrets.yaml", reg, secrets);
  REQUIRE(ok.has_value());
  CHECK((*ok)->kafka->connection.librdkafka[1].second == "cred-secret-0815");
  std::string echoed = config::renderRedacted((*ok)->root);
  INFO(echoed);
  CHECK_THAT(echoed, !Catch::Contains("env-secret-1234"));
  CHECK_THAT(echoed, !Catch::Contains("cred-secret-0815"));
  CHECK_THAT(echoed, Catch::Contains("<redacted>"));
  CHECK_THAT(echoed, Catch::Contains("\"batch_rows\": 1000"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("a sink that cannot carry dead letters gets the registry's dead-letter route, or check says why not",
          "[config]") {
  auto reg = registry();
  auto secrets = fakeEnv({});
  const std::string mapping = (kData / ".." / ".." / "mappings" / "mes_report_output.yaml").string();
  const std::string pipeline = R"(
pipelines:
  - name: loader
    source: {type: generate, count: 10}
    mapping: )" + mapping + R"(
    sink: {type: odbc, connection: "Driver=SQLite3;Database=/tmp/x.db", table: t, key: [id]}
)";
  auto without = config::parseDaemonConfig(pipeline, "inline.yaml", reg, secrets);
  REQUIRE_FALSE(without.has_value());
  std::string text = without.error().format();
  CHECK_THAT(text, Catch::Contains("the odbc sink cannot hold the dead letters of its mapping, and there is no "
                                   "kafka.dlq_topic"));
  CHECK_THAT(text, Catch::Contains("add a kafka section (bootstrap_servers, dlq_topic)"));

  auto with = config::parseDaemonConfig("kafka: {bootstrap_servers: 127.0.0.1:9, dlq_topic: plant.dlq}\n" + pipeline,
                                        "inline.yaml", reg, secrets);
  REQUIRE(with.has_value());
  const auto& p = (*with)->pipelines.at(0);
  REQUIRE(p.dead_letters.has_value());
  CHECK(p.dead_letters->type == "kafka");
  CHECK(p.dead_letters->settings.getString("topic") == "plant.dlq");
  CHECK(p.dead_letters->settings.getBool("create_topic"));
  CHECK((*with)->dead_letter_topic == "plant.dlq");
}

TEST_CASE("docs/configuration.md lists the keys check and run validate", "[config][docs]") {
  const auto docs = std::filesystem::path(DUTYBRIDGE_TEST_DATA).parent_path().parent_path() / "docs";
  testing::checkGeneratedRegion(docs / "configuration.md", "daemon config keys",
                                schema::markdownKeyTable(config::daemonSchema()));
}

TEST_CASE("the board section: defaults, a viewer token from a secret, and what it refuses", "[config]") {
  auto reg = registry();
  auto secrets = fakeEnv({{"BOARD_TOKEN", "tv-line-3_aaaaaaaaaaaa"}, {"WEAK", "abc"}, {"SEMI", "abcdefgh;ijklmnopq"}});
  auto parse = [&](const std::string& board) {
    return config::parseDaemonConfig("kafka: {bootstrap_servers: 127.0.0.1:9092}\nboard: " + board + R"(
pipelines:
  - name: smoke
    source: {type: generate, count: 10}
    sink: {type: stdout}
)",
                                     "board.yaml", reg, secrets);
  };
  auto ok = parse(R"({enabled: true, calendar: plant-01, viewer_token: "${env:BOARD_TOKEN}", listen: "0.0.0.0:8090"})");
  if (!ok) FAIL(ok.error().format());
  const config::BoardSettings& board = (*ok)->board;
  CHECK(board.enabled);
  CHECK(board.viewer_token == "tv-line-3_aaaaaaaaaaaa");
  CHECK(board.topic == "hr.duty-kpi.v1");
  CHECK(board.language == "zh");
  CHECK(board.behind_below == 95);
  CHECK(board.far_behind_below == 85);
  CHECK(board.stale_after == std::chrono::minutes(5));
  CHECK(board.history_shifts == 3);
  CHECK_FALSE(board.show_employees);
  CHECK_FALSE(board.plan_topic);

  for (const auto& [yaml, message] : std::vector<std::pair<std::string, std::string>>{
           {R"({enabled: true})", "the board needs 'calendar'"},
           {R"({calendar: c, viewer_token: "${env:WEAK}"})", "at least 16 characters"},
           {R"({calendar: c, viewer_token: "${env:SEMI}"})", "at least 16 characters"},
           {R"({calendar: c, viewer_token: ""})", "at least 16 characters"},
           {R"({calendar: c, behind_below: 80, far_behind_below: 90})", "must not be above behind_below"},
           {R"({calendar: c, listen: "8090"})", "is not host:port"},
           {R"({calendar: c, language: fr})", "fr"},
       }) {
    auto refused = parse(yaml);
    INFO(yaml);
    REQUIRE_FALSE(refused);
    CHECK_THAT(refused.error().format(), Catch::Contains(message));
  }
}
