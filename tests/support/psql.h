#pragma once
// PostgreSQL through psql, for tests that set up or inspect the shared test database (or a
// private cluster of their own): statements, rows, single numbers.

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/support/env.h"
#include "tests/support/files.h"

namespace dutybridge::testing {

// A PostgreSQL database reached with a password over TCP.
struct Pg {
  std::string host, port, user, password, db;

  // The shared test database of scripts/test (DUTYBRIDGE_TEST_PG_*).
  static Pg fromEnv() {
    return Pg{requireEnv("DUTYBRIDGE_TEST_PG_HOST"), requireEnv("DUTYBRIDGE_TEST_PG_PORT"),
              requireEnv("DUTYBRIDGE_TEST_PG_USER"), requireEnv("DUTYBRIDGE_TEST_PG_PASSWORD"),
              requireEnv("DUTYBRIDGE_TEST_PG_DB")};
  }
  std::string odbc() const {
    return fmt::format("Driver={{PostgreSQL Unicode}};Server={};Port={};Database={};Uid={};Pwd={}", host, port, db,
                       user, password);
  }
};

// Runs SQL through psql; returns psql's exit status, its output (unaligned, tab-separated, no
// headers; NULL as the empty string) in `out` and its errors in `err`. No Catch macros: callable
// from any thread.
inline int runPsql(const Pg& pg, const std::string& sql, std::string* out = nullptr, std::string* err = nullptr) {
  auto file = std::filesystem::temp_directory_path() / uniqueName("dutybridge-sql");
  std::ofstream(file) << sql;
  std::string command = fmt::format(
      "PGPASSWORD='{}' PGCONNECT_TIMEOUT=5 psql -X -q -A -t -F '\t' -v ON_ERROR_STOP=1 -h '{}' -p '{}' -U '{}' -d '{}' "
      "-f '{}' >'{}.out' 2>'{}.err'",
      pg.password, pg.host, pg.port, pg.user, pg.db, file.string(), file.string(), file.string());
  int status = std::system(command.c_str());
  if (out) *out = readFile(file.string() + ".out");
  if (err) *err = readFile(file.string() + ".err");
  for (const char* suffix : {"", ".out", ".err"}) std::filesystem::remove(file.string() + suffix);
  return status;
}

// Runs SQL; fails the test (with psql's errors) when it fails.
inline void psql(const Pg& pg, const std::string& sql) {
  std::string err;
  int status = runPsql(pg, sql, nullptr, &err);
  INFO(err);
  REQUIRE(status == 0);
}

// Lines of tab-separated fields (psql -A -F '\t', sqlite3 -tabs) as rows; empty lines skipped.
inline std::vector<std::vector<std::string>> tabRows(const std::string& out) {
  std::vector<std::vector<std::string>> rows;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    std::vector<std::string> fields;
    size_t from = 0;
    while (true) {
      size_t tab = line.find('\t', from);
      fields.push_back(line.substr(from, tab == std::string::npos ? std::string::npos : tab - from));
      if (tab == std::string::npos) break;
      from = tab + 1;
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

// The rows of a query, fields split at tabs. Fails the test on error.
inline std::vector<std::vector<std::string>> psqlRows(const Pg& pg, const std::string& sql) {
  std::string out, err;
  int status = runPsql(pg, sql, &out, &err);
  INFO(err);
  REQUIRE(status == 0);
  return tabRows(out);
}

// The first column of a query's rows.
inline std::vector<std::string> psqlColumn(const Pg& pg, const std::string& sql) {
  std::vector<std::string> column;
  for (auto& row : psqlRows(pg, sql)) column.push_back(std::move(row.at(0)));
  return column;
}

// A query's single number.
inline long psqlLong(const Pg& pg, const std::string& sql) {
  std::string out, err;
  int status = runPsql(pg, sql, &out, &err);
  INFO(err);
  REQUIRE(status == 0);
  return std::stol(out);
}

// The same against the shared test database (Pg::fromEnv()).
inline void psql(const std::string& sql) {
  psql(Pg::fromEnv(), sql);
}
inline std::vector<std::vector<std::string>> psqlRows(const std::string& sql) {
  return psqlRows(Pg::fromEnv(), sql);
}

}  // namespace dutybridge::testing
