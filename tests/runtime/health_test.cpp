// The health rules systemd and the admin API share (src/runtime/health.h), the file-read record
// a reload compares, and the config digests that tell which pipelines a change concerns.

#include "src/runtime/health.h"

#include <catch2/catch.hpp>
#include <fstream>

#include "connectors/builtin.h"
#include "src/common/file_read.h"
#include "src/config/daemon_config.h"
#include "src/runtime/pipeline_status.h"
#include "tests/support/files.h"

using namespace dutybridge;
using namespace std::chrono_literals;

namespace {

struct Views {
  std::vector<config::PipelineConfig> configs;
  std::vector<std::shared_ptr<runtime::PipelineStatus>> statuses;
  std::vector<runtime::PipelineView> views;

  explicit Views(std::initializer_list<std::string> names) {
    configs.reserve(names.size());
    for (const auto& name : names) {
      configs.emplace_back().name = name;
      statuses.push_back(std::make_shared<runtime::PipelineStatus>());
    }
    for (size_t i = 0; i < configs.size(); ++i) views.push_back({&configs[i], statuses[i], true, false, false});
  }
};

}  // namespace

TEST_CASE("health: ready when every pipeline runs, stuck when one step outlasts the limit", "[unit][health]") {
  Views v{"mes", "erp"};
  v.statuses[0]->setState(runtime::PipelineState::Running);
  CHECK(runtime::notReadyReasons(v.views, false) == std::vector<std::string>{"erp: starting"});
  v.statuses[1]->setState(runtime::PipelineState::Running);
  CHECK(runtime::notReadyReasons(v.views, false).empty());
  CHECK(runtime::notReadyReasons(v.views, true) == std::vector<std::string>{"the daemon is stopping"});
  // Stopped through the admin API on purpose: still ready.
  v.statuses[1]->setState(runtime::PipelineState::Stopped);
  v.views[1].stopped_by_admin = true;
  CHECK(runtime::notReadyReasons(v.views, false).empty());

  v.statuses[0]->beginStep("source.poll");
  CHECK(runtime::stuckSteps(v.views, 1h).empty());
  const auto stuck = runtime::stuckSteps(v.views, 0ms);
  REQUIRE(stuck.size() == 1);
  CHECK(stuck[0].pipeline == "mes");
  CHECK(stuck[0].step == "source.poll");
  // Not running: no step to be stuck in.
  v.views[0].running = false;
  CHECK(runtime::stuckSteps(v.views, 0ms).empty());
}

TEST_CASE("health: the STATUS= line says what runs, how fast and how far behind", "[unit][health]") {
  Views v{"mes", "erp", "crm"};
  runtime::StatusLine line;
  const auto t0 = std::chrono::steady_clock::now();
  const std::string starting = line.update(v.views, false, t0);
  CHECK(starting.starts_with("3 of 3 pipelines not ready (mes: starting), 3 pipelines running"));
  for (auto& s : v.statuses) s->setState(runtime::PipelineState::Running);
  v.statuses[0]->stats.records_delivered = 12'400;
  v.statuses[0]->stats.newest_event_unix_ms = runtime::unixMillisNow() - 2'000;
  CHECK(line.update(v.views, false, t0 + 60s) == "3 pipelines running, 12,400 rows/min, lag 2 s");
  v.statuses[2]->failed(core::Error{core::ErrorKind::Permanent, "refused"});
  v.views[2].running = false;
  CHECK(line.update(v.views, false, t0 + 120s)
            .starts_with("1 of 3 pipelines not ready (crm: failed: refused), "
                         "2 pipelines running, 1 failed, 0 rows/min"));
  CHECK(line.update(v.views, true, t0 + 121s).starts_with("stopping: 2 pipelines still delivering"));
  CHECK(runtime::groupThousands(0) == "0");
  CHECK(runtime::groupThousands(999) == "999");
  CHECK(runtime::groupThousands(1'234'567) == "1,234,567");
}

TEST_CASE("reload: a read recorder notes each file read with its digest, recorders nest", "[unit][reload]") {
  testing::TempDir dir("recorder");
  const auto a = dir.write("a.yaml", "a: 1\n");
  const auto b = dir.write("b.csv", "x\n1\n");
  files::ReadRecorder outer;
  REQUIRE(files::readRegularFile(a, 1024, "a"));
  std::vector<files::ReadRecorder::File> inner_files;
  {
    files::ReadRecorder inner;
    REQUIRE(files::readRegularFile(b, 1024, "b"));
    REQUIRE(files::readRegularFile(b, 1024, "b"));  // once
    inner_files = inner.files();
  }
  REQUIRE(inner_files.size() == 1);
  CHECK(inner_files[0].path == b.string());
  CHECK(inner_files[0].sha256 == files::sha256Hex("x\n1\n"));
  REQUIRE(outer.files().size() == 1);
  CHECK(outer.files()[0].path == a.string());
  CHECK(files::sha256Hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("reload: a pipeline's digest changes with its own entry or the kafka section, not with another's",
          "[unit][reload]") {
  core::Registry registry;
  connectors::registerBuiltinConnectors(registry);
  schema::SecretResolver secrets;
  const std::string base = R"(kafka:
  bootstrap_servers: 127.0.0.1:9092
log:
  level: info
pipelines:
  - name: one
    source: {type: generate, rate: 10}
    sink: {type: stdout}
  - name: two
    source: {type: generate, rate: 10}
    sink: {type: stdout}
)";
  auto parse = [&](const std::string& text) {
    auto parsed = config::parseDaemonConfig(text, "c.yaml", registry, secrets);
    INFO((parsed ? std::string() : parsed.error().format()));
    REQUIRE(parsed);
    return std::move(*parsed);
  };
  auto first = parse(base);
  std::string changed = base;
  changed.replace(changed.rfind("rate: 10"), 8, "rate: 20");  // pipeline two
  auto second = parse(changed);
  CHECK(first->pipelines[0].digest == second->pipelines[0].digest);
  CHECK(first->pipelines[1].digest != second->pipelines[1].digest);
  // Comments and moves within the file change nothing.
  auto commented = parse("# a comment\n" + base);
  CHECK(first->pipelines[0].digest == commented->pipelines[0].digest);
  // The log section is not a pipeline's business; the kafka section is everyone's.
  std::string logged = base;
  logged.replace(logged.find("level: info"), 11, "level: debug");
  auto quieter = parse(logged);
  CHECK(first->pipelines[0].digest == quieter->pipelines[0].digest);
  CHECK(first->section_digests.at("log") != quieter->section_digests.at("log"));
  std::string moved = base;
  moved.replace(moved.find("9092"), 4, "9093");
  auto other_cluster = parse(moved);
  CHECK(first->pipelines[0].digest != other_cluster->pipelines[0].digest);
  CHECK(first->pipelines[1].digest != other_cluster->pipelines[1].digest);
}
