#pragma once
// The rows the simulator writes more than once (init's history and run's live events) and the
// statements that write them, so both commands produce the same shapes.
//
// Threading: none; the statements belong to the caller's session.

#include <optional>
#include <string>
#include <vector>

#include "src/sim/factory_model.h"
#include "src/sim/sql_session.h"

namespace dutybridge::sim {

struct StaffRow {
  std::string badge;
  int minutes = 0;
};

struct ReportRow {
  int64_t report_id = 0;
  std::string report_no, work_order_no, operation, product, workstation, workshop, team, badge, shift_code;
  core::Date shift_date;
  PlantTime time_from = 0, time_to = 0;
  int good = 0, scrap_labor = 0, scrap_mat = 0;
  int machine_minutes = 0;
  bool machine_time = true;
  std::string day_type, state;
  PlantTime submitted_at = 0, updated_at = 0;
  std::vector<StaffRow> staff;  // the operator first; labor_minutes is their sum
  int laborMinutes() const;
};

struct PartsCountRow {
  int64_t submission_id = 0;
  std::string submission_no, workshop, team, clerk_badge, shift_code, state;
  core::Date shift_date;
  PlantTime shift_end_at = 0;
  std::optional<PlantTime> submitted_at;
  PlantTime updated_at = 0;
};

// "PR00012345"; "PC-20250314-A-MACH"; "WO2503140103".
std::string reportNo(int64_t id);
std::string submissionNo(core::Date shift_date, const std::string& shift_code, const std::string& workshop);
std::string workOrderNo(core::Date shift_date, int workshop, size_t route);

// Prepared INSERTs of one session (mes).
class MesStatements {
 public:
  static core::Result<MesStatements> prepare(SqlSession& mes);
  // Inserts the report and its staff rows; staff ids come from `next_staff_id`.
  core::Status insertReport(const ReportRow& row, int64_t& next_staff_id);
  core::Status insertStaff(const std::string& report_no, const StaffRow& staff, int64_t staff_id);
  core::Status insertPartsCount(const PartsCountRow& row);

 private:
  MesStatements(Prepared report, Prepared staff, Prepared parts)
      : report_(std::move(report)), staff_(std::move(staff)), parts_(std::move(parts)) {}
  Prepared report_, staff_, parts_;
};

}  // namespace dutybridge::sim
