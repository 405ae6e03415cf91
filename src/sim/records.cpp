#include "src/sim/records.h"

#include <fmt/format.h>

namespace dutybridge::sim {

int ReportRow::laborMinutes() const {
  int sum = 0;
  for (const auto& s : staff) sum += s.minutes;
  return sum;
}

std::string reportNo(int64_t id) { return fmt::format("PR{:08}", id); }

std::string submissionNo(core::Date shift_date, const std::string& shift_code, const std::string& workshop) {
  std::string day = formatPlantDate(shift_date);
  return fmt::format("PC-{}{}{}-{}-{}", day.substr(0, 4), day.substr(5, 2), day.substr(8, 2), shift_code, workshop);
}

std::string workOrderNo(core::Date shift_date, int workshop, size_t route) {
  std::string day = formatPlantDate(shift_date);
  return fmt::format("WO{}{}{}{:02}{:02}", day.substr(2, 2), day.substr(5, 2), day.substr(8, 2), workshop + 1, route + 1);
}

core::Result<MesStatements> MesStatements::prepare(SqlSession& mes) {
  auto report = mes.prepare(
      "INSERT INTO " + mes.table("production_report") +
      " (report_id, report_no, work_order_no, operation_code, product_code, workstation_code, workshop_code, "
      "team_code, operator_badge, shift_code, shift_date, time_from, time_to, good_qty, scrap_qty_labor, "
      "scrap_qty_mat, uom, labor_minutes, machine_minutes, day_type, state, submitted_at, updated_at) VALUES "
      "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!report) return core::fail(report.error());
  auto staff = mes.prepare("INSERT INTO " + mes.table("report_staff") +
                           " (staff_id, report_no, badge, labor_minutes) VALUES (?, ?, ?, ?)");
  if (!staff) return core::fail(staff.error());
  auto parts = mes.prepare("INSERT INTO " + mes.table("parts_count_submission") +
                           " (submission_id, submission_no, workshop_code, team_code, clerk_badge, shift_date, "
                           "shift_code, shift_end_at, state, submitted_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
  if (!parts) return core::fail(parts.error());
  return MesStatements(std::move(*report), std::move(*staff), std::move(*parts));
}

core::Status MesStatements::insertReport(const ReportRow& r, int64_t& next_staff_id) {
  Row params = {std::to_string(r.report_id),
                r.report_no,
                r.work_order_no,
                r.operation,
                r.product,
                r.workstation,
                r.workshop,
                r.team,
                r.badge,
                r.shift_code,
                formatPlantDate(r.shift_date),
                formatPlantTime(r.time_from),
                formatPlantTime(r.time_to),
                decimalText(r.good, 3),
                decimalText(r.scrap_labor, 3),
                decimalText(r.scrap_mat, 3),
                std::string("PCS"),
                std::to_string(r.laborMinutes()),
                r.machine_time ? Cell(std::to_string(r.machine_minutes)) : Cell(std::nullopt),
                r.day_type,
                r.state,
                formatPlantTime(r.submitted_at),
                formatPlantTime(r.updated_at)};
  if (auto status = report_.run(params); !status) return status;
  for (const auto& s : r.staff) {
    if (auto status = insertStaff(r.report_no, s, next_staff_id++); !status) return status;
  }
  return {};
}

core::Status MesStatements::insertStaff(const std::string& report_no, const StaffRow& s, int64_t staff_id) {
  return staff_.run({std::to_string(staff_id), report_no, s.badge, std::to_string(s.minutes)});
}

core::Status MesStatements::insertPartsCount(const PartsCountRow& p) {
  return parts_.run({std::to_string(p.submission_id), p.submission_no, p.workshop, p.team, p.clerk_badge,
                     formatPlantDate(p.shift_date), p.shift_code, formatPlantTime(p.shift_end_at), p.state,
                     p.submitted_at ? Cell(formatPlantTime(*p.submitted_at)) : Cell(std::nullopt),
                     formatPlantTime(p.updated_at)});
}

}  // namespace dutybridge::sim
