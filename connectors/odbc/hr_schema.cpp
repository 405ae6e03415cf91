#include "connectors/odbc/hr_schema.h"

#include <fmt/format.h>

namespace dutybridge::odbc {

std::vector<std::string> hrSchemaStatements(const UpsertDialect& d) {
  const SqlTypes& t = d.types();
  std::vector<std::string> out;
  out.push_back(
      fmt::format("CREATE TABLE duty_kpi_fact (\n"
                  "  fact_key {text} PRIMARY KEY,\n"
                  "  revision {bigint} NOT NULL,\n"
                  "  employee_no {text} NOT NULL,\n"
                  "  position_code {text},\n"
                  "  org_unit {text},\n"
                  "  kpi_code {text} NOT NULL,\n"
                  "  duty_code {text} NOT NULL,\n"
                  "  period_type {text} NOT NULL CHECK (period_type IN ('HOUR', 'SHIFT', 'DAY', 'WEEK', 'MONTH')),\n"
                  "  period_id {text} NOT NULL,\n"
                  "  shift_date {date},\n"
                  "  shift_code {text},\n"
                  "  period_start {ts},\n"
                  "  period_end {ts},\n"
                  "  period_tz {text},\n"
                  "  closed {boolean} NOT NULL DEFAULT {false_},\n"
                  "  value {decimal} NOT NULL,\n"
                  "  unit {text} NOT NULL,\n"
                  "  target {decimal},\n"
                  "  direction {text} NOT NULL CHECK (direction IN ('HIGHER_IS_BETTER', 'LOWER_IS_BETTER')),\n"
                  "  attainment {decimal},\n"
                  "  inputs {json},\n"
                  "  lineage {json} NOT NULL,\n"
                  "  computed_at {ts} NOT NULL,\n"
                  "  updated_at {ts} NOT NULL DEFAULT {now}\n"
                  ")",
                  fmt::arg("text", t.text), fmt::arg("bigint", t.big_int), fmt::arg("date", t.date),
                  fmt::arg("ts", t.timestamp), fmt::arg("boolean", t.boolean), fmt::arg("false_", d.boolText(false)),
                  fmt::arg("decimal", t.decimal), fmt::arg("json", t.json), fmt::arg("now", t.now)));
  out.push_back("CREATE INDEX duty_kpi_fact_employee_period ON duty_kpi_fact (employee_no, period_type, period_id)");
  for (const char* table : {"employee_skill", "employee_qualification", "employee_training"}) {
    out.push_back(fmt::format(
        "CREATE TABLE {table} (\n"
        "  record_key {text} PRIMARY KEY,\n"
        "  revision {bigint} NOT NULL,\n"
        "  employee_no {text} NOT NULL,\n"
        "  code {text} NOT NULL,\n"
        "  valid_from {date} NOT NULL,\n"
        "  valid_to {date},\n"
        "  evidence {json},\n"
        "  lineage {json} NOT NULL,\n"
        "  computed_at {ts},\n"
        "  updated_at {ts} NOT NULL DEFAULT {now}\n"
        ")",
        fmt::arg("table", table), fmt::arg("text", t.text), fmt::arg("bigint", t.big_int), fmt::arg("date", t.date),
        fmt::arg("json", t.json), fmt::arg("ts", t.timestamp), fmt::arg("now", t.now)));
    out.push_back(fmt::format("CREATE INDEX {0}_employee ON {0} (employee_no, code)", table));
  }
  out.push_back(d.offsetsCreateSql("dutybridge_offsets"));
  // attainment is already "higher is better" for both directions (contracts.cpp divides
  // target by value for LOWER_IS_BETTER), so a KPI is met when attainment >= 1. A KPI without
  // a target (piece earnings: a measure HR pays by, not a goal) is neither due nor met; one with
  // a target but no attainment (nothing to divide by) is due and not met.
  const std::string due = "CASE WHEN target IS NULL THEN 0 ELSE 1 END";
  const std::string met = fmt::format("CASE WHEN {} >= 1 THEN 1 ELSE 0 END", d.numeric("attainment"));
  const std::string not_met_duty =
      fmt::format("CASE WHEN target IS NULL OR {} >= 1 THEN NULL ELSE duty_code END", d.numeric("attainment"));
  out.push_back(fmt::format(
      "CREATE VIEW duty_fulfilment AS\n"
      "SELECT employee_no, period_type, period_id,\n"
      "  SUM({due}) AS kpis_due,\n"
      "  SUM({met}) AS kpis_met,\n"
      "  ROUND(100.0 * SUM({met}) / NULLIF(SUM({due}), 0), 1) AS fulfilment_pct,\n"
      "  {agg} AS duties_not_met\n"
      "FROM duty_kpi_fact\n"
      "GROUP BY employee_no, period_type, period_id",
      fmt::arg("due", due), fmt::arg("met", met), fmt::arg("agg", d.listAgg(not_met_duty))));
  return out;
}

std::string hrSchemaDdl(const UpsertDialect& dialect) {
  std::string out = fmt::format(
      "-- dutybridge HR store ({}): duty KPI facts, employee records, the loader's offsets and the\n"
      "-- duty_fulfilment view. docs/hr-store.md describes every column.\n\n",
      dialect.name());
  out += dialect.schemaPreamble();
  for (const auto& statement : hrSchemaStatements(dialect)) out += statement + ";\n\n";
  out.pop_back();
  return out;
}

}  // namespace dutybridge::odbc
