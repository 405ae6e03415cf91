#include "src/sim/schema.h"

#include <fmt/format.h>

#include <string>
#include <vector>

namespace dutybridge::sim {

std::string_view systemName(System system) {
  switch (system) {
    case System::Mes: return "mes";
    case System::Erp: return "erp";
    case System::Crm: return "crm";
    case System::Hrm: return "hrm";
  }
  return "?";
}

namespace {

// Statements with {name} placeholders for the tables of the system; `T` qualifies them.
std::vector<std::string> statements(System system) {
  switch (system) {
    case System::Hrm:
      return {
          "CREATE TABLE {department} (department_code TEXT PRIMARY KEY, title TEXT)",
          "CREATE TABLE {position} (position_code TEXT PRIMARY KEY, title TEXT, department_code TEXT)",
          "CREATE TABLE {employee} (employee_no TEXT PRIMARY KEY, department_code TEXT, position_code TEXT, "
          "team_code TEXT NULL, hired_on DATE, left_on DATE NULL)",
          "CREATE TABLE {team} (team_code TEXT PRIMARY KEY, workshop_code TEXT, shift_code TEXT)",
          "CREATE TABLE {badge_assignment} (badge_assignment_id INTEGER PRIMARY KEY, badge TEXT, employee_no TEXT, "
          "valid_from DATE, valid_to DATE NULL, updated_at TIMESTAMP NOT NULL, UNIQUE (badge, valid_from))",
          "CREATE INDEX {badge_assignment}_updated_at ON {badge_assignment} (updated_at)",
          "CREATE TABLE {team_leader} (team_code TEXT, employee_no TEXT, valid_from DATE, valid_to DATE NULL)",
          "CREATE TABLE {parts_clerk} (employee_no TEXT, workshop_code TEXT, valid_from DATE, valid_to DATE NULL)",
          "CREATE TABLE {purchasing_group} (ekgrp TEXT PRIMARY KEY, employee_no TEXT)",
          "CREATE TABLE {employee_assignment} (assignment_id INTEGER PRIMARY KEY, employee_no TEXT, "
          "position_code TEXT, department_code TEXT, valid_from DATE, valid_to DATE NULL, updated_at TIMESTAMP NOT "
          "NULL)",
          "CREATE INDEX {employee_assignment}_updated_at ON {employee_assignment} (updated_at)",
          "CREATE TABLE {certificate} (cert_id INTEGER PRIMARY KEY, employee_no TEXT, qualification_code TEXT, "
          "issued_on DATE, expires_on DATE NULL, updated_at TIMESTAMP NOT NULL)",
          "CREATE INDEX {certificate}_updated_at ON {certificate} (updated_at)",
          "CREATE TABLE {training_completion} (completion_id INTEGER PRIMARY KEY, employee_no TEXT, "
          "training_code TEXT, completed_on DATE, hours NUMERIC(6,1), updated_at TIMESTAMP NOT NULL)",
          "CREATE INDEX {training_completion}_updated_at ON {training_completion} (updated_at)",
      };
    case System::Mes:
      return {
          "CREATE TABLE {production_report} (report_id INTEGER PRIMARY KEY, report_no TEXT UNIQUE NOT NULL, "
          "work_order_no TEXT, operation_code TEXT, product_code TEXT, workstation_code TEXT, workshop_code TEXT, "
          "team_code TEXT, operator_badge TEXT, shift_code TEXT, shift_date DATE, time_from TIMESTAMP, "
          "time_to TIMESTAMP, good_qty NUMERIC(12,3), scrap_qty_labor NUMERIC(12,3), scrap_qty_mat NUMERIC(12,3), "
          "uom TEXT, labor_minutes INTEGER, machine_minutes INTEGER, day_type TEXT, state TEXT, "
          "submitted_at TIMESTAMP, updated_at TIMESTAMP NOT NULL)",
          "CREATE INDEX {production_report}_updated_at ON {production_report} (updated_at)",
          "CREATE TABLE {report_staff} (staff_id INTEGER PRIMARY KEY, report_no TEXT NOT NULL, badge TEXT NOT NULL, "
          "labor_minutes INTEGER NOT NULL)",
          "CREATE INDEX {report_staff}_report_no ON {report_staff} (report_no)",
          "CREATE VIEW {report_worker_v} AS SELECT r.*, s.badge AS worker_badge, s.labor_minutes AS "
          "worker_labor_minutes, s.staff_id FROM {production_report} r JOIN {report_staff} s ON s.report_no = "
          "r.report_no",
          "CREATE TABLE {parts_count_submission} (submission_id INTEGER PRIMARY KEY, submission_no TEXT UNIQUE, "
          "workshop_code TEXT, team_code TEXT, clerk_badge TEXT, shift_date DATE, shift_code TEXT, "
          "shift_end_at TIMESTAMP, state TEXT, submitted_at TIMESTAMP NULL, updated_at TIMESTAMP NOT NULL)",
          "CREATE INDEX {parts_count_submission}_updated_at ON {parts_count_submission} (updated_at)",
          "CREATE TABLE {piece_rate} (operation_product TEXT PRIMARY KEY, rate_cny_per_piece NUMERIC)",
          "CREATE TABLE {scrap_penalty} (operation_product TEXT PRIMARY KEY, penalty_cny_per_piece NUMERIC)",
          "CREATE TABLE {operation_skill} (operation_code TEXT PRIMARY KEY, skill_code TEXT)",
          "CREATE TABLE {sim_meta} (meta_key TEXT PRIMARY KEY, meta_value TEXT)",
      };
    case System::Erp:
      return {
          "CREATE TABLE {ekko} (ebeln TEXT PRIMARY KEY, lifnr TEXT, ekgrp TEXT, bedat DATE, waers TEXT)",
          "CREATE TABLE {ekpo} (ebeln TEXT, ebelp TEXT, matnr TEXT, werks TEXT, menge NUMERIC(12,3), meins TEXT, "
          "netpr NUMERIC, peinh INTEGER, loekz TEXT, PRIMARY KEY (ebeln, ebelp))",
          "CREATE TABLE {ekbe} (id INTEGER PRIMARY KEY, ebeln TEXT, ebelp TEXT, gjahr TEXT, belnr TEXT, buzei TEXT, "
          "vgabe TEXT, shkzg TEXT, budat DATE, menge NUMERIC(12,3), dmbtr NUMERIC, changed_at TIMESTAMP NOT NULL)",
          "CREATE INDEX {ekbe}_changed_at ON {ekbe} (changed_at)",
          "CREATE TABLE {mbew} (matnr TEXT, werks TEXT, stprs NUMERIC, peinh INTEGER, PRIMARY KEY (matnr, werks))",
          "CREATE TABLE {material_last_price} (plant_material TEXT PRIMARY KEY, last_unit_price_cny NUMERIC)",
          "CREATE VIEW {goods_receipt_v} AS SELECT b.ebeln AS \"EBELN\", b.ebelp AS \"EBELP\", b.gjahr AS \"GJAHR\", "
          "b.belnr AS \"BELNR\", b.buzei AS \"BUZEI\", b.vgabe AS \"VGABE\", b.shkzg AS \"SHKZG\", b.budat AS "
          "\"BUDAT\", b.menge AS \"MENGE\", p.werks AS \"WERKS\", p.matnr AS \"MATNR\", p.meins AS \"MEINS\", "
          "k.ekgrp AS \"EKGRP\", k.lifnr AS \"LIFNR\", k.waers AS \"WAERS\", p.netpr AS \"NETPR\", p.peinh AS "
          "\"PEINH\", p.loekz AS \"LOEKZ\", m.stprs AS \"MBEW_STPRS\", m.peinh AS \"MBEW_PEINH\", b.changed_at, b.id "
          "FROM {ekbe} b JOIN {ekpo} p ON p.ebeln = b.ebeln AND p.ebelp = b.ebelp JOIN {ekko} k ON k.ebeln = "
          "b.ebeln LEFT JOIN {mbew} m ON m.matnr = p.matnr AND m.werks = p.werks",
      };
    case System::Crm:
      return {
          "CREATE TABLE {account} (\"Id\" TEXT PRIMARY KEY, \"Type\" TEXT, \"Industry\" TEXT)",
          "CREATE TABLE {crm_user} (\"Id\" TEXT PRIMARY KEY, employee_no TEXT)",
          "CREATE TABLE {opportunity} (row_id INTEGER PRIMARY KEY, \"Id\" TEXT UNIQUE, \"AccountId\" TEXT, "
          "\"OwnerId\" TEXT, \"Amount\" NUMERIC, \"CloseDate\" DATE, \"StageName\" TEXT, \"IsWon\" INTEGER, "
          "\"Type\" TEXT, \"LeadSource\" TEXT, \"LastModifiedDate\" TIMESTAMP NOT NULL)",
          "CREATE INDEX {opportunity}_modified ON {opportunity} (\"LastModifiedDate\")",
          "CREATE INDEX {opportunity}_account ON {opportunity} (\"AccountId\", \"IsWon\")",
          "CREATE TABLE {opportunity_partner} (\"OpportunityId\" TEXT, \"AccountToId\" TEXT, \"Role\" TEXT, "
          "\"IsPrimary\" INTEGER)",
          "CREATE INDEX {opportunity_partner}_opportunity ON {opportunity_partner} (\"OpportunityId\")",
          "CREATE VIEW {opportunity_v} AS SELECT o.\"Id\", o.\"AccountId\", o.\"OwnerId\", o.\"Amount\", "
          "o.\"CloseDate\", o.\"StageName\", o.\"IsWon\", o.\"Type\", o.\"LeadSource\", o.\"LastModifiedDate\", "
          "p.\"AccountToId\" AS \"Partner_AccountToId\", p.\"Role\" AS \"Partner_Role\", p.\"IsPrimary\" AS "
          "\"Partner_IsPrimary\", CASE WHEN o.\"IsWon\" = 1 AND o.\"Id\" = (SELECT w.\"Id\" FROM {opportunity} w "
          "WHERE w.\"AccountId\" = o.\"AccountId\" AND w.\"IsWon\" = 1 ORDER BY w.\"CloseDate\", w.\"Id\" LIMIT 1) "
          "THEN 1 ELSE 0 END AS \"Is_First_Won\", o.row_id FROM {opportunity} o LEFT JOIN {opportunity_partner} p "
          "ON p.\"OpportunityId\" = o.\"Id\" AND p.\"IsPrimary\" = 1",
      };
  }
  return {};
}

// Replaces every {name} by the qualified table name; index names stay unqualified on PostgreSQL
// (an index lives in its table's schema).
std::string expand(const SqlSession& session, const std::string& text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t open = text.find('{', i);
    if (open == std::string::npos) {
      out += text.substr(i);
      break;
    }
    size_t close = text.find('}', open);
    out += text.substr(i, open - i);
    std::string name = text.substr(open + 1, close - open - 1);
    bool index_name = close + 1 < text.size() && text[close + 1] == '_';
    out += index_name ? name : session.table(name);
    i = close + 1;
  }
  return out;
}

}  // namespace

core::Status createSchema(SqlSession& session, System system) {
  if (session.dialect() == Dialect::Postgresql) {
    const std::string& schema = session.schema();
    if (auto s = session.exec(fmt::format("DROP SCHEMA IF EXISTS {} CASCADE", schema)); !s) return s;
    if (auto s = session.exec(fmt::format("CREATE SCHEMA {}", schema)); !s) return s;
  }
  for (const auto& statement : statements(system)) {
    if (auto s = session.exec(expand(session, statement)); !s) return s;
  }
  return session.commit();
}

}  // namespace dutybridge::sim
