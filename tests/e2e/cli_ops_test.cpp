// `dutybridge status`, `cursor` and `top` against the real broker and PostgreSQL: offline (the
// daemon stopped: the state topic) and live (the daemon running: its admin API).

#include <csignal>
#include <map>

#include "tests/e2e/admin_pipeline.h"
#include "tests/e2e/e2e_util.h"

using namespace dutybridge;
using e2e::Daemon;
using nlohmann::json;

namespace {

// The table and pipeline of the admin e2e tests, its config written at once (kafka sink).
struct CliSetup : e2e::AdminPipeline {
  explicit CliSetup(const std::string& name) : AdminPipeline(name) {
    writeConfig(testing::kafkaBootstrap(), kafkaSink());
  }
};

std::string quoted(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace

TEST_CASE("cli e2e: with the daemon stopped status shows the stored cursor and its age and cursor show set reset work",
          "[e2e][cli]") {
  CliSetup setup("cli-offline");
  setup.insertRows(20);
  {
    Daemon once(setup.config, setup.log, /*once=*/true);
    REQUIRE(once.wait(std::chrono::seconds(120)) == 0);
  }
  REQUIRE(setup.idsInTopic().size() == 20);

  auto status = setup.cli("status --format json");
  INFO(status.output << setup.last_err);
  REQUIRE(status.status == 0);
  const json doc = json::parse(status.output);
  CHECK(doc.at("daemon") == "not_running");
  CHECK(doc.at("source") == "state_store");
  REQUIRE(doc.at("pipelines").size() == 1);
  const json& p = doc.at("pipelines").at(0);
  CHECK(p.at("name") == setup.pipeline);
  CHECK(p.at("health") == "ok");
  CHECK(p.at("cursor").at("stored_by") == "state_store");
  const std::string position = p.at("cursor").at("value").get<std::string>();
  CHECK(position.find("\"id\":20") != std::string::npos);
  CHECK(p.at("cursor").at("stored_at").is_string());
  CHECK(p.at("cursor").at("age_seconds").get<double>() >= 0);
  CHECK(p.at("cursor").at("age_seconds").get<double>() < 600);
  CHECK(p.at("gauges").at("quarantined") == 0);

  auto text = setup.cli("status");
  INFO(text.output);
  CHECK(text.status == 0);
  // The table cuts long cursors short: JSON and `cursor show` give them whole.
  CHECK_THAT(text.output, Catch::Contains("daemon not running") && Catch::Contains(setup.pipeline) &&
                              Catch::Contains("{\"ts\":\"") && Catch::Contains("..."));

  auto shown = setup.cli("cursor show " + setup.pipeline);
  CHECK(shown.status == 0);
  CHECK(shown.output == position + "\n");

  auto malformed = setup.cli("cursor set " + setup.pipeline + " 'not a cursor'");
  INFO(malformed.output << setup.last_err);
  CHECK(malformed.status == 2);
  CHECK_THAT(setup.last_err, Catch::Contains("not a position of this pipeline's source"));
  CHECK(setup.cli("cursor show " + setup.pipeline).output == position + "\n");

  auto set = setup.cli("cursor set " + setup.pipeline + " " + quoted(position));
  INFO(set.output << setup.last_err);
  CHECK(set.status == 0);
  CHECK_THAT(setup.last_err, Catch::Contains("cursor set through the command line (was"));

  auto reset = setup.cli("cursor reset " + setup.pipeline);
  INFO(reset.output << setup.last_err);
  CHECK(reset.status == 0);
  CHECK_THAT(setup.last_err, Catch::Contains("cursor deleted through the command line"));
  CHECK(setup.cli("cursor show " + setup.pipeline).output == "none\n");
  CHECK(json::parse(setup.cli("status --format json").output).at("pipelines").at(0).at("cursor").at("value").is_null());

  // The source reads its table again from the start: every row twice in the topic.
  {
    Daemon again(setup.config, setup.log, /*once=*/true);
    REQUIRE(again.wait(std::chrono::seconds(120)) == 0);
  }
  e2e::waitForMessages(testing::kafkaBootstrap(), setup.topic, 40, std::chrono::seconds(60));
  const auto seen = setup.idsInTopic();
  CHECK(seen.size() == 20);
  for (const auto& [id, count] : seen) CHECK(count == 2);
}

TEST_CASE("cli e2e: with the daemon running status is live and cursor set and reset refuse and top prints a frame",
          "[e2e][cli]") {
  CliSetup setup("cli-live");
  setup.insertRows(10);
  Daemon daemon(setup.config, setup.log, false);
  json live;
  REQUIRE(testing::waitFor(
      [&] {
        auto out = setup.cli("status --format json");
        live = json::parse(out.output, nullptr, false);
        return out.status == 0 && !live.is_discarded() && live.value("source", "") == "admin_api" &&
               live.at("pipelines").at(0).at("counters").at("records_delivered") == 10;
      },
      std::chrono::seconds(60)));
  INFO(live.dump(2));
  CHECK(live.at("daemon") == "running");
  const json& p = live.at("pipelines").at(0);
  CHECK(p.at("state") == "running");
  CHECK(p.at("cursor").at("value").get<std::string>().find("\"id\":10") != std::string::npos);

  auto text = setup.cli("status");
  INFO(text.output);
  CHECK(text.status == 0);
  CHECK_THAT(text.output,
             Catch::Contains("daemon running") && Catch::Contains(setup.pipeline) && Catch::Contains("running"));

  auto shown = setup.cli("cursor show --format json " + setup.pipeline);
  CHECK(shown.status == 0);
  CHECK(json::parse(shown.output).at("daemon") == "running");

  for (const std::string action : {"reset ", "set --daemon-stopped "}) {
    auto refused = setup.cli("cursor " + action + setup.pipeline + (action.starts_with("set") ? " '{}'" : ""));
    INFO(action << refused.output << setup.last_err);
    CHECK(refused.status == 1);
    CHECK_THAT(setup.last_err, Catch::Contains("the daemon is running") &&
                                   Catch::Contains("/api/v1/pipelines/" + setup.pipeline + "/stop"));
  }

  auto top = setup.cli("top --once");
  INFO(top.output << setup.last_err);
  CHECK(top.status == 0);
  // top cuts long names short: the start of this one is enough.
  CHECK_THAT(top.output, Catch::Contains("PIPELINE") && Catch::Contains("READ/s") &&
                             Catch::Contains(setup.pipeline.substr(0, 16)) && Catch::Contains("running"));

  daemon.signal(SIGTERM);
  CHECK(daemon.wait(std::chrono::seconds(30)) == 0);
  auto gone = setup.cli("top --once");
  CHECK(gone.status == 1);
  CHECK_THAT(setup.last_err, Catch::Contains("does not answer"));
  // Stopped now: the same command works offline and the cursor survived the stop.
  auto offline = setup.cli("status --format json");
  INFO(offline.output << setup.last_err);
  CHECK(json::parse(offline.output).at("daemon") == "not_running");
  CHECK(
      json::parse(offline.output).at("pipelines").at(0).at("cursor").at("value").get<std::string>().find("\"id\":10") !=
      std::string::npos);
}
