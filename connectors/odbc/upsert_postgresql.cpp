// PostgreSQL: INSERT ... ON CONFLICT DO UPDATE (9.5+), timestamptz, numeric, string_agg.
#include <fmt/format.h>

#include "connectors/odbc/upsert_dialect.h"

namespace dutybridge::odbc {
namespace {

class PostgresqlUpsert final : public UpsertDialect {
 public:
  DialectKind kind() const override { return DialectKind::PostgreSQL; }
  std::string_view name() const override { return "postgresql"; }

  std::string upsertSql(const UpsertShape& shape, size_t rows) const override {
    return onConflictUpsertSql(shape, rows, "now()");
  }
  std::string offsetsUpsertSql(const std::string& table) const override {
    return "INSERT INTO " + table +
           " (pipeline_key, position, updated_at) VALUES (?, ?, now()) ON CONFLICT (pipeline_key) DO UPDATE SET "
           "position = excluded.position, updated_at = excluded.updated_at";
  }
  std::string offsetsCreateSql(const std::string& table) const override {
    return "CREATE TABLE IF NOT EXISTS " + table +
           " (pipeline_key TEXT PRIMARY KEY, position TEXT NOT NULL, updated_at TIMESTAMPTZ NOT NULL DEFAULT now())";
  }
  // The protocol allows 65535, but libpq (under psqlODBC) rejects a ParameterDescription
  // message longer than 30000 bytes ("lost synchronization with server: got message type t"),
  // and that message takes 4 bytes per parameter.
  size_t maxParameters() const override { return 7400; }

  std::string timestampText(core::Timestamp ts) const override {
    // ISO 8601 with Z: timestamptz reads it as the instant it is, whatever the session zone.
    return core::formatTimestamp(ts);
  }
  std::string_view boolText(bool value) const override { return value ? "true" : "false"; }

  const SqlTypes& types() const override {
    static const SqlTypes types{"TEXT", "BIGINT", "NUMERIC", "TIMESTAMPTZ", "DATE", "BOOLEAN", "TEXT", "now()"};
    return types;
  }
  std::string listAgg(const std::string& expression) const override {
    return fmt::format("string_agg(DISTINCT {0}, ',' ORDER BY {0})", expression);
  }
  std::string today() const override { return "CURRENT_DATE"; }
  std::string addDays(const std::string& date, int days) const override { return fmt::format("({} + {})", date, days); }
  std::string monthEnd(const std::string& date) const override {
    return fmt::format("CAST(date_trunc('month', {}) + INTERVAL '1 month - 1 day' AS DATE)", date);
  }
  std::string jsonNumber(const std::string& column, const std::string& key) const override {
    return fmt::format("CAST(CAST({} AS JSONB) ->> '{}' AS NUMERIC)", column, key);
  }
};

}  // namespace

const UpsertDialect& postgresqlUpsertDialect() {
  static const PostgresqlUpsert dialect;
  return dialect;
}

}  // namespace dutybridge::odbc
