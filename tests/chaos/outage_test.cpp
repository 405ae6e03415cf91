// Scenarios 2 and 3, service outages under steady load: a writer thread inserts about
// CHAOS_RATE reports a second into PostgreSQL while the daemon (one exactly-once pipeline with a
// row-level mapping) runs; the broker (scenario 2) or the database (scenario 3) is stopped for a
// while and started again. A read_committed reader then finds every report exactly once. For
// the broker outage the daemon's RSS stays under a ceiling and the output catches up with the
// input within a time limit after the broker's return.
//
// The stopped service is a private one, started here (scripts/kafka-local or scripts/pg-local
// with a DUTYBRIDGE_RUN of its own): the shared services other tests use are never stopped.

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "tests/chaos/chaos_util.h"
#include "tests/chaos/figures.h"

using namespace dutybridge;
using e2e::Daemon;

namespace {

// RSS ceiling: AddressSanitizer's shadow memory and quarantine roughly triple a process's
// footprint, so a sanitized build gets a proportionally higher default.
// Catch-up after the broker returns means working off the backlog the outage left (about
// outage x rate rows); a sanitized build does that several times slower, so it gets more time,
// and in proportion to the outage actually measured (stopping and starting the broker takes
// longer on a busy machine, and every extra second of outage is 5,000 more rows to work off).
// The documented 30 s target is measured with the release build (tests/chaos/run).
// Writer rate: the sanitized daemon reads about 3,000-8,000 rows/s on the shared 2-core VM
// (release: 140,000), so at 5,000/s it had no headroom left to drain the backlog whenever the
// machine was busy. Under ASan the writer inserts 2,000/s: the scenario is about losing nothing
// and recovering, not about the sanitizer's speed; the full form (release) keeps 5,000/s.
#if defined(__SANITIZE_ADDRESS__)
constexpr long kDefaultRate = 2'000;
constexpr long kDefaultRssCeilingMiB = 768;
constexpr long kDefaultRecoveryLimitS = 75;
constexpr double kRecoverySecondsPerOutageSecond = 3.75;  // 75 s for the nominal 20 s outage
#else
constexpr long kDefaultRate = 5'000;
constexpr long kDefaultRssCeilingMiB = 256;
constexpr long kDefaultRecoveryLimitS = 30;
constexpr double kRecoverySecondsPerOutageSecond = 0;  // release: the fixed 30 s target
#endif

struct Load {
  long rate = chaos::envLong("CHAOS_RATE", kDefaultRate);
  long warmup_s = chaos::envLong("CHAOS_WARMUP_S", 8);
  long after_s = chaos::envLong("CHAOS_AFTER_S", 5);
  long batch_rows = chaos::envLong("CHAOS_BATCH_ROWS", 1'000);
};

struct Scenario {
  std::string table = e2e::uniqueName("chaos_out");
  std::string pipeline;
  std::string rows_topic = "chaos." + table + ".rows";
  std::filesystem::path dir;
  std::filesystem::path config;
  std::filesystem::path log;

  Scenario(const std::string& name, const std::string& bootstrap, const std::string& connection, long batch_rows) {
    pipeline = table;
    std::replace(pipeline.begin(), pipeline.end(), '_', '-');
    dir = e2e::tempDir(name);
    config = dir / "dutybridge.yaml";
    log = dir / "dutybridge.log";
    std::ofstream(dir / "rows.yaml") << chaos::rowMapping("chaos-rows-" + pipeline, rows_topic);
    std::ofstream(config) << chaos::kafkaYaml(bootstrap, table)
                          << chaos::pipelineYaml(pipeline, connection, table, "rows.yaml", batch_rows);
  }
  std::string logText() const { return e2e::readFile(log); }
};

}  // namespace

TEST_CASE("broker outage under steady load: nothing lost or duplicated, bounded memory, quick catch-up",
          "[chaos][outage][kafka]") {
  const auto started = std::chrono::steady_clock::now();
  const Load load;
  const long outage_s = chaos::envLong("CHAOS_BROKER_OUTAGE_S", 20);
  const long rss_ceiling_mib = chaos::envLong("CHAOS_RSS_CEILING_MIB", kDefaultRssCeilingMiB);
  long recovery_limit_s = chaos::envLong("CHAOS_RECOVERY_LIMIT_S", kDefaultRecoveryLimitS);
  const bool recovery_limit_given = std::getenv("CHAOS_RECOVERY_LIMIT_S") != nullptr;
  const chaos::Pg pg = chaos::Pg::fromEnv();
  testing::kafkaBootstrap();  // the shared services must be there, as for every chaos test

  chaos::PrivateService broker("kafka-local", e2e::tempDir("chaos-broker"));
  {
    INFO(broker.scriptLog());
    REQUIRE(broker.command("start") == 0);
  }
  const std::string bootstrap = fmt::format("127.0.0.1:{}", broker.port());
  Scenario s("chaos-broker-outage", bootstrap, "${env:DUTYBRIDGE_TEST_PG_ODBC}", load.batch_rows);
  chaos::psql(pg, chaos::createReportTableSql(s.table));

  chaos::Writer writer(pg, s.table, 1, load.rate);
  Daemon daemon(s.config, s.log, /*once=*/false);
  chaos::RssSampler rss(daemon.pid());
  chaos::LiveCounter live(bootstrap, s.rows_topic);
  REQUIRE(live.ok());
  // Steady state first: records flowing (the first start creates topics, so it may take a
  // while on a busy machine), then CHAOS_WARMUP_S of load.
  {
    const bool flowing = chaos::waitFor([&] { return live.count() > 0 || !daemon.running(); }, std::chrono::seconds(90));
    INFO(s.logText());
    REQUIRE(daemon.running());
    REQUIRE(flowing);
  }
  std::this_thread::sleep_for(std::chrono::seconds(load.warmup_s));
  const long before_outage = live.count();

  const auto down_at = std::chrono::steady_clock::now();
  {
    INFO(broker.scriptLog());
    REQUIRE(broker.command("stop") == 0);
  }
  std::this_thread::sleep_for(std::chrono::seconds(outage_s) - (std::chrono::steady_clock::now() - down_at));
  {
    INFO(broker.scriptLog());
    REQUIRE(broker.command("start") == 0);
  }
  const auto up_at = std::chrono::steady_clock::now();
  const double outage_measured_s = std::chrono::duration<double>(up_at - down_at).count();
  if (!recovery_limit_given) {
    recovery_limit_s = std::max(recovery_limit_s,
                                static_cast<long>(std::ceil(kRecoverySecondsPerOutageSecond * outage_measured_s)));
  }
  // Caught up: everything inserted until the broker came back is visible (read_committed).
  const long target = chaos::psqlLong(pg, fmt::format("SELECT count(*) FROM {};", s.table));
  const bool recovered = chaos::waitFor([&] { return live.count() >= target; }, std::chrono::seconds(180));
  const double recovery_s = chaos::secondsSince(up_at);

  std::this_thread::sleep_for(std::chrono::seconds(load.after_s));
  writer.stop();
  const long total = chaos::psqlLong(pg, fmt::format("SELECT count(*) FROM {};", s.table));
  const bool drained = chaos::waitFor([&] { return live.count() >= total; }, std::chrono::seconds(180));
  {
    INFO(s.logText());
    REQUIRE(daemon.running());
  }
  daemon.signal(SIGTERM);
  const int status = daemon.wait(std::chrono::seconds(60));
  const long max_rss_mib = rss.maxKiB() / 1024;

  auto c = chaos::census(chaos::readCommitted(bootstrap, s.rows_topic), chaos::reportNumbers(pg, s.table));
  chaos::reportFigures(fmt::format(
      "broker outage: rows {} (~{}/s), outage {:.1f} s, delivered before it {}, lost {}, duplicates {}, unexpected {}, "
      "max RSS {} MiB (ceiling {}), caught up {:.1f} s after the broker's return (limit {} s){}, writer retries {}, "
      "elapsed {:.1f} s",
      total, load.rate, outage_measured_s, before_outage, c.missing, c.duplicates, c.unexpected, max_rss_mib,
      rss_ceiling_mib, recovery_s, recovery_limit_s, recovered ? "" : " (NOT caught up)", writer.failures(),
      chaos::secondsSince(started)));
  INFO(fmt::format("examples: {}\nlog: {}\n{}", fmt::join(c.examples, ", "), s.log.string(), s.logText()));
  CHECK(status == 0);
  CHECK(drained);
  CHECK(c.expected == total);
  CHECK(c.missing == 0);
  CHECK(c.duplicates == 0);
  CHECK(c.unexpected == 0);
  CHECK(max_rss_mib < rss_ceiling_mib);
  CHECK(recovered);
  CHECK(recovery_s <= static_cast<double>(recovery_limit_s));
}

TEST_CASE("PostgreSQL outage under steady load: nothing lost or duplicated", "[chaos][outage][postgresql]") {
  const auto started = std::chrono::steady_clock::now();
  const Load load;
  const long outage_s = chaos::envLong("CHAOS_DB_OUTAGE_S", 10);
  const std::string bootstrap = testing::kafkaBootstrap();
  chaos::Pg::fromEnv();  // the shared services must be there, as for every chaos test

  chaos::PrivateService cluster("pg-local", e2e::tempDir("chaos-pg"));
  {
    INFO(cluster.scriptLog());
    REQUIRE(cluster.command("start") == 0);
  }
  const chaos::Pg pg{"127.0.0.1", std::to_string(cluster.port()), "dutybridge",
                     e2e::readFile(cluster.runDir() / "pg" / "password"), "dutybridge"};
  REQUIRE(!pg.password.empty());
  Scenario s("chaos-db-outage", bootstrap, pg.odbc(), load.batch_rows);
  chaos::psql(pg, chaos::createReportTableSql(s.table));

  chaos::Writer writer(pg, s.table, 1, load.rate);
  Daemon daemon(s.config, s.log, /*once=*/false);
  chaos::RssSampler rss(daemon.pid());
  chaos::LiveCounter live(bootstrap, s.rows_topic);
  REQUIRE(live.ok());
  // Steady state first: records flowing (the first start creates topics, so it may take a
  // while on a busy machine), then CHAOS_WARMUP_S of load.
  {
    const bool flowing = chaos::waitFor([&] { return live.count() > 0 || !daemon.running(); }, std::chrono::seconds(90));
    INFO(s.logText());
    REQUIRE(daemon.running());
    REQUIRE(flowing);
  }
  std::this_thread::sleep_for(std::chrono::seconds(load.warmup_s));

  const auto down_at = std::chrono::steady_clock::now();
  {
    INFO(cluster.scriptLog());
    REQUIRE(cluster.command("stop") == 0);
  }
  std::this_thread::sleep_for(std::chrono::seconds(outage_s) - (std::chrono::steady_clock::now() - down_at));
  {
    INFO(cluster.scriptLog());
    REQUIRE(cluster.command("start") == 0);
  }
  const auto up_at = std::chrono::steady_clock::now();
  const double outage_measured_s = std::chrono::duration<double>(up_at - down_at).count();
  // The writer retries the insert the outage interrupted: wait until it is in.
  const long next_at_return = writer.nextId();
  {
    INFO(writer.lastError());
    REQUIRE(chaos::waitFor([&] { return writer.nextId() > next_at_return; }, std::chrono::seconds(30)));
  }
  const long target = chaos::psqlLong(pg, fmt::format("SELECT count(*) FROM {};", s.table));
  const bool recovered = chaos::waitFor([&] { return live.count() >= target; }, std::chrono::seconds(180));
  const double recovery_s = chaos::secondsSince(up_at);

  std::this_thread::sleep_for(std::chrono::seconds(load.after_s));
  writer.stop();
  const long total = chaos::psqlLong(pg, fmt::format("SELECT count(*) FROM {};", s.table));
  const bool drained = chaos::waitFor([&] { return live.count() >= total; }, std::chrono::seconds(180));
  {
    INFO(s.logText());
    REQUIRE(daemon.running());
  }
  daemon.signal(SIGTERM);
  const int status = daemon.wait(std::chrono::seconds(60));
  const long max_rss_mib = rss.maxKiB() / 1024;

  auto c = chaos::census(chaos::readCommitted(bootstrap, s.rows_topic), chaos::reportNumbers(pg, s.table));
  chaos::reportFigures(fmt::format(
      "database outage: rows {} (~{}/s), outage {:.1f} s, lost {}, duplicates {}, unexpected {}, max RSS {} MiB, "
      "caught up {:.1f} s after the database's return{}, writer retries {}, elapsed {:.1f} s",
      total, load.rate, outage_measured_s, c.missing, c.duplicates, c.unexpected, max_rss_mib, recovery_s,
      recovered ? "" : " (NOT caught up)", writer.failures(), chaos::secondsSince(started)));
  INFO(fmt::format("examples: {}\nlog: {}\n{}", fmt::join(c.examples, ", "), s.log.string(), s.logText()));
  CHECK(status == 0);
  CHECK(recovered);
  CHECK(drained);
  CHECK(c.expected == total);
  CHECK(c.missing == 0);
  CHECK(c.duplicates == 0);
  CHECK(c.unexpected == 0);
  CHECK_THAT(s.logText(), Catch::Contains("retrying"));
}
