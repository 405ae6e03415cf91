#include "src/sim/hr_master.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace dutybridge::sim {

namespace {

bool isWorkshop(std::string_view department) {
  for (const auto& shop : workshops()) {
    if (shop.code == department) return true;
  }
  return false;
}

// The employee's workshop (MACH, MOLD, ASSY) if they work in one, else "".
std::string workshopOf(const Plant& plant, int employee) {
  std::string department = assignmentDepartment(plant, employee);
  return isWorkshop(department) ? department : "";
}

PlantTime clampTo(PlantTime t, PlantTime now) {
  return std::min(t, now);
}

// Rows get their ids in the order they were created (ties by the order they were built), as a
// real HR master would have given them.
template <class R>
void numberRows(std::vector<std::pair<PlantTime, R>>& rows, std::vector<R>& out, int64_t R::*id) {
  std::stable_sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < rows.size(); ++i) {
    rows[i].second.*id = static_cast<int64_t>(i) + 1;
    out.push_back(std::move(rows[i].second));
  }
}

}  // namespace

std::string assignmentDepartment(const Plant& plant, int employee) {
  const Employee& e = plant.employees[static_cast<size_t>(employee)];
  bool shop_floor = e.position == "OPERATOR" || e.position == "TEAM_LEADER" || e.position == "CLERK";
  if (shop_floor && e.team) {
    return std::string(workshops()[static_cast<size_t>(plant.teams[static_cast<size_t>(*e.team)].workshop)].code);
  }
  return e.department;
}

double certificateShare(const Plant& plant, int employee, std::string_view qualification) {
  const std::string& position = plant.employees[static_cast<size_t>(employee)].position;
  std::string shop = workshopOf(plant, employee);
  bool floor = position == "OPERATOR" || position == "TEAM_LEADER";
  if (qualification == "Q.FORKLIFT") {
    if (floor && (shop == "MOLD" || shop == "ASSY")) return 0.35;
    if (position == "CLERK") return 0.5;
  } else if (qualification == "Q.CRANE") {
    if (floor && shop == "MACH") return 0.25;
    if (position == "TOOLMAKER") return 0.6;
  } else if (qualification == "Q.ELECTRICIAN-LV") {
    if (position == "ENGINEER") return 0.3;
    if (position == "TOOLMAKER") return 0.2;
    if (position == "WORKSHOP_MANAGER") return 0.5;
    if (position == "OPERATOR" && shop == "MACH") return 0.04;
  } else if (qualification == "Q.IATF-AUDITOR") {
    if (position == "QA_INSPECTOR") return 0.4;
    if (position == "WORKSHOP_MANAGER") return 0.5;
    if (position == "ENGINEER") return 0.1;
  }
  return 0;
}

double trainingShare(const Plant& plant, int employee, std::string_view training) {
  const std::string& position = plant.employees[static_cast<size_t>(employee)].position;
  std::string shop = workshopOf(plant, employee);
  bool floor = position == "OPERATOR" || position == "TEAM_LEADER";
  if (training == "T.SAFETY-INDUCTION") return 1.0;
  if (training == "T.5S") {
    for (std::string_view p :
         {"OPERATOR", "TEAM_LEADER", "CLERK", "WORKSHOP_MANAGER", "PRODUCTION_PLANNER", "QA_INSPECTOR", "TOOLMAKER"}) {
      if (position == p) return 0.7;
    }
  } else if (training == "T.FIRST-ARTICLE") {
    if (floor && shop == "MACH") return 0.5;
    if (position == "QA_INSPECTOR") return 0.5;
    if (position == "TOOLMAKER") return 0.3;
  } else if (training == "T.LOTO") {
    if (floor && (shop == "MACH" || shop == "MOLD")) return 0.6;
    if (position == "TOOLMAKER") return 0.8;
    if (position == "ENGINEER") return 0.3;
  } else if (training == "T.SPC") {
    if (position == "QA_INSPECTOR") return 0.7;
    if (position == "TEAM_LEADER" || position == "WORKSHOP_MANAGER") return 0.5;
    if (position == "ENGINEER") return 0.4;
  } else if (training == "T.TEAM-LEADER") {
    if (position == "TEAM_LEADER") return 0.8;
    if (position == "WORKSHOP_MANAGER") return 0.6;
    if (position == "OPERATOR") return 0.03;
  } else if (training == "T.ESD") {
    if ((floor || position == "CLERK") && shop == "ASSY") return 0.75;
    if (position == "QA_INSPECTOR") return 0.2;
  }
  return 0;
}

core::Date addYears(core::Date day, int years) {
  std::string text = core::formatDate(day);
  int year = std::stoi(text.substr(0, 4)) + years;
  unsigned month = static_cast<unsigned>(std::stoi(text.substr(5, 2)));
  unsigned dom = static_cast<unsigned>(std::stoi(text.substr(8, 2)));
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (month == 2 && dom == 29 && !leap) dom = 28;
  return core::dateFromYmd(year, month, dom);
}

const QualificationSpec* findQualification(std::string_view code) {
  for (const auto& q : kQualifications) {
    if (q.code == code) return &q;
  }
  return nullptr;
}

const TrainingSpec* findTraining(std::string_view code) {
  for (const auto& t : kTrainings) {
    if (t.code == code) return &t;
  }
  return nullptr;
}

HrHistory buildHrHistory(const Plant& plant, core::Date today, PlantTime now) {
  HrHistory out;
  auto day = [](core::Date d, int32_t delta) { return core::Date{d.days + delta}; };

  // Assignments: created when the person was hired or moved; a closed row's updated_at is when it
  // was closed.
  std::vector<std::pair<PlantTime, AssignmentRow>> assignments;
  std::vector<int> movable;  // long-serving machining operators, still employed
  for (size_t i = 0; i < plant.employees.size(); ++i) {
    const Employee& e = plant.employees[i];
    if (e.hired_on > today) continue;
    if (e.position == "OPERATOR" && !e.left_on && assignmentDepartment(plant, static_cast<int>(i)) == "MACH" &&
        e.hired_on.days <= today.days - 400) {
      movable.push_back(static_cast<int>(i));
    }
  }
  std::vector<bool> moves(plant.employees.size(), false);
  for (size_t k = 0; k < movable.size(); ++k) {
    Rng rng = keyedRng(plant.seed, "hr-move|" + plant.employees[static_cast<size_t>(movable[k])].employee_no);
    moves[static_cast<size_t>(movable[k])] = k == 0 || rng.chance(0.25);  // at least one move
  }
  for (size_t i = 0; i < plant.employees.size(); ++i) {
    const Employee& e = plant.employees[i];
    if (e.hired_on > today) continue;
    Rng rng = keyedRng(plant.seed, "hr-assignment|" + e.employee_no);
    std::string department = assignmentDepartment(plant, static_cast<int>(i));
    PlantTime hired_at = clampTo(midnightOf(e.hired_on) + 9 * 3600 + rng.range(0, 3 * 3600), now);
    AssignmentRow first{0, e.employee_no, e.position, department, e.hired_on, std::nullopt, hired_at};
    if (moves[i]) {
      // Moved to the CNC cell: the old assignment ends the day before the new one starts; HR
      // records the move up to two weeks ahead.
      core::Date move = day(e.hired_on, static_cast<int32_t>(rng.range(180, today.days - 30 - e.hired_on.days)));
      PlantTime recorded =
          midnightOf(day(move, -static_cast<int32_t>(rng.range(0, 14)))) + 10 * 3600 + rng.range(0, 2 * 3600);
      recorded = clampTo(std::max(recorded, hired_at + 1), now);
      first.valid_to = day(move, -1);
      first.updated_at = recorded;
      assignments.emplace_back(hired_at, first);
      assignments.emplace_back(
          recorded, AssignmentRow{0, e.employee_no, "CNC_CELL_OPERATOR", "MACH", move, std::nullopt, recorded});
    } else if (e.left_on) {
      first.valid_to = day(*e.left_on, -1);
      first.updated_at = clampTo(std::max(midnightOf(first.valid_to.value_or(e.hired_on)) + 17 * 3600, hired_at), now);
      assignments.emplace_back(hired_at, first);
    } else {
      assignments.emplace_back(hired_at, first);
    }
  }
  numberRows(assignments, out.assignments, &AssignmentRow::assignment_id);

  // Certificates of the people still employed. The first holders of expiring certificates are
  // one expired, one expiring within 30 days and one renewed, so every seed shows each case.
  std::vector<std::pair<PlantTime, CertificateRow>> certificates;
  int expiring_holders = 0;
  for (size_t i = 0; i < plant.employees.size(); ++i) {
    const Employee& e = plant.employees[i];
    if (e.hired_on > today || e.left_on) continue;
    for (const auto& q : kQualifications) {
      double share = certificateShare(plant, static_cast<int>(i), q.code);
      Rng rng = keyedRng(plant.seed, fmt::format("hr-cert|{}|{}", e.employee_no, q.code));
      if (share <= 0 || !rng.chance(share)) continue;
      auto recorded = [&](core::Date issued) {
        return clampTo(midnightOf(std::max(issued, e.hired_on)) + 10 * 3600 + rng.range(0, 2 * 3600), now);
      };
      if (q.valid_years == 0) {
        if (today.days - e.hired_on.days < 60) continue;
        core::Date issued = day(e.hired_on, static_cast<int32_t>(rng.range(60, today.days - e.hired_on.days)));
        certificates.emplace_back(recorded(issued), CertificateRow{0, e.employee_no, std::string(q.code), issued,
                                                                   std::nullopt, recorded(issued)});
        continue;
      }
      int holder = expiring_holders++;
      double roll = rng.uniform();
      bool expired = holder == 0 || (holder > 2 && roll < 0.12);
      bool soon = holder == 1 || (holder > 2 && roll >= 0.12 && roll < 0.22);
      bool renewed = holder == 2 || (holder > 2 && !expired && !soon && rng.chance(0.2));
      int32_t span = q.valid_years * 365;
      core::Date expires = expired ? day(today, -static_cast<int32_t>(rng.range(1, 400)))
                           : soon  ? day(today, static_cast<int32_t>(rng.range(0, 30)))
                                   : day(today, static_cast<int32_t>(rng.range(31, span - 30)));
      core::Date issued = addYears(expires, -q.valid_years);
      if (renewed) {
        // Renewed up to two months before the old one ran out.
        core::Date old_expires = day(issued, static_cast<int32_t>(rng.range(0, 60)));
        core::Date old_issued = addYears(old_expires, -q.valid_years);
        PlantTime old_at = recorded(old_issued);
        certificates.emplace_back(
            old_at, CertificateRow{0, e.employee_no, std::string(q.code), old_issued, old_expires, old_at});
      }
      PlantTime at = recorded(issued);
      // The renewal is written after the certificate it renews (a higher revision of the record).
      if (renewed) at = clampTo(std::max(at, certificates.back().first + 60), now);
      certificates.emplace_back(at, CertificateRow{0, e.employee_no, std::string(q.code), issued, expires, at});
    }
  }
  numberRows(certificates, out.certificates, &CertificateRow::cert_id);

  // Trainings: the safety induction on the day of hire, the others within the first year, only
  // what happened by today (so new hires have gaps).
  std::vector<std::pair<PlantTime, TrainingRow>> trainings;
  for (size_t i = 0; i < plant.employees.size(); ++i) {
    const Employee& e = plant.employees[i];
    if (e.hired_on > today) continue;
    for (const auto& t : kTrainings) {
      double share = trainingShare(plant, static_cast<int>(i), t.code);
      Rng rng = keyedRng(plant.seed, fmt::format("hr-training|{}|{}", e.employee_no, t.code));
      if (share <= 0 || !rng.chance(share)) continue;
      core::Date completed =
          t.code == "T.SAFETY-INDUCTION" ? e.hired_on : day(e.hired_on, static_cast<int32_t>(rng.range(7, 365)));
      if (completed > today || (e.left_on && completed >= *e.left_on)) continue;
      PlantTime at = clampTo(midnightOf(completed) + 16 * 3600 + rng.range(0, 90 * 60), now);
      trainings.emplace_back(at,
                             TrainingRow{0, e.employee_no, std::string(t.code), completed, std::string(t.hours), at});
    }
  }
  numberRows(trainings, out.trainings, &TrainingRow::completion_id);
  return out;
}

const std::vector<std::string>& assignmentColumns() {
  static const std::vector<std::string> columns = {"assignment_id", "employee_no", "position_code", "department_code",
                                                   "valid_from",    "valid_to",    "updated_at"};
  return columns;
}

const std::vector<std::string>& certificateColumns() {
  static const std::vector<std::string> columns = {"cert_id",   "employee_no", "qualification_code",
                                                   "issued_on", "expires_on",  "updated_at"};
  return columns;
}

const std::vector<std::string>& trainingColumns() {
  static const std::vector<std::string> columns = {"completion_id", "employee_no", "training_code",
                                                   "completed_on",  "hours",       "updated_at"};
  return columns;
}

namespace {
Cell dateCell(const std::optional<core::Date>& d) {
  return d ? Cell(formatPlantDate(*d)) : Cell(std::nullopt);
}
}  // namespace

Row cellsOf(const AssignmentRow& r) {
  return {std::to_string(r.assignment_id),
          r.employee_no,
          r.position_code,
          r.department_code,
          formatPlantDate(r.valid_from),
          dateCell(r.valid_to),
          formatPlantTime(r.updated_at)};
}

Row cellsOf(const CertificateRow& r) {
  return {std::to_string(r.cert_id),    r.employee_no,          r.qualification_code,
          formatPlantDate(r.issued_on), dateCell(r.expires_on), formatPlantTime(r.updated_at)};
}

Row cellsOf(const TrainingRow& r) {
  return {std::to_string(r.completion_id), r.employee_no, r.training_code,
          formatPlantDate(r.completed_on), r.hours,       formatPlantTime(r.updated_at)};
}

core::Status insertHrRow(SqlSession& hrm, const std::string& table, const std::vector<std::string>& columns,
                         const Row& cells) {
  std::string names, marks;
  for (size_t i = 0; i < columns.size(); ++i) {
    names += (i == 0 ? "" : ", ") + columns[i];
    marks += i == 0 ? "?" : ", ?";
  }
  auto statement = hrm.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", hrm.table(table), names, marks));
  if (!statement) return core::fail(statement.error());
  return statement->run(cells);
}

}  // namespace dutybridge::sim
