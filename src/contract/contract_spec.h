#pragma once
// The output contracts, each defined once (docs/schemas/*.json are generated from here, the HR
// store's tables by connectors/odbc/hr_schema.cpp, the odbc sink's columns for `contract:`, the
// records the position_catalog source builds): duty_kpi.v1 (hr.duty-kpi.v1), employee_record.v1
// (hr.employee-record.v1) and position_catalog.v1 (hr.position-catalog.v1).
//
// A contract is its JSON fields in order, nested objects by dotted path ("period.shift_date"),
// each with its type, whether it must be present and may be null, its constraints, and the HR
// store column that keeps it; and the HR store tables that keep its records. What a mapping
// provides to build a record is src/mapping/contracts.h; this is what the record is.
// Immutable data; safe from any thread.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dutybridge::contract {

enum class Type {
  String,
  Int,
  Decimal,    // exact decimal, as JSON text
  Date,       // "2025-03-14"
  Timestamp,  // RFC 3339
  Bool,
  Enum,      // a string of `choices`
  Object,    // fields under "<path>." follow; no other members
  Map,       // an object with free members (a JSON column)
  TextList,  // an array of strings
};

struct Field {
  std::string path;  // "fact_key", "period.shift_date"
  Type type = Type::String;
  bool required = true;   // present in every record
  bool nullable = false;  // may be null
  std::string description;
  std::vector<std::string> choices;  // Enum
  std::string pattern;               // String, Decimal (default: a decimal number)
  std::optional<int64_t> minimum;    // Int
  bool non_empty = false;            // String: at least one character
  std::string column;                // HR store column; empty: not a column of its own
  bool sql_default_false = false;    // Bool column: DEFAULT false
};

// An HR store table that keeps records of a contract: its columns are the fields' columns (in
// field order, renamed or added below), then updated_at.
struct Table {
  std::string name;
  std::optional<std::string> record_type;                    // only records of this record_type (employee_record.v1)
  std::vector<std::pair<std::string, std::string>> renames;  // field column -> this table's column
  std::vector<Field> extra;       // columns of this table only (path: where the value comes from)
  std::vector<std::string> skip;  // field columns this table does not keep
  std::vector<std::pair<std::string, std::vector<std::string>>> indexes;  // name, columns
};

struct Spec {
  std::string name;   // duty_kpi.v1
  std::string title;  // JSON Schema title
  std::string description;
  std::string topic;      // default topic
  std::string key_field;  // fact_key
  std::string revision_field = "revision";
  std::vector<Field> fields;
  std::vector<Table> tables;

  const Field* find(std::string_view path) const;
  // The record's own fields (no dotted paths), in order: the output record's schema.
  std::vector<std::string> topLevelNames() const;
  // A table's columns in order: (column, field) pairs; the field's path says where the value is.
  std::vector<std::pair<std::string, Field>> columns(const Table& table) const;
};

const std::vector<const Spec*>& all();
const Spec* find(std::string_view name);
const Spec& dutyKpi();
const Spec& employeeRecord();
const Spec& positionCatalog();

// The JSON Schema (draft 2020-12) of the contract's records, as docs/schemas/<name>.json holds
// it (two-space indent, ending in a newline).
std::string jsonSchema(const Spec& spec);

}  // namespace dutybridge::contract
