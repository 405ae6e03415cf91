// `dutybridge-sim run`: live events with the real clock's plant time. Each event is one short
// transaction, so a reader with a commit lag of about a second sees every write whole.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <deque>
#include <map>
#include <set>
#include <thread>

#include "src/sim/hr_master.h"
#include "src/sim/plant.h"
#include "src/sim/records.h"
#include "src/sim/simulator.h"

namespace dutybridge::sim {

namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

struct OnShift {
  int employee, team;
  size_t route, slot;
  std::string badge;
  double due;  // run seconds
};

struct Pending {
  double due;
  enum Kind { Accept, Edit, Decline } kind;
  ReportRow report;
};

std::optional<int64_t> firstInt(const core::Result<std::vector<Row>>& rows) {
  if (!rows || rows->empty() || !rows->front()[0]) return std::nullopt;
  try {
    return std::stoll(*rows->front()[0]);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

class Runner {
 public:
  Runner(const RunOptions& options, const calendar::Calendar& calendar, Plant plant, SqlSession mes, SqlSession erp,
         SqlSession crm, SqlSession hrm, MesStatements statements)
      : options_(options),
        calendar_(calendar),
        plant_(std::move(plant)),
        mes_(std::move(mes)),
        erp_(std::move(erp)),
        crm_(std::move(crm)),
        hrm_(std::move(hrm)),
        statements_(std::move(statements)),
        rng_(plant_.seed ^ static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count())) {}

  core::Status load();
  core::Status loop(const std::atomic<bool>& stop, std::ostream& stats);
  std::string summary() const {
    std::string line =
        fmt::format("run {}: {:.0f} s at speed {}:", options_.target.describe(), elapsed_, options_.speed);
    for (const auto& [what, n] : counts_) line += fmt::format(" {}={}", what, n);
    return line;
  }

 private:
  core::Result<PlantTime> plantNow() const {
    return plantTimeOf(calendar_, core::Timestamp{std::chrono::duration_cast<std::chrono::microseconds>(
                                                      std::chrono::system_clock::now().time_since_epoch())
                                                      .count()});
  }
  // Seconds of real time that `plant_seconds` of plant activity take at this speed.
  double realSeconds(double plant_seconds) const { return plant_seconds / options_.speed; }
  core::Status changeShift(const ShiftWindow& shift, double t);
  core::Status writeReport(OnShift& op, PlantTime now, double t);
  core::Status applyPending(Pending& p, PlantTime now);
  core::Status partsCounts(PlantTime now);
  core::Status erpEvent(PlantTime now);
  core::Status crmEvent(PlantTime now);
  core::Status loadHr();
  core::Status hrEvent(PlantTime now);
  core::Status trainingEvent(PlantTime now);

  const RunOptions& options_;
  const calendar::Calendar& calendar_;
  Plant plant_;
  SqlSession mes_, erp_, crm_, hrm_;
  MesStatements statements_;
  Rng rng_;
  std::optional<ShiftWindow> shift_;
  std::vector<OnShift> on_shift_;
  std::deque<Pending> pending_;
  std::map<std::string, std::string> parts_state_;  // submission_no -> state
  int64_t next_report_ = 1, next_staff_ = 1, next_submission_ = 1, next_ekbe_ = 1, next_belnr_ = 1, next_po_ = 1,
          next_opportunity_ = 1;
  struct OpenItem {
    std::string ebeln, ebelp;
    double menge, unit;
  };
  std::vector<OpenItem> open_items_;
  std::vector<std::pair<std::string, std::string>> received_;  // ebeln, ebelp received during this run
  std::vector<std::pair<std::string, int>> open_opportunities_;  // Id, stage index
  std::vector<std::string> customers_, partners_, users_;
  // The HR master: next ids, certificates due for renewal (employee index, code), open
  // machining-operator assignments that may move to the CNC cell (id, employee index), and the
  // trainings taken ("E10001|T.5S").
  int64_t next_assignment_ = 1, next_cert_ = 1, next_completion_ = 1;
  std::vector<std::pair<int, std::string>> renewals_;
  std::vector<std::pair<int64_t, int>> movable_;
  std::set<std::string> trained_;
  std::map<std::string, int> employee_index_;
  std::map<std::string, size_t> counts_;
  double elapsed_ = 0;
};

core::Status Runner::load() {
  auto q = [&](SqlSession& s, const std::string& sql) { return s.query(sql); };
  next_report_ = firstInt(q(mes_, "SELECT MAX(report_id) FROM " + mes_.table("production_report"))).value_or(0) + 1;
  next_staff_ = firstInt(q(mes_, "SELECT MAX(staff_id) FROM " + mes_.table("report_staff"))).value_or(0) + 1;
  next_submission_ =
      firstInt(q(mes_, "SELECT MAX(submission_id) FROM " + mes_.table("parts_count_submission"))).value_or(0) + 1;
  auto parts = mes_.query("SELECT submission_no, state FROM " + mes_.table("parts_count_submission"));
  if (!parts) return core::fail(parts.error());
  for (const auto& row : *parts) parts_state_[row[0].value_or("")] = row[1].value_or("");
  auto drafts = mes_.query("SELECT report_no, updated_at FROM " + mes_.table("production_report") +
                           " WHERE state = 'DRAFT' ORDER BY report_id");
  if (!drafts) return core::fail(drafts.error());
  for (const auto& row : *drafts) {
    ReportRow r;
    r.report_no = row[0].value_or("");
    auto updated = parsePlantTime(row[1].value_or("").substr(0, 19));
    r.updated_at = updated ? *updated : 0;
    pending_.push_back({realSeconds(rng_.range(60, 1800)), Pending::Accept, std::move(r)});
  }
  if (auto s = mes_.commit(); !s) return s;

  next_ekbe_ = firstInt(q(erp_, "SELECT MAX(id) FROM " + erp_.table("ekbe"))).value_or(0) + 1;
  auto belnr = firstInt(q(erp_, "SELECT MAX(belnr) FROM " + erp_.table("ekbe") + " WHERE vgabe = '1'"));
  next_belnr_ = belnr ? *belnr - 5000000000 + 1 : 1;
  auto ebeln = firstInt(q(erp_, "SELECT MAX(ebeln) FROM " + erp_.table("ekko")));
  next_po_ = ebeln ? *ebeln - 4500000000 + 1 : 1;
  auto items = erp_.query("SELECT p.ebeln, p.ebelp, p.menge, p.netpr, p.peinh FROM " + erp_.table("ekpo") +
                          " p WHERE p.loekz = '' AND NOT EXISTS (SELECT 1 FROM " + erp_.table("ekbe") +
                          " b WHERE b.ebeln = p.ebeln AND b.ebelp = p.ebelp) ORDER BY p.ebeln, p.ebelp");
  if (!items) return core::fail(items.error());
  for (const auto& row : *items) {
    double peinh = std::max(1.0, std::stod(row[4].value_or("1")));
    open_items_.push_back({*row[0], *row[1], std::stod(row[2].value_or("0")), std::stod(row[3].value_or("0")) / peinh});
  }
  if (auto s = erp_.commit(); !s) return s;

  next_opportunity_ = firstInt(q(crm_, "SELECT MAX(row_id) FROM " + crm_.table("opportunity"))).value_or(0) + 1;
  auto accounts = crm_.query("SELECT \"Id\", \"Type\" FROM " + crm_.table("account") + " ORDER BY \"Id\"");
  if (!accounts) return core::fail(accounts.error());
  for (const auto& row : *accounts) (row[1] == "Partner" ? partners_ : customers_).push_back(row[0].value_or(""));
  auto users = crm_.query("SELECT \"Id\" FROM " + crm_.table("crm_user") + " ORDER BY \"Id\"");
  if (!users) return core::fail(users.error());
  for (const auto& row : *users) users_.push_back(row[0].value_or(""));
  auto open = crm_.query("SELECT \"Id\", \"StageName\" FROM " + crm_.table("opportunity") +
                         " WHERE \"StageName\" NOT LIKE 'Closed%' ORDER BY row_id");
  if (!open) return core::fail(open.error());
  for (const auto& row : *open) {
    int stage = 0;
    static constexpr std::string_view kStages[] = {"Prospecting", "Qualification", "Proposal/Price Quote",
                                                   "Negotiation/Review"};
    for (int i = 0; i < 4; ++i) stage = row[1] == kStages[i] ? i : stage;
    open_opportunities_.emplace_back(row[0].value_or(""), stage);
  }
  if (customers_.empty() || partners_.empty() || users_.empty()) {
    return core::fail(core::ErrorKind::Permanent,
                      "the crm database holds no demo accounts: run `dutybridge-sim init` first");
  }
  if (auto s = crm_.commit(); !s) return s;
  return loadHr();
}

core::Status Runner::loadHr() {
  auto now = plantNow();
  if (!now) return core::fail(now.error());
  core::Date today = plantDateOf(*now);
  for (size_t i = 0; i < plant_.employees.size(); ++i)
    employee_index_[plant_.employees[i].employee_no] = static_cast<int>(i);
  auto employed = [&](const Cell& employee_no) -> std::optional<int> {
    if (!employee_no) return std::nullopt;
    auto found = employee_index_.find(*employee_no);
    if (found == employee_index_.end() || !plant_.employed(found->second, today)) return std::nullopt;
    return found->second;
  };
  auto q = [&](const std::string& sql) { return hrm_.query(sql); };
  next_assignment_ = firstInt(q("SELECT MAX(assignment_id) FROM " + hrm_.table("employee_assignment"))).value_or(0) + 1;
  next_cert_ = firstInt(q("SELECT MAX(cert_id) FROM " + hrm_.table("certificate"))).value_or(0) + 1;
  next_completion_ = firstInt(q("SELECT MAX(completion_id) FROM " + hrm_.table("training_completion"))).value_or(0) + 1;
  // The latest certificate of each holder that has run out or runs out within two months.
  auto certs = q("SELECT employee_no, qualification_code, MAX(expires_on) FROM " + hrm_.table("certificate") +
                 " WHERE expires_on IS NOT NULL GROUP BY employee_no, qualification_code ORDER BY 1, 2");
  if (!certs) return core::fail(certs.error());
  for (const auto& row : *certs) {
    auto expires = core::parseDate(row[2].value_or("").substr(0, 10));
    auto employee = employed(row[0]);
    if (employee && expires && expires->days <= today.days + 60 && findQualification(row[1].value_or(""))) {
      renewals_.emplace_back(*employee, *row[1]);
    }
  }
  auto open = q("SELECT assignment_id, employee_no FROM " + hrm_.table("employee_assignment") +
                " WHERE position_code = 'OPERATOR' AND department_code = 'MACH' AND valid_to IS NULL ORDER BY 1");
  if (!open) return core::fail(open.error());
  for (const auto& row : *open) {
    auto employee = employed(row[1]);
    auto id = firstInt(std::vector<Row>{row});
    if (employee && id) movable_.emplace_back(*id, *employee);
  }
  auto taken = q("SELECT employee_no, training_code FROM " + hrm_.table("training_completion"));
  if (!taken) return core::fail(taken.error());
  for (const auto& row : *taken) trained_.insert(row[0].value_or("") + "|" + row[1].value_or(""));
  return hrm_.commit();
}

core::Status Runner::changeShift(const ShiftWindow& shift, double t) {
  shift_ = shift;
  on_shift_.clear();
  for (size_t w = 0; w < workshops().size(); ++w) {
    int team = plant_.teamOf(static_cast<int>(w), shift.shift_code);
    if (team < 0) continue;
    const auto& members = plant_.teams[static_cast<size_t>(team)].operators;
    for (int op : plant_.presentOperators(team, shift)) {
      auto badge = plant_.badgeOn(op, shift.shift_date);
      if (!badge) continue;
      size_t slot = static_cast<size_t>(std::find(members.begin(), members.end(), op) - members.begin());
      on_shift_.push_back({op, team, plant_.routeOf(op, shift.shift_date), slot, *badge,
                           t + rng_.uniform(0, realSeconds(12 * 60))});
    }
  }
  return {};
}

core::Status Runner::writeReport(OnShift& op, PlantTime now, double t) {
  const Team& team = plant_.teams[static_cast<size_t>(op.team)];
  const Workshop& shop = workshops()[static_cast<size_t>(team.workshop)];
  const Route& route = shop.routes[op.route];
  int minutes = static_cast<int>(rng_.range(8, 16));
  ReportQuantities qty = reportQuantities(rng_, plant_, op.team, op.employee, *shift_, minutes);
  ReportRow r;
  r.report_id = next_report_;
  r.report_no = reportNo(r.report_id);
  r.work_order_no = workOrderNo(shift_->shift_date, team.workshop, op.route);
  r.operation = std::string(route.operation);
  r.product = std::string(route.product);
  r.workstation = fmt::format("{}{:02}", shop.station_prefix, op.slot % static_cast<size_t>(shop.stations) + 1);
  r.workshop = std::string(shop.code);
  r.team = team.code;
  r.badge = rng_.chance(0.005) ? badgeText(static_cast<int>(900000 + rng_.range(0, 99999))) : op.badge;
  r.shift_code = shift_->shift_code;
  r.shift_date = shift_->shift_date;
  // At speed > 1 a report stands for `minutes` of plant work that took less real time: its range
  // ends now and reaches back those minutes (not before the shift start).
  r.time_to = now;
  r.time_from = std::max(shift_->start, now - minutes * 60);
  r.good = qty.good;
  r.scrap_labor = qty.scrap_labor;
  r.scrap_mat = qty.scrap_mat;
  r.machine_time = shop.machine_time;
  r.machine_minutes = static_cast<int>(std::lround(minutes * rng_.uniform(0.75, 0.95)));
  r.day_type = shift_->day_type;
  r.staff.push_back({r.badge, minutes});
  if (rng_.chance(0.10) && on_shift_.size() > 3) {
    const OnShift& helper = on_shift_[static_cast<size_t>(rng_.range(0, static_cast<int64_t>(on_shift_.size()) - 1))];
    if (helper.employee != op.employee && helper.team == op.team) {
      r.staff.push_back({helper.badge, std::max(1, static_cast<int>(std::lround(minutes * rng_.uniform(0.4, 1.0))))});
    }
  }
  bool draft = rng_.chance(0.06);
  r.state = draft ? "DRAFT" : "ACCEPTED";
  r.submitted_at = now;
  r.updated_at = now;
  auto status = inTransaction(mes_, [&] { return statements_.insertReport(r, next_staff_); });
  if (!status) return status;
  ++next_report_;
  ++counts_["mes.reports"];
  if (draft) pending_.push_back({t + realSeconds(rng_.range(120, 1800)), Pending::Accept, r});
  if (rng_.chance(0.02)) pending_.push_back({t + realSeconds(rng_.range(600, 7200)), Pending::Decline, r});
  else if (rng_.chance(0.05)) pending_.push_back({t + realSeconds(rng_.range(300, 7200)), Pending::Edit, r});
  op.due = t + realSeconds(minutes * 60 + rng_.range(0, 60));
  return {};
}

core::Status Runner::applyPending(Pending& p, PlantTime now) {
  std::string at = formatPlantTime(now);
  std::string table = mes_.table("production_report");
  auto status = inTransaction(mes_, [&]() -> core::Status {
    switch (p.kind) {
      case Pending::Accept:
        return mes_.exec(fmt::format("UPDATE {} SET state = 'ACCEPTED', updated_at = '{}' WHERE report_no = '{}' AND "
                                     "state = 'DRAFT'",
                                     table, at, p.report.report_no));
      case Pending::Decline:
        return mes_.exec(fmt::format("UPDATE {} SET state = 'DECLINED', updated_at = '{}' WHERE report_no = '{}'", table,
                                     at, p.report.report_no));
      case Pending::Edit: {
        ReportRow& r = p.report;
        int delta = static_cast<int>(rng_.range(1, 3)) * (rng_.chance(0.5) ? 1 : -1);
        r.good = std::max(0, r.good + delta);
        if (rng_.chance(0.3)) r.scrap_labor = std::max(0, r.scrap_labor + (delta > 0 ? -1 : 1));
        // A third of the edits also rebook the staff: a helper added or dropped.
        if (rng_.chance(0.3)) {
          if (r.staff.size() > 1) {
            r.staff.resize(1);
          } else if (!on_shift_.empty()) {
            const OnShift& helper = on_shift_[static_cast<size_t>(rng_.range(0, static_cast<int64_t>(on_shift_.size()) - 1))];
            if (helper.badge != r.staff.front().badge) r.staff.push_back({helper.badge, std::max(1, r.staff.front().minutes / 2)});
          }
          if (auto s = mes_.exec(fmt::format("DELETE FROM {} WHERE report_no = '{}'", mes_.table("report_staff"), r.report_no));
              !s) {
            return s;
          }
          for (const auto& s : r.staff) {
            if (auto st = statements_.insertStaff(r.report_no, s, next_staff_++); !st) return st;
          }
        }
        return mes_.exec(fmt::format("UPDATE {} SET good_qty = '{}', scrap_qty_labor = '{}', labor_minutes = {}, "
                                     "updated_at = '{}' WHERE report_no = '{}'",
                                     table, decimalText(r.good, 3), decimalText(r.scrap_labor, 3), r.laborMinutes(), at,
                                     r.report_no));
      }
    }
    return {};
  });
  if (status) ++counts_[p.kind == Pending::Accept ? "mes.accepted" : p.kind == Pending::Edit ? "mes.edited" : "mes.declined"];
  return status;
}

core::Status Runner::partsCounts(PlantTime now) {
  core::Date today = plantDateOf(now);
  for (core::Date d{today.days - 1}; d <= today; d.days++) {
    for (const auto& def : calendar_.shifts()) {
      auto win = shiftWindow(calendar_, d, def.code);
      if (!win) return core::fail(win.error());
      if (win->end > now || now - win->end > 7 * 3600) continue;
      for (size_t w = 0; w < workshops().size(); ++w) {
        PartsCountPlan plan = plant_.partsCountPlan(static_cast<int>(w), *win);
        if (!plan.submitted) continue;
        std::string workshop(workshops()[w].code);
        std::string no = submissionNo(d, def.code, workshop);
        auto found = parts_state_.find(no);
        std::string state = found == parts_state_.end() ? "" : found->second;
        bool submit = plan.submit_at <= now && state != "SUBMITTED";
        bool draft = !submit && state.empty() && plan.draft_at && *plan.draft_at <= now;
        if (!submit && !draft) continue;
        auto status = inTransaction(mes_, [&]() -> core::Status {
          if (submit && state == "DRAFT") {
            std::string at = formatPlantTime(now);
            return mes_.exec(fmt::format("UPDATE {} SET state = 'SUBMITTED', submitted_at = '{}', updated_at = '{}' "
                                         "WHERE submission_no = '{}'",
                                         mes_.table("parts_count_submission"), at, at, no));
          }
          PartsCountRow p;
          p.submission_id = next_submission_;
          p.submission_no = no;
          p.workshop = workshop;
          p.team = plant_.teams[static_cast<size_t>(plant_.teamOf(static_cast<int>(w), def.code))].code;
          p.clerk_badge = plant_.clerks[w] >= 0 ? plant_.badgeOn(plant_.clerks[w], d).value_or("") : "";
          p.shift_date = d;
          p.shift_code = def.code;
          p.shift_end_at = win->end;
          p.state = submit ? "SUBMITTED" : "DRAFT";
          if (submit) p.submitted_at = now;
          p.updated_at = now;
          return statements_.insertPartsCount(p);
        });
        if (!status) return status;
        if (state.empty()) ++next_submission_;
        parts_state_[no] = submit ? "SUBMITTED" : "DRAFT";
        ++counts_[submit ? "mes.parts_counts_submitted" : "mes.parts_counts_drafted"];
      }
    }
  }
  return {};
}

core::Status Runner::erpEvent(PlantTime now) {
  std::string day = formatPlantDate(plantDateOf(now)), at = formatPlantTime(now);
  double roll = rng_.uniform();
  if (roll < 0.05 && !received_.empty()) {
    // A received line deleted afterwards: its history lines are touched so a reader sees them again.
    auto [ebeln, ebelp] = received_[static_cast<size_t>(rng_.range(0, static_cast<int64_t>(received_.size()) - 1))];
    auto status = inTransaction(erp_, [&]() -> core::Status {
      if (auto s = erp_.exec(fmt::format("UPDATE {} SET loekz = 'L' WHERE ebeln = '{}' AND ebelp = '{}'", erp_.table("ekpo"),
                                         ebeln, ebelp));
          !s) {
        return s;
      }
      return erp_.exec(fmt::format("UPDATE {} SET changed_at = '{}' WHERE ebeln = '{}' AND ebelp = '{}'", erp_.table("ekbe"),
                                   at, ebeln, ebelp));
    });
    if (status) ++counts_["erp.deleted_items"];
    return status;
  }
  if (roll < 0.35 || open_items_.empty()) {
    auto mats = demoMaterials(plant_.seed);
    int group = static_cast<int>(rng_.range(0, kPurchasingGroups - 1));
    std::string ebeln = fmt::format("45{:08}", next_po_);
    std::vector<OpenItem> added;
    auto status = inTransaction(erp_, [&]() -> core::Status {
      if (auto s = erp_.exec(fmt::format("INSERT INTO {} (ebeln, lifnr, ekgrp, bedat, waers) VALUES ('{}', '{:010}', "
                                         "'P{:02}', '{}', 'CNY')",
                                         erp_.table("ekko"), ebeln, 100001 + rng_.range(0, kSuppliers - 1), group + 1, day));
          !s) {
        return s;
      }
      int count = static_cast<int>(rng_.range(1, 3));
      for (int i = 0; i < count; ++i) {
        const Material& m = mats[static_cast<size_t>(rng_.range(0, static_cast<int64_t>(mats.size()) - 1))];
        double netpr = std::round(m.unit_price * (1 - std::clamp(rng_.normal(0.03, 0.03), -0.08, 0.08)) * m.peinh * 100) / 100;
        double menge = m.peinh == 1000 ? rng_.range(10, 100) * 1000.0 : rng_.range(2, 80) * 50.0;
        std::string ebelp = fmt::format("{:05}", 10 * (i + 1));
        if (auto s = erp_.exec(fmt::format("INSERT INTO {} (ebeln, ebelp, matnr, werks, menge, meins, netpr, peinh, loekz) "
                                           "VALUES ('{}', '{}', '{}', '1000', '{}', '{}', '{}', {}, '')",
                                           erp_.table("ekpo"), ebeln, ebelp, m.matnr, decimalText(menge, 3), m.meins,
                                           decimalText(netpr, 2), m.peinh));
            !s) {
          return s;
        }
        added.push_back({ebeln, ebelp, menge, netpr / m.peinh});
      }
      return {};
    });
    if (!status) return status;
    ++next_po_;
    ++counts_["erp.purchase_orders"];
    open_items_.insert(open_items_.end(), added.begin(), added.end());
    return {};
  }
  size_t index = static_cast<size_t>(rng_.range(0, static_cast<int64_t>(open_items_.size()) - 1));
  OpenItem item = open_items_[index];
  auto status = inTransaction(erp_, [&]() -> core::Status {
    return erp_.exec(fmt::format("INSERT INTO {} (id, ebeln, ebelp, gjahr, belnr, buzei, vgabe, shkzg, budat, menge, "
                                 "dmbtr, changed_at) VALUES ({}, '{}', '{}', '{}', '50{:08}', '0001', '1', 'S', '{}', "
                                 "'{}', '{}', '{}')",
                                 erp_.table("ekbe"), next_ekbe_, item.ebeln, item.ebelp, day.substr(0, 4), next_belnr_, day,
                                 decimalText(item.menge, 3), decimalText(item.menge * item.unit, 2), at));
  });
  if (!status) return status;
  ++next_ekbe_;
  ++next_belnr_;
  open_items_.erase(open_items_.begin() + static_cast<std::ptrdiff_t>(index));
  received_.emplace_back(item.ebeln, item.ebelp);
  ++counts_["erp.goods_receipts"];
  return {};
}

core::Status Runner::crmEvent(PlantTime now) {
  static constexpr std::string_view kStages[] = {"Prospecting", "Qualification", "Proposal/Price Quote",
                                                 "Negotiation/Review"};
  std::string at = formatPlantTime(now), day = formatPlantDate(plantDateOf(now));
  std::string table = crm_.table("opportunity");
  if (open_opportunities_.empty() || rng_.chance(0.3)) {
    std::string id = salesforceId("0065g00000", next_opportunity_);
    bool channel = rng_.chance(0.7);
    auto status = inTransaction(crm_, [&]() -> core::Status {
      if (auto s = crm_.exec(fmt::format(
              "INSERT INTO {} (row_id, \"Id\", \"AccountId\", \"OwnerId\", \"Amount\", \"CloseDate\", \"StageName\", "
              "\"IsWon\", \"Type\", \"LeadSource\", \"LastModifiedDate\") VALUES ({}, '{}', '{}', '{}', '{}', '{}', "
              "'Prospecting', 0, 'New Business', '{}', '{}')",
              table, next_opportunity_, id, rng_.pick(customers_), rng_.pick(users_),
              decimalText(rng_.uniform(5000, 200000), 2), formatPlantDate(core::Date{plantDateOf(now).days + 30}),
              channel ? "Partner Referral" : "Web", at));
          !s) {
        return s;
      }
      if (!channel) return {};
      return crm_.exec(fmt::format("INSERT INTO {} (\"OpportunityId\", \"AccountToId\", \"Role\", \"IsPrimary\") VALUES "
                                   "('{}', '{}', '{}', 1)",
                                   crm_.table("opportunity_partner"), id, rng_.pick(partners_),
                                   rng_.chance(0.6) ? "Reseller" : "Distributor"));
    });
    if (!status) return status;
    ++next_opportunity_;
    open_opportunities_.emplace_back(id, 0);
    ++counts_["crm.new_opportunities"];
    return {};
  }
  size_t index = static_cast<size_t>(rng_.range(0, static_cast<int64_t>(open_opportunities_.size()) - 1));
  auto& [id, stage] = open_opportunities_[index];
  std::string sql;
  const char* what = "crm.stage_changes";
  if (stage < 3) {
    ++stage;
    sql = fmt::format("UPDATE {} SET \"StageName\" = '{}', \"LastModifiedDate\" = '{}' WHERE \"Id\" = '{}'", table,
                      kStages[stage], at, id);
  } else {
    bool won = rng_.chance(0.6);
    what = won ? "crm.won" : "crm.lost";
    sql = fmt::format("UPDATE {} SET \"StageName\" = '{}', \"IsWon\" = {}, \"CloseDate\" = '{}', \"LastModifiedDate\" = "
                      "'{}' WHERE \"Id\" = '{}'",
                      table, won ? "Closed Won" : "Closed Lost", won ? 1 : 0, day, at, id);
  }
  auto status = inTransaction(crm_, [&] { return crm_.exec(sql); });
  if (!status) return status;
  if (stage >= 3 && what != std::string_view("crm.stage_changes")) {
    open_opportunities_.erase(open_opportunities_.begin() + static_cast<std::ptrdiff_t>(index));
  }
  ++counts_[what];
  return {};
}

// A few HR-master changes per plant day: a training completed, a certificate renewed, or now and
// then a machining operator moved to the CNC cell (the open assignment is closed today, a new one
// starts tomorrow: an edited row with a later updated_at). Each is one transaction.
core::Status Runner::hrEvent(PlantTime now) {
  core::Date today = plantDateOf(now);
  std::string at = formatPlantTime(now);
  double roll = rng_.uniform();
  if (roll < 0.1 && !movable_.empty()) {
    size_t index = static_cast<size_t>(rng_.range(0, static_cast<int64_t>(movable_.size()) - 1));
    const int64_t id = movable_[index].first;
    const int employee = movable_[index].second;
    AssignmentRow row{next_assignment_,
                      plant_.employees[static_cast<size_t>(employee)].employee_no,
                      "CNC_CELL_OPERATOR",
                      "MACH",
                      core::Date{today.days + 1},
                      std::nullopt,
                      now};
    auto status = inTransaction(hrm_, [&]() -> core::Status {
      if (auto s = hrm_.exec(fmt::format("UPDATE {} SET valid_to = '{}', updated_at = '{}' WHERE assignment_id = {}",
                                         hrm_.table("employee_assignment"), formatPlantDate(today), at, id));
          !s) {
        return s;
      }
      return insertHrRow(hrm_, "employee_assignment", assignmentColumns(), cellsOf(row));
    });
    if (!status) return status;
    ++next_assignment_;
    movable_.erase(movable_.begin() + static_cast<std::ptrdiff_t>(index));
    ++counts_["hrm.reassignments"];
    return {};
  }
  if (roll < 0.5 && !renewals_.empty()) {
    size_t index = static_cast<size_t>(rng_.range(0, static_cast<int64_t>(renewals_.size()) - 1));
    const int employee = renewals_[index].first;
    const std::string code = renewals_[index].second;
    const QualificationSpec* spec = findQualification(code);
    CertificateRow row{next_cert_,
                       plant_.employees[static_cast<size_t>(employee)].employee_no,
                       code,
                       today,
                       addYears(today, spec->valid_years),
                       now};
    auto status =
        inTransaction(hrm_, [&] { return insertHrRow(hrm_, "certificate", certificateColumns(), cellsOf(row)); });
    if (!status) return status;
    ++next_cert_;
    renewals_.erase(renewals_.begin() + static_cast<std::ptrdiff_t>(index));
    ++counts_["hrm.certificate_renewals"];
    return {};
  }
  return trainingEvent(now);
}

// Someone employed completes a training their position calls for and they lack.
core::Status Runner::trainingEvent(PlantTime now) {
  core::Date today = plantDateOf(now);
  for (int attempt = 0; attempt < 50; ++attempt) {
    int employee = static_cast<int>(rng_.range(0, static_cast<int64_t>(plant_.employees.size()) - 1));
    if (!plant_.employed(employee, today)) continue;
    const std::string& employee_no = plant_.employees[static_cast<size_t>(employee)].employee_no;
    std::vector<const TrainingSpec*> gaps;
    for (const auto& t : kTrainings) {
      if (trainingShare(plant_, employee, t.code) > 0 && !trained_.contains(employee_no + "|" + std::string(t.code))) {
        gaps.push_back(&t);
      }
    }
    if (gaps.empty()) continue;
    const TrainingSpec& t = *rng_.pick(gaps);
    TrainingRow row{next_completion_, employee_no, std::string(t.code), today, std::string(t.hours), now};
    auto status =
        inTransaction(hrm_, [&] { return insertHrRow(hrm_, "training_completion", trainingColumns(), cellsOf(row)); });
    if (!status) return status;
    ++next_completion_;
    trained_.insert(employee_no + "|" + std::string(t.code));
    ++counts_["hrm.trainings"];
    return {};
  }
  return {};
}

core::Status Runner::loop(const std::atomic<bool>& stop, std::ostream& stats) {
  Clock::time_point start = Clock::now();
  double last_parts = -10, next_stats = options_.stats_interval_seconds;
  // ERP and CRM events per plant hour: a receipt or order every ~20 plant minutes, a CRM change
  // every ~15.
  double next_erp = realSeconds(rng_.range(60, 1200)), next_crm = realSeconds(rng_.range(60, 900));
  // HR-master changes every 3-6 plant hours.
  double next_hr = realSeconds(rng_.range(3 * 3600, 6 * 3600));
  while (!stop.load()) {
    double t = secondsSince(start);
    if (options_.duration_seconds && t >= *options_.duration_seconds) break;
    auto now = plantNow();
    if (!now) return core::fail(now.error());
    auto shift = shiftAt(calendar_, *now);
    if (!shift) return core::fail(shift.error());
    if (!shift_ || shift_->shift_date != shift->shift_date || shift_->shift_code != shift->shift_code) {
      if (auto s = changeShift(*shift, t); !s) return s;
    }
    for (auto& op : on_shift_) {
      if (stop.load()) break;
      if (op.due <= t) {
        if (auto s = writeReport(op, *now, t); !s) return s;
      }
    }
    std::string now_text = formatPlantTime(*now);
    for (size_t i = 0; i < pending_.size() && !stop.load();) {
      Pending& p = pending_[i];
      // A change in the same second as the row's last write would not move updated_at: wait.
      if (p.due > t || formatPlantTime(p.report.updated_at) >= now_text) {
        ++i;
        continue;
      }
      if (auto s = applyPending(p, *now); !s) return s;
      pending_.erase(pending_.begin() + static_cast<std::ptrdiff_t>(i));
    }
    if (t - last_parts >= 1.0) {
      last_parts = t;
      if (auto s = partsCounts(*now); !s) return s;
    }
    if (t >= next_erp && !stop.load()) {
      if (auto s = erpEvent(*now); !s) return s;
      next_erp = t + realSeconds(rng_.range(300, 2100));
    }
    if (t >= next_crm && !stop.load()) {
      if (auto s = crmEvent(*now); !s) return s;
      next_crm = t + realSeconds(rng_.range(300, 1500));
    }
    if (t >= next_hr && !stop.load()) {
      if (auto s = hrEvent(*now); !s) return s;
      next_hr = t + realSeconds(rng_.range(3 * 3600, 6 * 3600));
    }
    if (options_.stats_interval_seconds > 0 && t >= next_stats) {
      next_stats = t + options_.stats_interval_seconds;
      elapsed_ = t;
      stats << summary() << std::endl;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  elapsed_ = secondsSince(start);
  return {};
}

}  // namespace

core::Result<std::string> runFactory(const RunOptions& options, const calendar::Calendar& calendar,
                                     const std::atomic<bool>& stop, std::ostream& stats) {
  const Target& target = options.target;
  auto env = odbc::Environment::create();
  if (!env) return core::fail(env.error());
  if (target.postgresql) {
    // Every schema init makes must be there, or the first query would fail with a bare
    // "relation does not exist".
    auto session = SqlSession::open(*env, *target.postgresql, Dialect::Postgresql, target.schemaOf("mes"));
    if (!session) return core::fail(session.error());
    for (std::string_view system : {"mes", "erp", "crm", "hrm"}) {
      auto found = session->query(fmt::format(
          "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '{}'", target.schemaOf(system)));
      if (!found) return core::fail(found.error());
      if (firstInt(found).value_or(0) == 0) {
        return core::fail(
            core::ErrorKind::Permanent,
            fmt::format("PostgreSQL schema {} holds no tables: run `dutybridge-sim init --postgresql ...` first",
                        target.schemaOf(system)));
      }
    }
    if (auto s = session->commit(); !s) return core::fail(s.error());
  } else {
    for (std::string_view system : {"mes", "erp", "crm", "hrm"}) {
      auto file = target.dir / fmt::format("{}.db", system);
      if (!std::filesystem::exists(file)) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("{} does not exist: run `dutybridge-sim init --dir {}` first", file.string(),
                                      target.dir.string()));
      }
    }
  }
  auto open = [&](std::string_view system) {
    return SqlSession::open(*env, target.connectionString(system), target.dialect(), target.schemaOf(system));
  };
  auto mes = open("mes");
  if (!mes) return core::fail(mes.error());
  auto erp = open("erp");
  if (!erp) return core::fail(erp.error());
  auto crm = open("crm");
  if (!crm) return core::fail(crm.error());
  auto hrm = open("hrm");
  if (!hrm) return core::fail(hrm.error());
  uint64_t seed = 1;
  if (options.seed) {
    seed = *options.seed;
  } else {
    auto meta = mes->query("SELECT meta_value FROM " + mes->table("sim_meta") + " WHERE meta_key = 'seed'");
    if (auto value = firstInt(meta)) seed = static_cast<uint64_t>(*value);
  }
  auto plant = loadPlant(seed, *hrm);
  if (!plant) return core::fail(plant.error());
  auto statements = MesStatements::prepare(*mes);
  if (!statements) return core::fail(statements.error());
  Runner runner(options, calendar, std::move(*plant), std::move(*mes), std::move(*erp), std::move(*crm),
                std::move(*hrm), std::move(*statements));
  if (auto s = runner.load(); !s) return core::fail(s.error());
  if (auto s = runner.loop(stop, stats); !s) return core::fail(s.error());
  return runner.summary();
}

}  // namespace dutybridge::sim
