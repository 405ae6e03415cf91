#pragma once
// The demo factory simulator's two commands (docs/demo-factory.md):
//   init: (re)creates DIR/mes.db, erp.db, crm.db and hrm.db (SQLite through the SQLite3 ODBC
//         driver) with master data and history up to `now`; byte-for-byte the same databases for
//         the same seed, employee count, history length and `now`.
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

#include "src/calendar/calendar.h"
#include "src/core/error.h"
#include "src/sim/factory_model.h"

namespace dutybridge::sim {

struct InitOptions {
  std::filesystem::path dir;
  uint64_t seed = 1;
  int history_days = 3;
  int employees = 300;
  PlantTime now = 0;  // plant wall-clock time
};

// Returns the summary line: row counts per table.
core::Result<std::string> initFactory(const InitOptions& options, const calendar::Calendar& calendar);

struct RunOptions {
  std::filesystem::path dir;
  std::optional<uint64_t> seed;     // default: the seed init used (mes.db sim_meta)
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
