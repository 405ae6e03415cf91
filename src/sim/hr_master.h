#pragma once
// The HR master's personnel-file history (hrm employee_assignment, certificate,
// training_completion): who held which position in which department when, which certificates
// with which expiry, which trainings. `init` builds it from the plant (buildHrHistory, keyed draws
// on the seed, so the same options give the same rows); `run` adds to it now and then with the
// same rules (who may hold a certificate or take a training). It is HR-master data only: teams,
// badges and positions the MES side uses (Plant) are not changed by it.
//
// Dates are plant dates; valid_to is the last day of an assignment (inclusive), unlike
// badge_assignment.valid_to and employee.left_on, which are the first day without it.
//
// Threading: none; everything is built on the caller's thread.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/sim/factory_model.h"
#include "src/sim/plant.h"

namespace dutybridge::sim {

struct AssignmentRow {
  int64_t assignment_id = 0;
  std::string employee_no, position_code, department_code;
  core::Date valid_from;
  std::optional<core::Date> valid_to;
  PlantTime updated_at = 0;
};

struct CertificateRow {
  int64_t cert_id = 0;
  std::string employee_no, qualification_code;
  core::Date issued_on;
  std::optional<core::Date> expires_on;
  PlantTime updated_at = 0;
};

struct TrainingRow {
  int64_t completion_id = 0;
  std::string employee_no, training_code;
  core::Date completed_on;
  std::string hours;  // NUMERIC(6,1) text
  PlantTime updated_at = 0;
};

struct HrHistory {
  std::vector<AssignmentRow> assignments;    // ids in the order the rows were created
  std::vector<CertificateRow> certificates;  // ids in issue order
  std::vector<TrainingRow> trainings;        // ids in completion order
};

// Up to `now` (plant time; `today` its shift date). Every employee has one assignment from
// hired_on (closed the day before left_on for leavers); about a quarter of the long-serving
// machining operators moved to CNC_CELL_OPERATOR mid-history (at least one). Certificates: some
// expired, some expiring within 30 days of today, most valid, some renewed (at least one of each).
// Trainings: safety induction for everyone at hire, the others by position with gaps.
HrHistory buildHrHistory(const Plant& plant, core::Date today, PlantTime now);

// The department of an employee's assignment: the team's workshop for operators, team leaders
// and clerks on a team, else the employee's department.
std::string assignmentDepartment(const Plant& plant, int employee);
// Share of the employees like this one who hold the certificate / took the training (0: never).
double certificateShare(const Plant& plant, int employee, std::string_view qualification);
double trainingShare(const Plant& plant, int employee, std::string_view training);
// The date `years` later (Feb 29 -> Feb 28 in a year without one); `years` may be negative.
core::Date addYears(core::Date day, int years);
const QualificationSpec* findQualification(std::string_view code);
const TrainingSpec* findTraining(std::string_view code);

// The tables' columns and a row's cells, in that order, for INSERT statements (init writes
// the history with them, run its single rows with insertHrRow).
const std::vector<std::string>& assignmentColumns();
const std::vector<std::string>& certificateColumns();
const std::vector<std::string>& trainingColumns();
Row cellsOf(const AssignmentRow& row);
Row cellsOf(const CertificateRow& row);
Row cellsOf(const TrainingRow& row);
// One INSERT into the hrm session's `table`, in the caller's transaction.
core::Status insertHrRow(SqlSession& hrm, const std::string& table, const std::vector<std::string>& columns,
                         const Row& cells);

}  // namespace dutybridge::sim
