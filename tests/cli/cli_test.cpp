#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/files.h"
#include "tests/support/process.h"

using namespace dutybridge;

namespace {

const std::filesystem::path kBinary = DUTYBRIDGE_BINARY;
const std::filesystem::path kSource = DUTYBRIDGE_SOURCE_DIR;

using testing::readFile;

// stdout and stderr, interleaved.
testing::Outcome runCli(const std::string& args, const std::string& env = "") {
  return testing::runShell(env + " '" + kBinary.string() + "' " + args + " 2>&1");
}

}  // namespace

TEST_CASE("check accepts the shipped example config", "[cli]") {
  auto result = runCli("check -c '" + (kSource / "config" / "dutybridge.yaml").string() + "'",
                       "DUTYBRIDGE_ERP_PASSWORD=example");
  INFO(result.output);
  CHECK(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains("OK"));
}

TEST_CASE("check accepts the shipped HR store loader config", "[cli]") {
  auto result = runCli("check -c '" + (kSource / "config" / "hr-store.yaml").string() + "'",
                       "DUTYBRIDGE_HR_DB_PASSWORD=example");
  INFO(result.output);
  CHECK(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains("OK, 7 pipeline(s)"));
}

TEST_CASE("check reports every mistake and exits non-zero", "[cli]") {
  auto result = runCli("check -c '" + (kSource / "tests/data/config/five_mistakes.yaml").string() + "'");
  INFO(result.output);
  CHECK(result.status == 2);
  CHECK_THAT(result.output, Catch::Contains("5 errors found"));
}

TEST_CASE("check --print-config redacts secrets", "[cli][secrets]") {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-cli-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "c.yaml") << R"(kafka:
  bootstrap_servers: 127.0.0.1:9092
  librdkafka: {sasl.password: "${env:DUTYBRIDGE_TEST_SECRET}"}
pipelines:
  - name: smoke
    source: {type: generate}
    sink: {type: stdout}
)";
  auto result = runCli("check --print-config -c '" + (dir / "c.yaml").string() + "'",
                       "DUTYBRIDGE_TEST_SECRET=hunter2-do-not-print");
  INFO(result.output);
  CHECK(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains("<redacted>"));
  CHECK_THAT(result.output, !Catch::Contains("hunter2"));
  auto missing = runCli("check -c '" + (dir / "c.yaml").string() + "'", "env -u DUTYBRIDGE_TEST_SECRET");
  CHECK(missing.status == 2);
  CHECK_THAT(missing.output, Catch::Contains("environment variable DUTYBRIDGE_TEST_SECRET is not set"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("list-connectors output matches docs/connectors", "[cli][docs]") {
  for (const char* name : {"generate", "stdout", "odbc", "kafka", "position_catalog"}) {
    INFO(name);
    auto result = runCli(std::string("list-connectors --format markdown ") + name);
    CHECK(result.status == 0);
    CHECK(result.output == readFile(kSource / "docs" / "connectors" / (std::string(name) + ".md")));
  }
  auto text = runCli("list-connectors");
  CHECK_THAT(text.output, Catch::Contains("generate (source)"));
  CHECK_THAT(text.output, Catch::Contains("stdout (sink)"));
  // Reference-table sources are connectors of the same registry, listed with their schemas.
  CHECK_THAT(text.output, Catch::Contains("odbc (table source)") && Catch::Contains("kafka (table source)"));
  auto odbc = runCli("list-connectors --format markdown odbc");
  CHECK_THAT(odbc.output, Catch::Contains("# `odbc:` reference-table source") && Catch::Contains("| `query` |"));
}

TEST_CASE("list-connectors --format man is the manual page dutybridge.yaml(5)", "[cli][docs]") {
  auto page = runCli("list-connectors --format man");
  CHECK(page.status == 0);
  CHECK_THAT(page.output, Catch::StartsWith(".TH DUTYBRIDGE.YAML 5 "));
  // The daemon's keys with their paths, then every connector's.
  CHECK_THAT(page.output, Catch::Contains(".B pipelines[].max_in_flight") && Catch::Contains(".B kafka.state_key") &&
                              Catch::Contains(".SH SOURCES") && Catch::Contains(".SS odbc") &&
                              Catch::Contains(".SH REFERENCE-TABLE SOURCES"));
  // man reads it without a warning, as lintian runs it on the packaged page.
  auto warnings = testing::runShell("'" + kBinary.string() +
                                    "' list-connectors --format man | LC_ALL=C.UTF-8 MANROFFSEQ='' MANWIDTH=80 "
                                    "man --warnings -E UTF-8 -l -Tutf8 -Z - 2>&1 >/dev/null");
  CHECK(warnings.status == 0);
  CHECK(warnings.output.empty());
  CHECK(runCli("list-connectors --format man odbc").status == 2);
}

TEST_CASE("hr-schema prints the HR store DDL per dialect", "[cli][hr-schema]") {
  auto pg = runCli("hr-schema --dialect postgresql");
  CHECK(pg.status == 0);
  CHECK_THAT(pg.output, Catch::Contains("CREATE TABLE duty_kpi_fact") && Catch::Contains("TIMESTAMPTZ") &&
                            Catch::Contains("CREATE VIEW duty_fulfilment") && Catch::Contains("string_agg"));
  auto lite = runCli("hr-schema --dialect sqlite");
  CHECK(lite.status == 0);
  CHECK_THAT(lite.output, Catch::Contains("CREATE TABLE employee_training") && Catch::Contains("group_concat"));
  // The personnel file's assignments: position and department columns, looked up by employee and date.
  for (const auto* ddl : {&pg.output, &lite.output}) {
    size_t start = ddl->find("CREATE TABLE employee_assignment (");
    REQUIRE(start != std::string::npos);
    std::string table = ddl->substr(start, ddl->find(");", start) - start);
    CHECK_THAT(table, Catch::Contains("  position_code TEXT NOT NULL,\n") &&
                          Catch::Contains("  department_code TEXT,\n") && Catch::Contains("  valid_to ") &&
                          !Catch::Contains("  valid_to DATE NOT NULL"));
    CHECK_THAT(*ddl, Catch::Contains("CREATE INDEX employee_assignment_employee ON employee_assignment "
                                     "(employee_no, valid_from)"));
  }
  CHECK_THAT(lite.output, Catch::Contains("PRAGMA journal_mode = WAL;"));
  CHECK_THAT(pg.output, !Catch::Contains("PRAGMA"));
  CHECK(runCli("hr-schema --dialect oracle").status == 2);
  CHECK(runCli("hr-schema").status == 2);
}

TEST_CASE("version, help and usage errors", "[cli]") {
  CHECK_THAT(runCli("version").output, Catch::StartsWith("dutybridge "));
  for (const char* command : {"run", "check", "list-connectors", "hr-schema"}) {
    auto help = runCli(std::string(command) + " --help");
    CHECK(help.status == 0);
    CHECK_THAT(help.output, Catch::StartsWith("Usage: dutybridge"));
  }
  CHECK(runCli("frobnicate").status == 2);
  CHECK(runCli("run").status == 2);
}

TEST_CASE("run stops gracefully on SIGTERM and exits 0", "[cli][run]") {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-run-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto out = dir / "out.jsonl";
  std::ofstream(dir / "c.yaml") << "pipelines:\n  - name: forever\n    source: {type: generate, rate: 2000}\n"
                                   "    sink: {type: stdout, path: '" << out.string() << "'}\n";
  std::string config = (dir / "c.yaml").string();
  std::string log = (dir / "log.txt").string();
  testing::Daemon daemon(kBinary, config, log, false);
  // Wait until records flow, then ask it to stop.
  for (int i = 0; i < 200 && (!std::filesystem::exists(out) || std::filesystem::file_size(out) == 0); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  daemon.signal(SIGTERM);
  int status = daemon.wait(std::chrono::seconds(120));
  std::string log_text = readFile(log);
  INFO(log_text);
  CHECK(status == 0);
  CHECK_THAT(log_text, Catch::Contains("<5>daemon: signal 15 received: stopping pipelines gracefully"));
  CHECK_THAT(log_text, Catch::Contains("<6>pipeline forever: stopped"));
  CHECK_THAT(log_text, Catch::Contains("<5>daemon: stopped"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("dutybridge test runs the shipped mappings' tests, a broken copy fails located", "[cli][mapping]") {
  auto ok = runCli("test '" + (kSource / "mappings").string() + "'");
  INFO(ok.output);
  CHECK(ok.status == 0);
  CHECK_THAT(ok.output, Catch::Contains(" 0 failed, 0 mapping(s) with errors"));

  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-broken-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "mappings");
  std::filesystem::create_directories(dir / "config" / "reference");
  std::filesystem::copy_file(kSource / "config/reference/badge_employee.csv", dir / "config/reference/badge_employee.csv");
  std::string text = readFile(kSource / "mappings/mes_report_output.yaml");
  text.replace(text.find("scrap_qty_labor ?? 0"), 20, "scrap_qty_labr ?? 0");
  std::ofstream(dir / "mappings/mes_report_output.yaml") << text;
  auto broken = runCli("test '" + (dir / "mappings").string() + "'");
  INFO(broken.output);
  CHECK(broken.status == 1);
  CHECK_THAT(broken.output, Catch::Contains("mes_report_output.yaml:32:16: error: unknown field 'scrap_qty_labr'"));
  CHECK_THAT(broken.output, Catch::Contains("hint: did you mean 'scrap_qty_labor'?"));

  // A failing expectation prints a diff.
  text = readFile(kSource / "mappings/mes_report_output.yaml");
  text.replace(text.find("first_pass_yield: 0.95"), 22, "first_pass_yield: 0.96");
  std::ofstream(dir / "mappings/mes_report_output.yaml") << text;
  auto failing = runCli("test '" + (dir / "mappings").string() + "'");
  INFO(failing.output);
  CHECK(failing.status == 1);
  CHECK_THAT(failing.output, Catch::Contains("- expected: 0.96"));
  CHECK_THAT(failing.output, Catch::Contains("+ actual:   0.9500"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("dutybridge map prints outputs and reports dead letters", "[cli][mapping]") {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-map-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "in.jsonl")
      << R"({"report_no":"PR9","work_order_no":"WO1","team_code":"T","operator_badge":"B000124","shift_code":"C",)"
      << R"("shift_date":"2025-03-14","good_qty":0.1,"scrap_qty_labor":0.2,"state":"ACCEPTED","updated_at":"2025-03-14T01:00:00Z"})"
      << "\n" << R"({"report_no":"PR10","state":"ACCEPTED"})" << "\n";
  auto result = runCli("map -m '" + (kSource / "mappings/mes_report_output.yaml").string() + "' -i '" +
                       (dir / "in.jsonl").string() + "' --now 2025-03-14T12:00:00Z");
  INFO(result.output);
  CHECK(result.status == 1);
  CHECK_THAT(result.output, Catch::Contains(R"("key":"PR9")"));
  CHECK_THAT(result.output, Catch::Contains(R"("employee_no":"E10024")"));
  CHECK_THAT(result.output, Catch::Contains(R"("good_qty":"0.1")"));
  CHECK_THAT(result.output, Catch::Contains("in.jsonl:2: dead letter (mes-report-output@1): "));
  CHECK_THAT(result.output, Catch::Contains("mes_report_output.yaml:10:3: input field 'work_order_no' is missing"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("map: a quarantined report is released by its corrected version and never dead-lettered",
          "[cli][mapping][quarantine]") {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-quarantine-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // PR-1 first names a team without a leader (held), then comes again corrected and newer.
  const std::string report =
      R"("work_order_no":"W","operation_code":"O","product_code":"P","workshop_code":"ASSY","operator_badge":"B000125",)"
      R"("shift_code":"D","shift_date":"2025-03-14","good_qty":"12","uom":"PCS","state":"ACCEPTED")";
  std::ofstream(dir / "in.jsonl") << R"({"report_no":"PR-1","team_code":"ASSY-T9","updated_at":"2025-03-14T05:00:00Z",)"
                                  << report << "}\n"
                                  << R"({"report_no":"PR-1","team_code":"MACH-T1","updated_at":"2025-03-14T06:00:00Z",)"
                                  << report << "}\n";
  // The clock runs past quarantine.max_age (3 days): a held version still there would be a dead letter.
  auto result = runCli("map -m '" + (kSource / "mappings/tl_daily_good_output.yaml").string() + "' -i '" +
                       (dir / "in.jsonl").string() + "' --now 2025-03-14T06:00:00Z --step 1h --until 2025-03-18T06:00:00Z");
  INFO(result.output);
  CHECK(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains("quarantined"));
  CHECK_THAT(result.output, !Catch::Contains("dead letter"));
  CHECK_THAT(result.output, Catch::Contains(R"("key":"plant-01|KPI.TL.DAILY_GOOD_OUTPUT|E10011|SHIFT|2025-03-14/D")"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("map --clock-from replays a recorded day: windows close when the input's time passes them",
          "[cli][mapping]") {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-clock-from-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  // Night shift N of 03-14 (20:00-08:00 Shanghai, 1 h grace) gets two reports; the third, of the
  // day shift, was recorded at 09:30 local: by then N had closed, so its closed revision comes
  // before the day shift's first.
  std::ofstream(dir / "in.jsonl")
      << R"({"report_no":"R1","team_code":"T1","time_from":"2025-03-14T21:00:00+08:00","good_qty":"480",)"
      << R"("state":"ACCEPTED","updated_at":"2025-03-14T13:00:00Z"})"
      << "\n"
      << R"({"report_no":"R2","team_code":"T1","time_from":"2025-03-15T01:15:00+08:00","good_qty":"300",)"
      << R"("state":"ACCEPTED","updated_at":"2025-03-14T17:30:00Z"})"
      << "\n"
      << R"({"report_no":"R3","team_code":"T1","time_from":"2025-03-15T09:00:00+08:00","good_qty":"10",)"
      << R"("state":"ACCEPTED","updated_at":"2025-03-15T01:30:00Z"})"
      << "\n"
      << R"({"report_no":"R0","team_code":"T1","time_from":"2025-03-14T22:00:00+08:00","good_qty":"1",)"
      << R"("state":"ACCEPTED","updated_at":"2025-03-14T14:00:00Z"})"
      << "\n";  // late: the clock stays
  const std::string mapping = (kSource / "tests/golden/mappings/agg_night_shift_shanghai/mapping.yaml").string();
  auto result = runCli("map -m '" + mapping + "' -i '" + (dir / "in.jsonl").string() + "' --clock-from updated_at");
  INFO(result.output);
  CHECK(result.status == 0);
  const auto night_closed =
      result.output.find(R"("good":"780","reports":2,"largest":"480","revision":3,"closed":true)");
  const auto day_first = result.output.find(R"("period_id":"2025-03-15/D")");
  REQUIRE(night_closed != std::string::npos);
  REQUIRE(day_first != std::string::npos);
  CHECK(night_closed < day_first);
  // R0 arrived after N closed: a correction (revision 4, still closed).
  CHECK_THAT(result.output, Catch::Contains(R"("good":"781","reports":3,"largest":"480","revision":4,"closed":true)"));
  auto refused = runCli("map -m '" + mapping + "' -i '" + (dir / "in.jsonl").string() + "' --step 1m");
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Catch::Contains("--step and --until need --now or --clock-from"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("map: ROLLING skill evidence ages out day by day and lapses as --until steps the clock",
          "[cli][mapping][aggregate]") {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-rolling-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string report =
      R"("work_order_no":"W","operation_code":"OP010","product_code":"P","workstation_code":"C","workshop_code":"MACH",)"
      R"("operator_badge":"B000126","shift_code":"A","good_qty":"10","state":"ACCEPTED")";
  std::ofstream(dir / "in.jsonl")
      << R"({"report_no":"PR-1","shift_date":"2025-03-14","time_from":"2025-03-14T00:00:00Z",)"
      << R"("time_to":"2025-03-14T02:00:00Z","updated_at":"2025-03-14T02:05:00Z",)" << report << "}\n"
      << R"({"report_no":"PR-2","shift_date":"2025-03-16","time_from":"2025-03-16T00:00:00Z",)"
      << R"("time_to":"2025-03-16T01:00:00Z","updated_at":"2025-03-16T01:05:00Z",)" << report << "}\n";
  // 90 plant days in Shanghai: PR-1 ages out when 06-12 begins, PR-2 when 06-14 begins (the lapse:
  // held through 06-13). One tick at --until would merge both into the lapse.
  auto result =
      runCli("map -m '" + (kSource / "mappings/mes_skill_evidence.yaml").string() + "' -i '" +
             (dir / "in.jsonl").string() + "' --now 2025-03-16T03:00:00Z --step 1h --until 2025-06-20T00:00:00Z");
  INFO(result.output);
  CHECK(result.status == 0);
  CHECK_THAT(result.output, Catch::Contains(R"("key":"E10026|SKILL_EVIDENCE|SK.CNC-TURNING")"));
  CHECK_THAT(result.output, Catch::Contains(R"("revision":3,)"));
  CHECK_THAT(result.output, Catch::Contains(R"("hours":"1.00","reports":1)"));
  CHECK_THAT(result.output, Catch::Contains(R"("revision":4,)"));
  CHECK_THAT(result.output, Catch::Contains(R"("lapsed":true)"));
  CHECK_THAT(result.output, Catch::Contains(R"("valid_to":"2025-06-13")"));
  CHECK_THAT(result.output, !Catch::Contains(R"("revision":5,)"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("input: from_source: check notes it, check --connect, map and test use the source or test_input",
          "[cli][mapping]") {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-from-source-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string mapping = R"(name: gen-output
input: from_source
where: state == "ACCEPTED"
emit:
  - key: [report_no]
    fields:
      report_no: report_no
      good: good_qty * 2
test_input:
  report_no: string
  good_qty: decimal
  state: string
tests:
  - name: doubled
    input: {report_no: PR1, good_qty: "1.5", state: ACCEPTED}
    expect: [{_key: PR1, good: 3}]
)";
  std::ofstream(dir / "ok.yaml") << mapping;
  std::string bad = mapping;
  bad.replace(bad.find("good_qty * 2"), 12, "good_qty * report_no");
  std::ofstream(dir / "bad.yaml") << bad;
  for (const char* name : {"ok", "bad"}) {
    std::ofstream(dir / (std::string(name) + "_config.yaml"))
        << "pipelines:\n  - name: gen\n    source: {type: generate, count: 3}\n    mapping: " << name
        << ".yaml\n    sink: {type: stdout}\n";
  }

  auto offline = runCli("check -c '" + (dir / "bad_config.yaml").string() + "'");
  INFO(offline.output);
  CHECK(offline.status == 0);
  CHECK_THAT(offline.output, Catch::Contains("field types are checked when pipeline gen starts"));
  CHECK_THAT(offline.output, Catch::Contains("fields read from the source: state, report_no, good_qty"));

  auto connected = runCli("check --connect -c '" + (dir / "ok_config.yaml").string() + "'");
  INFO(connected.output);
  CHECK(connected.status == 0);
  CHECK_THAT(connected.output, Catch::Contains("OK against the source's description (17 fields)"));

  auto mismatch = runCli("check --connect -c '" + (dir / "bad_config.yaml").string() + "'");
  INFO(mismatch.output);
  CHECK(mismatch.status == 2);
  CHECK_THAT(mismatch.output, Catch::Contains("bad.yaml:8:22: error: cannot multiply"));
  CHECK_THAT(mismatch.output, Catch::Contains("field 'report_no' is string (from the source's description)"));

  auto run = runCli("run --once -c '" + (dir / "bad_config.yaml").string() + "'");
  INFO(run.output);
  CHECK(run.status == 2);
  CHECK_THAT(run.output, Catch::Contains("does not fit the source's description"));

  auto tests = runCli("test '" + (dir / "ok.yaml").string() + "'");
  INFO(tests.output);
  CHECK(tests.status == 0);
  CHECK_THAT(tests.output, Catch::Contains("1 test(s), 0 failed"));

  std::ofstream(dir / "in.jsonl") << R"({"report_no":"PR9","good_qty":2,"state":"ACCEPTED"})" << "\n";
  auto mapped = runCli("map -m '" + (dir / "ok.yaml").string() + "' -i '" + (dir / "in.jsonl").string() + "'");
  INFO(mapped.output);
  CHECK(mapped.status == 0);
  CHECK_THAT(mapped.output, Catch::Contains(R"("key":"PR9")"));

  std::string untyped = mapping.substr(0, mapping.find("test_input:"));
  std::ofstream(dir / "untyped.yaml") << untyped;
  auto refused = runCli("map -m '" + (dir / "untyped.yaml").string() + "' -i '" + (dir / "in.jsonl").string() + "'");
  INFO(refused.output);
  CHECK(refused.status == 2);
  CHECK_THAT(refused.output, Catch::Contains("hint: add test_input:"));
  std::filesystem::remove_all(dir);
}

TEST_CASE("status cursor and top: usage errors and what they refuse without an admin API", "[cli][ops]") {
  testing::TempDir dir("cli-ops");
  // No broker is needed: each of these stops before connecting anywhere.
  auto config = dir.write("c.yaml", R"(kafka:
  bootstrap_servers: 127.0.0.1:1
pipelines:
  - name: smoke
    source: {type: generate}
    sink: {type: stdout}
)");
  const std::string c = " -c '" + config.string() + "'";

  auto reset = runCli("cursor reset smoke" + c);
  INFO(reset.output);
  CHECK(reset.status == 2);
  CHECK_THAT(reset.output, Catch::Contains("admin.enabled: false") && Catch::Contains("--daemon-stopped"));

  auto top = runCli("top --once" + c);
  INFO(top.output);
  CHECK(top.status == 2);
  CHECK_THAT(top.output, Catch::Contains("top reads the running daemon through"));

  auto unknown = runCli("cursor show nosuch" + c);
  CHECK(unknown.status == 2);
  CHECK_THAT(unknown.output, Catch::Contains("no pipeline named 'nosuch'"));

  CHECK(runCli("cursor set smoke" + c).status == 2);
  CHECK(runCli("cursor rewind smoke" + c).status == 2);
  CHECK(runCli("status --format yaml" + c).status == 2);
  CHECK(runCli("top --interval 1ms" + c).status == 2);
  for (const char* help : {"status --help", "cursor --help", "top --help"}) {
    auto shown = runCli(help);
    CHECK(shown.status == 0);
    CHECK_THAT(shown.output, Catch::StartsWith("Usage: dutybridge"));
  }
}

TEST_CASE("top with admin.enabled and nothing listening says the daemon does not answer", "[cli][ops]") {
  testing::TempDir dir("cli-ops-admin");
  const int port = testing::freePort();
  auto config = dir.write("c.yaml",
                          "kafka:\n  bootstrap_servers: 127.0.0.1:1\nadmin:\n  enabled: true\n  listen: "
                          "127.0.0.1:" +
                              std::to_string(port) +
                              "\npipelines:\n  - name: smoke\n    source: {type: generate}\n    sink: "
                              "{type: stdout}\n");
  auto top = runCli("top --once -c '" + config.string() + "'");
  INFO(top.output);
  CHECK(top.status == 1);
  CHECK_THAT(top.output, Catch::Contains("the daemon does not answer") && Catch::Contains("refused"));
}
