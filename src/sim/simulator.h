#pragma once
// The demo factory simulator's two commands (docs/demo-factory.md):
//   init: (re)creates the four systems' databases with master data and history up to `now`: the
//         SQLite files DIR/mes.db, erp.db, crm.db and hrm.db (SQLite3 ODBC driver), or the
//         PostgreSQL schemas mes, erp, crm and hrm (dropped and created again). The same seed,
//         employee count, history length and `now` give the same content (byte-for-byte for
//         SQLite; the same rows and values on PostgreSQL).
//   run:  keeps writing live events with the real clock's plant time until `stop` is set or the
//         duration is over; every write is its own short transaction.
//
// Threading: both run on the caller's thread; `stop` may be set from a signal handler.
// Errors: a database failure stops the command with the driver's diagnostic (the current
// transaction is rolled back).

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>

#include "src/calendar/calendar.h"
#include "src/core/error.h"
#include "src/sim/factory_model.h"
#include "src/sim/sql_session.h"

namespace dutybridge::sim {

// Where the four systems live: SQLite files in `dir`, or, when `postgresql` is set, one schema
// each (`schema_prefix` + "mes", ...) in the PostgreSQL database of that ODBC connection string.
struct Target {
  std::filesystem::path dir;
  std::optional<std::string> postgresql;
  std::string schema_prefix;

  Dialect dialect() const { return postgresql ? Dialect::Postgresql : Dialect::Sqlite; }
  // "pfx_mes" on PostgreSQL, "mes" on SQLite (unused there).
  std::string schemaOf(std::string_view system) const;
  std::string connectionString(std::string_view system) const;
  // For summaries and errors: DIR, or "postgresql schemas mes, erp, crm, hrm"; never the
  // connection string (it carries the password).
  std::string describe() const;
};

// A schema prefix PostgreSQL takes unquoted and unchanged: [a-z_][a-z0-9_]*, at most 40 chars.
bool validSchemaPrefix(std::string_view prefix);

struct InitOptions {
  Target target;
  uint64_t seed = 1;
  int history_days = 3;
  int employees = 300;
  PlantTime now = 0;  // plant wall-clock time
};

// Returns the summary line: row counts per table.
core::Result<std::string> initFactory(const InitOptions& options, const calendar::Calendar& calendar);

struct RunOptions {
  Target target;
  std::optional<uint64_t> seed;  // default: the seed init used (mes sim_meta)
  double speed = 60;
  std::optional<double> duration_seconds;
  double stats_interval_seconds = 0;  // 0: no periodic stats
};

// Returns the summary line: rows written per table.
core::Result<std::string> runFactory(const RunOptions& options, const calendar::Calendar& calendar,
                                     const std::atomic<bool>& stop, std::ostream& stats);

// "Driver=SQLite3;Database=DIR/mes.db;Timeout=10000"
std::string sqliteConnectionString(const std::filesystem::path& dir, std::string_view system);

}  // namespace dutybridge::sim
