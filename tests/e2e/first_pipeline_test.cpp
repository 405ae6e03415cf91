// The first pipeline end to end: PostgreSQL (or SQLite) table -> odbc source -> kafka sink,
// through the real dutybridge binary, the real broker and the real database.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <set>

#include "src/core/decimal.h"
#include "tests/e2e/e2e_util.h"

using namespace dutybridge;
using e2e::Daemon;

namespace {

struct Setup {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string table;
  std::string topic;
  std::string pipeline;
  std::filesystem::path dir;
  std::filesystem::path config;
  std::filesystem::path log;

  explicit Setup(const std::string& name, const std::string& source_extra = "") {
    table = e2e::uniqueName("e2e_" + name);
    topic = "e2e." + table;
    pipeline = e2e::uniqueName(name);
    for (char& c : pipeline) c = c == '_' ? '-' : c;
    dir = e2e::tempDir(name);
    config = dir / "dutybridge.yaml";
    log = dir / "dutybridge.log";
    writeConfig(fmt::format(R"(      connection: "${{env:DUTYBRIDGE_TEST_PG_ODBC}}"
      table: {}
{})", table, source_extra));
  }

  void writeConfig(const std::string& connection_and_table, const std::string& kafka = "") {
    std::ofstream(config) << fmt::format(R"(kafka:
  bootstrap_servers: {}
log:
  level: info
pipelines:
  - name: {}
    source:
      type: odbc
{}      mode: timestamp+incrementing
      timestamp_column: updated_at
      incrementing_column: id
      timestamp_zone: Asia/Shanghai
      commit_lag: 1s
      poll_interval: 100ms
    sink:
      type: kafka
      topic: {}
      key: [report_no]
      create_topic: true
)", kafka.empty() ? bootstrap : kafka, pipeline, connection_and_table, topic);
  }

  std::string logText() const { return e2e::readFile(log); }
};

struct Census {
  std::map<long, int> count_by_id;
  long missing = 0;
  long duplicates = 0;
};

Census census(const std::vector<e2e::Message>& messages, long rows) {
  Census c;
  for (const auto& m : messages) ++c.count_by_id[m.json.at("id").get<long>()];
  for (long i = 1; i <= rows; ++i) {
    auto it = c.count_by_id.find(i);
    if (it == c.count_by_id.end()) ++c.missing;
    else c.duplicates += it->second - 1;
  }
  return c;
}

}  // namespace

TEST_CASE("100,000 PostgreSQL rows arrive in Kafka complete, exact and in order", "[e2e][postgresql][kafka]") {
  constexpr int kRows = 100'000;
  Setup s("full");
  e2e::psql(e2e::productionReportSql(s.table, kRows));
  Daemon daemon(s.config, s.log, /*once=*/true);
  int status = daemon.wait();
  INFO(s.logText());
  REQUIRE(status == 0);

  auto messages = e2e::readTopic(s.bootstrap, s.topic);
  REQUIRE(messages.size() == kRows);
  std::map<std::string, long> last_id_by_work_order;
  std::set<std::string> event_ids;
  for (const auto& m : messages) {
    long id = m.json.at("id").get<long>();
    INFO("id " << id);
    REQUIRE(m.json == e2e::expectedRow(id));
    REQUIRE(m.key == m.json.at("report_no").get<std::string>());
    // Per-key order: rows of one work order arrive in the order of (updated_at, id).
    auto& last = last_id_by_work_order[m.json.at("work_order_no").get<std::string>()];
    REQUIRE(id > last);
    last = id;
    REQUIRE(m.headers.at("ce_specversion") == "1.0");
    REQUIRE(m.headers.at("content-type") == "application/json");
    REQUIRE(m.headers.at("ce_time") == m.json.at("updated_at").get<std::string>());
    event_ids.insert(m.headers.at("ce_id"));
  }
  CHECK(event_ids.size() == kRows);
  CHECK(census(messages, kRows).missing == 0);
}

TEST_CASE("SIGTERM in the middle, then restart: the union equals the source", "[e2e][postgresql][kafka][restart]") {
  constexpr int kRows = 100'000;
  Setup s("sigterm", "      batch_rows: 500\n");
  e2e::psql(e2e::productionReportSql(s.table, kRows));
  {
    Daemon daemon(s.config, s.log, /*once=*/false);
    e2e::waitForMessages(s.bootstrap, s.topic, 20'000);
    daemon.signal(SIGTERM);
    int status = daemon.wait(std::chrono::seconds(60));
    INFO(s.logText());
    REQUIRE(status == 0);
  }
  size_t before_restart = e2e::readTopic(s.bootstrap, s.topic).size();
  CHECK(before_restart < kRows);
  Daemon daemon(s.config, s.log, /*once=*/true);
  REQUIRE(daemon.wait() == 0);
  auto c = census(e2e::readTopic(s.bootstrap, s.topic), kRows);
  INFO(s.logText());
  CHECK(c.missing == 0);
  // A graceful stop stores the cursor of everything delivered, so nothing is sent twice.
  CHECK(c.duplicates == 0);
  CHECK_THAT(s.logText(), Catch::Contains("starting from the stored cursor"));
}

TEST_CASE("SIGKILL in the middle, then restart: nothing is missing", "[e2e][postgresql][kafka][restart]") {
  constexpr int kRows = 100'000;
  Setup s("sigkill", "      batch_rows: 500\n");
  e2e::psql(e2e::productionReportSql(s.table, kRows));
  long total_duplicates = 0;
  for (int kill_at : {15'000, 45'000, 70'000}) {
    Daemon daemon(s.config, s.log, /*once=*/false);
    e2e::waitForMessages(s.bootstrap, s.topic, kill_at);
    daemon.signal(SIGKILL);
    REQUIRE(daemon.wait(std::chrono::seconds(30)) == -SIGKILL);
  }
  Daemon daemon(s.config, s.log, /*once=*/true);
  REQUIRE(daemon.wait() == 0);
  auto c = census(e2e::readTopic(s.bootstrap, s.topic), kRows);
  total_duplicates = c.duplicates;
  INFO(s.logText());
  CHECK(c.missing == 0);
  // At-least-once: duplicates are allowed here (exactly-once is a later issue). Report them.
  WARN("SIGKILL x3 during 100,000 rows: 0 missing, " << total_duplicates << " duplicates");
}

TEST_CASE("rows committed late within the lag window and rows sharing a timestamp are delivered",
          "[e2e][postgresql][kafka][lag]") {
  Setup s("lag", "      batch_rows: 2\n");
  s.writeConfig(fmt::format(R"(      connection: "${{env:DUTYBRIDGE_TEST_PG_ODBC}}"
      table: {}
      batch_rows: 2
)", s.table));
  // Replace the fixed-lag config with a 3 s lag over wall-clock timestamps.
  std::string text = e2e::readFile(s.config);
  text.replace(text.find("commit_lag: 1s"), 14, "commit_lag: 3s");
  text.replace(text.find("timestamp_zone: Asia/Shanghai"), 29, "timestamp_zone: UTC");
  std::ofstream(s.config) << text;
  e2e::psql(fmt::format(
      "CREATE TABLE {0} (id bigint PRIMARY KEY, report_no varchar(20), updated_at timestamp NOT NULL);"
      "INSERT INTO {0} VALUES (1, 'PR1', (now() at time zone 'UTC') - interval '1 hour');",
      s.table));
  Daemon daemon(s.config, s.log, /*once=*/false);
  e2e::waitForMessages(s.bootstrap, s.topic, 1);
  // Five rows sharing one timestamp (more than a batch of 2), then a row whose timestamp is
  // older than theirs, as a transaction that started earlier and committed later would write.
  e2e::psql(fmt::format(
      "INSERT INTO {0} SELECT i, 'PR' || i, date_trunc('second', now() at time zone 'UTC') FROM generate_series(2, 6) i;",
      s.table));
  std::this_thread::sleep_for(std::chrono::seconds(1));
  e2e::psql(fmt::format(
      "INSERT INTO {0} VALUES (7, 'PR7', date_trunc('second', now() at time zone 'UTC') - interval '2 seconds');",
      s.table));
  e2e::waitForMessages(s.bootstrap, s.topic, 7, std::chrono::seconds(30));
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait(std::chrono::seconds(60)) == 0);
  auto c = census(e2e::readTopic(s.bootstrap, s.topic), 7);
  INFO(s.logText());
  CHECK(c.missing == 0);
  CHECK(c.duplicates == 0);
}

TEST_CASE("the broker is down at start: the daemon retries, then delivers", "[e2e][kafka][outage]") {
  constexpr int kRows = 5'000;
  Setup s("nobroker");
  e2e::psql(e2e::productionReportSql(s.table, kRows));
  // A second broker on a port of our choosing, started only after the daemon.
  std::string run_dir = (s.dir / "broker").string();
  int port = 0;
  {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    socklen_t len = sizeof addr;
    getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
    port = ntohs(addr.sin_port);
    close(fd);
  }
  std::string bootstrap = fmt::format("127.0.0.1:{}", port);
  s.writeConfig(fmt::format(R"(      connection: "${{env:DUTYBRIDGE_TEST_PG_ODBC}}"
      table: {}
)", s.table), bootstrap);
  std::string kafka_local = testing::requireEnv("DUTYBRIDGE_KAFKA_LOCAL");
  std::string env = fmt::format("DUTYBRIDGE_RUN='{}' DUTYBRIDGE_KAFKA_PORT={}", run_dir, port);
  Daemon daemon(s.config, s.log, /*once=*/true);
  std::this_thread::sleep_for(std::chrono::seconds(3));
  REQUIRE(daemon.running());
  // A broker JVM starting on a loaded machine has died without a word now and then (seen with
  // the demo's private broker too): one more try, as scripts/demo does.
  const std::string start = env + " '" + kafka_local + "' start >'" + run_dir + ".start.log' 2>&1";
  if (std::system(start.c_str()) != 0) {
    WARN("the second broker did not start; trying once more:\n" << e2e::readFile(run_dir + ".start.log"));
    std::system((env + " '" + kafka_local + "' stop >/dev/null 2>&1").c_str());
    REQUIRE(std::system(start.c_str()) == 0);
  }
  int status = daemon.wait(std::chrono::seconds(180));
  auto messages = e2e::readTopic(bootstrap, s.topic);
  std::system((env + " '" + kafka_local + "' stop >/dev/null").c_str());
  INFO(s.logText());
  REQUIRE(status == 0);
  auto c = census(messages, kRows);
  CHECK(c.missing == 0);
  CHECK(c.duplicates == 0);
}

TEST_CASE("PostgreSQL restarted under load: the source reconnects and nothing is missing",
          "[e2e][postgresql][kafka][outage]") {
  constexpr int kRows = 100'000;
  Setup s("pgrestart", "      batch_rows: 500\n");
  e2e::psql(e2e::productionReportSql(s.table, kRows));
  Daemon daemon(s.config, s.log, /*once=*/true);
  e2e::waitForMessages(s.bootstrap, s.topic, 20'000);
  std::string pg_local = testing::requireEnv("DUTYBRIDGE_PG_LOCAL");
  REQUIRE(std::system(("'" + pg_local + "' restart >/dev/null").c_str()) == 0);
  int status = daemon.wait();
  INFO(s.logText());
  REQUIRE(status == 0);
  auto c = census(e2e::readTopic(s.bootstrap, s.topic), kRows);
  CHECK(c.missing == 0);
  CHECK(c.duplicates == 0);
  CHECK_THAT(s.logText(), Catch::Contains("retrying"));
}

TEST_CASE("the same pipeline from a SQLite file", "[e2e][sqlite][kafka]") {
  constexpr int kRows = 10'000;
  Setup s("sqlite");
  auto db = s.dir / "mes.db";
  std::string sql = fmt::format(R"(
CREATE TABLE {0} (id INTEGER PRIMARY KEY, report_no VARCHAR(20) NOT NULL, good_qty NUMERIC(12,3),
  remark VARCHAR(100), updated_at TIMESTAMP NOT NULL);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {1})
INSERT INTO {0} SELECT i, printf('PR%08d', i), printf('%d.%03d', i % 500, i % 1000),
  CASE WHEN i % 10 = 0 THEN NULL ELSE '装配车间 ' || i END,
  strftime('%Y-%m-%d %H:%M:%S', '2025-03-14 08:00:00', '+' || (i / 3) || ' seconds') FROM n;
)", s.table, kRows);
  std::ofstream(s.dir / "load.sql") << sql;
  REQUIRE(std::system(("sqlite3 '" + db.string() + "' < '" + (s.dir / "load.sql").string() + "'").c_str()) == 0);
  s.writeConfig(fmt::format(R"(      connection: "Driver=SQLite3;Database={}"
      table: {}
)", db.string(), s.table));
  Daemon daemon(s.config, s.log, /*once=*/true);
  int status = daemon.wait();
  INFO(s.logText());
  REQUIRE(status == 0);
  auto messages = e2e::readTopic(s.bootstrap, s.topic);
  REQUIRE(messages.size() == kRows);
  auto c = census(messages, kRows);
  CHECK(c.missing == 0);
  for (const auto& m : messages) {
    long i = m.json.at("id").get<long>();
    // SQLite keeps NUMERIC as an integer or REAL without a fixed scale, so 10.010 comes back
    // as 10.01: compare exact decimal values, not text.
    auto good = core::Decimal::parse(m.json.at("good_qty").get<std::string>());
    REQUIRE(good);
    REQUIRE(*good == *core::Decimal::parse(fmt::format("{}.{:03d}", i % 500, i % 1000)));
    REQUIRE(m.json.at("remark") ==
            (i % 10 == 0 ? nlohmann::json(nullptr) : nlohmann::json(fmt::format("装配车间 {}", i))));
  }
}

TEST_CASE("a mapping runs in the pipeline: outputs to its topic, failures to the dead-letter topic",
          "[e2e][postgresql][kafka][mapping]") {
  constexpr int kRows = 2'000;
  Setup s("mapped");
  e2e::psql(e2e::productionReportSql(s.table, kRows));
  // Every 97th report gets a labour time of zero minutes, which the mapping refuses with `!`.
  e2e::psql(fmt::format("UPDATE {} SET labor_minutes = 0 WHERE id % 97 = 0;", s.table));
  std::string out_topic = s.topic + ".out";
  std::string dlq_topic = s.topic + ".dlq";
  std::ofstream(s.dir / "mapping.yaml") << fmt::format(R"(name: e2e-output
version: 7
input:
  id: int
  report_no: string
  remark: string?
  good_qty: decimal
  labor_minutes: int
  updated_at: timestamp
let:
  per_hour: round(good_qty * 60 / labor_minutes, 3)
emit:
  - to: {}
    key: report_no
    fields:
      id: id
      report_no: report_no
      has_remark: not is_null(remark)
      per_hour: per_hour!
      day: date_of(updated_at, "Asia/Shanghai")
)", out_topic);
  std::string config = e2e::readFile(s.config);
  config.replace(config.find("    sink:"), 9, "    mapping: mapping.yaml\n    sink:");
  config.replace(config.find("kafka:\n"), 7, "kafka:\n  dlq_topic: " + dlq_topic + "\n");
  // create_topic applies to the sink's own topic and turns broker auto-creation off; the
  // topics named by emit blocks and the DLQ are auto-created by this test broker instead.
  config.replace(config.find("      create_topic: true\n"), 25, "");
  std::ofstream(s.config) << config;
  Daemon daemon(s.config, s.log, /*once=*/true);
  int status = daemon.wait();
  INFO(s.logText());
  REQUIRE(status == 0);
  auto outputs = e2e::readTopic(s.bootstrap, out_topic);
  auto dead = e2e::readTopic(s.bootstrap, dlq_topic);
  // labor_minutes is id % 480, and zero for every 97th id: both divide by zero.
  long expected_dead = 0;
  for (long id = 1; id <= kRows; ++id) expected_dead += (id % 97 == 0 || id % 480 == 0) ? 1 : 0;
  CHECK(static_cast<long>(dead.size()) == expected_dead);
  CHECK(static_cast<long>(outputs.size()) == kRows - expected_dead);
  for (const auto& m : outputs) {
    long id = m.json.at("id").get<long>();
    REQUIRE(m.key == fmt::format("PR{:08d}", id));
    REQUIRE(m.json.at("has_remark") == (id % 10 != 0));
  }
  for (const auto& m : dead) {
    REQUIRE(m.headers.at("dutybridge_mapping") == "e2e-output@7");
    REQUIRE(m.headers.at("dutybridge_error_class") == "mapping");
    REQUIRE_THAT(m.headers.at("dutybridge_error"), Catch::Contains("value of per_hour is null"));
    REQUIRE_THAT(m.json.at("source_position").get<std::string>(), Catch::Contains("\"id\":"));
    // No field values in dead letters: the report number is not there, only the position.
    REQUIRE_THAT(m.json.dump(), !Catch::Contains("PR0"));
  }
  CHECK_THAT(s.logText(), Catch::Contains(fmt::format("{} dead letters", expected_dead)));
}

TEST_CASE("a row too large for the producer goes to the dead-letter topic, the rest to the topic exactly once",
          "[e2e][postgresql][kafka][dlq]") {
  constexpr int kRows = 300;
  Setup s("toolarge");
  e2e::psql(e2e::productionReportSql(s.table, kRows));
  // One report with a 3,000-character remark: more than the producer's message.max.bytes.
  e2e::psql(
      fmt::format("ALTER TABLE {0} ALTER COLUMN remark TYPE text;\n"
                  "UPDATE {0} SET remark = 'SECRET' || repeat('x', 3000) WHERE id = 77;",
                  s.table));
  const std::string dlq_topic = s.topic + ".dlq";
  std::string config = e2e::readFile(s.config);
  config.replace(config.find("kafka:\n"), 7, "kafka:\n  dlq_topic: " + dlq_topic + "\n");
  config.replace(config.find("      create_topic: true\n"), 25,
                 "      create_topic: true\n      librdkafka: {message.max.bytes: \"2000\"}\n");
  std::ofstream(s.config) << config;
  for (int run = 0; run < 2; ++run) {  // the second run finds nothing new: nothing is sent again
    Daemon daemon(s.config, s.log, /*once=*/true);
    int status = daemon.wait();
    INFO(s.logText());
    REQUIRE(status == 0);
  }
  CHECK_THAT(s.logText(), Catch::Contains("the sink refused 1 record(s)") && Catch::Contains("delivery: exactly-once"));
  // read_committed: what the aborted run had sent of the batch is not there.
  auto c = census(e2e::readTopic(s.bootstrap, s.topic), kRows);
  CHECK(c.missing == 1);
  CHECK(c.count_by_id.count(77) == 0);
  CHECK(c.duplicates == 0);
  auto dead = e2e::readTopic(s.bootstrap, dlq_topic);
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].headers.at("dutybridge_error_class") == "sink");
  CHECK_THAT(dead[0].headers.at("dutybridge_error"), Catch::Contains("message.max.bytes"));
  CHECK_THAT(dead[0].json.at("source_position").get<std::string>(), Catch::Contains("\"id\":77"));
  CHECK_THAT(dead[0].json.dump(), !Catch::Contains("SECRET"));
}
