#pragma once
// The demo plant's people and the rules that decide who works when: built from a seed by
// `init` (buildPlant) and read back from hrm.db by `run` (loadPlant), so both commands agree on
// teams, badges, presence and each operator's pace without sharing any state but the databases.
// Every decision is a keyed draw (factory_model.h keyedRng) on the seed and the names involved,
// never a draw from a shared sequence, so `run` can repeat what `init` decided.
//
// Threading: a Plant is immutable after it is built. Errors: loadPlant returns the driver's
// diagnostic, or a Permanent error when hrm.db does not hold a demo plant.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/calendar/calendar.h"
#include "src/sim/factory_model.h"
#include "src/sim/sql_session.h"

namespace dutybridge::sim {

struct Employee {
  std::string employee_no, department, position;
  std::optional<int> team;  // index into Plant::teams
  core::Date hired_on;
  std::optional<core::Date> left_on;
};

struct Team {
  std::string code;  // MACH-T1
  int workshop = 0;  // index into workshops()
  std::string shift_code;
  std::vector<int> operators;  // employee indexes, hires and leavers included
  int leader = -1;
};

struct BadgeSpan {
  std::string badge;
  int employee = 0;
  core::Date valid_from;
  std::optional<core::Date> valid_to;  // exclusive: the next holder starts that day
};

struct ShiftWindow {
  core::Date shift_date;
  std::string shift_code, day_type;
  PlantTime start = 0, end = 0;  // [start, end) plant time
};

// When (if ever) a workshop's clerk drafts and submits the parts count of a shift.
struct PartsCountPlan {
  bool submitted = false;          // 5 % of shifts get none at all
  PlantTime submit_at = 0;
  std::optional<PlantTime> draft_at;
};

class Plant {
 public:
  uint64_t seed = 1;
  std::vector<Employee> employees;
  std::vector<Team> teams;
  std::vector<BadgeSpan> badges;
  std::vector<int> clerks;    // per workshop
  std::vector<int> buyers;    // P01..P03
  std::vector<int> channel_sales;

  // The badge the employee held on the date, if any.
  std::optional<std::string> badgeOn(int employee, core::Date day) const;
  bool employed(int employee, core::Date day) const;
  // The team's operators at work on that shift (employed, and not absent by the day's draw).
  std::vector<int> presentOperators(int team, const ShiftWindow& shift) const;
  // Good pieces per labour minute for one present operator of an average team shift: the team
  // target spread over the operators a NORMAL day brings.
  double piecesPerMinute(int team, core::Date day) const;
  double teamShiftFactor(int team, const ShiftWindow& shift) const;
  double operatorPace(int employee) const;       // ~1.0 ± 8 %
  double operatorScrapRate(int employee) const;  // labour scrap per good piece
  size_t routeOf(int employee, core::Date day) const;  // index into the workshop's routes
  PartsCountPlan partsCountPlan(int workshop, const ShiftWindow& shift) const;
  // The team that works `shift_code` in the workshop.
  int teamOf(int workshop, std::string_view shift_code) const;
};

// The pieces one report books: good from the team's pace, labour scrap from the operator's own
// rate, material scrap from the plant's.
struct ReportQuantities {
  int good = 0, scrap_labor = 0, scrap_mat = 0;
};
ReportQuantities reportQuantities(Rng& rng, const Plant& plant, int team, int employee, const ShiftWindow& shift,
                                  int minutes);

// `employees` >= 60. The history starts at `first_day`; one operator per 75 leaves during it and a
// new hire takes over the badge the same day.
Plant buildPlant(uint64_t seed, int employees, core::Date first_day, core::Date today);
core::Result<Plant> loadPlant(uint64_t seed, SqlSession& hrm);

// A purchased material of the demo ERP (init writes them to mbew and material_last_price).
struct Material {
  std::string matnr, meins;
  int peinh;
  double unit_price;  // the last price paid, CNY per unit
  int group;          // purchasing group index: P01 + group
};
std::vector<Material> demoMaterials(uint64_t seed);

// The shift instance of the calendar as plant wall-clock times.
core::Result<ShiftWindow> shiftWindow(const calendar::Calendar& calendar, core::Date day, const std::string& code);
core::Result<ShiftWindow> shiftAt(const calendar::Calendar& calendar, PlantTime t);
// Plant wall-clock time <-> the calendar's time zone.
core::Result<PlantTime> plantTimeOf(const calendar::Calendar& calendar, core::Timestamp utc);
core::Result<core::Timestamp> utcOf(const calendar::Calendar& calendar, PlantTime t);

}  // namespace dutybridge::sim
