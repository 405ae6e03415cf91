#include <catch2/catch.hpp>
#include <filesystem>
#include <random>

#include "src/odbc/odbc_handles.h"
#include "tests/support/env.h"

using namespace dutybridge;

namespace {

void exec(odbc::Connection& connection, const std::string& sql) {
  auto statement = connection.statement();
  REQUIRE(statement);
  auto done = statement->execute(sql);
  INFO(sql);
  REQUIRE(done);
}

std::vector<std::vector<std::optional<std::string>>> query(odbc::Connection& connection, const std::string& sql,
                                                           int columns) {
  auto statement = connection.statement();
  REQUIRE(statement);
  auto done = statement->execute(sql);
  if (!done) FAIL(done.error().message);
  std::vector<std::vector<std::optional<std::string>>> rows;
  while (true) {
    auto more = statement->fetch();
    REQUIRE(more);
    if (!*more) break;
    std::vector<std::optional<std::string>> row;
    for (int c = 1; c <= columns; ++c) row.push_back(*statement->getText(static_cast<SQLUSMALLINT>(c)));
    rows.push_back(std::move(row));
  }
  return rows;
}

void roundTrip(odbc::Connection& connection, const std::string& table) {
  exec(connection, "CREATE TABLE " + table +
                       " (report_no VARCHAR(20) PRIMARY KEY, workshop VARCHAR(40), good_qty NUMERIC(12,3))");
  exec(connection, "INSERT INTO " + table + " VALUES ('PR1', '注塑车间', 1234.567), ('PR2', NULL, 0.001)");
  auto rows = query(connection, "SELECT report_no, workshop, good_qty FROM " + table + " ORDER BY report_no", 3);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0][0] == "PR1");
  CHECK(rows[0][1] == "注塑车间");
  CHECK(rows[0][2] == "1234.567");
  CHECK_FALSE(rows[1][1].has_value());
  CHECK(rows[1][2] == "0.001");
  exec(connection, "DROP TABLE " + table);
}

}  // namespace

TEST_CASE("query the real PostgreSQL through psqlODBC", "[integration][odbc][postgresql]") {
  std::string connection_string = testing::postgresOdbc();
  auto env = odbc::Environment::create();
  REQUIRE(env);
  auto connection = odbc::Connection::connect(*env, connection_string);
  if (!connection) FAIL(connection.error().message);
  CHECK(connection->dbmsName() == "PostgreSQL");
  auto version = query(*connection, "SELECT version()", 1);
  REQUIRE(version.size() == 1);
  CHECK_THAT(*version[0][0], Catch::StartsWith("PostgreSQL"));
  roundTrip(*connection, "it_odbc_" + std::to_string(std::random_device{}() % 1'000'000));
}

TEST_CASE("query a SQLite file through sqliteodbc", "[integration][odbc][sqlite]") {
  auto file = std::filesystem::temp_directory_path() / ("dutybridge-it-" + std::to_string(::getpid()) + ".db");
  auto env = odbc::Environment::create();
  REQUIRE(env);
  {
    auto connection = odbc::Connection::connect(*env, "Driver=SQLite3;Database=" + file.string());
    if (!connection) FAIL(connection.error().message);
    CHECK(connection->dbmsName() == "SQLite");
    roundTrip(*connection, "production_report");
  }
  std::filesystem::remove(file);
}

TEST_CASE("ODBC failures carry the driver diagnostics", "[integration][odbc]") {
  auto env = odbc::Environment::create();
  REQUIRE(env);
  auto missing_driver = odbc::Connection::connect(*env, "Driver={No Such Driver};Database=x");
  REQUIRE_FALSE(missing_driver);
  CHECK(missing_driver.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(missing_driver.error().message, Catch::Contains("No Such Driver"));

  auto refused = odbc::Connection::connect(
      *env, "Driver={PostgreSQL Unicode};Server=127.0.0.1;Port=1;Database=x;Uid=x;Pwd=secret-pw-42", 2);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == core::ErrorKind::Retryable);
  CHECK_THAT(refused.error().message, !Catch::Contains("secret-pw-42"));

  auto file = std::filesystem::temp_directory_path() / ("dutybridge-it-bad-" + std::to_string(::getpid()) + ".db");
  auto connection = odbc::Connection::connect(*env, "Driver=SQLite3;Database=" + file.string());
  REQUIRE(connection);
  auto statement = connection->statement();
  REQUIRE(statement);
  auto bad = statement->execute("SELEC nonsense");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(bad.error().message, Catch::Contains("SQLSTATE"));
  std::filesystem::remove(file);
}
