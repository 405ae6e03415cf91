// The personal-data canary (issue 15): every personal input field of a run carries a marker,
// the real daemon maps the rows into facts (rows that fail their lookup are quarantined, then
// dead-lettered; rows that do not convert are dead-lettered at once), and the marker must appear
// nowhere a person or another system can read: the daemon's log, the dead-letter topic, the
// state topic (row identities, windows, held records), the fact topic, /metrics and the
// pipeline status of the admin API. The employee number is what the facts may carry; the badge
// (the aggregate part, the lookup key) and the operator's name (pii: drop) may not.

#include <boost/asio/ip/tcp.hpp>
#include <fstream>
#include <future>

#include "tests/e2e/e2e_util.h"
#include "tests/support/http.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"

using namespace dutybridge;

namespace {

constexpr std::string_view kMarker = "CANARY7f3a";

std::string canaryMapping(const std::string& name, const std::string& fact_topic) {
  const std::string config = (e2e::kSourceDir / "config").string();
  return fmt::format(R"(name: {0}
version: 1
catalog: {1}/duties.yaml
calendars: {1}/calendars.yaml
input:
  report_no: string
  operator_badge: {{type: string, pii: mask}}
  operator_name: {{type: "string?", pii: drop}}
  shift_code: string
  shift_date: date
  good_qty: decimal
  updated_at: timestamp
tables:
  badge_employee:
    rows: {{B-{2}-1: E90001, B-{2}-2: E90002}}
let:
  employee: 'lookup("badge_employee", operator_badge)!'
aggregate:
  id: report_no
  part: operator_badge
  version: updated_at
  calendar: plant-01-12h
  period: SHIFT
  shift_date: shift_date
  shift_code: shift_code
  group_by:
    employee_no: employee
  measures:
    good_qty: sum(good_qty)
    reports: count()
  grace: 0s
  retain: 30d
quarantine:
  max_age: 2s
  retry: 1s
emit:
  - contract: duty_kpi.v1
    to: {3}
    fields:
      kpi_code: '"KPI.TL.DAILY_GOOD_OUTPUT"'
      employee_no: employee_no
      value: good_qty
      source_system: '"MES"'
      inputs.good_qty: good_qty
      inputs.reports: reports
)",
                     name, config, kMarker, fact_topic);
}

// The reply, or status 0 while nothing listens yet (httpGet fails the test on a refused connection).
testing::HttpReply getWhenListening(int port, const std::string& target) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket probe(io);
  boost::system::error_code ec;
  probe.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
  if (ec) return {};
  return testing::httpGet(port, target);
}

std::string everything(const std::vector<testing::Message>& messages) {
  std::string text;
  for (const auto& m : messages) {
    text += m.keyText() + "\n" + m.value.value_or("") + "\n";
    for (const auto& [name, value] : m.headers) text += name + "=" + value + "\n";
  }
  return text;
}

}  // namespace

TEST_CASE("PII canary: a marker in every personal field reaches no log, topic, state entry or admin endpoint",
          "[e2e][pii][kafka][postgresql][admin]") {
  const std::string bootstrap = testing::kafkaBootstrap();
  const std::string table = e2e::uniqueName("e2e_canary");
  std::string pipeline = table;
  std::replace(pipeline.begin(), pipeline.end(), '_', '-');
  const std::string fact_topic = "e2e." + table + ".facts";
  const std::string state_topic = "e2e." + table + ".state";
  const std::string dlq_topic = "e2e." + table + ".dlq";
  const auto dir = e2e::tempDir("pii-canary");
  const auto config = dir / "dutybridge.yaml";
  const auto log = dir / "dutybridge.log";
  const int port = testing::freePort();
  std::ofstream(dir / "mapping.yaml") << canaryMapping("e2e-canary-" + pipeline, fact_topic);
  std::ofstream(config) << fmt::format(R"(kafka:
  bootstrap_servers: {0}
  state_topic: {1}
  dlq_topic: {2}
  state_key: e2e-canary-state-key
admin:
  enabled: true
  listen: 127.0.0.1:{3}
  tap: true
log:
  level: debug
pipelines:
  - name: {4}
    source:
      type: odbc
      connection: "${{env:DUTYBRIDGE_TEST_PG_ODBC}}"
      table: {5}
      mode: timestamp+incrementing
      timestamp_column: updated_at
      incrementing_column: id
      timestamp_zone: UTC
      commit_lag: 0s
      poll_interval: 100ms
    mapping: mapping.yaml
    sink:
      type: kafka
      topic: {6}
)",
                                       bootstrap, state_topic, dlq_topic, port, pipeline, table, fact_topic);
  // Badges -1 and -2 are known; -9 is not (quarantined, then a dead letter after max_age);
  // good_qty 'x' does not convert (a dead letter at once). Every row's name carries the marker.
  e2e::psql(fmt::format(R"(
CREATE TABLE {0} (id bigint PRIMARY KEY, report_no text NOT NULL, operator_badge text NOT NULL, operator_name text,
  shift_code text NOT NULL, shift_date date NOT NULL, good_qty text NOT NULL, updated_at timestamp NOT NULL);
INSERT INTO {0}
SELECT i, 'PR-' || i, 'B-{1}-' || CASE WHEN i % 5 = 0 THEN '9' ELSE (1 + i % 2)::text END, 'Name {1} ' || i,
  CASE WHEN i % 2 = 0 THEN 'D' ELSE 'N' END, (now() AT TIME ZONE 'Asia/Shanghai')::date - 2,
  CASE WHEN i % 7 = 0 THEN 'x' ELSE (i * 3)::text END,
  (now() AT TIME ZONE 'UTC') - interval '1 hour' + i * interval '1 second'
FROM generate_series(1, 40) i;
)",
                        table, kMarker));

  e2e::Daemon daemon(config, log, /*once=*/false);
  REQUIRE(testing::waitFor([&] { return getWhenListening(port, "/readyz").status == 200; }, std::chrono::seconds(60)));
  // The quarantine while it holds the unknown badges (max_age 2s): positions and reasons only.
  testing::HttpReply held;
  CHECK(testing::waitFor(
      [&] {
        held = testing::httpGet(port, "/api/v1/pipelines/" + pipeline + "/quarantine");
        return nlohmann::json::parse(held.body).at("held").get<int>() > 0;
      },
      std::chrono::seconds(10)));
  INFO(held.body);
  CHECK(nlohmann::json::parse(held.body).at("records").at(0).at("position").get<std::string>().find("\"id\":") !=
        std::string::npos);
  // The live tap of both stages while three more marked rows (known badges) are read.
  auto source_tap = std::async(std::launch::async, [&] {
    return testing::httpGet(port, "/api/v1/pipelines/" + pipeline + "/tap?stage=source&limit=3&timeout=20");
  });
  auto output_tap = std::async(std::launch::async, [&] {
    return testing::httpGet(port, "/api/v1/pipelines/" + pipeline + "/tap?stage=output&limit=3&timeout=20");
  });
  std::this_thread::sleep_for(std::chrono::seconds(1));  // both subscribed before the rows come
  e2e::psql(fmt::format(R"(
INSERT INTO {0}
SELECT i, 'PR-' || i, 'B-{1}-' || (1 + i % 2)::text, 'Name {1} ' || i, 'D', (now() AT TIME ZONE 'Asia/Shanghai')::date - 2,
  (i * 3)::text, (now() AT TIME ZONE 'UTC') - interval '1 hour' + i * interval '1 second'
FROM unnest(ARRAY[41, 43, 44]) i;
)",
                        table, kMarker));
  const auto source_sample = source_tap.get();
  const auto output_sample = output_tap.get();
  CHECK(source_sample.status == 200);
  CHECK(source_sample.content_type == "application/x-ndjson");
  CHECK(std::count(source_sample.body.begin(), source_sample.body.end(), '\n') == 3);
  CHECK_THAT(source_sample.body, Catch::Contains("***"));  // the badges, masked
  CHECK(output_sample.status == 200);
  // 40 rows: good_qty 'x' for i = 7, 14, 21, 28, 35 (dead letters at once); badge -9 for every
  // fifth row but 35, which fails its conversion first (7 quarantined, then dead letters).
  const size_t dead = 5 + 7;
  REQUIRE(testing::waitFor([&] { return testing::readCommitted(bootstrap, dlq_topic).size() >= dead; },
                           std::chrono::seconds(90)));
  e2e::waitForMessages(bootstrap, fact_topic, 1, std::chrono::seconds(60));
  const auto metrics = testing::httpGet(port, "/metrics");
  const auto pipelines = testing::httpGet(port, "/api/v1/pipelines");
  CHECK(metrics.status == 200);
  CHECK(pipelines.status == 200);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(std::chrono::seconds(60)) == 0);

  const auto facts = testing::readCommitted(bootstrap, fact_topic);
  const auto letters = testing::readCommitted(bootstrap, dlq_topic);
  const auto state = testing::readCommitted(bootstrap, state_topic);
  CHECK(!facts.empty());
  CHECK(letters.size() == dead);
  // The run did store what the canary must not find in clear: rows and held records.
  const std::string state_text = everything(state);
  CHECK_THAT(state_text, Catch::Contains("/s/~") && Catch::Contains("/q/~"));
  CHECK_THAT(everything(facts), Catch::Contains("E90001"));

  const std::string marker(kMarker);
  CHECK_THAT(e2e::readFile(log), !Catch::Contains(marker));
  CHECK_THAT(everything(letters), !Catch::Contains(marker));
  CHECK_THAT(state_text, !Catch::Contains(marker));
  CHECK_THAT(everything(facts), !Catch::Contains(marker));
  CHECK_THAT(metrics.body, !Catch::Contains(marker));
  CHECK_THAT(pipelines.body, !Catch::Contains(marker));
  CHECK_THAT(source_sample.body, !Catch::Contains(marker));
  CHECK_THAT(held.body, !Catch::Contains(marker));
  CHECK_THAT(output_sample.body, !Catch::Contains(marker));
}
