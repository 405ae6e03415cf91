// dutybridge as a systemd service, against the real broker and PostgreSQL, with a notification
// socket standing in for systemd (NOTIFY_SOCKET, WATCHDOG_USEC): READY=1 once the pipelines run,
// STATUS= lines, WATCHDOG=1 while healthy and not while a pipeline is wedged, STOPPING=1 on
// SIGTERM; and reload: a broken file keeps the running pipelines, a changed mapping rebuilds only
// its pipeline, through SIGHUP, the admin API and `dutybridge reload`.
//
// DUTYBRIDGE_BINARY_UNDER_TEST picks the binary (the package install test runs these against
// the installed /usr/bin/dutybridge).

#include <fstream>
#include <thread>

#include "tests/e2e/admin_pipeline.h"
#include "tests/e2e/e2e_util.h"
#include "tests/support/http.h"
#include "tests/support/notify_socket.h"

using namespace dutybridge;
using e2e::Daemon;
using nlohmann::json;
using namespace std::chrono_literals;

namespace {

// Two pipelines over two tables: `plain` (no mapping) and `mapped` (a mapping file that tags
// each row with `tag`), the admin API on, a pid file.
struct TwoPipelines {
  e2e::AdminPipeline plain{"svc-plain"};
  e2e::AdminPipeline mapped{"svc-mapped"};
  std::filesystem::path mapping = plain.dir / "tag.yaml";
  std::filesystem::path pid_file = plain.dir / "dutybridge.pid";
  std::filesystem::path& config = plain.config;
  std::string service_extra;

  void writeMapping(const std::string& tag, int version) const {
    std::ofstream(mapping) << fmt::format(R"(name: svc-tag
version: {}
input:
  id: int
  qty: int
  updated_at: timestamp
emit:
  - to: {}
    key: id
    fields:
      id: id
      qty: qty
      tag: '"{}"'
)",
                                          version, mapped.topic, tag);
  }

  std::string pipelineYaml(const e2e::AdminPipeline& p, const std::string& extra) const {
    return fmt::format(R"(  - name: {}
    source:
      type: odbc
      connection: "{}"
      table: {}
      mode: timestamp+incrementing
      timestamp_column: updated_at
      incrementing_column: id
      timestamp_zone: UTC
      commit_lag: 0s
      poll_interval: 100ms
{}    sink:
      type: kafka
      topic: {}
      key: [id]
)",
                       p.pipeline, p.pg.odbc(), p.table, extra, p.topic);
  }

  std::string configText() const {
    return fmt::format(R"(kafka:
  bootstrap_servers: {}
  state_topic: e2e.{}.state
  dlq_topic: e2e.{}.dlq
admin:
  enabled: true
  listen: 127.0.0.1:{}
  token: ${{env:DUTYBRIDGE_E2E_ADMIN_TOKEN}}
service:
  pid_file: {}
{}log:
  level: info
pipelines:
{}{})",
                       testing::kafkaBootstrap(), plain.table, plain.table, plain.port, pid_file.string(),
                       service_extra, pipelineYaml(plain, ""), pipelineYaml(mapped, "    mapping: tag.yaml\n"));
  }

  void writeConfig() const { std::ofstream(config) << configText(); }

  json status(const e2e::AdminPipeline& p) const {
    return json::parse(plain.get("/api/v1/pipelines/" + p.pipeline).body);
  }
  uint64_t restarts(const e2e::AdminPipeline& p) const {
    return status(p).at("counters").at("restarts").get<uint64_t>();
  }
  std::string logText() const { return plain.logText(); }
};

// How often each id reached `topic`, and the tags seen per id.
std::map<long, int> idCounts(const std::string& topic) {
  std::map<long, int> seen;
  for (const auto& m : e2e::readTopic(testing::kafkaBootstrap(), topic)) ++seen[m.json.at("id").get<long>()];
  return seen;
}

}  // namespace

TEST_CASE("service e2e: READY=1 once the pipelines run, STATUS lines, WATCHDOG=1 while healthy, STOPPING=1 on SIGTERM",
          "[e2e][service]") {
  e2e::AdminPipeline setup("svc-notify");
  setup.writeConfig(testing::kafkaBootstrap(), setup.kafkaSink(),
                    "service:\n  pid_file: " + (setup.dir / "d.pid").string() + "\n");
  setup.insertRows(20);
  testing::NotifySocket systemd(setup.dir / "notify");
  testing::ScopedEnv socket("NOTIFY_SOCKET", systemd.path().string());
  testing::ScopedEnv watchdog("WATCHDOG_USEC", "1000000");  // WatchdogSec=1s: a ping every 500 ms
  Daemon daemon(setup.config, setup.log, false);
  const long ready = systemd.waitFor("READY=1", 60s);
  INFO(setup.logText());
  INFO(systemd.dump());
  REQUIRE(ready >= 0);
  // READY=1 means what /readyz means.
  CHECK(setup.get("/readyz").status == 200);
  CHECK(systemd.count("READY=1") == 1);
  // The pid file names the daemon.
  CHECK(std::stol(testing::readFile(setup.dir / "d.pid")) == daemon.pid());

  e2e::waitForMessages(testing::kafkaBootstrap(), setup.topic, 20, 60s);
  const size_t pings = systemd.count("WATCHDOG=1");
  std::this_thread::sleep_for(1500ms);
  CHECK(systemd.count("WATCHDOG=1") >= pings + 2);
  // STATUS= says what runs, how fast and how far behind, in words (the rate from the second
  // line on, every 5 s).
  REQUIRE(systemd.waitFor("STATUS=1 pipeline running", 15s, static_cast<size_t>(ready)) >= 0);
  std::string last_status;
  CHECK(testing::waitFor(
      [&] {
        for (const auto& m : systemd.messages()) {
          if (m.line.starts_with("STATUS=")) last_status = m.line;
        }
        return last_status.find("rows/min") != std::string::npos;
      },
      15s));
  INFO(last_status);
  CHECK(last_status.starts_with("STATUS=1 pipeline running, "));
  CHECK(last_status.find("lag ") != std::string::npos);
  const auto messages = systemd.messages();
  // Time between pings stays well under the timeout.
  std::chrono::steady_clock::time_point previous{};
  std::chrono::milliseconds longest{0};
  for (const auto& m : messages) {
    if (m.line != "WATCHDOG=1") continue;
    if (previous != std::chrono::steady_clock::time_point{}) {
      longest = std::max(longest, std::chrono::duration_cast<std::chrono::milliseconds>(m.at - previous));
    }
    previous = m.at;
  }
  CHECK(longest < 1000ms);

  const auto before_stop = systemd.messages().size();
  const auto signalled = std::chrono::steady_clock::now();
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(10s) == 0);
  CHECK(std::chrono::steady_clock::now() - signalled < 10s);
  CHECK(systemd.waitFor("STOPPING=1", 1s, before_stop) >= 0);
  CHECK_FALSE(std::filesystem::exists(setup.dir / "d.pid"));  // removed at exit
}

TEST_CASE("service e2e: a pipeline blocked in its source query stops the watchdog pings until it moves again",
          "[e2e][service]") {
  e2e::AdminPipeline setup("svc-wedged");
  setup.writeConfig(testing::kafkaBootstrap(), setup.kafkaSink(), "service:\n  stuck_after: 2s\n");
  setup.insertRows(5);
  testing::NotifySocket systemd(setup.dir / "notify");
  testing::ScopedEnv socket("NOTIFY_SOCKET", systemd.path().string());
  testing::ScopedEnv watchdog("WATCHDOG_USEC", "1000000");
  Daemon daemon(setup.config, setup.log, false);
  REQUIRE(systemd.waitFor("READY=1", 60s) >= 0);
  // A source that blocks: another session holds an exclusive lock on the table, so the next
  // poll's SELECT waits (its query_timeout is minutes away).
  std::jthread locker([&] {
    testing::psql(setup.pg, fmt::format("BEGIN; LOCK TABLE {} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(7); COMMIT;",
                                        setup.table));
  });
  const bool withheld =
      testing::waitFor([&] { return setup.logText().find("withholding the watchdog") != std::string::npos; }, 6s);
  INFO(setup.logText());
  REQUIRE(withheld);
  // No ping while it is stuck: systemd would restart the service after WatchdogSec.
  const size_t pings = systemd.count("WATCHDOG=1");
  std::this_thread::sleep_for(1500ms);
  CHECK(systemd.count("WATCHDOG=1") == pings);
  CHECK(setup.logText().find("has been in step source.poll") != std::string::npos);
  locker.join();
  // The lock is gone, the poll returns: pings again.
  CHECK(testing::waitFor([&] { return systemd.count("WATCHDOG=1") > pings + 2; }, 10s));
  CHECK(setup.logText().find("feeding the watchdog again") != std::string::npos);
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(30s) == 0);
}

TEST_CASE(
    "service e2e: reload keeps the running pipelines on a broken file and rebuilds only the one a changed "
    "mapping concerns",
    "[e2e][service]") {
  TwoPipelines s;
  s.writeMapping("v1", 1);
  s.writeConfig();
  s.plain.insertRows(30);
  s.mapped.insertRows(30);
  testing::NotifySocket systemd(s.plain.dir / "notify");
  testing::ScopedEnv socket("NOTIFY_SOCKET", systemd.path().string());
  Daemon daemon(s.config, s.plain.log, false);
  REQUIRE(systemd.waitFor("READY=1", 60s) >= 0);
  e2e::waitForMessages(testing::kafkaBootstrap(), s.plain.topic, 30, 60s);
  e2e::waitForMessages(testing::kafkaBootstrap(), s.mapped.topic, 30, 60s);
  INFO(s.logText());

  SECTION("a file with errors changes nothing: every error is logged with its location") {
    const std::string good = s.configText();
    std::string broken = good;
    broken.replace(broken.find("      poll_interval: 100ms"), 26, "      poll_interval: soon\n      no_such_key: 1");
    std::ofstream(s.config) << broken;
    const auto messages_before = systemd.messages().size();
    daemon.signal(SIGHUP);
    REQUIRE(testing::waitFor([&] { return s.logText().find("reload refused") != std::string::npos; }, 20s));
    const std::string log = s.logText();
    CHECK(log.find("poll_interval") != std::string::npos);
    CHECK(log.find("no_such_key") != std::string::npos);
    CHECK(log.find(s.config.filename().string() + ":") != std::string::npos);  // located: file:line:column
    CHECK(systemd.waitFor("RELOADING=1", 500ms, messages_before) < 0);
    // Both keep running and delivering; nothing was restarted.
    s.plain.insertRows(10);
    s.mapped.insertRows(10);
    e2e::waitForMessages(testing::kafkaBootstrap(), s.plain.topic, 40, 60s);
    e2e::waitForMessages(testing::kafkaBootstrap(), s.mapped.topic, 40, 60s);
    CHECK(s.status(s.plain).at("state") == "running");
    CHECK(s.restarts(s.plain) == 0);
    CHECK(s.restarts(s.mapped) == 0);
    // /metrics tells an alert that the file on disk is not the one in force.
    const std::string metrics = s.plain.get("/metrics").body;
    CHECK(metrics.find("dutybridge_config_last_reload_successful 0") != std::string::npos);
    CHECK(metrics.find("dutybridge_config_reloads_total{result=\"invalid\"} 1") != std::string::npos);
    // The admin API answers the same refusal with the errors.
    auto answer = s.plain.write("POST", "/api/v1/reload");
    CHECK(answer.status == 422);
    CHECK(json::parse(answer.body).at("errors").get<std::string>().find("no_such_key") != std::string::npos);
    // `dutybridge reload` says so, with exit status 2 (it reads the config to find the daemon:
    // the good one).
    std::ofstream(s.config) << good;
    auto unchanged = s.plain.cli("reload");
    CHECK(unchanged.status == 0);
    CHECK(unchanged.output.find("nothing any pipeline depends on changed") != std::string::npos);
    CHECK(s.plain.get("/metrics").body.find("dutybridge_config_last_reload_successful 1") != std::string::npos);
  }

  SECTION("a changed mapping rebuilds that pipeline only: nothing lost, nothing twice") {
    s.mapped.insertRows(20);  // rows arriving while the reload happens
    s.writeMapping("v2", 2);
    const auto messages_before = systemd.messages().size();
    const auto plain_restarts = s.restarts(s.plain);
    daemon.signal(SIGHUP);
    REQUIRE(testing::waitFor([&] { return s.logText().find("reload done") != std::string::npos; }, 60s));
    const std::string log = s.logText();
    CHECK(log.find("reload: pipeline " + s.mapped.pipeline + ": " + s.mapping.string() + " changed") !=
          std::string::npos);
    CHECK(log.find("rebuilt [" + s.mapped.pipeline + "]") != std::string::npos);
    CHECK(log.find("unchanged [" + s.plain.pipeline + "]") != std::string::npos);
    const long reloading = systemd.waitFor("RELOADING=1", 5s, messages_before);
    REQUIRE(reloading >= 0);
    CHECK(systemd.messages().at(static_cast<size_t>(reloading) + 1).line.starts_with("MONOTONIC_USEC="));
    CHECK(systemd.waitFor("READY=1", 5s, static_cast<size_t>(reloading)) > reloading);
    CHECK(s.restarts(s.plain) == plain_restarts);
    CHECK(s.restarts(s.mapped) == 1);
    // New rows go through the new mapping; every row arrived exactly once.
    s.mapped.insertRows(10);
    s.plain.insertRows(10);
    e2e::waitForMessages(testing::kafkaBootstrap(), s.mapped.topic, 60, 60s);
    e2e::waitForMessages(testing::kafkaBootstrap(), s.plain.topic, 40, 60s);
    auto mapped_ids = idCounts(s.mapped.topic);
    CHECK(mapped_ids.size() == 60);
    for (const auto& [id, n] : mapped_ids) CHECK(n == 1);
    auto plain_ids = idCounts(s.plain.topic);
    CHECK(plain_ids.size() == 40);
    for (const auto& [id, n] : plain_ids) CHECK(n == 1);
    std::string last_tag;
    for (const auto& m : e2e::readTopic(testing::kafkaBootstrap(), s.mapped.topic)) {
      if (m.json.at("id").get<long>() == 60) last_tag = m.json.at("tag").get<std::string>();
    }
    CHECK(last_tag == "v2");

    // The admin API and the CLI: a second pipeline removed, then added back.
    std::string without_mapped = s.configText();
    without_mapped.erase(without_mapped.find("  - name: " + s.mapped.pipeline));
    std::ofstream(s.config) << without_mapped;
    auto removed = s.plain.write("POST", "/api/v1/reload");
    INFO(removed.body);
    CHECK(removed.status == 200);
    CHECK(json::parse(removed.body).at("removed") == json::array({s.mapped.pipeline}));
    CHECK(s.plain.get("/api/v1/pipelines/" + s.mapped.pipeline).status == 404);
    s.writeConfig();
    auto added = s.plain.cli("reload");
    CHECK(added.status == 0);
    CHECK(added.output.find("added " + s.mapped.pipeline) != std::string::npos);
    CHECK(testing::waitFor([&] { return s.status(s.mapped).at("state") == "running"; }, 30s));
    CHECK(s.restarts(s.plain) == plain_restarts);
  }

  daemon.signal(SIGTERM);
  CHECK(daemon.wait(30s) == 0);
}

TEST_CASE("service e2e: without the admin API, dutybridge reload signals the process in the pid file",
          "[e2e][service]") {
  TwoPipelines s;
  s.writeMapping("v1", 1);
  std::string text = s.configText();
  text.replace(text.find("  enabled: true"), 15, "  enabled: false");
  std::ofstream(s.config) << text;
  s.mapped.insertRows(5);
  Daemon daemon(s.config, s.plain.log, false);
  REQUIRE(testing::waitFor([&] { return std::filesystem::exists(s.pid_file); }, 30s));
  e2e::waitForMessages(testing::kafkaBootstrap(), s.mapped.topic, 5, 60s);
  s.writeMapping("v2", 2);
  auto sent = s.plain.cli("reload");
  INFO(s.plain.last_err);
  CHECK(sent.status == 0);
  CHECK(sent.output.find("sent SIGHUP to dutybridge (pid " + std::to_string(daemon.pid()) + ")") != std::string::npos);
  CHECK(testing::waitFor([&] { return s.logText().find("reload done") != std::string::npos; }, 60s));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(30s) == 0);
  CHECK_FALSE(std::filesystem::exists(s.pid_file));
  // A stale pid file is refused rather than signalling whatever has that pid now (here: this
  // test process, whose name only begins like ours).
  std::ofstream(s.pid_file) << ::getpid() << "\n";
  auto stale = s.plain.cli("reload");
  CHECK(stale.status == 1);
  CHECK(s.plain.last_err.find("is not a running dutybridge") != std::string::npos);
}
