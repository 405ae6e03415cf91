// The admin API of the running daemon, against the real broker and PostgreSQL: readiness while
// the broker comes late, live metrics through promtool, a wedged pipeline on /healthz, lag while
// the sink's database is away, and a cursor reset that re-reads from the start.

#include <cstdlib>
#include <thread>

#include "tests/e2e/admin_pipeline.h"
#include "tests/e2e/e2e_util.h"
#include "tests/support/http.h"
#include "tests/support/tcp_proxy.h"

using namespace dutybridge;
using e2e::Daemon;
using nlohmann::json;

TEST_CASE(
    "admin e2e: readiness is 503 with the reason until the broker answers then 200 and live metrics pass promtool",
    "[e2e][admin]") {
  e2e::AdminPipeline setup("admin-ready");
  testing::TcpProxy broker(std::stoi(testing::kafkaBootstrap().substr(testing::kafkaBootstrap().rfind(':') + 1)));
  // The broker "starts late": its bootstrap address refuses connections until the proxy opens.
  setup.writeConfig("127.0.0.1:" + std::to_string(broker.port()), setup.kafkaSink());
  setup.insertRows(50);
  Daemon daemon(setup.config, setup.log, false);
  REQUIRE(testing::waitFor([&] { return setup.get("/readyz").status == 503; }, std::chrono::seconds(20)));
  testing::HttpReply not_ready;
  REQUIRE(testing::waitFor(
      [&] {
        not_ready = setup.get("/readyz");
        return not_ready.body.find("retrying") != std::string::npos;
      },
      std::chrono::seconds(30)));
  INFO(not_ready.body);
  const json reasons = json::parse(not_ready.body).at("reasons");
  REQUIRE(reasons.size() == 1);
  CHECK(reasons.at(0).get<std::string>().starts_with(setup.pipeline + ": starting: "));
  CHECK(setup.get("/healthz").status == 200);  // waiting for a broker is not being wedged
  CHECK(setup.pipelineStatus().at("state") == "starting");

  broker.open();
  CHECK(testing::waitFor([&] { return setup.get("/readyz").status == 200; }, std::chrono::seconds(60)));
  e2e::waitForMessages(testing::kafkaBootstrap(), setup.topic, 50, std::chrono::seconds(60));
  REQUIRE(testing::waitFor([&] { return setup.pipelineStatus().at("counters").at("records_delivered") == 50; },
                           std::chrono::seconds(30)));
  const json status = setup.pipelineStatus();
  CHECK(status.at("state") == "running");
  CHECK(status.at("cursor").at("stored_by") == "state_store");
  CHECK(status.at("cursor").at("value").get<std::string>().find("\"id\":50") != std::string::npos);
  CHECK(status.at("counters").at("retries").get<int>() > 0);

  auto metrics = setup.get("/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("dutybridge_pipeline_records_delivered_total{pipeline=\"" + setup.pipeline + "\"} 50") !=
        std::string::npos);
  CHECK(metrics.body.find("dutybridge_pipeline_end_to_end_latency_seconds_count{pipeline=\"" + setup.pipeline +
                          "\"} 50") != std::string::npos);
  testing::writeFile(setup.dir / "metrics.txt", metrics.body);
  auto checked = testing::runShell("promtool check metrics < " + (setup.dir / "metrics.txt").string() + " 2>&1");
  INFO(checked.output);
  CHECK(checked.status == 0);
  CHECK(checked.output.empty());

  // Writes need the token; reads never did.
  CHECK(setup.write("POST", "/api/v1/pipelines/" + setup.pipeline + "/stop", "", false).status == 401);
  CHECK(setup.pipelineStatus().at("state") == "running");
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(std::chrono::seconds(30)) == 0);
}

TEST_CASE("admin e2e: a pipeline blocked in its source query makes /healthz 503 naming it and the step",
          "[e2e][admin]") {
  e2e::AdminPipeline setup("admin-wedged");
  setup.writeConfig(testing::kafkaBootstrap(), setup.kafkaSink(), "service:\n  stuck_after: 2s\n");
  setup.insertRows(5);
  Daemon daemon(setup.config, setup.log, false);
  REQUIRE(testing::waitFor([&] { return setup.get("/readyz").status == 200; }, std::chrono::seconds(60)));
  CHECK(setup.get("/healthz").status == 200);
  // Another session holds an exclusive lock on the source table: the next poll's SELECT waits.
  std::jthread locker([&] {
    testing::psql(setup.pg, fmt::format("BEGIN; LOCK TABLE {} IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(8); COMMIT;",
                                        setup.table));
  });
  testing::HttpReply unhealthy;
  const bool wedged = testing::waitFor(
      [&] {
        unhealthy = setup.get("/healthz");
        return unhealthy.status == 503;
      },
      std::chrono::seconds(7));
  INFO(unhealthy.body);
  CHECK(wedged);
  if (wedged) {
    const json stuck = json::parse(unhealthy.body).at("stuck").at(0);
    CHECK(stuck.at("pipeline") == setup.pipeline);
    CHECK(stuck.at("step") == "source.poll");
    CHECK(stuck.at("for_seconds").get<double>() >= 2);
    auto metrics = setup.get("/metrics").body;
    CHECK(metrics.find("dutybridge_pipeline_step_seconds{pipeline=\"" + setup.pipeline + "\"}") != std::string::npos);
  }
  locker.join();
  CHECK(testing::waitFor([&] { return setup.get("/healthz").status == 200; }, std::chrono::seconds(10)));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(std::chrono::seconds(30)) == 0);
}

TEST_CASE("admin e2e: lag rises while the sink's database is away and falls after it is back", "[e2e][admin]") {
  e2e::AdminPipeline setup("admin-lag");
  const std::string target = setup.table + "_copy";
  testing::psql(setup.pg, fmt::format("CREATE TABLE {} (id bigint PRIMARY KEY, qty integer, updated_at timestamp)",
                                      target));
  testing::TcpProxy database(std::stoi(setup.pg.port));
  database.open();
  testing::Pg through = setup.pg;
  through.host = "127.0.0.1";
  through.port = std::to_string(database.port());
  setup.writeConfig(testing::kafkaBootstrap(),
                    fmt::format("      type: odbc\n      connection: \"{}\"\n      table: {}\n      key: [id]\n"
                                "      offsets_table: {}_offsets\n      updated_at_column: \"\"\n",
                                through.odbc(), target, setup.table));
  Daemon daemon(setup.config, setup.log, false);
  REQUIRE(testing::waitFor([&] { return setup.get("/readyz").status == 200; }, std::chrono::seconds(60)));
  auto lag = [&] {
    const json status = setup.pipelineStatus();
    return status.at("lag_seconds").is_null() ? -1.0 : status.at("lag_seconds").get<double>();
  };
  std::atomic<bool> inserting{true};
  std::jthread writer([&] {
    while (inserting) {
      setup.insertRows(1);
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  });
  struct StopWriting {
    std::atomic<bool>& flag;
    ~StopWriting() { flag = false; }
  } stop_writing{inserting};  // before the writer joins, also when a REQUIRE fails
  REQUIRE(testing::waitFor([&] { return lag() >= 0 && lag() < 3; }, std::chrono::seconds(30)));

  database.close();  // the sink's connection is cut and new ones are refused
  CHECK(testing::waitFor([&] { return lag() > 6; }, std::chrono::seconds(30)));
  const json away = setup.pipelineStatus();
  CHECK(away.at("state") == "retrying");
  CHECK(away.at("retrying").get<std::string>().starts_with("sink retrying: "));
  CHECK(setup.get("/readyz").status == 503);

  database.open();
  CHECK(testing::waitFor([&] { return lag() >= 0 && lag() < 3; }, std::chrono::seconds(60)));
  // The sink's state is published about once a second.
  CHECK(testing::waitFor([&] { return setup.pipelineStatus().at("state") == "running"; }, std::chrono::seconds(5)));
  CHECK(setup.get("/readyz").status == 200);
  CHECK(setup.pipelineStatus().at("cursor").at("stored_by") == "sink");
  inserting = false;
  writer.join();
  // Everything read reached the copy: nothing was lost while the database was away.
  const long rows = setup.next_id - 1;
  CHECK(testing::waitFor(
      [&] { return testing::psqlLong(setup.pg, fmt::format("SELECT count(*) FROM {}", target)) == rows; },
      std::chrono::seconds(30)));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(std::chrono::seconds(30)) == 0);
}

TEST_CASE("admin e2e: stop then reset the cursor then resume and the pipeline reads its table again from the start",
          "[e2e][admin]") {
  e2e::AdminPipeline setup("admin-cursor");
  setup.writeConfig(testing::kafkaBootstrap(), setup.kafkaSink());
  setup.insertRows(20);
  Daemon daemon(setup.config, setup.log, false);
  const std::string base = "/api/v1/pipelines/" + setup.pipeline;
  e2e::waitForMessages(testing::kafkaBootstrap(), setup.topic, 20, std::chrono::seconds(60));
  REQUIRE(testing::waitFor([&] { return setup.pipelineStatus().at("counters").at("records_delivered") == 20; },
                           std::chrono::seconds(30)));

  // Only while stopped.
  auto running = setup.write("DELETE", base + "/cursor");
  CHECK(running.status == 409);
  CHECK(running.body.find("is running") != std::string::npos);

  CHECK(setup.write("POST", base + "/stop").status == 202);
  REQUIRE(testing::waitFor([&] { return setup.pipelineStatus().at("state") == "stopped"; }, std::chrono::seconds(30)));
  CHECK(setup.get("/readyz").status == 200);  // stopped on purpose is not "not ready"
  const json cursor = json::parse(setup.get(base + "/cursor").body);
  CHECK(cursor.at("position").get<std::string>().find("\"id\":20") != std::string::npos);

  auto malformed = setup.write("PUT", base + "/cursor", R"({"position": "not a cursor"})");
  CHECK(malformed.status == 400);
  CHECK(malformed.body.find("not a position of this pipeline's source") != std::string::npos);
  CHECK(setup.write("DELETE", base + "/cursor").status == 200);
  CHECK(json::parse(setup.get(base + "/cursor").body).at("position").is_null());

  CHECK(setup.write("POST", base + "/resume").status == 202);
  e2e::waitForMessages(testing::kafkaBootstrap(), setup.topic, 40, std::chrono::seconds(60));
  std::map<long, int> seen;
  for (const auto& message : e2e::readTopic(testing::kafkaBootstrap(), setup.topic)) {
    ++seen[message.json.at("id").get<long>()];
  }
  CHECK(seen.size() == 20);
  for (const auto& [id, count] : seen) CHECK(count == 2);
  CHECK(setup.logText().find("cursor deleted through the admin API") != std::string::npos);

  // Restart: stopped, then started again from the stored cursor (nothing is read twice more).
  const auto restarts = setup.pipelineStatus().at("counters").at("restarts").get<int>();
  CHECK(setup.write("POST", base + "/restart").status == 202);
  CHECK(testing::waitFor(
      [&] {
        const json status = setup.pipelineStatus();
        return status.at("state") == "running" && status.at("counters").at("restarts").get<int>() == restarts + 1;
      },
      std::chrono::seconds(30)));
  setup.insertRows(1);
  e2e::waitForMessages(testing::kafkaBootstrap(), setup.topic, 41, std::chrono::seconds(60));
  CHECK(setup.idsInTopic().size() == 21);
  CHECK(setup.logText().find("starting again (restart through the admin API)") != std::string::npos);

  // The whole daemon stops on a signal even with a pipeline stopped through the API.
  CHECK(setup.write("POST", base + "/stop").status == 202);
  REQUIRE(testing::waitFor([&] { return setup.pipelineStatus().at("state") == "stopped"; }, std::chrono::seconds(30)));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(std::chrono::seconds(30)) == 0);
}

TEST_CASE("admin e2e: an exactly-once pipeline gets its new cursor in a transaction of its own sink", "[e2e][admin]") {
  e2e::AdminPipeline setup("admin-cursor-eos");
  setup.delivery = "exactly_once";
  setup.writeConfig(testing::kafkaBootstrap(), setup.kafkaSink());
  setup.insertRows(10);
  Daemon daemon(setup.config, setup.log, false);
  const std::string base = "/api/v1/pipelines/" + setup.pipeline;
  REQUIRE(testing::waitFor([&] { return setup.get("/readyz").status == 200; }, std::chrono::seconds(60)));
  REQUIRE(testing::waitFor([&] { return setup.pipelineStatus().at("counters").at("records_delivered") == 10; },
                           std::chrono::seconds(60)));
  CHECK(setup.write("POST", base + "/stop").status == 202);
  REQUIRE(testing::waitFor([&] { return setup.pipelineStatus().at("state") == "stopped"; }, std::chrono::seconds(30)));
  const std::string position = json::parse(setup.get(base + "/cursor").body).at("position").get<std::string>();
  // Back to after row 4: rows 5..10 are read again.
  std::string earlier = position;
  earlier.replace(earlier.find("\"id\":10"), std::string("\"id\":10").size(), "\"id\":4");
  auto set = setup.write("PUT", base + "/cursor", json{{"position", earlier}}.dump());
  INFO(set.body);
  CHECK(set.status == 200);
  CHECK(json::parse(setup.get(base + "/cursor").body).at("position") == earlier);
  CHECK(setup.logText().find("cursor set through the admin API in a Kafka transaction") != std::string::npos);
  CHECK(setup.write("POST", base + "/resume").status == 202);
  e2e::waitForMessages(testing::kafkaBootstrap(), setup.topic, 16, std::chrono::seconds(60));
  const auto seen = setup.idsInTopic();
  CHECK(seen.size() == 10);
  for (const auto& [id, count] : seen) CHECK(count == (id > 4 ? 2 : 1));
  daemon.signal(SIGTERM);
  CHECK(daemon.wait(std::chrono::seconds(30)) == 0);
}
