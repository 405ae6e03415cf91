// Scenario 1, kill -9 during a transfer: a production_report table of CHAOS_KILL_ROWS rows ->
// one daemon with two exactly-once pipelines over it (a row-level mapping and the KPI 1
// aggregate mapping) -> Kafka. The daemon is SIGKILLed CHAOS_KILLS times at random moments and
// restarted after each, then finishes with `run --once`. A read_committed reader then finds
// every report exactly once in the row topic, the final fact of every leader and shift equal
// to SQL sums over the table, and the revisions of every fact strictly increasing.

#include <algorithm>
#include <map>
#include <sstream>

#include "src/core/decimal.h"
#include "tests/chaos/chaos_util.h"
#include "tests/chaos/figures.h"

using namespace dutybridge;
using e2e::Daemon;

namespace {

struct Fact {
  int64_t revision = 0;
  bool closed = false;
  std::string value;
  int64_t reports = 0;
};

using Expected = e2e::ExpectedFact;

// Facts per "employee|SHIFT|period", in topic order (one key lives in one partition).
std::map<std::string, std::vector<Fact>> factsOf(const std::vector<chaos::Message>& messages) {
  std::map<std::string, std::vector<Fact>> out;
  for (const auto& m : messages) {
    auto v = nlohmann::json::parse(m.valueText());
    INFO(m.valueText());
    REQUIRE(m.key == v.at("fact_key").get<std::string>());
    std::string key = v.at("employee_no").get<std::string>() + "|SHIFT|" + v.at("period").at("id").get<std::string>();
    out[key].push_back(Fact{v.at("revision").get<int64_t>(), v.at("period").at("closed").get<bool>(),
                            v.at("value").get<std::string>(), v.at("inputs").at("reports").get<int64_t>()});
  }
  return out;
}

}  // namespace

TEST_CASE("kill -9 during a transfer, exactly-once: no record missing or duplicated, facts equal SQL sums",
          "[chaos][kill]") {
  const auto started = std::chrono::steady_clock::now();
  const long rows = chaos::envLong("CHAOS_KILL_ROWS", 100'000);
  const long kills = chaos::envLong("CHAOS_KILLS", 20);
  const long max_delay_ms = chaos::envLong("CHAOS_KILL_MAX_DELAY_MS", 400);
  const long batch_rows = chaos::envLong("CHAOS_BATCH_ROWS", 1'000);
  const unsigned seed = static_cast<unsigned>(chaos::envLong("CHAOS_SEED", std::random_device{}()));
  WARN("CHAOS_SEED=" << seed << " reproduces the kill moments");
  std::mt19937 rng(seed);

  const chaos::Pg pg = chaos::Pg::fromEnv();
  const std::string bootstrap = testing::kafkaBootstrap();
  const std::string table = e2e::uniqueName("chaos_kill");
  std::string pipeline = table;
  std::replace(pipeline.begin(), pipeline.end(), '_', '-');
  const std::string rows_topic = "chaos." + table + ".rows";
  const std::string facts_topic = "chaos." + table + ".facts";
  const std::string dlq_topic = "chaos." + table + ".dlq";
  const auto dir = e2e::tempDir("chaos-kill");
  const auto config = dir / "dutybridge.yaml";
  const auto log = dir / "dutybridge.log";
  std::ofstream(dir / "rows.yaml") << chaos::rowMapping("chaos-rows-" + pipeline, rows_topic);
  std::ofstream(dir / "facts.yaml") << e2e::wallClockKpiMapping("chaos-facts-" + pipeline, facts_topic);
  std::ofstream(config) << chaos::kafkaYaml(bootstrap, table)
                        << chaos::pipelineYaml(pipeline + "-rows", "${env:DUTYBRIDGE_TEST_PG_ODBC}", table, "rows.yaml",
                                               batch_rows)
                        << chaos::pipelineYaml(pipeline + "-facts", "${env:DUTYBRIDGE_TEST_PG_ODBC}", table, "facts.yaml",
                                               batch_rows);

  // updated_at from three hours ago on, in steps that keep every row in the past.
  const long step_ms = std::max(1L, std::min(10L, 10'000'000L / rows));
  chaos::psql(pg, chaos::createReportTableSql(table));
  chaos::psql(pg, chaos::insertReportsSql(table, 1, rows,
                                          fmt::format("(now() AT TIME ZONE 'UTC') - interval '3 hours' + i * interval "
                                                      "'{} milliseconds'", step_ms)));
  const double load_s = chaos::secondsSince(started);

  auto watcher = e2e::consumer(bootstrap);
  auto produced = [&] {
    return e2e::highWatermark(watcher.get(), rows_topic) + e2e::highWatermark(watcher.get(), facts_topic);
  };
  std::uniform_int_distribution<long> delay_ms(0, max_delay_ms);
  long kills_in_transfer = 0;
  const auto transfer_started = std::chrono::steady_clock::now();
  for (long round = 0; round < kills; ++round) {
    int64_t before = produced();
    Daemon daemon(config, log, /*once=*/false);
    // Mostly while records flow (after this run's first produce); every fourth round at any
    // moment from the start: connecting, fencing, restoring the state.
    const bool from_start = round % 4 == 3;
    bool flowing = false;
    if (!from_start) {
      flowing = chaos::waitFor([&] { return produced() > before || !daemon.running(); }, std::chrono::seconds(10)) &&
                daemon.running();
    }
    // From the start: anywhere in the first 3 s (connecting, fencing, restoring).
    long delay = from_start ? std::uniform_int_distribution<long>(0, 3'000)(rng) : delay_ms(rng);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    if (!flowing && produced() > before) flowing = true;
    kills_in_transfer += flowing ? 1 : 0;
    INFO("round " << round << ", kill " << delay << " ms after " << (from_start ? "the start" : "the first produce")
                  << "\n" << e2e::readFile(log));
    REQUIRE(daemon.running());
    daemon.signal(SIGKILL);
    REQUIRE(daemon.wait(std::chrono::seconds(30)) == -SIGKILL);
  }
  {
    Daemon daemon(config, log, /*once=*/true);
    int status = daemon.wait(std::chrono::seconds(1'800));
    INFO(e2e::readFile(log));
    REQUIRE(status == 0);
  }
  const double transfer_s = chaos::secondsSince(transfer_started);

  // Rows: every report exactly once.
  auto c = chaos::census(chaos::readCommitted(bootstrap, rows_topic), chaos::reportNumbers(pg, table));
  // Facts: the final revision per fact equals the SQL sums; revisions strictly increase.
  auto facts = factsOf(chaos::readCommitted(bootstrap, facts_topic));
  auto expected = e2e::expectedLeaderFacts(pg, table);
  std::vector<std::string> wrong, order;
  size_t revisions = 0;
  for (const auto& [key, want] : expected) {
    auto f = facts.find(key);
    if (f == facts.end()) {
      wrong.push_back(fmt::format("{}: no fact, expected {}", key, want.value.toString()));
      continue;
    }
    const Fact& last = *std::max_element(f->second.begin(), f->second.end(),
                                         [](const Fact& a, const Fact& b) { return a.revision < b.revision; });
    auto value = core::Decimal::parse(last.value);
    if (!value || !(*value == want.value) || last.reports != want.reports || !last.closed) {
      wrong.push_back(fmt::format("{}: final revision {} = {} from {} reports{}, expected {} from {}", key, last.revision,
                                  last.value, last.reports, last.closed ? "" : " (open)", want.value.toString(),
                                  want.reports));
    }
  }
  for (const auto& [key, list] : facts) {
    revisions += list.size();
    if (!expected.count(key)) wrong.push_back(key + ": a fact SQL does not expect");
    for (size_t i = 1; i < list.size(); ++i) {
      if (list[i].revision <= list[i - 1].revision) {
        order.push_back(fmt::format("{}: revision {} after {}", key, list[i].revision, list[i - 1].revision));
      }
    }
  }
  const long dead_letters = static_cast<long>(chaos::readCommitted(bootstrap, dlq_topic).size());

  chaos::reportFigures(fmt::format(
      "kill -9: rows {}, kills {} ({} while records flowed), seed {}, missing {}, duplicates {}, unexpected {}, "
      "facts {} ({} revisions, {} wrong, {} out of order), dead letters {}, load {:.1f} s, kills + finish {:.1f} s, "
      "elapsed {:.1f} s",
      rows, kills, kills_in_transfer, seed, c.missing, c.duplicates, c.unexpected, facts.size(), revisions, wrong.size(),
      order.size(), dead_letters, load_s, transfer_s, chaos::secondsSince(started)));
  INFO(fmt::format("examples: {}\nwrong facts:\n{}\nrevision order:\n{}\nlog: {}", fmt::join(c.examples, ", "),
                   fmt::join(wrong, "\n"), fmt::join(order.begin(), order.begin() + std::min<size_t>(order.size(), 20), "\n"),
                   log.string()));
  CHECK(c.expected == rows);
  CHECK(c.missing == 0);
  CHECK(c.duplicates == 0);
  CHECK(c.unexpected == 0);
  CHECK(facts.size() == 16);  // 4 leaders x 2 days x 2 shifts
  CHECK(wrong.empty());
  CHECK(order.empty());
  CHECK(dead_letters == 0);
  CHECK_THAT(e2e::readFile(log), Catch::Contains("exactly-once"));
}
