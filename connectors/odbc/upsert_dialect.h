#pragma once
// What the odbc sink and `dutybridge hr-schema` need to know about one database, in one place
// per database: the revision-aware multi-row upsert, the dutybridge_offsets upsert, how values
// are written as text (timestamps, booleans), the DDL type names and the list aggregate of
// the duty_fulfilment view. PostgreSQL lives in upsert_postgresql.cpp and SQLite in
// upsert_sqlite.cpp; a MySQL (ON DUPLICATE KEY UPDATE) or SQL Server (MERGE) dialect is one more
// file of the same shape plus one line in upsertDialectFor().
//
// Only identifiers that passed parseIdentifier() reach the SQL text; values are always bound
// as parameters. Dialect objects are immutable singletons: safe from any thread.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/odbc/odbc_dialect.h"
#include "src/core/time.h"

namespace dutybridge::odbc {

// The table and columns one sink writes, already rendered as SQL identifiers.
struct UpsertShape {
  std::string table;             // as written in INSERT INTO (may be schema-qualified)
  std::string table_name;        // the table's last name part, to qualify its columns in WHERE
  std::vector<std::string> columns;  // bound columns, in parameter order
  std::vector<std::string> key;      // conflict target, a subset of columns
  std::optional<std::string> revision;  // revision-aware: update only when the new one is higher
  std::optional<std::string> updated_at;  // set to the database's current time on insert and update
  std::optional<std::string> status;      // withdrawn: delete: the status column
};

struct SqlTypes {
  std::string text;       // keys and codes
  std::string big_int;    // revisions
  std::string decimal;    // exact values
  std::string timestamp;  // instants
  std::string date;
  std::string boolean;
  std::string json;       // JSON documents kept as text
  std::string now;        // default expression for updated_at
};

class UpsertDialect {
 public:
  virtual ~UpsertDialect() = default;
  virtual DialectKind kind() const = 0;
  // The name `dutybridge hr-schema --dialect` takes.
  virtual std::string_view name() const = 0;

  // INSERT of `rows` rows of shape.columns (parameter markers, row by row), updating every
  // non-key column of an existing row whose revision is lower (or always, without revision).
  virtual std::string upsertSql(const UpsertShape& shape, size_t rows) const = 0;
  // Parameter markers: pipeline_key, position.
  virtual std::string offsetsUpsertSql(const std::string& offsets_table) const = 0;
  virtual std::string offsetsCreateSql(const std::string& offsets_table) const = 0;
  // SQL that fails when `table` does not exist and returns no rows otherwise.
  virtual std::string probeTableSql(const std::string& table) const;
  // Most bound parameters one statement may carry.
  virtual size_t maxParameters() const = 0;

  virtual std::string timestampText(core::Timestamp ts) const = 0;
  virtual std::string_view boolText(bool value) const = 0;

  virtual const SqlTypes& types() const = 0;
  // Aggregate that joins the distinct non-null values of `expression` over a group with ','
  // (string_agg, group_concat).
  virtual std::string listAgg(const std::string& expression) const = 0;
  // `expression` (a decimal column) as something that compares numerically with 1.
  virtual std::string numeric(const std::string& expression) const { return expression; }
  // For the personnel-file views (hr_schema.cpp): the database's current date; a date
  // expression plus `days`; the last day of a date's month; a number kept in a JSON text column
  // (`column` holds a JSON object, `key` one of its members) as something that compares
  // numerically.
  virtual std::string today() const = 0;
  virtual std::string addDays(const std::string& date, int days) const = 0;
  virtual std::string monthEnd(const std::string& date) const = 0;
  virtual std::string jsonNumber(const std::string& column, const std::string& key) const = 0;
  // Database settings `dutybridge hr-schema` prints before the DDL (e.g. SQLite's WAL mode, so
  // readers never wait for the loader's write transactions); empty when none.
  virtual std::string schemaPreamble() const { return {}; }
};

// nullptr for a database without an upsert dialect yet.
const UpsertDialect* upsertDialectFor(DialectKind kind);
// By `name()` ("postgresql", "sqlite"); nullptr when unknown.
const UpsertDialect* upsertDialectNamed(std::string_view name);
std::vector<std::string_view> upsertDialectNames();

// The per-dialect singletons (one file each).
const UpsertDialect& postgresqlUpsertDialect();
const UpsertDialect& sqliteUpsertDialect();

// Shared by the ON CONFLICT dialects (PostgreSQL, SQLite >= 3.24): the VALUES list and the
// DO UPDATE clause are the same text in both.
std::string onConflictUpsertSql(const UpsertShape& shape, size_t rows, std::string_view now);

}  // namespace dutybridge::odbc
