// SQLite >= 3.24: INSERT ... ON CONFLICT DO UPDATE; values are text (timestamps as
// "YYYY-MM-DD HH:MM:SS[.ffffff]" UTC, which sorts and compares like SQLite's own CURRENT_TIMESTAMP),
// booleans 0/1, exact decimals as TEXT, group_concat for lists.
#include <fmt/format.h>

#include "connectors/odbc/upsert_dialect.h"

namespace dutybridge::odbc {
namespace {

class SqliteUpsert final : public UpsertDialect {
 public:
  DialectKind kind() const override { return DialectKind::SQLite; }
  std::string_view name() const override { return "sqlite"; }

  std::string upsertSql(const UpsertShape& shape, size_t rows) const override {
    return onConflictUpsertSql(shape, rows, "CURRENT_TIMESTAMP");
  }
  std::string offsetsUpsertSql(const std::string& table) const override {
    return "INSERT INTO " + table +
           " (pipeline_key, position, updated_at) VALUES (?, ?, CURRENT_TIMESTAMP) ON CONFLICT (pipeline_key) DO "
           "UPDATE SET position = excluded.position, updated_at = excluded.updated_at";
  }
  std::string offsetsCreateSql(const std::string& table) const override {
    return "CREATE TABLE IF NOT EXISTS " + table +
           " (pipeline_key TEXT PRIMARY KEY, position TEXT NOT NULL, updated_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)";
  }
  // SQLite 3.32+ allows 32766, but the SQLite ODBC driver grows its statement buffers with a
  // realloc per parameter: cheap with glibc (mremap), quadratic under other allocators (ASan's
  // made a 100k-fact load take minutes). 999 (SQLite's old limit) is 43 rows of the fact
  // table per statement; an embedded database has no round trip to save.
  size_t maxParameters() const override { return 999; }

  std::string timestampText(core::Timestamp ts) const override {
    std::string text = core::formatTimestamp(ts);  // 2025-03-14T12:00:00[.ffffff]Z
    if (!text.empty() && text.back() == 'Z') text.pop_back();
    if (text.size() > 10 && text[10] == 'T') text[10] = ' ';
    return text;
  }
  std::string_view boolText(bool value) const override { return value ? "1" : "0"; }

  const SqlTypes& types() const override {
    static const SqlTypes types{"TEXT", "INTEGER", "TEXT", "TEXT", "TEXT", "INTEGER", "TEXT", "CURRENT_TIMESTAMP"};
    return types;
  }
  std::string listAgg(const std::string& expression) const override {
    // group_concat(DISTINCT x) takes no separator argument; its default is ','.
    return fmt::format("group_concat(DISTINCT {})", expression);
  }
  // Decimals are TEXT (NUMERIC affinity would round them through binary floating point), and
  // TEXT compares with 1 as text.
  std::string numeric(const std::string& expression) const override {
    return "CAST(" + expression + " AS REAL)";
  }
  // Dates are 'YYYY-MM-DD' text, which date() reads and writes.
  std::string today() const override { return "date('now')"; }
  std::string addDays(const std::string& date, int days) const override {
    return fmt::format("date({}, '{:+} days')", date, days);
  }
  std::string monthEnd(const std::string& date) const override {
    return fmt::format("date({}, 'start of month', '+1 month', '-1 day')", date);
  }
  std::string jsonNumber(const std::string& column, const std::string& key) const override {
    return fmt::format("CAST(json_extract({}, '$.{}') AS REAL)", column, key);
  }
  // Write-ahead logging: HR's readers (and a report running while the loader writes) read the
  // last commit instead of waiting for the loader's transaction; the mode stays with the file.
  std::string schemaPreamble() const override { return "PRAGMA journal_mode = WAL;\n\n"; }
};

}  // namespace

const UpsertDialect& sqliteUpsertDialect() {
  static const SqliteUpsert dialect;
  return dialect;
}

}  // namespace dutybridge::odbc
