// dutybridge-sim as a user runs it: init determinism, referential sanity of the demo databases
// (read back through the ODBC handles and the SQLite3 driver), and a short live run.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "src/sim/simulator.h"
#include "src/sim/sql_session.h"

namespace {

using namespace dutybridge;

std::string simCommand(const std::string& args) {
  return fmt::format("{} {} --calendars {}/config/calendars.yaml", DUTYBRIDGE_SIM_BINARY, args, DUTYBRIDGE_SOURCE_DIR);
}

std::filesystem::path freshDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / fmt::format("dutybridge-sim-test-{}-{}", name, ::getpid());
  std::filesystem::remove_all(dir);
  return dir;
}

std::vector<sim::Row> query(const std::filesystem::path& dir, std::string_view system, const std::string& sql) {
  auto env = odbc::Environment::create();
  REQUIRE(env);
  auto session = sim::SqlSession::open(*env, sim::sqliteConnectionString(dir, system), sim::Dialect::Sqlite,
                                       std::string(system));
  REQUIRE(session);
  auto rows = session->query(sql);
  INFO((rows ? "" : rows.error().message));
  REQUIRE(rows);
  return *rows;
}

std::string scalar(const std::filesystem::path& dir, std::string_view system, const std::string& sql) {
  auto rows = query(dir, system, sql);
  REQUIRE(rows.size() == 1);
  return rows[0][0].value_or("NULL");
}

std::string dumpAll(const std::filesystem::path& dir, std::string_view system, const std::vector<std::string>& tables) {
  std::string out;
  for (const auto& table : tables) {
    for (const auto& row : query(dir, system, fmt::format("SELECT * FROM {} ORDER BY 1, 2", table))) {
      for (const auto& cell : row) out += cell.value_or("<null>") + "|";
      out += "\n";
    }
  }
  return out;
}

constexpr const char* kInit = "init --seed 7 --employees 120 --history-days 1 --now '2025-03-14 10:30:00'";

}  // namespace

TEST_CASE("init gives the same databases for the same seed and clock", "[sim]") {
  auto a = freshDir("a"), b = freshDir("b");
  REQUIRE(std::system(simCommand(fmt::format("{} --dir {} > /dev/null", kInit, a.string())).c_str()) == 0);
  REQUIRE(std::system(simCommand(fmt::format("{} --dir {} > /dev/null", kInit, b.string())).c_str()) == 0);
  // A second init over existing files starts from scratch (idempotent).
  REQUIRE(std::system(simCommand(fmt::format("{} --dir {} > /dev/null", kInit, b.string())).c_str()) == 0);
  CHECK(dumpAll(a, "mes", {"production_report", "report_staff", "parts_count_submission", "piece_rate"}) ==
        dumpAll(b, "mes", {"production_report", "report_staff", "parts_count_submission", "piece_rate"}));
  CHECK(dumpAll(a, "hrm", {"employee", "badge_assignment", "team_leader", "parts_clerk"}) ==
        dumpAll(b, "hrm", {"employee", "badge_assignment", "team_leader", "parts_clerk"}));
  CHECK(dumpAll(a, "erp", {"ekko", "ekpo", "ekbe"}) == dumpAll(b, "erp", {"ekko", "ekpo", "ekbe"}));
  CHECK(dumpAll(a, "crm", {"opportunity", "opportunity_partner"}) == dumpAll(b, "crm", {"opportunity", "opportunity_partner"}));
  auto c = freshDir("c");
  REQUIRE(std::system(simCommand(fmt::format("init --seed 8 --employees 120 --history-days 1 --now '2025-03-14 10:30:00' "
                                      "--dir {} > /dev/null", c.string())).c_str()) == 0);
  CHECK(dumpAll(a, "mes", {"production_report"}) != dumpAll(c, "mes", {"production_report"}));
  for (const auto& dir : {a, b, c}) std::filesystem::remove_all(dir);
}

TEST_CASE("the demo databases hang together", "[sim]") {
  auto dir = freshDir("sanity");
  REQUIRE(std::system(simCommand(fmt::format("{} --dir {} > /dev/null", kInit, dir.string())).c_str()) == 0);
  CHECK(std::stoi(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report")) > 1000);
  // Every report has staff rows, and its labour minutes are their sum.
  CHECK(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report r WHERE NOT EXISTS (SELECT 1 FROM report_staff s "
                           "WHERE s.report_no = r.report_no)") == "0");
  CHECK(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report r WHERE labor_minutes <> (SELECT SUM(labor_minutes) "
                           "FROM report_staff s WHERE s.report_no = r.report_no)") == "0");
  CHECK(scalar(dir, "mes", "SELECT COUNT(*) FROM report_worker_v") == scalar(dir, "mes", "SELECT COUNT(*) FROM report_staff"));
  // Every operation|product has a rate, every operation a skill row or none on purpose.
  CHECK(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report r WHERE NOT EXISTS (SELECT 1 FROM piece_rate p WHERE "
                           "p.operation_product = r.operation_code || '|' || r.product_code)") == "0");
  CHECK(scalar(dir, "mes", "SELECT COUNT(*) FROM scrap_penalty WHERE operation_product = '*'") == "1");
  CHECK(scalar(dir, "mes", "SELECT COUNT(DISTINCT state) FROM production_report") != "1");
  // Badge validity ranges never overlap; at least one badge changed hands.
  CHECK(scalar(dir, "hrm", "SELECT COUNT(*) FROM badge_assignment a JOIN badge_assignment b ON a.badge = b.badge AND "
                           "a.valid_from < b.valid_from WHERE a.valid_to IS NULL OR a.valid_to > b.valid_from") == "0");
  CHECK(std::stoi(scalar(dir, "hrm", "SELECT COUNT(*) FROM (SELECT badge FROM badge_assignment GROUP BY badge HAVING "
                                     "COUNT(*) > 1)")) >= 1);
  // One leader (a TEAM_LEADER) per team, one CLERK per workshop, a buyer per purchasing group.
  CHECK(scalar(dir, "hrm", "SELECT COUNT(*) FROM team t WHERE (SELECT COUNT(*) FROM team_leader l JOIN employee e ON "
                           "e.employee_no = l.employee_no AND e.position_code = 'TEAM_LEADER' WHERE l.team_code = "
                           "t.team_code) <> 1") == "0");
  CHECK(scalar(dir, "hrm", "SELECT COUNT(DISTINCT p.workshop_code) FROM parts_clerk p JOIN employee e ON e.employee_no = "
                           "p.employee_no AND e.position_code = 'CLERK'") == "3");
  CHECK(scalar(dir, "hrm", "SELECT COUNT(*) FROM purchasing_group g JOIN employee e ON e.employee_no = g.employee_no AND "
                           "e.position_code = 'PURCHASING_MANAGER'") == "3");
  // Known badges except the few unknown ones.
  double unknown = std::stod(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report WHERE operator_badge >= 'B900000'"));
  double total = std::stod(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report"));
  CHECK(unknown / total < 0.02);
  CHECK(std::stoi(scalar(dir, "erp", "SELECT COUNT(*) FROM goods_receipt_v")) > 0);
  CHECK(std::stoi(scalar(dir, "crm", "SELECT COUNT(*) FROM opportunity_v WHERE Is_First_Won = 1")) > 0);
  std::filesystem::remove_all(dir);
}

TEST_CASE("run adds rows and stops cleanly", "[sim]") {
  auto dir = freshDir("run");
  REQUIRE(std::system(simCommand(fmt::format("init --seed 3 --employees 120 --history-days 0 --dir {} > /dev/null",
                                      dir.string())).c_str()) == 0);
  int before = std::stoi(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report"));
  REQUIRE(std::system(simCommand(fmt::format("run --dir {} --duration 2 --speed 600 > /dev/null", dir.string())).c_str()) == 0);
  CHECK(std::stoi(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report")) > before);
  CHECK(scalar(dir, "mes", "SELECT COUNT(*) FROM production_report r WHERE labor_minutes <> (SELECT SUM(labor_minutes) "
                           "FROM report_staff s WHERE s.report_no = r.report_no)") == "0");
  std::filesystem::remove_all(dir);
}

TEST_CASE("bad flags are usage errors", "[sim]") {
  CHECK(WEXITSTATUS(std::system(simCommand("init --dir /tmp/x --bogus 1 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system(simCommand("init --seed 1 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system(simCommand("run --dir /tmp/x --speed fast 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system(fmt::format("{} frobnicate 2> /dev/null", DUTYBRIDGE_SIM_BINARY).c_str())) == 2);
  CHECK(std::system(fmt::format("{} run --help > /dev/null", DUTYBRIDGE_SIM_BINARY).c_str()) == 0);
}
