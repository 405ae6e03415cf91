// dutybridge-sim as a user runs it: init determinism, referential sanity of the demo databases
// (read back through the ODBC handles and the SQLite3 driver), and a short live run. The
// PostgreSQL target ([integration]: needs the test PostgreSQL, DUTYBRIDGE_TEST_PG_ODBC) is
// compared with a SQLite init of the same seed and clock.
#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "src/sim/simulator.h"
#include "src/sim/sql_session.h"
#include "tests/support/env.h"

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
  const std::vector<std::string> hrm_tables = {"employee",           "badge_assignment", "team_leader",
                                               "parts_clerk",        "certificate",      "employee_assignment",
                                               "training_completion"};
  CHECK(dumpAll(a, "hrm", hrm_tables) == dumpAll(b, "hrm", hrm_tables));
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

TEST_CASE("the HR master keeps assignments, certificates and trainings", "[sim]") {
  auto dir = freshDir("hr");
  REQUIRE(std::system(simCommand(fmt::format("{} --dir {} > /dev/null", kInit, dir.string())).c_str()) == 0);
  auto count = [&](const std::string& sql) { return std::stoi(scalar(dir, "hrm", "SELECT COUNT(*) FROM " + sql)); };
  // Assignments: everyone from the day of hire; one open assignment per employee still there, none
  // for a leaver, whose last one ends the day before leaving; no overlaps; codes of the catalog.
  CHECK(count("employee e WHERE NOT EXISTS (SELECT 1 FROM employee_assignment a WHERE a.employee_no = e.employee_no "
              "AND a.valid_from = e.hired_on)") == 0);
  CHECK(count("employee e WHERE (SELECT COUNT(*) FROM employee_assignment a WHERE a.employee_no = e.employee_no AND "
              "a.valid_to IS NULL) <> CASE WHEN e.left_on IS NULL THEN 1 ELSE 0 END") == 0);
  CHECK(count("employee e WHERE e.left_on IS NOT NULL") >= 1);
  CHECK(count("employee e JOIN employee_assignment a ON a.employee_no = e.employee_no WHERE e.left_on IS NOT NULL "
              "AND a.valid_to <> date(e.left_on, '-1 day')") == 0);
  CHECK(count("employee_assignment a JOIN employee_assignment b ON a.employee_no = b.employee_no AND a.assignment_id "
              "<> b.assignment_id AND a.valid_from <= b.valid_from WHERE a.valid_to IS NULL OR a.valid_to >= "
              "b.valid_from") == 0);
  CHECK(count("employee_assignment WHERE position_code NOT IN (SELECT position_code FROM position) OR "
              "department_code NOT IN (SELECT department_code FROM department)") == 0);
  // Shop-floor people are in their team's workshop; someone moved to the CNC cell mid-history
  // (a new assignment the day after the old one ended), while the MES side still sees an operator.
  CHECK(count("employee_assignment a JOIN employee e ON e.employee_no = a.employee_no JOIN team t ON t.team_code = "
              "e.team_code WHERE a.department_code <> t.workshop_code") == 0);
  CHECK(count("employee_assignment a JOIN employee_assignment b ON a.employee_no = b.employee_no AND b.valid_from = "
              "date(a.valid_to, '+1 day') JOIN employee e ON e.employee_no = a.employee_no AND e.position_code = "
              "'OPERATOR' WHERE a.position_code = 'OPERATOR' AND b.position_code = 'CNC_CELL_OPERATOR' AND "
              "b.department_code = 'MACH' AND b.valid_to IS NULL") >= 1);
  // Certificates: the four codes, the auditor's without expiry, the others 4 or 6 years; some
  // expired, some expiring within 30 days, most valid; a renewal written after what it renews.
  CHECK(count("certificate WHERE qualification_code NOT IN ('Q.FORKLIFT', 'Q.ELECTRICIAN-LV', 'Q.CRANE', "
              "'Q.IATF-AUDITOR')") == 0);
  CHECK(count("certificate WHERE (qualification_code = 'Q.IATF-AUDITOR') <> (expires_on IS NULL)") == 0);
  CHECK(count("certificate WHERE ABS(julianday(expires_on) - julianday(date(issued_on, CASE qualification_code WHEN "
              "'Q.ELECTRICIAN-LV' THEN '+6 years' ELSE '+4 years' END))) > 1") == 0);
  int expired = count("certificate WHERE expires_on < '2025-03-14'");
  int soon = count("certificate WHERE expires_on BETWEEN '2025-03-14' AND '2025-04-13'");
  int valid = count("certificate WHERE expires_on > '2025-04-13'");
  CHECK(expired >= 1);
  CHECK(soon >= 1);
  CHECK(valid > expired + soon);
  CHECK(count("(SELECT 1 FROM certificate GROUP BY employee_no, qualification_code HAVING COUNT(*) > 1)") >= 1);
  CHECK(count("certificate a JOIN certificate b ON a.employee_no = b.employee_no AND a.qualification_code = "
              "b.qualification_code AND a.issued_on < b.issued_on WHERE a.updated_at >= b.updated_at") == 0);
  // Trainings: everyone's safety induction on the day of hire; the others with gaps.
  CHECK(count("employee e WHERE NOT EXISTS (SELECT 1 FROM training_completion t WHERE t.employee_no = e.employee_no "
              "AND t.training_code = 'T.SAFETY-INDUCTION' AND t.completed_on = e.hired_on)") == 0);
  CHECK(count("training_completion WHERE training_code NOT IN ('T.SAFETY-INDUCTION', 'T.5S', 'T.FIRST-ARTICLE', "
              "'T.LOTO', 'T.SPC', 'T.TEAM-LEADER', 'T.ESD')") == 0);
  CHECK(count("(SELECT DISTINCT training_code FROM training_completion)") == 7);
  CHECK(count("employee e WHERE position_code = 'OPERATOR' AND NOT EXISTS (SELECT 1 FROM training_completion t "
              "WHERE t.employee_no = e.employee_no AND t.training_code = 'T.5S')") >= 1);
  CHECK(count("training_completion WHERE hours <= 0") == 0);
  // Nothing is written later than the init clock, so an incremental reader sees the history whole.
  for (const char* table : {"employee_assignment", "certificate", "training_completion"}) {
    INFO(table);
    CHECK(count(fmt::format("{} WHERE updated_at > '2025-03-14 10:30:00' OR updated_at IS NULL", table)) == 0);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("run adds to the HR master now and then", "[sim]") {
  auto dir = freshDir("hr-run");
  REQUIRE(std::system(simCommand(fmt::format("init --seed 3 --employees 120 --history-days 0 --dir {} > /dev/null",
                                             dir.string()))
                          .c_str()) == 0);
  const std::string rows =
      "SELECT (SELECT COUNT(*) FROM employee_assignment) + (SELECT COUNT(*) FROM certificate) + "
      "(SELECT COUNT(*) FROM training_completion)";
  int before = std::stoi(scalar(dir, "hrm", rows));
  std::string latest = scalar(dir, "hrm", "SELECT MAX(updated_at) FROM employee_assignment");
  // At this speed an HR change comes about every 0.5-1 s.
  REQUIRE(std::system(
              simCommand(fmt::format("run --dir {} --duration 3 --speed 20000 > /dev/null", dir.string())).c_str()) ==
          0);
  CHECK(std::stoi(scalar(dir, "hrm", rows)) > before);
  // Still one open assignment per employee at most, and the new rows carry a later updated_at.
  CHECK(scalar(dir, "hrm",
               "SELECT COUNT(*) FROM (SELECT employee_no FROM employee_assignment WHERE valid_to IS NULL "
               "GROUP BY employee_no HAVING COUNT(*) > 1)") == "0");
  CHECK(std::stoi(scalar(dir, "hrm",
                         fmt::format("SELECT (SELECT COUNT(*) FROM certificate WHERE updated_at > '{0}') + "
                                     "(SELECT COUNT(*) FROM training_completion WHERE updated_at > '{0}') + "
                                     "(SELECT COUNT(*) FROM employee_assignment WHERE updated_at > '{0}')",
                                     latest))) >= 1);
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

namespace {

std::vector<sim::Row> pgQuery(const std::string& connection, const std::string& sql) {
  auto env = odbc::Environment::create();
  REQUIRE(env);
  auto session = sim::SqlSession::open(*env, connection, sim::Dialect::Postgresql, "");
  INFO((session ? "" : session.error().message));
  REQUIRE(session);
  auto rows = session->query(sql);
  INFO(sql);
  INFO((rows ? "" : rows.error().message));
  REQUIRE(rows);
  REQUIRE(session->commit());
  return *rows;
}

std::string pgScalar(const std::string& connection, const std::string& sql) {
  auto rows = pgQuery(connection, sql);
  REQUIRE(rows.size() == 1);
  return rows[0][0].value_or("NULL");
}

// Drops the test's four schemas whatever the test's outcome.
struct PgSchemas {
  std::string connection, prefix;
  ~PgSchemas() {
    auto env = odbc::Environment::create();
    if (!env) return;
    auto session = sim::SqlSession::open(*env, connection, sim::Dialect::Postgresql, "");
    if (!session) return;
    for (const char* system : {"mes", "erp", "crm", "hrm"}) {
      (void)session->exec(fmt::format("DROP SCHEMA IF EXISTS {}{} CASCADE", prefix, system));
    }
    (void)session->commit();
  }
};

}  // namespace

TEST_CASE("init and run on PostgreSQL write what they write to SQLite", "[sim][integration]") {
  std::string pg = testing::postgresOdbc();
  // Its own schemas: a parallel test run may use the default ones.
  std::string prefix = fmt::format("simtest_{}_{:x}_", ::getpid(), std::random_device{}() & 0xffffffu);
  PgSchemas cleanup{pg, prefix};
  auto dir = freshDir("pg");
  std::string pg_target = fmt::format("--postgresql '{}' --pg-schema-prefix {}", pg, prefix);
  REQUIRE(std::system(simCommand(fmt::format("{} --dir {} > /dev/null", kInit, dir.string())).c_str()) == 0);
  // Twice: the second init drops and recreates the schemas (idempotent).
  REQUIRE(std::system(simCommand(fmt::format("{} {} > /dev/null", kInit, pg_target)).c_str()) == 0);
  REQUIRE(std::system(simCommand(fmt::format("{} {} > /dev/null", kInit, pg_target)).c_str()) == 0);

  const std::vector<std::pair<std::string, std::vector<std::string>>> tables = {
      {"hrm",
       {"department", "position", "employee", "team", "badge_assignment", "team_leader", "parts_clerk",
        "purchasing_group", "employee_assignment", "certificate", "training_completion"}},
      {"mes",
       {"production_report", "report_staff", "report_worker_v", "parts_count_submission", "piece_rate", "scrap_penalty",
        "operation_skill", "sim_meta"}},
      {"erp", {"ekko", "ekpo", "ekbe", "mbew", "material_last_price", "goods_receipt_v"}},
      {"crm", {"account", "crm_user", "opportunity", "opportunity_partner", "opportunity_v"}},
  };
  for (const auto& [system, names] : tables) {
    for (const auto& table : names) {
      INFO(system << "." << table);
      CHECK(pgScalar(pg, fmt::format("SELECT COUNT(*) FROM {}{}.{}", prefix, system, table)) ==
            scalar(dir, system, fmt::format("SELECT COUNT(*) FROM {}", table)));
      // The same column names, in the same order and case, so the same mappings read them.
      std::vector<std::string> sqlite_columns, pg_columns;
      for (const auto& row :
           query(dir, system, fmt::format("SELECT name FROM pragma_table_info('{}') ORDER BY cid", table))) {
        sqlite_columns.push_back(row[0].value_or(""));
      }
      for (const auto& row : pgQuery(pg, fmt::format("SELECT column_name FROM information_schema.columns WHERE "
                                                     "table_schema = '{}{}' AND table_name = '{}' ORDER BY "
                                                     "ordinal_position",
                                                     prefix, system, table))) {
        pg_columns.push_back(row[0].value_or(""));
      }
      CHECK(!sqlite_columns.empty());
      CHECK(pg_columns == sqlite_columns);
    }
  }
  // Sums of quantities, money and flags (SQLite keeps NUMERIC as integer or real, PostgreSQL as
  // exact decimals: compared as numbers), and wall-clock timestamps as text.
  const std::vector<std::pair<std::string, std::string>> sums = {
      {"mes", "SUM(good_qty) FROM {}production_report"},
      {"mes", "SUM(scrap_qty_labor) + SUM(scrap_qty_mat) FROM {}production_report"},
      {"mes", "SUM(worker_labor_minutes) FROM {}report_worker_v"},
      {"erp", "SUM(\"MENGE\") FROM {}goods_receipt_v"},
      {"erp", "SUM(dmbtr) FROM {}ekbe"},
      {"erp", "SUM(netpr) FROM {}ekpo"},
      {"crm", "SUM(\"Amount\") FROM {}opportunity"},
      {"crm", "SUM(\"Is_First_Won\") FROM {}opportunity_v"},
      {"crm", "SUM(\"Partner_IsPrimary\") FROM {}opportunity_v"},
      {"hrm", "SUM(hours) FROM {}training_completion"},
  };
  for (const auto& [system, sql] : sums) {
    std::string sqlite_sql = "SELECT " + fmt::format(fmt::runtime(sql), "");
    std::string pg_sql = "SELECT " + fmt::format(fmt::runtime(sql), prefix + system + ".");
    INFO(pg_sql);
    double expected = std::stod(scalar(dir, system, sqlite_sql));
    CHECK(expected > 0);
    CHECK(std::stod(pgScalar(pg, pg_sql)) == Approx(expected).epsilon(1e-12));
  }
  for (const auto& [system, sql] : std::vector<std::pair<std::string, std::string>>{
           {"mes", "MIN(time_from) || ' ' || MAX(updated_at) FROM {}production_report"},
           {"erp", "MIN(budat) || ' ' || MAX(changed_at) FROM {}ekbe"},
           {"crm", "MIN(\"CloseDate\") || ' ' || MAX(\"LastModifiedDate\") FROM {}opportunity"},
           {"hrm", "MIN(valid_from) || ' ' || MAX(valid_to) || ' ' || MAX(updated_at) FROM {}employee_assignment"},
           {"hrm", "MIN(issued_on) || ' ' || MAX(expires_on) || ' ' || MAX(updated_at) FROM {}certificate"}}) {
    CHECK(pgScalar(pg, "SELECT " + fmt::format(fmt::runtime(sql), prefix + system + ".")) ==
          scalar(dir, system, "SELECT " + fmt::format(fmt::runtime(sql), "")));
  }

  std::string reports = fmt::format("SELECT COUNT(*) FROM {}mes.production_report", prefix);
  int before = std::stoi(pgScalar(pg, reports));
  REQUIRE(std::system(simCommand(fmt::format("run {} --duration 2 --speed 600 > /dev/null", pg_target)).c_str()) == 0);
  CHECK(std::stoi(pgScalar(pg, reports)) > before);
  CHECK(pgScalar(pg, fmt::format("SELECT COUNT(*) FROM {0}mes.production_report r WHERE labor_minutes <> (SELECT "
                                 "SUM(labor_minutes) FROM {0}mes.report_staff s WHERE s.report_no = r.report_no)",
                                 prefix)) == "0");
  std::filesystem::remove_all(dir);
}

TEST_CASE("the PostgreSQL flags are checked", "[sim]") {
  CHECK(WEXITSTATUS(std::system(simCommand("init --dir /tmp/x --postgresql 'Driver=x' 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system(simCommand("init --dir /tmp/x --pg-schema-prefix p_ 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(std::system(
            simCommand("run --postgresql 'Driver=x' --pg-schema-prefix 'P; x' 2> /dev/null").c_str())) == 2);
  CHECK(WEXITSTATUS(
            std::system(simCommand("run --postgresql 'Driver=x' --pg-schema-prefix 1p 2> /dev/null").c_str())) == 2);
}
