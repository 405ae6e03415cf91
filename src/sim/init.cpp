// `dutybridge-sim init`: master data and history. Every random decision is a keyed draw on the
// seed (factory_model.h), and rows are sorted before they get their ids, so the same options give
// the same databases.
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <numeric>
#include <set>
#include <tuple>

#include "src/sim/hr_master.h"
#include "src/sim/plant.h"
#include "src/sim/records.h"
#include "src/sim/schema.h"
#include "src/sim/simulator.h"

namespace dutybridge::sim {

std::string sqliteConnectionString(const std::filesystem::path& dir, std::string_view system) {
  // Timeout: wait for a reader's lock (the dutybridge odbc source) instead of failing at once.
  return fmt::format("Driver=SQLite3;Database={};Timeout=10000", (dir / fmt::format("{}.db", system)).string());
}

std::string Target::schemaOf(std::string_view system) const {
  return postgresql ? schema_prefix + std::string(system) : std::string(system);
}

std::string Target::connectionString(std::string_view system) const {
  return postgresql ? *postgresql : sqliteConnectionString(dir, system);
}

std::string Target::describe() const {
  if (!postgresql) return dir.string();
  return fmt::format("postgresql schemas {}, {}, {}, {}", schemaOf("mes"), schemaOf("erp"), schemaOf("crm"),
                     schemaOf("hrm"));
}

bool validSchemaPrefix(std::string_view prefix) {
  if (prefix.size() > 40) return false;
  for (size_t i = 0; i < prefix.size(); ++i) {
    char c = prefix[i];
    bool ok = (c >= 'a' && c <= 'z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

namespace {

using Counts = std::vector<std::pair<std::string, size_t>>;

struct Ymd {
  int year, month, day;
};
Ymd ymdOf(core::Date d) {
  std::string text = core::formatDate(d);
  return {std::stoi(text.substr(0, 4)), std::stoi(text.substr(5, 2)), std::stoi(text.substr(8, 2))};
}
core::Date firstOfPreviousMonth(core::Date d) {
  Ymd ymd = ymdOf(d);
  return ymd.month == 1 ? core::dateFromYmd(ymd.year - 1, 12, 1)
                        : core::dateFromYmd(ymd.year, static_cast<unsigned>(ymd.month - 1), 1);
}

core::Status insertAll(SqlSession& session, const std::string& table, const std::vector<std::string>& columns,
                       const std::vector<Row>& rows, Counts& counts) {
  std::string marks;
  for (size_t i = 0; i < columns.size(); ++i) marks += i == 0 ? "?" : ", ?";
  std::string names;
  for (size_t i = 0; i < columns.size(); ++i) names += (i == 0 ? "" : ", ") + columns[i];
  auto statement = session.prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", session.table(table), names, marks));
  if (!statement) return core::fail(statement.error());
  for (const auto& row : rows) {
    if (auto status = statement->run(row); !status) return status;
  }
  counts.emplace_back(table, rows.size());
  return session.commit();
}

Cell dateCell(const std::optional<core::Date>& d) { return d ? Cell(formatPlantDate(*d)) : Cell(std::nullopt); }

core::Status writeHrm(SqlSession& hrm, const Plant& plant, core::Date today, PlantTime now, Counts& counts) {
  std::vector<Row> rows;
  for (const auto& d : kDepartments) rows.push_back({std::string(d.code), std::string(d.title)});
  if (auto s = insertAll(hrm, "department", {"department_code", "title"}, rows, counts); !s) return s;
  rows.clear();
  for (const auto& p : kPositions) rows.push_back({std::string(p.code), std::string(p.title), std::string(p.department)});
  if (auto s = insertAll(hrm, "position", {"position_code", "title", "department_code"}, rows, counts); !s) return s;
  rows.clear();
  for (const auto& e : plant.employees) {
    rows.push_back({e.employee_no, e.department, e.position,
                    e.team ? Cell(plant.teams[static_cast<size_t>(*e.team)].code) : Cell(std::nullopt),
                    formatPlantDate(e.hired_on), dateCell(e.left_on)});
  }
  if (auto s = insertAll(hrm, "employee",
                         {"employee_no", "department_code", "position_code", "team_code", "hired_on", "left_on"}, rows,
                         counts);
      !s) {
    return s;
  }
  rows.clear();
  for (const auto& t : plant.teams) {
    rows.push_back({t.code, std::string(workshops()[static_cast<size_t>(t.workshop)].code), t.shift_code});
  }
  if (auto s = insertAll(hrm, "team", {"team_code", "workshop_code", "shift_code"}, rows, counts); !s) return s;
  rows.clear();
  // A badge spell is recorded on its first day (08:00) and updated when it ends (on its first day
  // without, 08:00; badge_assignment.valid_to is that day), never after now.
  for (size_t i = 0; i < plant.badges.size(); ++i) {
    const BadgeSpan& b = plant.badges[i];
    PlantTime updated = midnightOf(b.valid_to.value_or(b.valid_from)) + 8 * 3600;
    rows.push_back({std::to_string(i + 1), b.badge, plant.employees[static_cast<size_t>(b.employee)].employee_no,
                    formatPlantDate(b.valid_from), dateCell(b.valid_to), formatPlantTime(std::min(updated, now))});
  }
  if (auto s = insertAll(hrm, "badge_assignment",
                         {"badge_assignment_id", "badge", "employee_no", "valid_from", "valid_to", "updated_at"}, rows,
                         counts);
      !s) {
    return s;
  }
  rows.clear();
  for (const auto& t : plant.teams) {
    const Employee& leader = plant.employees[static_cast<size_t>(t.leader)];
    rows.push_back({t.code, leader.employee_no, formatPlantDate(leader.hired_on), std::nullopt});
  }
  if (auto s = insertAll(hrm, "team_leader", {"team_code", "employee_no", "valid_from", "valid_to"}, rows, counts); !s) {
    return s;
  }
  rows.clear();
  for (size_t w = 0; w < plant.clerks.size(); ++w) {
    const Employee& clerk = plant.employees[static_cast<size_t>(plant.clerks[w])];
    rows.push_back({clerk.employee_no, std::string(workshops()[w].code), formatPlantDate(clerk.hired_on), std::nullopt});
  }
  if (auto s = insertAll(hrm, "parts_clerk", {"employee_no", "workshop_code", "valid_from", "valid_to"}, rows, counts);
      !s) {
    return s;
  }
  rows.clear();
  for (size_t i = 0; i < plant.buyers.size(); ++i) {
    rows.push_back({fmt::format("P{:02}", i + 1), plant.employees[static_cast<size_t>(plant.buyers[i])].employee_no});
  }
  if (auto s = insertAll(hrm, "purchasing_group", {"ekgrp", "employee_no"}, rows, counts); !s) return s;
  HrHistory history = buildHrHistory(plant, today, now);
  auto cells = [](const auto& items) {
    std::vector<Row> out;
    for (const auto& item : items) out.push_back(cellsOf(item));
    return out;
  };
  if (auto s = insertAll(hrm, "employee_assignment", assignmentColumns(), cells(history.assignments), counts); !s) {
    return s;
  }
  if (auto s = insertAll(hrm, "certificate", certificateColumns(), cells(history.certificates), counts); !s) return s;
  return insertAll(hrm, "training_completion", trainingColumns(), cells(history.trainings), counts);
}

core::Status writeMesReference(SqlSession& mes, const InitOptions& options, Counts& counts) {
  std::vector<Row> rows;
  std::set<std::string> seen;
  for (const auto& shop : workshops()) {
    for (const auto& r : shop.routes) {
      std::string key = fmt::format("{}|{}", r.operation, r.product);
      if (seen.insert(key).second) rows.push_back({key, decimalText(r.rate_cny, 2)});
    }
  }
  if (auto s = insertAll(mes, "piece_rate", {"operation_product", "rate_cny_per_piece"}, rows, counts); !s) return s;
  rows.clear();
  for (const auto& p : kScrapPenalties) rows.push_back({std::string(p.operation_product), std::string(p.penalty)});
  if (auto s = insertAll(mes, "scrap_penalty", {"operation_product", "penalty_cny_per_piece"}, rows, counts); !s) return s;
  rows.clear();
  for (const auto& o : kOperationSkills) rows.push_back({std::string(o.operation), std::string(o.skill)});
  if (auto s = insertAll(mes, "operation_skill", {"operation_code", "skill_code"}, rows, counts); !s) return s;
  rows = {{"seed", std::to_string(options.seed)},
          {"employees", std::to_string(options.employees)},
          {"history_days", std::to_string(options.history_days)},
          {"init_now", formatPlantTime(options.now)}};
  return insertAll(mes, "sim_meta", {"meta_key", "meta_value"}, rows, counts);
}

// One operator's reports of one shift, up to `now`.
void operatorShift(const Plant& plant, int team, int op, size_t op_slot, const std::vector<int>& present,
                   const ShiftWindow& win, PlantTime now, std::vector<std::pair<int64_t, ReportRow>>& out) {
  auto badge = plant.badgeOn(op, win.shift_date);
  if (!badge) return;
  const Employee& e = plant.employees[static_cast<size_t>(op)];
  const Team& t = plant.teams[static_cast<size_t>(team)];
  const Workshop& shop = workshops()[static_cast<size_t>(t.workshop)];
  Rng rng = keyedRng(plant.seed, fmt::format("reports|{}|{}|{}", e.employee_no, win.shift_date.days, win.shift_code));
  size_t route_index = plant.routeOf(op, win.shift_date);
  const Route& route = shop.routes[route_index];
  PlantTime end = win.end;
  // Overtime on a working day (延时加班): the operator stays up to two hours; those reports say OT.
  if (win.day_type == "NORMAL" && rng.chance(0.03)) end += rng.range(60, 120) * 60;
  PlantTime t0 = win.start + rng.range(5, 20) * 60;
  while (true) {
    int minutes = static_cast<int>(rng.range(8, 16));
    PlantTime from = t0, to = t0 + minutes * 60;
    if (to > end) break;
    t0 = to + rng.range(0, 1) * 60;
    PlantTime submitted = to + rng.range(0, 300);
    if (submitted > now) break;
    ReportRow r;
    ReportQuantities q = reportQuantities(rng, plant, team, op, win, minutes);
    r.work_order_no = workOrderNo(win.shift_date, t.workshop, route_index);
    r.operation = std::string(route.operation);
    r.product = std::string(route.product);
    r.workstation = fmt::format("{}{:02}", shop.station_prefix, op_slot % static_cast<size_t>(shop.stations) + 1);
    r.workshop = std::string(shop.code);
    r.team = t.code;
    r.badge = rng.chance(0.005) ? badgeText(static_cast<int>(900000 + rng.range(0, 99999))) : *badge;
    r.shift_code = win.shift_code;
    r.shift_date = win.shift_date;
    r.time_from = from;
    r.time_to = to;
    r.good = q.good;
    r.scrap_labor = q.scrap_labor;
    r.scrap_mat = q.scrap_mat;
    r.machine_time = shop.machine_time;
    r.machine_minutes = static_cast<int>(std::lround(minutes * rng.uniform(0.75, 0.95)));
    r.day_type = from >= win.end ? "OT" : win.day_type;
    r.staff.push_back({r.badge, minutes});
    if (rng.chance(0.10) && present.size() > 3) {
      int helpers = static_cast<int>(rng.range(1, 2));
      std::set<int> chosen{op};
      for (int h = 0; h < helpers; ++h) {
        int other = rng.pick(present);
        auto other_badge = plant.badgeOn(other, win.shift_date);
        if (!chosen.insert(other).second || !other_badge) continue;
        r.staff.push_back({*other_badge, std::max(1, static_cast<int>(std::lround(minutes * rng.uniform(0.4, 1.0))))});
      }
    }
    r.submitted_at = submitted;
    r.updated_at = submitted;
    r.state = "ACCEPTED";
    // The life of a report: some wait as DRAFT for acceptance, ~2 % are declined and ~5 % edited
    // later; only what happened by `now` is in the table.
    if (rng.chance(0.06)) {
      PlantTime accepted = submitted + rng.range(120, 1800);
      if (accepted > now) r.state = "DRAFT";
      else r.updated_at = accepted;
    }
    bool declined = rng.chance(0.02);
    PlantTime declined_at = r.updated_at + rng.range(600, 14400);
    bool edited = !declined && rng.chance(0.05);
    PlantTime edited_at = r.updated_at + rng.range(300, 10800);
    int delta = static_cast<int>(rng.range(1, 3)) * (rng.chance(0.5) ? 1 : -1);
    bool scrap_edit = rng.chance(0.3);
    if (declined && declined_at <= now) {
      r.state = "DECLINED";
      r.updated_at = declined_at;
    }
    if (edited && edited_at <= now) {
      r.good = std::max(0, r.good + delta);
      if (scrap_edit) r.scrap_labor = std::max(0, r.scrap_labor + (delta > 0 ? -1 : 1));
      r.updated_at = edited_at;
    }
    out.emplace_back(static_cast<int64_t>(out.size()), std::move(r));
  }
}

core::Status writeMesHistory(SqlSession& mes, const Plant& plant, const calendar::Calendar& calendar,
                             const InitOptions& options, core::Date first_day, core::Date today, Counts& counts) {
  std::vector<std::pair<int64_t, ReportRow>> reports;
  std::vector<PartsCountRow> parts;
  for (core::Date d = first_day; d <= today; d.days++) {
    for (const auto& def : calendar.shifts()) {
      auto win = shiftWindow(calendar, d, def.code);
      if (!win) return core::fail(win.error());
      if (win->start >= options.now) continue;
      for (size_t w = 0; w < workshops().size(); ++w) {
        int team = plant.teamOf(static_cast<int>(w), def.code);
        if (team < 0) continue;
        std::vector<int> present = plant.presentOperators(team, *win);
        const auto& members = plant.teams[static_cast<size_t>(team)].operators;
        for (int op : present) {
          size_t slot = static_cast<size_t>(std::find(members.begin(), members.end(), op) - members.begin());
          operatorShift(plant, team, op, slot, present, *win, options.now, reports);
        }
        if (win->end > options.now) continue;
        PartsCountPlan plan = plant.partsCountPlan(static_cast<int>(w), *win);
        if (!plan.submitted) continue;
        PartsCountRow p;
        p.submission_no = submissionNo(d, def.code, std::string(workshops()[w].code));
        p.workshop = std::string(workshops()[w].code);
        p.team = plant.teams[static_cast<size_t>(team)].code;
        p.clerk_badge = plant.badgeOn(plant.clerks[w], d).value_or("");
        p.shift_date = d;
        p.shift_code = def.code;
        p.shift_end_at = win->end;
        if (plan.submit_at <= options.now) {
          p.state = "SUBMITTED";
          p.submitted_at = plan.submit_at;
          p.updated_at = plan.submit_at;
        } else if (plan.draft_at && *plan.draft_at <= options.now) {
          p.state = "DRAFT";
          p.updated_at = *plan.draft_at;
        } else {
          continue;
        }
        parts.push_back(std::move(p));
      }
    }
  }
  std::sort(reports.begin(), reports.end(), [](const auto& a, const auto& b) {
    return std::tie(a.second.submitted_at, a.first) < std::tie(b.second.submitted_at, b.first);
  });
  auto statements = MesStatements::prepare(mes);
  if (!statements) return core::fail(statements.error());
  int64_t staff_id = 1;
  for (size_t i = 0; i < reports.size(); ++i) {
    ReportRow& r = reports[i].second;
    r.report_id = static_cast<int64_t>(i) + 1;
    r.report_no = reportNo(r.report_id);
    if (auto s = statements->insertReport(r, staff_id); !s) return s;
  }
  counts.emplace_back("production_report", reports.size());
  counts.emplace_back("report_staff", static_cast<size_t>(staff_id - 1));
  if (auto s = mes.commit(); !s) return s;
  std::sort(parts.begin(), parts.end(), [](const PartsCountRow& a, const PartsCountRow& b) {
    return std::tie(a.updated_at, a.submission_no) < std::tie(b.updated_at, b.submission_no);
  });
  for (size_t i = 0; i < parts.size(); ++i) {
    parts[i].submission_id = static_cast<int64_t>(i) + 1;
    if (auto s = statements->insertPartsCount(parts[i]); !s) return s;
  }
  counts.emplace_back("parts_count_submission", parts.size());
  return mes.commit();
}

}  // namespace

std::vector<Material> demoMaterials(uint64_t seed) {
  Rng rng = keyedRng(seed, "materials");
  std::vector<Material> out = {{"100-4711", "PC", 1, 12.80, 0}, {"100-4712", "PC", 1, 3.45, 1},
                               {"200-0815", "PC", 1000, 0.0625, 2}};
  for (int m = 3; m < kMaterials; ++m) {
    switch (m % 4) {
      case 0: out.push_back({fmt::format("100-{:04}", 4720 + m), "PC", 1, rng.uniform(5, 40), m % 3}); break;
      case 1: out.push_back({fmt::format("200-{:04}", 800 + m), "PC", 1000, rng.uniform(0.02, 0.3), m % 3}); break;
      case 2: out.push_back({fmt::format("300-{:04}", 1200 + m), "KG", 1, rng.uniform(12, 30), m % 3}); break;
      default: out.push_back({fmt::format("400-{:04}", 3300 + m), "PC", 100, rng.uniform(0.5, 3), m % 3}); break;
    }
  }
  return out;
}

namespace {

struct EkbeLine {
  std::string ebeln, ebelp, vgabe, shkzg;
  PlantTime posted = 0;
  double menge = 0, amount = 0;
  int64_t seq = 0;
};

core::Status writeErp(SqlSession& erp, const Plant& plant, const calendar::Calendar& calendar, PlantTime now,
                      core::Date today, Counts& counts) {
  auto mats = demoMaterials(plant.seed);
  std::vector<Row> rows;
  for (const auto& m : mats) {
    Rng rng = keyedRng(plant.seed, "stprs|" + m.matnr);
    rows.push_back({m.matnr, std::string("1000"), decimalText(m.unit_price * m.peinh * rng.uniform(1.0, 1.06), 2),
                    std::to_string(m.peinh)});
  }
  if (auto s = insertAll(erp, "mbew", {"matnr", "werks", "stprs", "peinh"}, rows, counts); !s) return s;
  rows.clear();
  for (const auto& m : mats) rows.push_back({"1000|" + m.matnr, decimalText(m.unit_price, 4)});
  if (auto s = insertAll(erp, "material_last_price", {"plant_material", "last_unit_price_cny"}, rows, counts); !s) return s;

  std::vector<Row> headers, items;
  std::vector<EkbeLine> lines;
  int64_t po = 0;
  for (core::Date d = firstOfPreviousMonth(today); d <= today; d.days++) {
    std::string day_type = calendar.dayType(d);
    Rng rng = keyedRng(plant.seed, fmt::format("po-day|{}", d.days));
    int orders = day_type == "NORMAL" || day_type == "OT" ? static_cast<int>(rng.range(5, 9))
                 : day_type == "REST"                     ? static_cast<int>(rng.range(0, 1))
                                                          : 0;
    Ymd ymd = ymdOf(d);
    for (int o = 0; o < orders; ++o) {
      std::string ebeln = fmt::format("45{:08}", ++po);
      int group = static_cast<int>(rng.range(0, kPurchasingGroups - 1));
      headers.push_back({ebeln, fmt::format("{:010}", 100001 + rng.range(0, kSuppliers - 1)), fmt::format("P{:02}", group + 1),
                         formatPlantDate(d), std::string("CNY")});
      // A buyer's month has its own negotiating luck, so the monthly reduction wanders around 3 %.
      double bias = keyedRng(plant.seed, fmt::format("cost|{}|{}-{}", group, ymd.year, ymd.month)).normal(0, 0.015);
      std::vector<const Material*> own;
      for (const auto& m : mats) if (m.group == group) own.push_back(&m);
      int count = static_cast<int>(rng.range(1, 4));
      for (int i = 0; i < count; ++i) {
        const Material& m = *own[static_cast<size_t>(rng.range(0, static_cast<int64_t>(own.size()) - 1))];
        std::string ebelp = fmt::format("{:05}", 10 * (i + 1));
        double reduction = std::clamp(rng.normal(0.04 + bias, 0.03), -0.08, 0.08);
        double netpr = std::round(m.unit_price * (1 - reduction) * m.peinh * 100) / 100;
        double menge = m.peinh == 1000 ? rng.range(10, 100) * 1000.0
                       : m.meins == "KG" ? static_cast<double>(rng.range(50, 1500))
                                         : rng.range(2, 80) * 50.0;
        bool deleted = rng.chance(0.03);
        items.push_back({ebeln, ebelp, m.matnr, std::string("1000"), decimalText(menge, 3), m.meins, decimalText(netpr, 2),
                         std::to_string(m.peinh), std::string(deleted ? "L" : "")});
        double unit = netpr / m.peinh;
        PlantTime receipt = midnightOf(core::Date{d.days + static_cast<int32_t>(rng.range(2, 10))}) +
                            8 * 3600 + rng.range(0, 9 * 3600);
        bool partial = rng.chance(0.2);
        double first = partial ? std::round(menge * 0.6) : menge;
        std::vector<std::pair<PlantTime, double>> receipts = {{receipt, first}};
        if (partial) receipts.push_back({receipt + rng.range(1, 5) * kDay, menge - first});
        bool reverse = rng.chance(0.02);
        bool invoice = rng.chance(0.4);
        PlantTime invoice_at = receipts.back().first + rng.range(3, 15) * kDay;
        for (const auto& [at, qty] : receipts) {
          if (at > now) break;
          lines.push_back({ebeln, ebelp, "1", "S", at, qty, std::round(qty * unit * 100) / 100, 0});
        }
        if (reverse && receipt + 2 * kDay <= now) {
          lines.push_back({ebeln, ebelp, "1", "H", receipt + 2 * kDay, first, std::round(first * unit * 100) / 100, 0});
        }
        if (invoice && invoice_at <= now && !reverse) {
          lines.push_back({ebeln, ebelp, "2", "S", invoice_at, menge, std::round(menge * unit * 100) / 100, 0});
        }
      }
    }
  }
  if (auto s = insertAll(erp, "ekko", {"ebeln", "lifnr", "ekgrp", "bedat", "waers"}, headers, counts); !s) return s;
  if (auto s = insertAll(erp, "ekpo", {"ebeln", "ebelp", "matnr", "werks", "menge", "meins", "netpr", "peinh", "loekz"},
                         items, counts);
      !s) {
    return s;
  }
  for (size_t i = 0; i < lines.size(); ++i) lines[i].seq = static_cast<int64_t>(i);
  std::sort(lines.begin(), lines.end(),
            [](const EkbeLine& a, const EkbeLine& b) { return std::tie(a.posted, a.seq) < std::tie(b.posted, b.seq); });
  rows.clear();
  int goods = 0, invoices = 0;
  for (size_t i = 0; i < lines.size(); ++i) {
    const EkbeLine& l = lines[i];
    std::string belnr = l.vgabe == "1" ? fmt::format("50{:08}", ++goods) : fmt::format("51{:08}", ++invoices);
    rows.push_back({std::to_string(i + 1), l.ebeln, l.ebelp, std::to_string(ymdOf(plantDateOf(l.posted)).year), belnr,
                    std::string("0001"), l.vgabe, l.shkzg, formatPlantDate(plantDateOf(l.posted)), decimalText(l.menge, 3),
                    decimalText(l.amount, 2), formatPlantTime(l.posted)});
  }
  return insertAll(erp, "ekbe",
                   {"id", "ebeln", "ebelp", "gjahr", "belnr", "buzei", "vgabe", "shkzg", "budat", "menge", "dmbtr",
                    "changed_at"},
                   rows, counts);
}

struct Opportunity {
  std::string account, owner, stage, type, lead_source;
  double amount = 0;
  core::Date close;
  bool won = false;
  PlantTime modified = 0;
  std::optional<std::pair<std::string, std::string>> partner;  // account, role (primary)
  std::optional<std::string> second_partner;                    // non-primary distributor
  int64_t seq = 0;
};

inline constexpr std::string_view kOpenStages[] = {"Prospecting", "Qualification", "Proposal/Price Quote",
                                                   "Negotiation/Review"};

// The CRM history in one pass (accounts, CRM users, opportunities won, lost and open, and their
// partners): about 120 lines of sequential generation that share one random stream, kept together so the
// order of draws (and so the demo's data for a seed) stays visible.
core::Status writeCrm(SqlSession& crm, const Plant& plant, PlantTime now, core::Date today, Counts& counts) {
  Rng rng = keyedRng(plant.seed, "crm");
  static constexpr std::string_view kIndustries[] = {"Automotive", "Electronics", "Machinery", "Medical Devices",
                                                     "Energy", "Home Appliances"};
  std::vector<Row> rows;
  std::vector<std::string> partners, customers;
  for (int i = 0; i < kPartnerAccounts + kCustomerAccounts; ++i) {
    std::string id = salesforceId("0015g00000", i + 1);
    bool partner = i < kPartnerAccounts;
    (partner ? partners : customers).push_back(id);
    rows.push_back({id, std::string(partner ? "Partner" : "Customer"),
                    std::string(partner ? (i % 2 ? "Wholesale" : "Distribution") : kIndustries[i % 6])});
  }
  if (auto s = insertAll(crm, "account", {"\"Id\"", "\"Type\"", "\"Industry\""}, rows, counts); !s) return s;
  rows.clear();
  std::vector<std::string> users;
  for (size_t i = 0; i < plant.channel_sales.size(); ++i) {
    users.push_back(crmUserId(static_cast<int>(i)));
    rows.push_back({users.back(), plant.employees[static_cast<size_t>(plant.channel_sales[i])].employee_no});
  }
  if (auto s = insertAll(crm, "crm_user", {"\"Id\"", "employee_no"}, rows, counts); !s) return s;

  std::vector<Opportunity> opps;
  auto closed_at = [&](core::Date d) { return std::min(now, midnightOf(d) + rng.range(9 * 3600, 18 * 3600)); };
  auto channel = [&]() {
    return std::make_pair(rng.pick(partners), std::string(rng.chance(0.6) ? "Reseller" : "Distributor"));
  };
  size_t old_customers = customers.size() * 2 / 5;
  for (size_t c = 0; c < old_customers; ++c) {
    Opportunity o{customers[c], rng.pick(users), "Closed Won", "New Business", "Trade Show", rng.uniform(5000, 200000),
                  core::Date{today.days - static_cast<int32_t>(rng.range(70, 400))}, true, 0, {}, {}, 0};
    if (rng.chance(0.5)) o.partner = channel();
    o.modified = closed_at(o.close);
    opps.push_back(o);
  }
  size_t fresh = old_customers;
  core::Date month_start = firstOfPreviousMonth(today);
  Ymd now_ymd = ymdOf(today);
  core::Date this_month = core::dateFromYmd(now_ymd.year, static_cast<unsigned>(now_ymd.month), 1);
  for (int month = 0; month < 2; ++month) {
    core::Date first = month == 0 ? month_start : this_month;
    core::Date last = month == 0 ? core::Date{this_month.days - 1} : today;
    int days = last.days - first.days + 1;
    double share = month == 0 ? 1.0 : std::max(0.6, now_ymd.day / 30.0);
    auto day_in = [&] { return core::Date{first.days + static_cast<int32_t>(rng.range(0, days - 1))}; };
    for (size_t u = 0; u < users.size(); ++u) {
      double bias = keyedRng(plant.seed, "owner|" + users[u]).normal(1.0, 0.25);
      int wins = rng.poisson(4.0 * std::max(0.3, bias) * share);
      for (int k = 0; k < wins && fresh < customers.size(); ++k) {
        Opportunity o{customers[fresh++], users[u], "Closed Won", "New Business", "Partner Referral",
                      rng.uniform(5000, 200000), day_in(), true, 0, channel(), {}, 0};
        if (rng.chance(0.15)) o.second_partner = rng.pick(partners);
        o.modified = closed_at(o.close);
        opps.push_back(o);
      }
      // Repeat business (not a new customer), a direct win, a partner win through a consultant
      // (not a channel), lost deals and the open pipeline the run command moves on.
      for (int k = static_cast<int>(rng.range(0, 2)); k > 0; --k) {
        Opportunity o{customers[static_cast<size_t>(rng.range(0, static_cast<int64_t>(old_customers) - 1))], users[u],
                      "Closed Won", "Existing Business", "Partner Referral", rng.uniform(5000, 100000), day_in(), true, 0,
                      channel(), {}, 0};
        o.modified = closed_at(o.close);
        opps.push_back(o);
      }
      if (rng.chance(0.5) && fresh < customers.size()) {
        Opportunity o{customers[fresh++], users[u], "Closed Won", "New Business", "Web", rng.uniform(5000, 100000),
                      day_in(), true, 0, {}, {}, 0};
        o.modified = closed_at(o.close);
        opps.push_back(o);
      }
      if (rng.chance(0.2) && fresh < customers.size()) {
        Opportunity o{customers[fresh++], users[u], "Closed Won", "New Business", "Partner Referral",
                      rng.uniform(5000, 100000), day_in(), true, 0, std::make_pair(rng.pick(partners), std::string("Consultant")),
                      {}, 0};
        o.modified = closed_at(o.close);
        opps.push_back(o);
      }
      for (int k = static_cast<int>(rng.range(1, 3)); k > 0; --k) {
        Opportunity o{customers[static_cast<size_t>(rng.range(static_cast<int64_t>(old_customers),
                                                              static_cast<int64_t>(customers.size()) - 1))],
                      users[u], "Closed Lost", "New Business", "Phone Inquiry", rng.uniform(5000, 100000), day_in(), false,
                      0, {}, {}, 0};
        if (rng.chance(0.6)) o.partner = channel();
        o.modified = closed_at(o.close);
        opps.push_back(o);
      }
      if (month == 1) {
        for (int k = static_cast<int>(rng.range(3, 6)); k > 0; --k) {
          Opportunity o{customers[static_cast<size_t>(rng.range(static_cast<int64_t>(old_customers),
                                                                static_cast<int64_t>(customers.size()) - 1))],
                        users[u], std::string(kOpenStages[rng.range(0, 3)]), "New Business", "Partner Referral",
                        rng.uniform(5000, 200000), core::Date{today.days + static_cast<int32_t>(rng.range(5, 60))}, false,
                        now - rng.range(3600, 20 * kDay), {}, {}, 0};
          if (rng.chance(0.7)) o.partner = channel();
          opps.push_back(o);
        }
      }
    }
  }
  for (size_t i = 0; i < opps.size(); ++i) opps[i].seq = static_cast<int64_t>(i);
  std::sort(opps.begin(), opps.end(), [](const Opportunity& a, const Opportunity& b) {
    return std::tie(a.modified, a.seq) < std::tie(b.modified, b.seq);
  });
  rows.clear();
  std::vector<Row> partner_rows;
  for (size_t i = 0; i < opps.size(); ++i) {
    const Opportunity& o = opps[i];
    std::string id = salesforceId("0065g00000", static_cast<int64_t>(i) + 1);
    rows.push_back({std::to_string(i + 1), id, o.account, o.owner, decimalText(o.amount, 2), formatPlantDate(o.close),
                    o.stage, std::string(o.won ? "1" : "0"), o.type, o.lead_source, formatPlantTime(o.modified)});
    if (o.partner) partner_rows.push_back({id, o.partner->first, o.partner->second, std::string("1")});
    if (o.second_partner) partner_rows.push_back({id, *o.second_partner, std::string("Distributor"), std::string("0")});
  }
  if (auto s = insertAll(crm, "opportunity",
                         {"row_id", "\"Id\"", "\"AccountId\"", "\"OwnerId\"", "\"Amount\"", "\"CloseDate\"",
                          "\"StageName\"", "\"IsWon\"", "\"Type\"", "\"LeadSource\"", "\"LastModifiedDate\""},
                         rows, counts);
      !s) {
    return s;
  }
  return insertAll(crm, "opportunity_partner", {"\"OpportunityId\"", "\"AccountToId\"", "\"Role\"", "\"IsPrimary\""},
                   partner_rows, counts);
}

// A connection to an empty database of `system`: for SQLite a new file in WAL mode, for
// PostgreSQL a session whose schema createSchema drops and makes again.
core::Result<SqlSession> freshDatabase(const odbc::Environment& env, const Target& target, System system) {
  std::string stem(systemName(system));
  if (target.postgresql) return SqlSession::open(env, *target.postgresql, Dialect::Postgresql, target.schemaOf(stem));
  std::error_code ec;
  for (std::string_view suffix : {".db", ".db-wal", ".db-shm", ".db-journal"}) {
    std::filesystem::remove(target.dir / (stem + std::string(suffix)), ec);
    if (ec) return core::fail(core::ErrorKind::Permanent, fmt::format("cannot remove {}: {}", stem, ec.message()));
  }
  std::string conn = sqliteConnectionString(target.dir, stem);
  {
    // WAL lets the dutybridge odbc source read while run writes; it is a property of the file,
    // set once here on a connection of its own (it cannot change inside a transaction).
    auto raw = odbc::Connection::connect(env, conn);
    if (!raw) return core::fail(raw.error());
    auto statement = raw->statement();
    if (!statement) return core::fail(statement.error());
    if (auto s = statement->execute("PRAGMA journal_mode=WAL"); !s) return core::fail(s.error());
  }
  return SqlSession::open(env, conn, Dialect::Sqlite, stem);
}

}  // namespace

core::Result<std::string> initFactory(const InitOptions& options, const calendar::Calendar& calendar) {
  if (options.employees < 60) return core::fail(core::ErrorKind::InvalidConfig, "--employees must be at least 60");
  if (!options.target.postgresql) {
    std::error_code ec;
    std::filesystem::create_directories(options.target.dir, ec);
    if (ec) {
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("cannot create {}: {}", options.target.dir.string(), ec.message()));
    }
  }
  auto current = shiftAt(calendar, options.now);
  if (!current) return core::fail(current.error());
  core::Date today = current->shift_date;
  core::Date first_day{today.days - options.history_days};
  Plant plant = buildPlant(options.seed, options.employees, first_day, today);

  auto env = odbc::Environment::create();
  if (!env) return core::fail(env.error());
  Counts hrm_counts, mes_counts, erp_counts, crm_counts;
  {
    auto hrm = freshDatabase(*env, options.target, System::Hrm);
    if (!hrm) return core::fail(hrm.error());
    if (auto s = createSchema(*hrm, System::Hrm); !s) return core::fail(s.error());
    if (auto s = writeHrm(*hrm, plant, today, options.now, hrm_counts); !s) return core::fail(s.error());
  }
  {
    auto mes = freshDatabase(*env, options.target, System::Mes);
    if (!mes) return core::fail(mes.error());
    if (auto s = createSchema(*mes, System::Mes); !s) return core::fail(s.error());
    if (auto s = writeMesReference(*mes, options, mes_counts); !s) return core::fail(s.error());
    if (auto s = writeMesHistory(*mes, plant, calendar, options, first_day, today, mes_counts); !s) {
      return core::fail(s.error());
    }
  }
  {
    auto erp = freshDatabase(*env, options.target, System::Erp);
    if (!erp) return core::fail(erp.error());
    if (auto s = createSchema(*erp, System::Erp); !s) return core::fail(s.error());
    if (auto s = writeErp(*erp, plant, calendar, options.now, today, erp_counts); !s) return core::fail(s.error());
  }
  {
    auto crm = freshDatabase(*env, options.target, System::Crm);
    if (!crm) return core::fail(crm.error());
    if (auto s = createSchema(*crm, System::Crm); !s) return core::fail(s.error());
    if (auto s = writeCrm(*crm, plant, options.now, today, crm_counts); !s) return core::fail(s.error());
  }
  std::string line = fmt::format("init {} (plant time {}, seed {}):", options.target.describe(),
                                 formatPlantTime(options.now), options.seed);
  for (auto [system, counts] : {std::pair{"hrm", &hrm_counts}, {"mes", &mes_counts}, {"erp", &erp_counts},
                                {"crm", &crm_counts}}) {
    for (const auto& [table, n] : *counts) {
      if (table != "sim_meta") line += fmt::format(" {}.{}={}", system, table, n);
    }
  }
  return line;
}

}  // namespace dutybridge::sim
