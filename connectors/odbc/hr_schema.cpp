#include "connectors/odbc/hr_schema.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "src/contract/contract_spec.h"

namespace dutybridge::odbc {

namespace {

// The CREATE TABLE and CREATE INDEX statements of one table of a contract (src/contract).
std::vector<std::string> tableStatements(const contract::Spec& spec, const contract::Table& table,
                                         const UpsertDialect& d) {
  const SqlTypes& t = d.types();
  std::vector<std::string> lines;
  for (const auto& [column, field] : spec.columns(table)) {
    std::string type;
    switch (field.type) {
      case contract::Type::String:
      case contract::Type::Enum:
        type = t.text;
        break;
      case contract::Type::Int:
        type = t.big_int;
        break;
      case contract::Type::Decimal:
        type = t.decimal;
        break;
      case contract::Type::Date:
        type = t.date;
        break;
      case contract::Type::Timestamp:
        type = t.timestamp;
        break;
      case contract::Type::Bool:
        type = t.boolean;
        break;
      case contract::Type::Object:
      case contract::Type::Map:
      case contract::Type::TextList:
        type = t.json;
        break;
    }
    std::string line = "  " + column + " " + type;
    if (field.path == spec.key_field)
      line += " PRIMARY KEY";
    else if (field.required && !field.nullable)
      line += " NOT NULL";
    if (field.sql_default_false) line += fmt::format(" DEFAULT {}", d.boolText(false));
    if (field.type == contract::Type::Enum) {
      std::string values;
      for (const auto& choice : field.choices) values += (values.empty() ? "'" : ", '") + choice + "'";
      line += fmt::format(" CHECK ({} IN ({}))", column, values);
    }
    lines.push_back(std::move(line));
  }
  lines.push_back(fmt::format("  updated_at {} NOT NULL DEFAULT {}", t.timestamp, t.now));
  std::string body;
  for (const auto& line : lines) body += (body.empty() ? "" : ",\n") + line;
  std::vector<std::string> out{fmt::format("CREATE TABLE {} (\n{}\n)", table.name, body)};
  for (const auto& [name, columns] : table.indexes) {
    out.push_back(fmt::format("CREATE INDEX {} ON {} ({})", name, table.name, fmt::join(columns, ", ")));
  }
  // The few withdrawn rows, for `withdrawn: delete` and for finding them (a partial index: the
  // active rows cost nothing).
  for (const auto& [column, field] : spec.columns(table)) {
    if (column == "status") {
      out.push_back(fmt::format("CREATE INDEX {0}_withdrawn ON {0} (status) WHERE status = 'WITHDRAWN'", table.name));
    }
  }
  return out;
}

// The position catalog as published on hr.position-catalog.v1 (connectors/catalog): one row per
// element version; the views show the newest publication (the highest revision), so elements
// removed from the catalog file drop out of them.
std::vector<std::string> catalogViews() {
  std::vector<std::string> out;
  const std::string current =
      "FROM position_catalog WHERE revision = (SELECT MAX(revision) FROM position_catalog) AND element_type = ";
  out.push_back("CREATE VIEW department AS\nSELECT department_code, title_zh, title_en, valid_from, valid_to\n" +
                current + "'DEPARTMENT'");
  out.push_back(
      "CREATE VIEW position AS\nSELECT position_code, department_code, title_zh, title_en, valid_from, valid_to\n" +
      current + "'POSITION'");
  out.push_back(
      "CREATE VIEW position_duty AS\nSELECT position_code, duty_code, title_zh, title_en, responsibility, valid_from, "
      "valid_to\n" +
      current + "'DUTY'");
  out.push_back(
      "CREATE VIEW position_duty_kpi AS\nSELECT position_code, duty_code, kpi_code, title_en, unit, period_type, "
      "direction, target, valid_from, valid_to\n" +
      current + "'DUTY_KPI'");
  out.push_back(
      "CREATE VIEW position_requirement AS\nSELECT position_code, requirement_type, code, level AS min_level, "
      "valid_from, valid_to\n" +
      current + "'REQUIREMENT'");
  out.push_back(
      "CREATE VIEW competence AS\nSELECT element_type AS competence_type, code, title_zh, title_en, valid_from, "
      "valid_to\nFROM position_catalog WHERE revision = (SELECT MAX(revision) FROM position_catalog) AND "
      "element_type IN ('SKILL', 'QUALIFICATION', 'TRAINING')");
  out.push_back("CREATE VIEW skill_level AS\nSELECT code AS skill_code, level, min_hours, valid_from, valid_to\n" +
                current + "'SKILL_LEVEL'");
  return out;
}

// `sql` reading only the rows that are not withdrawn (duty_kpi.v1 / employee_record.v1 `status`;
// NULL, from revisions written before it existed, is ACTIVE): every `FROM <table> <alias>` of a
// fact or record table becomes a derived table of its live rows under the same alias.
std::string liveRowsOnly(const std::string& sql) {
  static constexpr std::string_view kTables[] = {"duty_kpi_fact",     "employee_skill",      "employee_qualification",
                                                 "employee_training", "employee_assignment", "employee_badge"};
  std::string out;
  size_t at = 0;
  while (at < sql.size()) {
    size_t next = std::string::npos;
    std::string_view table;
    for (std::string_view t : kTables) {
      const std::string pattern = fmt::format("FROM {} ", t);
      size_t found = sql.find(pattern, at);
      if (found < next) {
        next = found;
        table = t;
      }
    }
    if (next == std::string::npos) break;
    out.append(sql, at, next - at);
    out += fmt::format("FROM (SELECT * FROM {} WHERE COALESCE(status, 'ACTIVE') <> 'WITHDRAWN') ", table);
    at = next + 6 + table.size();
  }
  out.append(sql, at);
  return out;
}

// The personnel-file views (docs/personnel-file.md): what each employee holds, position fit,
// duty status with not-reported facts, duty fulfilment and the duty review signals. Withdrawn
// facts and records are left out of all of them.
std::vector<std::string> personnelFileViews(const UpsertDialect& d) {
  std::vector<std::string> out;
  const std::string today = d.today();
  const std::string far = "'9999-12-31'";
  // What each employee holds today. A skill's level is the highest whose min_hours the hours of
  // its record reach; a record whose valid_to has passed (not practised within the window) has
  // lapsed (level 0). Qualifications and trainings are held between valid_from and valid_to.
  out.push_back(fmt::format(
      "CREATE VIEW employee_competence AS\n"
      "SELECT s.employee_no, 'SKILL' AS competence_type, s.code,\n"
      "  CASE WHEN s.valid_to IS NOT NULL AND s.valid_to < {today} THEN 0 ELSE COALESCE((SELECT MAX(l.level) FROM "
      "skill_level l WHERE l.skill_code = s.code AND {min_hours} <= {hours}), 0) END AS level,\n"
      "  {hours} AS hours, s.valid_from, s.valid_to,\n"
      "  CASE WHEN s.valid_to IS NOT NULL AND s.valid_to < {today} THEN 'LAPSED' ELSE 'HELD' END AS state\n"
      "FROM employee_skill s\n"
      "UNION ALL\n"
      "SELECT q.employee_no, 'QUALIFICATION', q.code, NULL, NULL, q.valid_from, q.valid_to,\n"
      "  CASE WHEN q.valid_from > {today} THEN 'NOT_YET' WHEN q.valid_to IS NOT NULL AND q.valid_to < {today} THEN "
      "'EXPIRED' WHEN q.valid_to IS NOT NULL AND q.valid_to <= {soon} THEN 'EXPIRING' ELSE 'HELD' END\n"
      "FROM employee_qualification q\n"
      "UNION ALL\n"
      "SELECT c.employee_no, 'TRAINING', c.code, NULL, NULL, c.valid_from, c.valid_to,\n"
      "  CASE WHEN c.valid_from > {today} THEN 'NOT_YET' WHEN c.valid_to IS NOT NULL AND c.valid_to < {today} THEN "
      "'EXPIRED' WHEN c.valid_to IS NOT NULL AND c.valid_to <= {soon} THEN 'EXPIRING' ELSE 'HELD' END\n"
      "FROM employee_training c ",
      fmt::arg("today", today), fmt::arg("soon", d.addDays(today, 30)),
      fmt::arg("hours", d.jsonNumber("s.evidence", "hours")), fmt::arg("min_hours", d.numeric("l.min_hours"))));
  // Every employee with an assignment today against every position's requirements in force
  // today: held, expiring (within 30 days), level too low, lapsed, expired or missing.
  out.push_back(fmt::format(
      "CREATE VIEW position_fit_detail AS\n"
      "SELECT e.employee_no, r.position_code,\n"
      "  CASE WHEN EXISTS (SELECT 1 FROM employee_assignment a WHERE a.employee_no = e.employee_no AND "
      "a.position_code = r.position_code AND a.valid_from <= {today} AND COALESCE(a.valid_to, {far}) >= {today}) "
      "THEN 1 ELSE 0 END AS is_current,\n"
      "  r.requirement_type, r.code, r.min_level,\n"
      "  (SELECT MAX(h.level) FROM employee_competence h WHERE h.employee_no = e.employee_no AND h.competence_type = "
      "'SKILL' AND h.code = r.code) AS held_level,\n"
      "  (SELECT MAX(h.valid_to) FROM employee_competence h WHERE h.employee_no = e.employee_no AND "
      "h.competence_type = r.requirement_type AND h.code = r.code AND h.state IN ('HELD', 'EXPIRING')) AS "
      "held_until,\n"
      "  CASE\n"
      "    WHEN r.requirement_type = 'SKILL' THEN CASE\n"
      "      WHEN EXISTS (SELECT 1 FROM employee_competence h WHERE h.employee_no = e.employee_no AND "
      "h.competence_type = 'SKILL' AND h.code = r.code AND h.level >= r.min_level) THEN 'HELD'\n"
      "      WHEN EXISTS (SELECT 1 FROM employee_competence h WHERE h.employee_no = e.employee_no AND "
      "h.competence_type = 'SKILL' AND h.code = r.code AND h.level > 0) THEN 'LEVEL_LOW'\n"
      "      WHEN EXISTS (SELECT 1 FROM employee_competence h WHERE h.employee_no = e.employee_no AND "
      "h.competence_type = 'SKILL' AND h.code = r.code) THEN 'LAPSED'\n"
      "      ELSE 'MISSING' END\n"
      "    WHEN EXISTS (SELECT 1 FROM employee_competence h WHERE h.employee_no = e.employee_no AND "
      "h.competence_type = r.requirement_type AND h.code = r.code AND h.state = 'HELD') THEN 'HELD'\n"
      "    WHEN EXISTS (SELECT 1 FROM employee_competence h WHERE h.employee_no = e.employee_no AND "
      "h.competence_type = r.requirement_type AND h.code = r.code AND h.state = 'EXPIRING') THEN 'EXPIRING'\n"
      "    WHEN EXISTS (SELECT 1 FROM employee_competence h WHERE h.employee_no = e.employee_no AND "
      "h.competence_type = r.requirement_type AND h.code = r.code AND h.state = 'EXPIRED') THEN 'EXPIRED'\n"
      "    ELSE 'MISSING' END AS status\n"
      "FROM (SELECT DISTINCT employee_no FROM employee_assignment x WHERE valid_from <= {today} AND "
      "COALESCE(valid_to, {far}) >= {today}) e\n"
      "CROSS JOIN position_requirement r\n"
      "WHERE r.valid_from <= {today} AND COALESCE(r.valid_to, {far}) >= {today}",
      fmt::arg("today", today), fmt::arg("far", far)));
  out.push_back(fmt::format(
      "CREATE VIEW position_fit AS\n"
      "SELECT employee_no, position_code, MAX(is_current) AS is_current,\n"
      "  COUNT(*) AS requirements,\n"
      "  SUM(CASE WHEN status IN ('HELD', 'EXPIRING') THEN 1 ELSE 0 END) AS held,\n"
      "  ROUND(100.0 * SUM(CASE WHEN status IN ('HELD', 'EXPIRING') THEN 1 ELSE 0 END) / COUNT(*), 1) AS fit_pct,\n"
      "  {missing} AS missing,\n"
      "  {expiring} AS expiring\n"
      "FROM position_fit_detail\n"
      "GROUP BY employee_no, position_code",
      fmt::arg("missing", d.listAgg("CASE WHEN status NOT IN ('HELD', 'EXPIRING') THEN code END")),
      fmt::arg("expiring", d.listAgg("CASE WHEN status = 'EXPIRING' THEN code END"))));
  // Every fact that arrived, and every fact an assignment owes that did not (NOT_REPORTED): for
  // each KPI with a target of a duty of a position the employee held during the period (some day
  // of the period lies in both the assignment and the duty's KPI version: pairwise overlapping
  // intervals share a day), in each SHIFT, DAY, WEEK or MONTH period somebody reported the KPI in;
  // a SHIFT only when the employee has some fact of that shift (worked it). One row per employee,
  // period and KPI, however many assignments or target versions owe it: the latest assignment's
  // position and the latest version's target.
  const std::string last_day =
      fmt::format("CASE p.period_type WHEN 'WEEK' THEN {} WHEN 'MONTH' THEN {} ELSE p.shift_date END",
                  d.addDays("p.shift_date", 6), d.monthEnd("p.shift_date"));
  out.push_back(fmt::format(
      "CREATE VIEW duty_status AS\n"
      "SELECT f.employee_no, f.period_type, f.period_id, f.shift_date, f.position_code, f.duty_code, f.kpi_code,\n"
      "  f.value, f.target, f.attainment,\n"
      "  CASE WHEN f.target IS NULL THEN 'NO_TARGET' WHEN {attained} >= 1 THEN 'MET' ELSE 'NOT_MET' END AS status\n"
      "FROM duty_kpi_fact f\n"
      "UNION ALL\n"
      "SELECT employee_no, period_type, period_id, shift_date, position_code, duty_code, kpi_code,\n"
      "  NULL, target, NULL, 'NOT_REPORTED'\n"
      "FROM (SELECT a.employee_no, p.period_type, p.period_id, p.shift_date, a.position_code, k.duty_code, "
      "k.kpi_code, k.target,\n"
      "    ROW_NUMBER() OVER (PARTITION BY a.employee_no, p.period_type, p.period_id, k.kpi_code\n"
      "                       ORDER BY a.valid_from DESC, k.valid_from DESC, a.position_code) AS n\n"
      "  FROM employee_assignment a\n"
      "  JOIN position_duty_kpi k ON k.position_code = a.position_code AND k.target IS NOT NULL\n"
      "  JOIN (SELECT DISTINCT kpi_code, period_type, period_id, shift_date, shift_code FROM duty_kpi_fact x\n"
      "        WHERE period_type IN ('SHIFT', 'DAY', 'WEEK', 'MONTH') AND shift_date IS NOT NULL) p\n"
      "    ON p.kpi_code = k.kpi_code\n"
      "  WHERE a.valid_from <= {last_day} AND COALESCE(a.valid_to, {far}) >= p.shift_date\n"
      "    AND k.valid_from <= {last_day} AND COALESCE(k.valid_to, {far}) >= p.shift_date\n"
      "    AND k.valid_from <= COALESCE(a.valid_to, {far}) AND COALESCE(k.valid_to, {far}) >= a.valid_from\n"
      "    AND (p.period_type <> 'SHIFT' OR EXISTS (SELECT 1 FROM duty_kpi_fact w WHERE w.employee_no = "
      "a.employee_no AND w.shift_date = p.shift_date AND w.shift_code = p.shift_code))\n"
      "    AND NOT EXISTS (SELECT 1 FROM duty_kpi_fact g WHERE g.employee_no = a.employee_no AND g.period_type = "
      "p.period_type AND g.period_id = p.period_id AND g.kpi_code = k.kpi_code)) o\n"
      "WHERE n = 1",
      fmt::arg("attained", d.numeric("f.attainment")), fmt::arg("last_day", last_day), fmt::arg("far", far)));
  // A KPI without a target (piece earnings: a measure HR pays by, not a goal) is neither due nor
  // met; one with a target but no attainment (nothing to divide by) is due and not met; a fact an
  // assignment owes that never arrived is due and not reported.
  out.push_back(fmt::format(
      "CREATE VIEW duty_fulfilment AS\n"
      "SELECT employee_no, period_type, period_id,\n"
      "  SUM(CASE WHEN status = 'NO_TARGET' THEN 0 ELSE 1 END) AS kpis_due,\n"
      "  SUM(CASE WHEN status = 'MET' THEN 1 ELSE 0 END) AS kpis_met,\n"
      "  ROUND(100.0 * SUM(CASE WHEN status = 'MET' THEN 1 ELSE 0 END) / NULLIF(SUM(CASE WHEN status = 'NO_TARGET' "
      "THEN 0 ELSE 1 END), 0), 1) AS fulfilment_pct,\n"
      "  {not_met} AS duties_not_met,\n"
      "  SUM(CASE WHEN status = 'NOT_REPORTED' THEN 1 ELSE 0 END) AS kpis_not_reported,\n"
      "  {not_reported} AS duties_not_reported\n"
      "FROM duty_status\n"
      "GROUP BY employee_no, period_type, period_id",
      fmt::arg("not_met", d.listAgg("CASE WHEN status = 'NOT_MET' THEN duty_code END")),
      fmt::arg("not_reported", d.listAgg("CASE WHEN status = 'NOT_REPORTED' THEN duty_code END"))));
  // Per position and KPI over its last 6 reported periods: the share of holder-periods that met
  // the target; and per position and requirement, the share of its current holders who meet it.
  out.push_back(fmt::format(
      "CREATE VIEW duty_review_signals AS\n"
      "SELECT s.position_code, 'KPI' AS subject_type, s.kpi_code AS subject_code,\n"
      "  COUNT(DISTINCT s.period_id) AS periods, COUNT(DISTINCT s.employee_no) AS holders, COUNT(*) AS cases,\n"
      "  SUM(CASE WHEN s.status = 'MET' THEN 1 ELSE 0 END) AS cases_ok,\n"
      "  ROUND(100.0 * SUM(CASE WHEN s.status = 'MET' THEN 1 ELSE 0 END) / COUNT(*), 1) AS share_ok_pct,\n"
      "  ROUND(AVG({attained}), 3) AS avg_attainment,\n"
      "  SUM(CASE WHEN s.status = 'NOT_REPORTED' THEN 1 ELSE 0 END) AS not_reported,\n"
      "  CASE WHEN 100.0 * SUM(CASE WHEN s.status = 'MET' THEN 1 ELSE 0 END) / COUNT(*) < 20 THEN "
      "'TARGET_RARELY_MET'\n"
      "       WHEN 100.0 * SUM(CASE WHEN s.status = 'MET' THEN 1 ELSE 0 END) / COUNT(*) >= 90 AND AVG({attained}) >= "
      "1.2 THEN 'TARGET_EASILY_MET'\n"
      "       WHEN 100.0 * SUM(CASE WHEN s.status = 'NOT_REPORTED' THEN 1 ELSE 0 END) / COUNT(*) >= 30 THEN "
      "'DATA_MISSING'\n"
      "       ELSE 'OK' END AS signal\n"
      "FROM duty_status s\n"
      "JOIN (SELECT kpi_code, period_id, ROW_NUMBER() OVER (PARTITION BY kpi_code ORDER BY period_id DESC) AS n\n"
      "      FROM (SELECT DISTINCT kpi_code, period_id FROM duty_kpi_fact x WHERE target IS NOT NULL AND period_type "
      "<> 'HOUR') u) r\n"
      "  ON r.kpi_code = s.kpi_code AND r.period_id = s.period_id AND r.n <= 6\n"
      "WHERE s.status IN ('MET', 'NOT_MET', 'NOT_REPORTED')\n"
      "GROUP BY s.position_code, s.kpi_code\n"
      "UNION ALL\n"
      "SELECT position_code, requirement_type, code, NULL, COUNT(DISTINCT employee_no), COUNT(*),\n"
      "  SUM(CASE WHEN status IN ('HELD', 'EXPIRING') THEN 1 ELSE 0 END),\n"
      "  ROUND(100.0 * SUM(CASE WHEN status IN ('HELD', 'EXPIRING') THEN 1 ELSE 0 END) / COUNT(*), 1), NULL, NULL,\n"
      "  CASE WHEN 100.0 * SUM(CASE WHEN status IN ('HELD', 'EXPIRING') THEN 1 ELSE 0 END) / COUNT(*) < 50 THEN "
      "'REQUIREMENT_RARELY_HELD' ELSE 'OK' END\n"
      "FROM position_fit_detail\n"
      "WHERE is_current = 1\n"
      "GROUP BY position_code, requirement_type, code",
      fmt::arg("attained", d.numeric("s.attainment"))));
  return out;
}

}  // namespace

std::vector<std::string> hrSchemaStatements(const UpsertDialect& d) {
  std::vector<std::string> out;
  for (const contract::Spec* spec : contract::all()) {
    for (const auto& table : spec->tables) {
      for (auto& statement : tableStatements(*spec, table, d)) out.push_back(std::move(statement));
    }
  }
  out.push_back(d.offsetsCreateSql("dutybridge_offsets"));
  for (auto& statement : catalogViews()) out.push_back(std::move(statement));
  for (auto& statement : personnelFileViews(d)) out.push_back(liveRowsOnly(statement));
  return out;
}

std::string hrSchemaDdl(const UpsertDialect& dialect) {
  std::string out = fmt::format(
      "-- dutybridge HR store ({}): duty KPI facts, employee records and assignments, the position\n"
      "-- catalog, the loader's offsets and the personnel-file views. docs/hr-store.md and\n"
      "-- docs/personnel-file.md describe every column.\n\n",
      dialect.name());
  out += dialect.schemaPreamble();
  for (const auto& statement : hrSchemaStatements(dialect)) out += statement + ";\n\n";
  out.pop_back();
  return out;
}

}  // namespace dutybridge::odbc
