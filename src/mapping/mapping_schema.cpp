#include "src/mapping/mapping_schema.h"

#include <limits>
#include <memory>

namespace dutybridge::mapping {
namespace {

using core::FieldSpec;
using core::FieldType;

constexpr int64_t kHour = 3'600'000'000;
constexpr int64_t kDay = 24 * kHour;

std::shared_ptr<const core::ConfigSchema> aggregateSchema() {
  static const auto schema = std::make_shared<const core::ConfigSchema>(std::vector<FieldSpec>{
      FieldSpec::make("id", FieldType::Expression)
          .req()
          .doc("The source row's identity. A row that comes again with the same id replaces its earlier "
               "contribution; it never counts twice. Compiled over the input fields only (it is evaluated even "
               "for rows that `where` rejects)."),
      FieldSpec::make("part", FieldType::Expression)
          .doc("When one source row contributes several times (a multi-worker report read as one row per "
               "worker), the part tells them apart (e.g. the worker's badge)."),
      FieldSpec::make("version", FieldType::Expression)
          .doc("Orders the versions of one row (a timestamp such as `updated_at`, a date or a number). A newer "
               "version first retracts every part of the row, then adds its own; an older one than the one held "
               "is ignored. Without it every row replaces only its own part."),
      FieldSpec::make("calendar", FieldType::String)
          .doc("A calendar of the mapping's `calendars:` file (docs/calendars.md); needed by every aggregate."),
      FieldSpec::make("period", FieldType::Enum)
          .req()
          .oneOf({"SHIFT", "DAY", "WEEK", "MONTH", "HOUR", "ROLLING"})
          .doc("The facts' period. Periods are built from the shift date, not the wall-clock date, so a night "
               "shift's output belongs to the day it started; WEEK is the ISO week; HOUR is an hour slot of a "
               "shift (needs `time`); ROLLING is one record per group over the last `window` plant days "
               "(\"Rolling windows\")."),
      FieldSpec::make("window", FieldType::Duration)
          .range(kDay, std::numeric_limits<int64_t>::max())
          .doc("ROLLING only, and needed there: how many plant days a record covers, in whole days (`90d`). On "
               "plant day D the record counts the rows of days D - window + 1 to D."),
      FieldSpec::make("time", FieldType::Expression)
          .doc("A timestamp: the calendar finds the shift that contains it. Or `shift_date` and `shift_code`. "
               "HOUR periods need it (it picks the hour), and may give `shift_date` and `shift_code` too."),
      FieldSpec::make("shift_date", FieldType::Expression)
          .doc("The row's own shift date (MES reports carry it); DAY, WEEK and MONTH periods need only this, "
               "and it is the day a ROLLING row counts on."),
      FieldSpec::make("shift_code", FieldType::Expression).doc("The row's own shift code, with `shift_date`."),
      FieldSpec::make("group_by", FieldType::ExpressionMap)
          .req()
          .doc("Names and expressions: one fact per distinct combination (and period)."),
      FieldSpec::make("measures", FieldType::ExpressionMap)
          .req()
          .doc("Names and aggregations: `sum(x)`, `count()`, `count(condition)`, `count_distinct(x)`, `min(x)`, "
               "`max(x)`, `ratio(numerator, denominator)`, `weighted_avg(x, weight)`."),
      FieldSpec::make("grace", FieldType::Duration)
          .def("0s")
          .range(0, std::numeric_limits<int64_t>::max())
          .doc("The closed revision is emitted when the clock passes period end + grace. Not with ROLLING."),
      FieldSpec::make("retain", FieldType::Duration)
          .def("7d")
          .range(kHour, std::numeric_limits<int64_t>::max())
          .doc("After end + grace + retain the window is forgotten (its state deleted); a row for it is then a "
               "dead letter with a reason, never silently dropped. At least 1h: corrections of a closed window "
               "arrive after it closes. Not with ROLLING (its records are kept; their rows age out)."),
      FieldSpec::make("min_interval", FieldType::Duration)
          .def("0s")
          .range(0, std::numeric_limits<int64_t>::max())
          .doc("0: every batch that changes a fact emits a revision of it. Larger values rate-limit open "
               "revisions per fact; the closed revision is never delayed."),
      FieldSpec::make("expect", FieldType::Object)
          .fields(std::make_shared<const core::ConfigSchema>(std::vector<FieldSpec>{
              FieldSpec::make("table", FieldType::String)
                  .req()
                  .doc("A reference table whose keys (at each period's start) are the groups that owe a fact."),
          }))
          .doc("A roster of groups that owe a fact every period, rows or not (its single `group_by` value is the "
               "table's key): a duty not fulfilled shows as a fact. Not with HOUR or ROLLING."),
  });
  return schema;
}

std::shared_ptr<const core::ConfigSchema> tableSchema() {
  return std::make_shared<const core::ConfigSchema>(std::vector<FieldSpec>{
      FieldSpec::make("rows", FieldType::Any)
          .shown("key to value, or a list of {key, value, valid_from, valid_to}")
          .doc("Inline rows. A table has exactly one of `rows`, `csv`, `odbc` and `kafka`."),
      FieldSpec::make("csv", FieldType::String)
          .doc("A CSV file with a header line (RFC 4180; UTF-8, a BOM is accepted), relative to the mapping file."),
      FieldSpec::make("odbc", FieldType::Any)
          .shown("the odbc table source's settings")
          .doc("Rows from a database query (docs/connectors/odbc.md, reference table source)."),
      FieldSpec::make("kafka", FieldType::Any)
          .shown("the kafka table source's settings")
          .doc("Rows from a compacted topic, read to its end (docs/connectors/kafka.md, reference table source)."),
      FieldSpec::make("key", FieldType::String).doc("The key column of a csv, odbc or kafka source."),
      FieldSpec::make("value", FieldType::String).doc("The value column."),
      FieldSpec::make("valid_from", FieldType::String)
          .doc("The column of the date or time a row is valid from: the table becomes effective-dated."),
      FieldSpec::make("valid_to", FieldType::String)
          .doc("The column of the date or time a row is valid until (exclusive)."),
      FieldSpec::make("time_zone", FieldType::String)
          .def("UTC")
          .doc("The IANA zone that validity dates without an offset are in."),
      FieldSpec::make("refresh", FieldType::Duration)
          .range(1'000'000, std::numeric_limits<int64_t>::max())
          .doc("Reload the table this often (not for inline rows); a failed reload keeps the old table."),
  });
}

std::shared_ptr<const core::ConfigSchema> emitSchema() {
  return std::make_shared<const core::ConfigSchema>(std::vector<FieldSpec>{
      FieldSpec::make("to", FieldType::String).doc("The topic; default: the contract's topic, else the sink's."),
      FieldSpec::make("contract", FieldType::String)
          .doc("An output contract (`duty_kpi.v1`, `employee_record.v1`, ...) the block's fields are completed "
               "into and checked against."),
      FieldSpec::make("key", FieldType::Any)
          .shown("expression, or a list of them")
          .doc("The record key (parts joined with `|`)."),
      FieldSpec::make("when", FieldType::Expression).doc("A non-null bool: the block emits only when it is true."),
      FieldSpec::make("fields", FieldType::ExpressionMap)
          .req()
          .doc("Output field name to expression, in order; `a.b` names a field inside an object."),
      FieldSpec::make("allow_personal", FieldType::StringList)
          .doc("Blocks without a contract: the fields (and `_key`) that may carry a personal value (see Personal "
               "data); any other field with one is refused. A contract decides this itself."),
  });
}

std::shared_ptr<const core::ConfigSchema> testSchema() {
  auto step = std::make_shared<const core::ConfigSchema>(std::vector<FieldSpec>{
      FieldSpec::make("now", FieldType::String).doc("The clock at this step (RFC 3339)."),
      FieldSpec::make("input", FieldType::Any).shown("field to value").doc("A record; none: the clock only moves."),
  });
  return std::make_shared<const core::ConfigSchema>(std::vector<FieldSpec>{
      FieldSpec::make("name", FieldType::String).doc("Shown when the test fails; default: test N."),
      FieldSpec::make("now", FieldType::String).doc("The clock (RFC 3339) for `now()` and the aggregation."),
      FieldSpec::make("input", FieldType::Any)
          .shown("field to value")
          .doc("The record (values as text, converted like source values)."),
      FieldSpec::make("steps", FieldType::ObjectList)
          .fields(step)
          .doc("Aggregate mappings: records and clock moves in order; revisions are collected after each."),
      FieldSpec::make("expect", FieldType::Any)
          .shown("list of field to text")
          .doc("The outputs in order: field to expected text, `_topic`, `_key`; decimals compare by value, "
               "timestamps by instant."),
      FieldSpec::make("expect_error", FieldType::String)
          .doc("Instead of `expect`: a substring of the dead-letter reason."),
  });
}

}  // namespace

const core::ConfigSchema& aggregateBlockSchema() {
  return *aggregateSchema();
}

const core::ConfigSchema& mappingFileSchema() {
  static const core::ConfigSchema schema({
      FieldSpec::make("extends", FieldType::String)
          .doc("The base mapping this file is an overlay of (relative to this file); see Overlays."),
      FieldSpec::make("name", FieldType::String)
          .req()
          .doc("The mapping's name; `name@version` names it in dead letters and logs."),
      FieldSpec::make("version", FieldType::Int)
          .def("1")
          .range(1, std::numeric_limits<int64_t>::max())
          .doc("Bump it on every change."),
      FieldSpec::make("description", FieldType::String).doc("What the mapping is for."),
      FieldSpec::make("source_system", FieldType::String).doc("Lineage of the facts; default: the mapping's name."),
      FieldSpec::make("catalog", FieldType::String)
          .doc("The duty catalog (relative to this file) for `contract: duty_kpi.v1` blocks: targets, units, "
               "directions."),
      FieldSpec::make("calendars", FieldType::String)
          .doc("A plant calendars file (relative to this file, docs/calendars.md) for the calendar functions and "
               "`aggregate.calendar`; its errors are reported with the mapping's."),
      FieldSpec::make("input", FieldType::Any)
          .req()
          .shown("field to type or {type, pii}, or from_source")
          .doc("The source record's fields and types (`bool int decimal double string timestamp date duration list "
               "map any`, `?` for nullable); values are converted to them at the input boundary and a value that "
               "does not convert is a dead letter. `{type: T, pii: drop|mask|hmac(KEY)}` classes a field as "
               "personal (see Personal data). Or `from_source`: the source's own description, with `overrides` "
               "and `pii` (field to class)."),
      FieldSpec::make("test_input", FieldType::Any)
          .shown("field to type")
          .doc("With `input: from_source` and `tests`: the types the embedded tests and `dutybridge map` use."),
      FieldSpec::make("tables", FieldType::ObjectMap)
          .fields(tableSchema())
          .doc("Reference tables for `lookup` (docs/reference-tables.md)."),
      FieldSpec::make("hmac_keys", FieldType::Any)
          .shown("name to secret reference")
          .doc("Keys for `hmac`: secret references only (`${cred:...}`, `${env:...}`, `${file:...}`); never "
               "printed."),
      FieldSpec::make("where", FieldType::Expression)
          .doc("A non-null bool: false skips the record (in an aggregate mapping the row counts for nothing and "
               "retracts what an earlier version of it contributed)."),
      FieldSpec::make("let", FieldType::ExpressionMap)
          .doc("Names and expressions, evaluated in order; later ones may use earlier ones."),
      FieldSpec::make("aggregate", FieldType::Object)
          .fields(aggregateSchema())
          .doc("Makes the mapping a windowed KPI aggregation; the emit blocks then run once per fact revision "
               "(docs/aggregation.md)."),
      FieldSpec::make("quarantine", FieldType::Object)
          .fields(std::make_shared<const core::ConfigSchema>(std::vector<FieldSpec>{
              FieldSpec::make("max_age", FieldType::Duration)
                  .req()
                  .range(0, std::numeric_limits<int64_t>::max())
                  .doc("How long a record may wait for its attribution; then it is a dead letter."),
              FieldSpec::make("retry", FieldType::Duration)
                  .def("10m")
                  .range(0, std::numeric_limits<int64_t>::max())
                  .doc("How often held records are tried again (also whenever a table refreshes)."),
          }))
          .doc("Records whose `lookup(...)!` finds nothing are held and retried instead of dead-lettered at once "
               "(docs/aggregation.md)."),
      FieldSpec::make("emit", FieldType::ObjectList).req().fields(emitSchema()).doc("The output blocks, at least one."),
      FieldSpec::make("tests", FieldType::ObjectList)
          .fields(testSchema())
          .doc("Embedded examples that `dutybridge test` runs."),
  });
  return schema;
}

}  // namespace dutybridge::mapping
