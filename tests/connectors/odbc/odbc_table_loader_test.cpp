// The `odbc:` reference-table source: an effective-dated badge table in SQLite (sqliteodbc)
// loaded through a mapping file, lookups with `at`, refresh picking up a changed row, and clear
// errors for a database that cannot be reached, bad SQL and unknown settings.

#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "connectors/builtin.h"
#include "src/mapping/mapping.h"
#include "tests/connectors/odbc/odbc_test_util.h"
#include "tests/connectors/table_test_util.h"

using namespace dutybridge;
using core::Value;

namespace {

std::string mappingYaml(const std::string& connection, const std::string& query) {
  return fmt::format(R"(name: badge_lookup
input: {{badge: string, day: date}}
tables:
  badges:
    odbc:
      connection: {}
      query: {}
      timeout: 5s
    key: badge
    value: employee_no
    valid_from: valid_from
    valid_to: valid_to
    time_zone: Asia/Shanghai
    refresh: 10m
emit:
  - fields:
      employee_no: >-
        lookup("badges", badge, at: day)
)",
                     testing::yamlQuote(connection), testing::yamlQuote(query));
}

// Table sources come from the registry every dutybridge command fills.
mapping::MappingLoadOptions loaders() {
  return {.table_sources = &testing::builtinRegistry()};
}

// An `odbc:` block in flow style.
std::string odbcBlock(const std::string& connection, const std::string& rest) {
  return "{connection: " + testing::yamlQuote(connection) + ", " + rest + "}";
}

// A PostgreSQL connection string to a loopback port where nothing listens.
std::string unreachableConnection() {
  return "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=1;Database=hr;Uid=dutybridge;Pwd=s3cret-pw;"
         "ConnectTimeout=2";
}

}  // namespace

TEST_CASE("odbc tables: an effective-dated badge table loads, answers lookups at a date and refreshes",
          "[odbc][tables][sqlite]") {
  std::string connection = testing::sqliteConnection(testing::uniqueName("badges"));
  testing::Database db(connection);
  db.exec("CREATE TABLE badge_employee (badge TEXT, employee_no TEXT, valid_from TEXT, valid_to TEXT, note TEXT)");
  db.exec("INSERT INTO badge_employee VALUES ('B000123', 'E10023', '2025-01-01', '2025-03-15', NULL), "
          "('B000123', 'E10031', '2025-03-15', NULL, 'transfer'), ('B000124', 'E10024', NULL, NULL, NULL)");
  testing::TempDir dir("table-load");
  auto file = dir.write("mapping.yaml",
                        mappingYaml(connection, "SELECT badge, employee_no, valid_from, valid_to FROM badge_employee"));

  auto loaded = mapping::loadMapping(file, loaders());
  INFO((loaded ? std::string() : loaded.error().format()));
  REQUIRE(loaded);
  const mapping::Mapping& mapping = **loaded;
  auto employee = [&](const char* badge, const char* day) { return testing::emittedEmployee(mapping, badge, day); };
  CHECK(employee("B000123", "2024-12-31") == "null");  // before the first range
  CHECK(employee("B000123", "2025-03-14") == "E10023");
  CHECK(employee("B000123", "2025-03-15") == "E10031");  // valid_to exclusive, NULL = open end
  CHECK(employee("B000124", "2020-01-01") == "E10024");  // NULL bounds: always
  CHECK(employee("B999999", "2025-03-15") == "null");

  // The badge passes to someone else from 2025-04-01: refresh sees the changed row.
  REQUIRE(mapping.table_refreshers.size() == 1);
  expr::TableRefresher& refresher = *mapping.table_refreshers[0];
  db.exec("UPDATE badge_employee SET valid_to = '2025-04-01' WHERE employee_no = 'E10031'");
  db.exec("INSERT INTO badge_employee VALUES ('B000123', 'E10040', '2025-04-01', NULL, NULL)");
  core::Timestamp t0{1'741'939'200'000'000};
  CHECK_FALSE(refresher.maybeRefresh(t0));  // starts the clock
  CHECK(employee("B000123", "2025-04-02") == "E10031");
  CHECK(refresher.maybeRefresh(core::Timestamp{t0.micros + 600'000'000}));
  CHECK(refresher.generation() == 1);
  CHECK(employee("B000123", "2025-03-20") == "E10031");
  CHECK(employee("B000123", "2025-04-02") == "E10040");

  // An overlap introduced in the database keeps the old table; the error cites the result row.
  db.exec("INSERT INTO badge_employee VALUES ('B000123', 'E10050', '2025-03-20', NULL, NULL)");
  auto status = refresher.refreshNow();
  REQUIRE_FALSE(status);
  CHECK(status.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(status.error().message, Catch::Contains("odbc:badges:"));
  CHECK(status.error().message.find("E10050") == std::string::npos);
  CHECK(employee("B000123", "2025-04-02") == "E10040");
}

TEST_CASE("odbc tables: an unreachable database is a Retryable load error naming the table",
          "[odbc][tables]") {
  auto loader = testing::tableLoader("odbc", "badges", odbcBlock(unreachableConnection(), "query: 'SELECT 1, 2'"));
  if (!loader) FAIL(loader.error());
  CHECK((*loader)->describe() == "odbc query of table badges");
  auto raw = (*loader)->load();
  REQUIRE_FALSE(raw);
  CHECK(raw.error().kind == core::ErrorKind::Retryable);
  CHECK_THAT(raw.error().message, Catch::Contains("SQLSTATE"));
  CHECK(raw.error().message.find("s3cret-pw") == std::string::npos);

  // Through a mapping, as `dutybridge check` and `run` load it, the password from a secret.
  testing::TempDir dir("table-down");
  auto password = dir.write("pg-password", "s3cret-pw\n");
  std::string connection = unreachableConnection();
  connection.replace(connection.find("s3cret-pw"), 9, "${file:" + password.string() + "}");
  auto file = dir.write("mapping.yaml", mappingYaml(connection, "SELECT * FROM badge_employee"));
  size_t unreachable = 0;
  auto options = loaders();
  options.unreachable_tables = &unreachable;
  auto loaded = mapping::loadMapping(file, options);
  REQUIRE_FALSE(loaded);
  std::string report = loaded.error().format();
  CHECK_THAT(report, Catch::Contains("table 'badges' could not be loaded (odbc query of table badges)"));
  CHECK_THAT(report, Catch::Contains("(at tables.badges.odbc)"));
  CHECK_THAT(report, Catch::Contains("dutybridge run` keeps retrying"));
  CHECK(report.find("s3cret-pw") == std::string::npos);
  CHECK(unreachable == 1);
  CHECK(loaded.error().size() == 1);
}

TEST_CASE("odbc tables: bad SQL, missing columns and bad settings are Permanent or config errors",
          "[odbc][tables][sqlite]") {
  std::string connection = testing::sqliteConnection(testing::uniqueName("badsql"));
  testing::Database db(connection);
  db.exec("CREATE TABLE badge_employee (badge TEXT, employee TEXT)");
  db.exec("INSERT INTO badge_employee VALUES ('B1', 'E1')");

  auto loader = testing::tableLoader("odbc", "badges", odbcBlock(connection, "query: SELECT badge FROM no_such_table"));
  if (!loader) FAIL(loader.error());
  auto raw = (*loader)->load();
  REQUIRE_FALSE(raw);
  CHECK(raw.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(raw.error().message, Catch::Contains("no_such_table"));

  testing::TempDir dir("table-columns");
  auto file = dir.write("mapping.yaml", mappingYaml(connection, "SELECT badge, employee FROM badge_employee"));
  size_t unreachable = 0;
  auto options = loaders();
  options.unreachable_tables = &unreachable;
  auto loaded = mapping::loadMapping(file, options);
  REQUIRE_FALSE(loaded);
  CHECK_THAT(loaded.error().format(), Catch::Contains("no column 'employee_no' (value) in the table source"));
  CHECK_THAT(loaded.error().format(), Catch::Contains("hint: columns: badge, employee"));
  CHECK(unreachable == 0);

  auto refused = testing::tableLoader("odbc", "badges", odbcBlock(connection, "qeury: SELECT 1"));
  REQUIRE_FALSE(refused);
  CHECK_THAT(refused.error(), Catch::Contains("unknown key 'qeury'") && Catch::Contains("did you mean 'query'?") &&
                                  Catch::Contains("tables.badges.odbc.qeury"));
  CHECK_THAT(refused.error(), Catch::Contains("missing required key 'query'"));

  auto bounded = testing::tableLoader("odbc", "badges", odbcBlock(connection, "query: SELECT 1, timeout: 2h"));
  REQUIRE_FALSE(bounded);
  CHECK_THAT(bounded.error(), Catch::Contains("tables.badges.odbc.timeout") && Catch::Contains("between 1s and 10m"));
}
