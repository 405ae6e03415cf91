#include "connectors/odbc/upsert_dialect.h"

#include <algorithm>

namespace dutybridge::odbc {

std::string UpsertDialect::probeTableSql(const std::string& table) const {
  return "SELECT 1 FROM " + table + " WHERE 1 = 0";
}

const UpsertDialect* upsertDialectFor(DialectKind kind) {
  switch (kind) {
    case DialectKind::PostgreSQL:
      return &postgresqlUpsertDialect();
    case DialectKind::SQLite:
      return &sqliteUpsertDialect();
    default:
      return nullptr;
  }
}

const UpsertDialect* upsertDialectNamed(std::string_view name) {
  for (const UpsertDialect* d : {&postgresqlUpsertDialect(), &sqliteUpsertDialect()}) {
    if (d->name() == name) return d;
  }
  return nullptr;
}

std::vector<std::string_view> upsertDialectNames() {
  return {postgresqlUpsertDialect().name(), sqliteUpsertDialect().name()};
}

std::string onConflictUpsertSql(const UpsertShape& shape, size_t rows, std::string_view now) {
  std::string sql = "INSERT INTO " + shape.table + " (";
  for (size_t i = 0; i < shape.columns.size(); ++i) {
    if (i) sql += ", ";
    sql += shape.columns[i];
  }
  if (shape.updated_at) sql += ", " + *shape.updated_at;
  sql += ") VALUES ";
  std::string row = "(";
  for (size_t i = 0; i < shape.columns.size(); ++i) row += i ? ", ?" : "?";
  if (shape.updated_at) row += ", " + std::string(now);
  row += ")";
  sql.reserve(sql.size() + rows * (row.size() + 1) + 256);
  for (size_t r = 0; r < rows; ++r) {
    if (r) sql += ',';
    sql += row;
  }
  sql += " ON CONFLICT (";
  for (size_t i = 0; i < shape.key.size(); ++i) {
    if (i) sql += ", ";
    sql += shape.key[i];
  }
  sql += ") DO ";
  std::vector<std::string> updates;
  for (const auto& column : shape.columns) {
    if (std::find(shape.key.begin(), shape.key.end(), column) != shape.key.end()) continue;
    updates.push_back(column + " = excluded." + column);
  }
  if (shape.updated_at) updates.push_back(*shape.updated_at + " = excluded." + *shape.updated_at);
  if (updates.empty()) return sql + "NOTHING";
  sql += "UPDATE SET ";
  for (size_t i = 0; i < updates.size(); ++i) {
    if (i) sql += ", ";
    sql += updates[i];
  }
  if (shape.revision) {
    // Equal revisions do not overwrite either: a replayed batch changes nothing.
    sql += " WHERE " + shape.table_name + "." + *shape.revision + " < excluded." + *shape.revision;
  }
  return sql;
}

}  // namespace dutybridge::odbc
