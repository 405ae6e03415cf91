#pragma once
// A small SQL writer over the project's ODBC handles (src/odbc/odbc_handles.h) for the
// demo factory simulator: manual commit, prepared statements with text parameters, and table
// names qualified per target (SQLite: one database file per system, no prefix; PostgreSQL: one
// schema per system, "mes.production_report"). Schema names are lower-case identifiers
// (Target::schemaOf, validSchemaPrefix) and go into the SQL unquoted.
//
// Every parameter is bound as text (SQL_C_CHAR): both the SQLite3 and the PostgreSQL drivers hand
// it to the column's type, so decimals stay exact in NUMERIC columns on PostgreSQL.
//
// Threading: one thread per session. Ownership: a Prepared statement borrows its session's
// connection and must not outlive it. Errors: every failing call returns the driver's
// diagnostic as a core::Error (odbc::makeError); the caller rolls back.

#include <optional>
#include <string>
#include <vector>

#include "src/core/error.h"
#include "src/odbc/odbc_handles.h"

namespace dutybridge::sim {

enum class Dialect { Sqlite, Postgresql };

// One statement parameter or result cell; nullopt is SQL NULL.
using Cell = std::optional<std::string>;
using Row = std::vector<Cell>;

class Prepared {
 public:
  explicit Prepared(odbc::Statement statement) : statement_(std::move(statement)) {}
  // Binds `params` (text or NULL) and executes once.
  core::Status run(const Row& params);

 private:
  odbc::Statement statement_;
  std::vector<SQLLEN> indicators_;
};

class SqlSession {
 public:
  // Connects with autocommit off. `schema` is the PostgreSQL schema of this system ("mes");
  // ignored for SQLite.
  static core::Result<SqlSession> open(const odbc::Environment& env, const std::string& connection_string,
                                       Dialect dialect, std::string schema);

  Dialect dialect() const { return dialect_; }
  // This system's PostgreSQL schema ("mes", or "PREFIXmes").
  const std::string& schema() const { return schema_; }
  // "production_report" (SQLite) or "mes.production_report" (PostgreSQL).
  std::string table(const std::string& name) const;

  // Executes one statement without parameters (DDL, UPDATE ...).
  core::Status exec(const std::string& sql);
  core::Result<Prepared> prepare(const std::string& sql);
  // Runs a query and returns every row as text cells.
  core::Result<std::vector<Row>> query(const std::string& sql);
  core::Status commit();
  core::Status rollback();

 private:
  SqlSession(odbc::Connection connection, Dialect dialect, std::string schema)
      : connection_(std::move(connection)), dialect_(dialect), schema_(std::move(schema)) {}

  odbc::Connection connection_;
  Dialect dialect_;
  std::string schema_;
};

// Runs `body` in its own transaction: commits when it succeeds, rolls back when it fails.
template <class Body>
core::Status inTransaction(SqlSession& session, Body&& body) {
  core::Status status = body();
  if (!status) {
    (void)session.rollback();
    return status;
  }
  return session.commit();
}

}  // namespace dutybridge::sim
