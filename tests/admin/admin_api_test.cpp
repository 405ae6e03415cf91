// The admin API's endpoints over a fake daemon: routing, JSON, the token, health and readiness
// reasons, cursor bodies, and /metrics through promtool.

#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "src/admin/admin_api.h"
#include "src/admin/metrics.h"
#include "tests/admin/fake_control.h"
#include "tests/support/files.h"
#include "tests/support/process.h"

using namespace dutybridge;
using nlohmann::json;

namespace {

config::AdminSettings settings(std::optional<std::string> token = "s3cret") {
  config::AdminSettings s;
  s.enabled = true;
  s.listen = "127.0.0.1:0";
  s.token = std::move(token);
  return s;
}

admin::Response call(admin::AdminApi& api, const std::string& method, const std::string& target,
                     const std::string& body = "", const std::string& authorization = "") {
  return api.handle({.method = method,
                     .target = target,
                     .authorization = authorization,
                     .accept = "",
                     .cookie = "",
                     .accept_language = "",
                     .last_event_id = "",
                     .body = body});
}

json bodyOf(const admin::Response& r) { return json::parse(r.body); }

}  // namespace

TEST_CASE("unknown paths and methods answer JSON errors", "[admin]") {
  testing::FakeControl control;
  control.add("mes");
  admin::AdminApi api(control, settings());
  auto missing = call(api, "GET", "/nope");
  CHECK(missing.status == 404);
  CHECK(bodyOf(missing).at("error").get<std::string>().find("no such endpoint") != std::string::npos);
  CHECK(call(api, "GET", "/api/v1/pipelines/other").status == 404);
  CHECK(call(api, "GET", "/api/v1/pipelines/mes/nothing").status == 404);
  auto wrong = call(api, "POST", "/healthz");
  CHECK(wrong.status == 405);
  CHECK(wrong.headers.front() == std::pair<std::string, std::string>{"Allow", "GET, HEAD"});
  CHECK(call(api, "GET", "/api/v1/pipelines/mes/stop").status == 405);
}

TEST_CASE("every write needs the bearer token and reads do not", "[admin]") {
  testing::FakeControl control;
  control.add("mes");
  admin::AdminApi api(control, settings());
  CHECK(call(api, "GET", "/api/v1/pipelines/mes").status == 200);
  auto missing = call(api, "POST", "/api/v1/pipelines/mes/stop");
  CHECK(missing.status == 401);
  CHECK(missing.headers.front().first == "WWW-Authenticate");
  CHECK(call(api, "POST", "/api/v1/pipelines/mes/stop", "", "Bearer wrong").status == 401);
  CHECK(call(api, "POST", "/api/v1/pipelines/mes/stop", "", "Bearer s3cre").status == 401);
  CHECK(call(api, "POST", "/api/v1/pipelines/mes/stop", "", "Basic s3cret").status == 401);
  CHECK(control.calls.empty());
  auto right = call(api, "POST", "/api/v1/pipelines/mes/stop", "", "Bearer s3cret");
  CHECK(right.status == 202);
  CHECK(bodyOf(right).at("state") == "stopped");
  CHECK(control.calls == std::vector<std::string>{"stop mes"});
  // Conflicts come back as 409 with the reason.
  auto again = call(api, "POST", "/api/v1/pipelines/mes/stop", "", "Bearer s3cret");
  CHECK(again.status == 409);
  CHECK(bodyOf(again).at("error") == "is not running");
}

TEST_CASE("without a configured token writes are refused", "[admin]") {
  testing::FakeControl control;
  control.add("mes");
  admin::AdminApi api(control, settings(std::nullopt));
  auto refused = call(api, "POST", "/api/v1/pipelines/mes/stop", "", "Bearer anything");
  CHECK(refused.status == 403);
  CHECK(bodyOf(refused).at("error").get<std::string>().find("admin.token") != std::string::npos);
}

TEST_CASE("readiness names every pipeline that is not ready and why", "[admin]") {
  testing::FakeControl control;
  auto& mes = control.add("mes");
  auto& erp = control.add("erp");
  admin::AdminApi api(control, settings());
  mes.status->setState(runtime::PipelineState::Running);
  erp.status->setState(runtime::PipelineState::Running);
  CHECK(call(api, "GET", "/readyz").status == 200);

  erp.status->setState(runtime::PipelineState::Starting);
  erp.status->retrying("opening the source", core::Error::retryable("connection refused"));
  auto starting = call(api, "GET", "/readyz");
  CHECK(starting.status == 503);
  CHECK(bodyOf(starting).at("reasons") ==
        json::array({"erp: starting: opening the source retrying: connection refused"}));

  erp.status->setState(runtime::PipelineState::Running);
  erp.status->progressed();
  mes.status->retrying("writing to the sink", core::Error::retryable("broker down"));
  auto retrying = call(api, "GET", "/readyz");
  CHECK(bodyOf(retrying).at("reasons") == json::array({"mes: writing to the sink retrying: broker down"}));
  mes.status->progressed();
  CHECK(mes.status->state() == runtime::PipelineState::Running);

  mes.status->failed(core::Error::permanent("table gone"));
  CHECK(bodyOf(call(api, "GET", "/readyz")).at("reasons") == json::array({"mes: failed: table gone"}));

  // Stopped through the API on purpose: not a readiness problem.
  mes.status->setState(runtime::PipelineState::Stopped);
  mes.stopped_by_admin = true;
  CHECK(call(api, "GET", "/readyz").status == 200);
  control.stopping_ = true;
  CHECK(bodyOf(call(api, "GET", "/readyz")).at("reasons") == json::array({"the daemon is stopping"}));
}

TEST_CASE("a pipeline in one step beyond stuck_after makes /healthz fail naming it and the step", "[admin]") {
  testing::FakeControl control;
  auto& mes = control.add("mes");
  mes.status->beginStep("source.poll");
  auto relaxed = settings();
  admin::AdminApi healthy(control, relaxed);
  CHECK(call(healthy, "GET", "/healthz").status == 200);

  // service.stuck_after of the configuration in force (a reload may change it).
  control.stuck_after = std::chrono::milliseconds(0);
  admin::AdminApi& wedged = healthy;
  auto answer = call(wedged, "GET", "/healthz");
  CHECK(answer.status == 503);
  CHECK(bodyOf(answer).at("stuck").at(0).at("pipeline") == "mes");
  CHECK(bodyOf(answer).at("stuck").at(0).at("step") == "source.poll");
  // A pipeline that is not running (stopped, failed) has no step to be stuck in.
  mes.running = false;
  CHECK(call(wedged, "GET", "/healthz").status == 200);
}

TEST_CASE("pipeline status shows state and cursor and counters and lag and gauges", "[admin]") {
  testing::FakeControl control;
  auto& mes = control.add("mes");
  mes.status->setState(runtime::PipelineState::Running);
  mes.status->stats.records_read = 12;
  mes.status->stats.dead_letters_by_stage[1] = 2;
  mes.status->stats.newest_event_unix_ms = runtime::unixMillisNow() - 5000;
  mes.status->cursorStored("{\"ts\":\"2025-03-14T08:00:00Z\",\"id\":7}");
  mes.status->publishGauges({{"quarantined", 3}, {"open_windows", 4}});
  admin::AdminApi api(control, settings());
  auto one = bodyOf(call(api, "GET", "/api/v1/pipelines/mes"));
  CHECK(one.at("state") == "running");
  CHECK(one.at("counters").at("records_read") == 12);
  CHECK(one.at("counters").at("dead_letters").at("mapping") == 2);
  CHECK(one.at("cursor").at("value") == "{\"ts\":\"2025-03-14T08:00:00Z\",\"id\":7}");
  CHECK(one.at("cursor").at("age_seconds").get<double>() < 60);
  CHECK(one.at("lag_seconds").get<double>() >= 5);
  CHECK(one.at("gauges").at("quarantined") == 3);
  auto all = bodyOf(call(api, "GET", "/api/v1/pipelines"));
  CHECK(all.at("pipelines").size() == 1);
}

TEST_CASE("cursor: read and set with a JSON or string position and delete and refuse what cannot be", "[admin]") {
  testing::FakeControl control;
  auto& mes = control.add("mes");
  admin::AdminApi api(control, settings());
  const std::string token = "Bearer s3cret";
  CHECK(bodyOf(call(api, "GET", "/api/v1/pipelines/mes/cursor")).at("position").is_null());
  // Only while stopped.
  CHECK(call(api, "PUT", "/api/v1/pipelines/mes/cursor", R"({"position": "5"})", token).status == 409);
  mes.running = false;
  auto malformed = call(api, "PUT", "/api/v1/pipelines/mes/cursor", "{not json", token);
  CHECK(malformed.status == 400);
  CHECK(bodyOf(malformed).at("error").get<std::string>().find("{\"position\": ...}") != std::string::npos);
  CHECK(call(api, "PUT", "/api/v1/pipelines/mes/cursor", R"({"offset": 5})", token).status == 400);
  CHECK(call(api, "PUT", "/api/v1/pipelines/mes/cursor", R"({"position": null})", token).status == 400);
  auto refused = call(api, "PUT", "/api/v1/pipelines/mes/cursor", R"({"position": "bad"})", token);
  CHECK(refused.status == 400);
  CHECK(bodyOf(refused).at("error") == "not a position: bad");
  CHECK(call(api, "PUT", "/api/v1/pipelines/mes/cursor", R"({"position": {"mes.reports/0": 42}})", token).status ==
        200);
  CHECK(mes.cursor == std::optional<std::string>("{\"mes.reports/0\":42}"));
  CHECK(call(api, "PUT", "/api/v1/pipelines/mes/cursor", R"({"position": "17"})", token).status == 200);
  CHECK(bodyOf(call(api, "GET", "/api/v1/pipelines/mes/cursor")).at("position") == "17");
  CHECK(call(api, "DELETE", "/api/v1/pipelines/mes/cursor", "", token).status == 200);
  CHECK(!mes.cursor);
  CHECK(call(api, "DELETE", "/api/v1/pipelines/mes/cursor").status == 401);
}

TEST_CASE("/metrics passes promtool check metrics", "[admin][promtool]") {
  testing::FakeControl control;
  auto& mes = control.add("mes");
  control.add("hr-loader");
  mes.status->setState(runtime::PipelineState::Running);
  mes.status->stats.records_read = 1000;
  mes.status->stats.newest_event_unix_ms = runtime::unixMillisNow() - 2000;
  mes.status->cursorStored("7");
  mes.status->stats.end_to_end_latency.observe(0.02, 10);
  mes.status->stats.end_to_end_latency.observe(4000, 1);
  mes.status->publishGauges({{"quarantined", 3}, {"open_windows", 4}, {"windows", 9}});
  // What connectors and the transform report (core/metrics.h); an unknown name is left out.
  core::LatencyHistogram transactions;
  transactions.observe(0.003);
  transactions.observe(0.2, 2);
  mes.status->publishMetrics({
      {"dutybridge_kafka_source_consumer_lag_messages",
       {{"topic", "mes.reports"}, {"partition", "0"}},
       core::MetricKind::Gauge,
       12,
       {}},
      {"dutybridge_kafka_source_consumer_lag_messages",
       {{"topic", "mes.reports"}, {"partition", "1"}},
       core::MetricKind::Gauge,
       0,
       {}},
      {"dutybridge_kafka_producer_queue_messages", {{"role", "output"}}, core::MetricKind::Gauge, 40, {}},
      {"dutybridge_kafka_producer_queue_bytes", {{"role", "output"}}, core::MetricKind::Gauge, 4096, {}},
      {"dutybridge_pipeline_revisions_emitted_total", {}, core::MetricKind::Counter, 30, {}},
      {"dutybridge_pipeline_corrections_after_close_total", {}, core::MetricKind::Counter, 2, {}},
      {"dutybridge_odbc_sink_rows_upserted_total", {}, core::MetricKind::Counter, 500, {}},
      transactions.sample("dutybridge_odbc_sink_transaction_duration_seconds"),
      {"dutybridge_not_in_the_table", {}, core::MetricKind::Gauge, 1, {}},
  });
  admin::AdminApi api(control, settings());
  auto metrics = call(api, "GET", "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.content_type.starts_with("text/plain; version=0.0.4"));
  const std::string& text = metrics.body;
  CHECK(text.find("dutybridge_pipeline_records_read_total{pipeline=\"mes\"} 1000") != std::string::npos);
  CHECK(text.find("dutybridge_pipeline_state{pipeline=\"mes\",state=\"running\"} 1") != std::string::npos);
  CHECK(text.find("dutybridge_pipeline_end_to_end_latency_seconds_bucket{pipeline=\"mes\",le=\"0.025\"} 10") !=
        std::string::npos);
  CHECK(text.find("dutybridge_pipeline_end_to_end_latency_seconds_count{pipeline=\"mes\"} 11") != std::string::npos);
  CHECK(text.find("dutybridge_pipeline_quarantined_records{pipeline=\"mes\"} 3") != std::string::npos);
  CHECK(
      text.find(
          "dutybridge_kafka_source_consumer_lag_messages{pipeline=\"mes\",topic=\"mes.reports\",partition=\"0\"} 12") !=
      std::string::npos);
  CHECK(text.find("dutybridge_kafka_producer_queue_bytes{pipeline=\"mes\",role=\"output\"} 4096") != std::string::npos);
  CHECK(text.find("# TYPE dutybridge_pipeline_revisions_emitted_total counter") != std::string::npos);
  CHECK(text.find("dutybridge_pipeline_corrections_after_close_total{pipeline=\"mes\"} 2") != std::string::npos);
  CHECK(text.find("dutybridge_odbc_sink_rows_upserted_total{pipeline=\"mes\"} 500") != std::string::npos);
  CHECK(text.find("dutybridge_odbc_sink_transaction_duration_seconds_bucket{pipeline=\"mes\",le=\"0.005\"} 1") !=
        std::string::npos);
  CHECK(text.find("dutybridge_odbc_sink_transaction_duration_seconds_count{pipeline=\"mes\"} 3") != std::string::npos);
  CHECK(text.find("dutybridge_not_in_the_table") == std::string::npos);
  CHECK(text.find("process_resident_memory_bytes") != std::string::npos);
  CHECK(text.find("process_cpu_seconds_total") != std::string::npos);
  CHECK(text.find("dutybridge_build_info{version=") != std::string::npos);
  CHECK(text.find("dutybridge_config_reloads_total{result=\"invalid\"} 0") != std::string::npos);
  CHECK(text.find("dutybridge_config_last_reload_successful 1") != std::string::npos);
  auto dir = testing::makeTempDir("metrics");
  testing::writeFile(dir / "metrics.txt", text);
  auto checked = testing::runShell("promtool check metrics < " + (dir / "metrics.txt").string() + " 2>&1");
  INFO(checked.output);
  CHECK(checked.status == 0);
  CHECK(checked.output.empty());  // lint findings are printed even when the status is 0
}

TEST_CASE("quarantine: held records by position and reason and age and a retry on request", "[admin]") {
  testing::FakeControl control;
  auto& mes = control.add("mes");
  control.add("plain");
  admin::AdminApi api(control, settings());
  const int64_t now_micros = runtime::unixMillisNow() * 1000;
  mes.status->publishGauges({{"quarantined", 2}});
  mes.status->publishHeld({{"{\"id\":7}", "no badge in table badges", core::Timestamp{now_micros - 90'000'000}},
                           {"{\"id\":9}", "no badge in table badges", core::Timestamp{now_micros - 5'000'000}}});
  auto list = bodyOf(call(api, "GET", "/api/v1/pipelines/mes/quarantine"));
  CHECK(list.at("held") == 2);
  CHECK(list.at("records").size() == 2);
  CHECK(list.at("records").at(0).at("position") == "{\"id\":7}");
  CHECK(list.at("records").at(0).at("reason") == "no badge in table badges");
  CHECK(list.at("records").at(0).at("age_seconds").get<double>() >= 90);
  CHECK(call(api, "POST", "/api/v1/pipelines/mes/quarantine/retry").status == 401);
  CHECK(!mes.status->takeHeldRetry());
  auto retry = call(api, "POST", "/api/v1/pipelines/mes/quarantine/retry", "", "Bearer s3cret");
  CHECK(retry.status == 202);
  CHECK(mes.status->takeHeldRetry());
  CHECK(!mes.status->takeHeldRetry());  // taken once
  // A pipeline without a quarantine says so.
  CHECK(bodyOf(call(api, "GET", "/api/v1/pipelines/plain/quarantine")).at("quarantine") == false);
  CHECK(call(api, "POST", "/api/v1/pipelines/plain/quarantine/retry", "", "Bearer s3cret").status == 409);
}

TEST_CASE("POST /api/v1/reload: the token, then the daemon's outcome as the answer", "[admin]") {
  testing::FakeControl control;
  control.add("mes");
  auto s = settings();
  admin::AdminApi api(control, s);
  std::optional<admin::Response> answer;
  auto reload = [&](const std::string& authorization) {
    answer.reset();
    admin::Request request{.method = "POST",
                           .target = "/api/v1/reload",
                           .authorization = authorization,
                           .accept = "",
                           .cookie = "",
                           .accept_language = "",
                           .last_event_id = "",
                           .body = ""};
    REQUIRE(admin::AdminApi::isReload(request));
    if (auto refused = api.reload(request, [&](admin::Response r) { answer = std::move(r); })) answer = *refused;
    REQUIRE(answer);
    return *answer;
  };
  CHECK(reload("").status == 401);
  CHECK(control.calls.empty());
  CHECK(call(api, "GET", "/api/v1/reload").status == 405);

  control.reload_outcome.result = runtime::ReloadOutcome::Result::Invalid;
  control.reload_outcome.message = "c.yaml:3:5: error: unknown key 'pol_interval'\n";
  auto invalid = reload("Bearer s3cret");
  CHECK(invalid.status == 422);
  CHECK(bodyOf(invalid).at("result") == "invalid");
  CHECK(bodyOf(invalid).at("errors") == "c.yaml:3:5: error: unknown key 'pol_interval'\n");

  control.reload_outcome = {};
  control.reload_outcome.result = runtime::ReloadOutcome::Result::Applied;
  control.reload_outcome.rebuilt = {"mes"};
  control.reload_outcome.notes = {"the admin section changed: it applies at the next restart"};
  auto applied = reload("Bearer s3cret");
  CHECK(applied.status == 200);
  CHECK(bodyOf(applied).at("rebuilt") == json::array({"mes"}));
  CHECK(bodyOf(applied).at("notes").size() == 1);

  control.reload_outcome = {};
  control.reload_outcome.result = runtime::ReloadOutcome::Result::Refused;
  control.reload_outcome.message = "another reload is under way; ask again when it ends";
  CHECK(reload("Bearer s3cret").status == 409);
  CHECK(control.calls.size() == 3);
}

TEST_CASE("the alert rules of docs/operations.md pass promtool check rules", "[admin][promtool]") {
  const std::string doc = testing::readFile(std::filesystem::path(DUTYBRIDGE_SOURCE_DIR) / "docs/operations.md");
  const std::string begin = "### Alert rules\n\n```yaml\n";
  const size_t from = doc.find(begin);
  REQUIRE(from != std::string::npos);
  const size_t to = doc.find("```", from + begin.size());
  REQUIRE(to != std::string::npos);
  auto dir = testing::makeTempDir("rules");
  testing::writeFile(dir / "rules.yaml", doc.substr(from + begin.size(), to - from - begin.size()));
  auto checked = testing::runShell("promtool check rules " + (dir / "rules.yaml").string() + " 2>&1");
  INFO(checked.output);
  CHECK(checked.status == 0);
  CHECK(checked.output.find("SUCCESS") != std::string::npos);
}
