#include "src/sim/plant.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace dutybridge::sim {

std::optional<std::string> Plant::badgeOn(int employee, core::Date day) const {
  for (const auto& span : badges) {
    if (span.employee == employee && span.valid_from <= day && (!span.valid_to || day < *span.valid_to)) {
      return span.badge;
    }
  }
  return std::nullopt;
}

bool Plant::employed(int employee, core::Date day) const {
  const Employee& e = employees[static_cast<size_t>(employee)];
  return e.hired_on <= day && (!e.left_on || day < *e.left_on);
}

std::vector<int> Plant::presentOperators(int team, const ShiftWindow& shift) const {
  std::vector<int> present;
  double p = presence(shift.day_type);
  for (int op : teams[static_cast<size_t>(team)].operators) {
    if (!employed(op, shift.shift_date)) continue;
    Rng rng = keyedRng(seed, fmt::format("presence|{}|{}", employees[static_cast<size_t>(op)].employee_no,
                                         shift.shift_date.days));
    if (rng.chance(p)) present.push_back(op);
  }
  return present;
}

double Plant::piecesPerMinute(int team, core::Date day) const {
  int active = 0;
  for (int op : teams[static_cast<size_t>(team)].operators) active += employed(op, day) ? 1 : 0;
  // About 450 of the 480 minutes are booked: start-up and hand-over take the rest.
  return kTeamShiftTarget / (std::max(1, active) * presence("NORMAL") * 430.0);
}

double Plant::teamShiftFactor(int team, const ShiftWindow& shift) const {
  Rng rng = keyedRng(seed, fmt::format("team-shift|{}|{}|{}", teams[static_cast<size_t>(team)].code,
                                       shift.shift_date.days, shift.shift_code));
  return std::clamp(rng.normal(1.0, 0.07), 0.75, 1.25);
}

double Plant::operatorPace(int employee) const {
  Rng rng = keyedRng(seed, "pace|" + employees[static_cast<size_t>(employee)].employee_no);
  return std::clamp(rng.normal(1.0, 0.08), 0.8, 1.2);
}

double Plant::operatorScrapRate(int employee) const {
  Rng rng = keyedRng(seed, "scrap|" + employees[static_cast<size_t>(employee)].employee_no);
  return kLaborScrapRate * std::exp(std::clamp(rng.normal(0.0, 0.45), -1.2, 1.2) - 0.1);
}

size_t Plant::routeOf(int employee, core::Date day) const {
  const Employee& e = employees[static_cast<size_t>(employee)];
  const auto& routes = workshops()[static_cast<size_t>(teams[static_cast<size_t>(*e.team)].workshop)].routes;
  double total = 0;
  for (const auto& r : routes) total += r.weight;
  Rng rng = keyedRng(seed, fmt::format("route|{}|{}", e.employee_no, day.days));
  double x = rng.uniform(0, total);
  for (size_t i = 0; i < routes.size(); ++i) {
    if (x < routes[i].weight) return i;
    x -= routes[i].weight;
  }
  return routes.size() - 1;
}

PartsCountPlan Plant::partsCountPlan(int workshop, const ShiftWindow& shift) const {
  Rng rng = keyedRng(seed, fmt::format("parts-count|{}|{}|{}", workshops()[static_cast<size_t>(workshop)].code,
                                       shift.shift_date.days, shift.shift_code));
  PartsCountPlan plan;
  double roll = rng.uniform();
  if (roll < 0.05) return plan;
  plan.submitted = true;
  int64_t minutes = roll < 0.15 ? rng.range(125, 360) : rng.range(10, 115);
  plan.submit_at = shift.end + minutes * 60 + rng.range(0, 59);
  if (rng.chance(0.4)) plan.draft_at = shift.end + rng.range(2, minutes - 1) * 60;
  return plan;
}

int Plant::teamOf(int workshop, std::string_view shift_code) const {
  for (size_t i = 0; i < teams.size(); ++i) {
    if (teams[i].workshop == workshop && teams[i].shift_code == shift_code) return static_cast<int>(i);
  }
  return -1;
}

ReportQuantities reportQuantities(Rng& rng, const Plant& plant, int team, int employee, const ShiftWindow& shift,
                                  int minutes) {
  double mean = plant.piecesPerMinute(team, shift.shift_date) * minutes * plant.teamShiftFactor(team, shift) *
                plant.operatorPace(employee);
  ReportQuantities q;
  q.good = std::max(0, static_cast<int>(std::lround(mean * std::max(0.2, rng.normal(1.0, 0.2)))));
  q.scrap_labor = rng.poisson(q.good * plant.operatorScrapRate(employee));
  q.scrap_mat = rng.poisson(q.good * kMaterialScrapRate);
  return q;
}

Plant buildPlant(uint64_t seed, int employee_count, core::Date first_day, core::Date today) {
  Plant plant;
  plant.seed = seed;
  Rng rng = keyedRng(seed, "people");
  auto hire_date = [&] { return core::Date{today.days - static_cast<int32_t>(rng.range(200, 12 * 365))}; };
  auto add = [&](std::string department, std::string position, std::optional<int> team) {
    int index = static_cast<int>(plant.employees.size());
    plant.employees.push_back({employeeNo(index), std::move(department), std::move(position), team, hire_date(), {}});
    return index;
  };

  const auto& shops = workshops();
  for (size_t w = 0; w < shops.size(); ++w) {
    for (int k = 0; k < 3; ++k) {
      plant.teams.push_back({fmt::format("{}-T{}", shops[w].code, k + 1), static_cast<int>(w),
                             std::string(kTeamShift[k]), {}, -1});
    }
  }
  for (size_t t = 0; t < plant.teams.size(); ++t) {
    plant.teams[t].leader = add(std::string(shops[static_cast<size_t>(plant.teams[t].workshop)].code), "TEAM_LEADER",
                                static_cast<int>(t));
  }
  for (const auto& shop : shops) plant.clerks.push_back(add(std::string(shop.code), "CLERK", std::nullopt));
  for (int i = 0; i < kPurchasingGroups; ++i) plant.buyers.push_back(add("PUR", "PURCHASING_MANAGER", std::nullopt));
  for (int i = 0; i < kChannelSales; ++i) plant.channel_sales.push_back(add("SALES", "CHANNEL_SALES", std::nullopt));

  int operators = employee_count / 2;
  int fixed = static_cast<int>(plant.employees.size());
  int reassigned = std::max(1, operators / 75);
  std::vector<int> operator_ids;
  for (int i = 0; i < operators; ++i) {
    int team = i % static_cast<int>(plant.teams.size());
    int id = add(std::string(shops[static_cast<size_t>(plant.teams[static_cast<size_t>(team)].workshop)].code),
                 "OPERATOR", team);
    plant.teams[static_cast<size_t>(team)].operators.push_back(id);
    operator_ids.push_back(id);
  }
  int others = employee_count - operators - fixed;
  int total_weight = 0;
  for (const auto& share : kOtherStaff) total_weight += share.weight;
  for (int i = 0; i < others; ++i) {
    // Deterministic proportional spread: the i-th person goes to the share whose cumulative weight covers it.
    int slot = (i * total_weight) / std::max(1, others), acc = 0;
    for (const auto& share : kOtherStaff) {
      acc += share.weight;
      if (slot < acc) {
        add(std::string(share.department), std::string(share.position), std::nullopt);
        break;
      }
    }
  }
  // Workshop managers: one per workshop, out of the "other" head count's last places.
  for (size_t w = 0; w < shops.size() && others > static_cast<int>(shops.size()); ++w) {
    Employee& e = plant.employees[plant.employees.size() - 1 - w];
    e.department = std::string(shops[w].code);
    e.position = "WORKSHOP_MANAGER";
  }

  for (size_t i = 0; i < plant.employees.size(); ++i) {
    plant.badges.push_back({badgeText(101 + static_cast<int>(i)), static_cast<int>(i),
                            plant.employees[i].hired_on, std::nullopt});
  }
  // Leavers and new hires: the new hire (one of the last operators) takes the leaver's badge and
  // team on the leaving day, so badge lookups must be effective-dated.
  for (int j = 0; j < reassigned && 2 * j + 1 < operators; ++j) {
    int leaver = operator_ids[static_cast<size_t>(3 + 7 * j) % operator_ids.size()];
    int hire = operator_ids[operator_ids.size() - 1 - static_cast<size_t>(j)];
    if (leaver == hire) continue;
    core::Date day{std::min(today.days, first_day.days + 1 + j)};
    Employee& old_holder = plant.employees[static_cast<size_t>(leaver)];
    Employee& new_holder = plant.employees[static_cast<size_t>(hire)];
    old_holder.left_on = day;
    auto& old_team = plant.teams[static_cast<size_t>(*new_holder.team)].operators;
    old_team.erase(std::find(old_team.begin(), old_team.end(), hire));
    new_holder.team = old_holder.team;
    new_holder.department = old_holder.department;
    plant.teams[static_cast<size_t>(*old_holder.team)].operators.push_back(hire);
    new_holder.hired_on = day;
    BadgeSpan& old_span = plant.badges[static_cast<size_t>(leaver)];
    old_span.valid_to = day;
    BadgeSpan& new_span = plant.badges[static_cast<size_t>(hire)];
    new_span.badge = old_span.badge;
    new_span.valid_from = day;
  }
  std::sort(plant.badges.begin(), plant.badges.end(), [](const BadgeSpan& a, const BadgeSpan& b) {
    return std::tie(a.badge, a.valid_from) < std::tie(b.badge, b.valid_from);
  });
  return plant;
}

core::Result<Plant> loadPlant(uint64_t seed, SqlSession& hrm) {
  Plant plant;
  plant.seed = seed;
  auto people = hrm.query("SELECT employee_no, department_code, position_code, team_code, hired_on, left_on FROM " +
                          hrm.table("employee") + " ORDER BY employee_no");
  if (!people) return core::fail(people.error());
  auto teams = hrm.query("SELECT team_code, workshop_code, shift_code FROM " + hrm.table("team") + " ORDER BY team_code");
  if (!teams) return core::fail(teams.error());
  std::map<std::string, int> team_index, employee_index;
  const auto& shops = workshops();
  for (const auto& row : *teams) {
    int workshop = -1;
    for (size_t w = 0; w < shops.size(); ++w) workshop = shops[w].code == row[1].value_or("") ? static_cast<int>(w) : workshop;
    if (workshop < 0) return core::fail(core::ErrorKind::Permanent, "hrm.db: team of an unknown workshop: " + *row[0]);
    team_index[*row[0]] = static_cast<int>(plant.teams.size());
    plant.teams.push_back({*row[0], workshop, row[2].value_or(""), {}, -1});
  }
  auto date_of = [](const Cell& cell) -> std::optional<core::Date> {
    if (!cell) return std::nullopt;
    auto d = core::parseDate(cell->substr(0, 10));
    return d ? std::optional(*d) : std::nullopt;
  };
  for (const auto& row : *people) {
    Employee e{row[0].value_or(""), row[1].value_or(""), row[2].value_or(""), {}, date_of(row[4]).value_or(core::Date{}),
               date_of(row[5])};
    if (row[3]) e.team = team_index.contains(*row[3]) ? std::optional(team_index[*row[3]]) : std::nullopt;
    int index = static_cast<int>(plant.employees.size());
    employee_index[e.employee_no] = index;
    if (e.position == "OPERATOR" && e.team) plant.teams[static_cast<size_t>(*e.team)].operators.push_back(index);
    if (e.position == "TEAM_LEADER" && e.team) plant.teams[static_cast<size_t>(*e.team)].leader = index;
    if (e.position == "CHANNEL_SALES") plant.channel_sales.push_back(index);
    plant.employees.push_back(std::move(e));
  }
  auto badges = hrm.query("SELECT badge, employee_no, valid_from, valid_to FROM " + hrm.table("badge_assignment") +
                          " ORDER BY badge, valid_from");
  if (!badges) return core::fail(badges.error());
  for (const auto& row : *badges) {
    if (!row[1] || !employee_index.contains(*row[1])) continue;
    plant.badges.push_back({*row[0], employee_index[*row[1]], date_of(row[2]).value_or(core::Date{}), date_of(row[3])});
  }
  auto clerks = hrm.query("SELECT employee_no, workshop_code FROM " + hrm.table("parts_clerk") +
                          " WHERE valid_to IS NULL ORDER BY workshop_code");
  if (!clerks) return core::fail(clerks.error());
  plant.clerks.assign(shops.size(), -1);
  for (const auto& row : *clerks) {
    for (size_t w = 0; w < shops.size(); ++w) {
      if (shops[w].code == row[1].value_or("") && row[0] && employee_index.contains(*row[0])) {
        plant.clerks[w] = employee_index[*row[0]];
      }
    }
  }
  if (auto status = hrm.commit(); !status) return core::fail(status.error());
  if (plant.teams.empty() || plant.employees.empty()) {
    return core::fail(core::ErrorKind::Permanent, "hrm.db holds no demo plant: run `dutybridge-sim init` first");
  }
  return plant;
}

core::Result<PlantTime> plantTimeOf(const calendar::Calendar& calendar, core::Timestamp utc) {
  auto local = core::utcToLocal(utc, calendar.timeZone());
  if (!local) return core::fail(local.error());
  int64_t micros = *local;
  return micros >= 0 ? micros / 1000000 : -((-micros + 999999) / 1000000);
}

core::Result<core::Timestamp> utcOf(const calendar::Calendar& calendar, PlantTime t) {
  return core::localToUtc(t * 1000000, calendar.timeZone());
}

core::Result<ShiftWindow> shiftWindow(const calendar::Calendar& calendar, core::Date day, const std::string& code) {
  auto bounds = calendar.periodBounds(calendar::PeriodType::Shift, day, code);
  if (!bounds) return core::fail(bounds.error());
  auto start = plantTimeOf(calendar, bounds->start);
  auto end = plantTimeOf(calendar, bounds->end);
  if (!start) return core::fail(start.error());
  if (!end) return core::fail(end.error());
  return ShiftWindow{day, code, calendar.dayType(day), *start, *end};
}

core::Result<ShiftWindow> shiftAt(const calendar::Calendar& calendar, PlantTime t) {
  auto utc = utcOf(calendar, t);
  if (!utc) return core::fail(utc.error());
  auto instance = calendar.shiftOf(*utc);
  if (!instance) return core::fail(instance.error());
  return shiftWindow(calendar, instance->shift_date, instance->shift_code);
}

}  // namespace dutybridge::sim
