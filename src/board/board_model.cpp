#include "src/board/board_model.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

namespace dutybridge::board {
namespace {

using json = nlohmann::ordered_json;
constexpr int64_t kDayMicros = 86'400'000'000;

std::optional<double> number(const json& value) {
  if (value.is_number()) return value.get<double>();
  if (value.is_string()) {
    // Exact decimals travel as strings ("12.345"); the board shows them rounded.
    const std::string& text = value.get_ref<const std::string&>();
    char* end = nullptr;
    double out = std::strtod(text.c_str(), &end);
    if (end != text.c_str() && *end == '\0' && std::isfinite(out)) return out;
  }
  return std::nullopt;
}

std::string text(const json& object, const char* name) {
  auto it = object.find(name);
  return it != object.end() && it->is_string() ? it->get<std::string>() : std::string();
}

json rounded(std::optional<double> value, int digits = 1) {
  if (!value || !std::isfinite(*value)) return nullptr;
  const double scale = std::pow(10.0, digits);
  const double r = std::round(*value * scale) / scale;
  return r == 0 ? 0.0 : r;  // no "-0"
}

json timeOrNull(std::optional<core::Timestamp> ts) {
  if (!ts) return nullptr;
  return core::formatTimestamp(*ts);
}

std::string shiftKey(core::Date date, const std::string& code) {
  return core::formatDate(date) + "/" + code;
}

}  // namespace

BoardModel::BoardModel(const calendar::Calendar& calendar, BoardOptions options)
    : calendar_(calendar), options_(std::move(options)) {}

bool BoardModel::apply(const core::FollowedMessage& message) {
  if (!message.value) {
    // A tombstone: the fact is gone (compaction cleanup of a withdrawn key).
    return facts_.erase(message.key) > 0;
  }
  json doc = json::parse(*message.value, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    ++ignored_;
    return false;
  }
  const std::string kpi = text(doc, "kpi_code");
  Kind kind;
  if (kpi == options_.good_kpi)
    kind = Kind::Good;
  else if (kpi == options_.scrap_kpi)
    kind = Kind::Scrap;
  else if (kpi == options_.fpy_kpi)
    kind = Kind::Fpy;
  else if (!options_.employee_kpi.empty() && kpi == options_.employee_kpi)
    kind = Kind::Employee;
  else {
    ++ignored_;
    return false;
  }
  auto period = doc.find("period");
  if (period == doc.end() || !period->is_object() || text(*period, "type") != "HOUR") {
    ++ignored_;
    return false;
  }
  const std::string id = text(*period, "id");
  const auto slash = id.rfind('/');
  auto shift_date = core::parseDate(text(*period, "shift_date"));
  const std::string shift_code = text(*period, "shift_code");
  int hour = 0;
  if (slash != std::string::npos) {
    for (char c : id.substr(slash + 1)) hour = c >= '0' && c <= '9' && hour < 1000 ? hour * 10 + (c - '0') : -1;
  }
  auto value = doc.contains("value") ? number(doc["value"]) : std::nullopt;
  auto revision = doc.find("revision");
  const std::string team = text(doc, "org_unit");
  if (!shift_date || shift_code.empty() || hour <= 0 || !value || team.empty() || revision == doc.end() ||
      !revision->is_number_integer()) {
    ++ignored_;
    return false;
  }
  const std::string key = message.key.empty() ? text(doc, "fact_key") : message.key;
  Fact fact;
  // Every report behind it was retracted: kept (its revision still orders what comes after) but
  // counted nowhere, until a later revision with rows brings it back.
  fact.withdrawn = text(doc, "status") == "WITHDRAWN";
  fact.kind = kind;
  fact.team = team;
  fact.employee = kind == Kind::Employee ? text(doc, "employee_no") : std::string();
  fact.shift_date = *shift_date;
  fact.shift_code = shift_code;
  fact.hour = hour;
  fact.revision = revision->get<int64_t>();
  fact.value = *value;
  if (auto inputs = doc.find("inputs"); inputs != doc.end() && inputs->is_object()) {
    // FPY facts carry the ratio's parts: Σ good and Σ (good + labour scrap).
    if (inputs->contains("numerator")) fact.good_qty = number((*inputs)["numerator"]);
    if (inputs->contains("denominator")) fact.first_pass_qty = number((*inputs)["denominator"]);
  }
  if (auto computed = core::parseTimestamp(text(doc, "computed_at"))) {
    fact.computed_at = *computed;
    if (!newest_ || *computed > *newest_) newest_ = *computed;
  }
  auto [it, inserted] = facts_.try_emplace(key, fact);
  if (!inserted) {
    if (it->second.revision >= fact.revision) return false;  // an older or the same revision
    fact.lowered = it->second.lowered || fact.value < it->second.value;
    it->second = std::move(fact);
  }
  return true;
}

bool BoardModel::applyPlan(const core::FollowedMessage& message) {
  if (!message.value) return plan_.erase(message.key) > 0;
  json doc = json::parse(*message.value, nullptr, false);
  if (doc.is_discarded() || !doc.is_object()) {
    ++ignored_;
    return false;
  }
  auto shift_date = core::parseDate(text(doc, "shift_date"));
  auto hour = doc.find("hour");
  auto planned = doc.contains("planned_qty") ? number(doc["planned_qty"]) : std::nullopt;
  PlanRow row;
  row.team = text(doc, "team_code");
  row.shift_code = text(doc, "shift_code");
  if (!shift_date || row.team.empty() || row.shift_code.empty() || hour == doc.end() || !hour->is_number_integer() ||
      hour->get<int64_t>() < 1 || hour->get<int64_t>() > 48 || !planned) {
    ++ignored_;
    return false;
  }
  row.shift_date = *shift_date;
  row.hour = static_cast<int>(hour->get<int64_t>());
  row.planned = *planned;
  plan_[message.key] = std::move(row);
  return true;
}

std::optional<std::vector<double>> BoardModel::plannedHours(const std::string& team,
                                                            const calendar::ShiftInstance& shift, size_t hours) const {
  std::optional<std::vector<double>> out;
  if (hours == 0) return out;
  for (const auto& [key, row] : plan_) {
    if (row.team != team || row.shift_date != shift.shift_date || row.shift_code != shift.shift_code) continue;
    if (!out) out.emplace(hours, 0.0);
    // A row for an hour the shift does not have (a 12-hour plan on an 11-hour DST night) counts
    // in the last hour.
    (*out)[std::min(static_cast<size_t>(row.hour), hours) - 1] += row.planned;
  }
  return out;
}

std::vector<HourSlot> BoardModel::hours(const calendar::ShiftInstance& shift) const {
  std::vector<HourSlot> out;
  int hour = 0;
  for (const auto& bounds : calendar::hourSlots(shift)) {
    HourSlot slot;
    slot.hour = ++hour;
    slot.start = bounds.start;
    slot.end = bounds.end;
    if (auto local = core::utcToLocal(slot.start, calendar_.timeZone())) {
      const int64_t minute_of_day = ((*local % kDayMicros) + kDayMicros) % kDayMicros / 60'000'000;
      slot.label = fmt::format("{:02}:{:02}", minute_of_day / 60, minute_of_day % 60);
    }
    out.push_back(std::move(slot));
  }
  return out;
}

std::vector<calendar::ShiftInstance> BoardModel::shiftsShown(core::Timestamp now) const {
  std::vector<calendar::ShiftInstance> out;
  auto current = calendar_.shiftOf(now);
  if (!current) return out;
  out.push_back(*current);
  for (int i = 0; i < options_.history_shifts; ++i) {
    auto previous = calendar_.shiftBefore(out.back());
    if (!previous) break;
    out.push_back(*previous);
  }
  return out;
}

void BoardModel::prune(core::Timestamp now) {
  auto shown = shiftsShown(now);
  if (shown.empty()) return;
  const core::Date oldest = shown.back().shift_date;
  std::erase_if(facts_, [&](const auto& entry) { return entry.second.shift_date < oldest; });
  std::erase_if(plan_, [&](const auto& entry) { return entry.second.shift_date < oldest; });
}

int64_t BoardModel::replayFromUnixMs(core::Timestamp now) const {
  auto shown = shiftsShown(now);
  const int64_t oldest = shown.empty() ? now.micros : shown.back().start.micros;
  return (oldest - kDayMicros) / 1000;
}

std::string BoardModel::snapshot(core::Timestamp now, uint64_t sequence) const {
  json out;
  out["plant"] = options_.plant;
  out["title"] = options_.title.empty() ? options_.plant : options_.title;
  out["generated_at"] = core::formatTimestamp(now);
  out["sequence"] = sequence;
  out["thresholds"] = {{"behind", options_.behind_below}, {"far_behind", options_.far_behind_below}};
  const bool stale = newest_ && now.micros - newest_->micros >
                                    std::chrono::duration_cast<std::chrono::microseconds>(options_.stale_after).count();
  out["stale"] = stale;
  out["stale_after_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(options_.stale_after).count();
  out["newest_data_at"] = timeOrNull(newest_);
  out["show_employees"] = options_.show_employees;
  const auto shown = shiftsShown(now);
  if (shown.empty()) {
    out["shift"] = nullptr;
    out["teams"] = json::array();
    return out.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  const calendar::ShiftInstance& current = shown.front();
  const std::vector<HourSlot> slots = hours(current);
  std::optional<int> current_hour;
  json shift = {{"shift_date", core::formatDate(current.shift_date)},
                {"shift_code", current.shift_code},
                {"start", core::formatTimestamp(current.start)},
                {"end", core::formatTimestamp(current.end)},
                {"time_zone", calendar_.timeZone()}};
  json hours_json = json::array();
  for (const auto& slot : slots) {
    if (slot.start <= now && now < slot.end) current_hour = slot.hour;
    hours_json.push_back({{"hour", slot.hour},
                          {"label", slot.label},
                          {"start", core::formatTimestamp(slot.start)},
                          {"end", core::formatTimestamp(slot.end)}});
  }
  shift["current_hour"] = current_hour ? json(*current_hour) : json(nullptr);
  shift["hours"] = std::move(hours_json);
  out["shift"] = std::move(shift);

  // Per team: the current shift's hours, the history shifts' totals.
  struct Hour {
    std::optional<double> good, scrap, fpy;
    double fpy_good = 0, fpy_first_pass = 0;
    bool fpy_parts = false;
    bool corrected = false;
  };
  struct Totals {
    double good = 0, scrap = 0, fpy_good = 0, fpy_first_pass = 0;
    bool any = false, fpy_parts = false;
  };
  struct Team {
    std::map<int, Hour> hours;
    std::map<std::string, double> employees;
    std::map<std::string, Totals> history;  // by shift key
    std::optional<core::Timestamp> newest;
  };
  std::map<std::string, Team> teams;
  std::map<std::string, size_t> shown_index;
  for (size_t i = 0; i < shown.size(); ++i) shown_index[shiftKey(shown[i].shift_date, shown[i].shift_code)] = i;
  for (const auto& [key, fact] : facts_) {
    auto at = shown_index.find(shiftKey(fact.shift_date, fact.shift_code));
    if (at == shown_index.end()) continue;
    Team& team = teams[fact.team];
    if (fact.withdrawn) continue;  // the team stays listed, its hour counts nothing of it
    if (!team.newest || fact.computed_at > *team.newest) team.newest = fact.computed_at;
    if (at->second == 0) {
      if (fact.kind == Kind::Employee) {
        team.employees[fact.employee] += fact.value;
        continue;
      }
      Hour& hour = team.hours[fact.hour];
      hour.corrected = hour.corrected || fact.lowered;
      if (fact.kind == Kind::Good) hour.good = fact.value;
      if (fact.kind == Kind::Scrap) hour.scrap = fact.value;
      if (fact.kind == Kind::Fpy) {
        hour.fpy = fact.value;
        if (fact.good_qty && fact.first_pass_qty) {
          hour.fpy_parts = true;
          hour.fpy_good = *fact.good_qty;
          hour.fpy_first_pass = *fact.first_pass_qty;
        }
      }
    } else {
      Totals& totals = team.history[at->first];
      totals.any = true;
      if (fact.kind == Kind::Good) totals.good += fact.value;
      if (fact.kind == Kind::Scrap) totals.scrap += fact.value;
      if (fact.kind == Kind::Fpy && fact.good_qty && fact.first_pass_qty) {
        totals.fpy_parts = true;
        totals.fpy_good += *fact.good_qty;
        totals.fpy_first_pass += *fact.first_pass_qty;
      }
    }
  }

  const double shift_micros = static_cast<double>(current.end.micros - current.start.micros);
  // A team's plan of a shift: its plan rows, else the catalog target.
  auto planOf = [&](const std::string& team, const calendar::ShiftInstance& s) -> std::optional<double> {
    if (auto rows = plannedHours(team, s, calendar::hourSlots(s).size())) {
      double sum = 0;
      for (double planned : *rows) sum += planned;
      return sum;
    }
    return options_.shift_plan ? options_.shift_plan(s.shift_date) : std::nullopt;
  };
  json teams_json = json::array();
  for (const auto& [name, team] : teams) {
    // A team without a report this shift is shown (far behind, when its plan is due) only if it
    // worked this shift before (the same shift code among the shifts shown); a day crew is not
    // "behind" at night.
    if (team.hours.empty() && team.employees.empty()) {
      bool works_this_shift = false;
      for (size_t i = 1; i < shown.size(); ++i) {
        if (shown[i].shift_code == current.shift_code &&
            team.history.contains(shiftKey(shown[i].shift_date, shown[i].shift_code))) {
          works_this_shift = true;
        }
      }
      if (!works_this_shift) continue;
    }
    json t;
    t["team"] = name;
    const std::optional<std::vector<double>> planned_hours = plannedHours(name, current, slots.size());
    const std::optional<double> plan_shift = planOf(name, current);
    double cum_plan = 0, cum_actual = 0, plan_to_now = 0, scrap = 0, fpy_good = 0, fpy_first_pass = 0;
    bool fpy_parts = false;
    json team_hours = json::array();
    for (const auto& slot : slots) {
      const bool started = slot.start <= now;
      std::optional<double> plan;
      if (planned_hours) {
        plan = (*planned_hours)[static_cast<size_t>(slot.hour - 1)];
      } else if (plan_shift) {
        plan = *plan_shift * static_cast<double>(slot.end.micros - slot.start.micros) / shift_micros;
      }
      if (plan) {
        cum_plan += *plan;
        if (now >= slot.end) {
          plan_to_now += *plan;
        } else if (started) {
          plan_to_now += *plan * static_cast<double>(now.micros - slot.start.micros) /
                         static_cast<double>(slot.end.micros - slot.start.micros);
        }
      }
      auto found = team.hours.find(slot.hour);
      const Hour* hour = found == team.hours.end() ? nullptr : &found->second;
      json h = {{"hour", slot.hour}, {"plan", rounded(plan)}, {"cum_plan", plan ? rounded(cum_plan) : json(nullptr)}};
      if (started || hour) {
        const double actual = hour && hour->good ? *hour->good : 0;
        cum_actual += actual;
        const double hour_scrap = hour && hour->scrap ? *hour->scrap : 0;
        scrap += hour_scrap;
        if (hour && hour->fpy_parts) {
          fpy_parts = true;
          fpy_good += hour->fpy_good;
          fpy_first_pass += hour->fpy_first_pass;
        }
        h["actual"] = rounded(actual, 3);
        h["cum_actual"] = rounded(cum_actual, 3);
        h["variance"] = plan ? rounded(cum_actual - cum_plan) : json(nullptr);
        h["scrap"] = rounded(hour_scrap, 3);
        h["fpy"] = hour ? rounded(hour->fpy) : json(nullptr);
        h["corrected"] = hour && hour->corrected;
      } else {
        for (const char* field : {"actual", "cum_actual", "variance", "scrap", "fpy"}) h[field] = nullptr;
        h["corrected"] = false;
      }
      team_hours.push_back(std::move(h));
    }
    t["plan_shift"] = rounded(plan_shift);
    t["plan_to_now"] = plan_shift ? rounded(plan_to_now) : json(nullptr);
    t["actual"] = rounded(cum_actual, 3);
    std::string status = "no_plan";
    std::optional<double> percent;
    if (plan_shift) {
      status = "on_plan";
      if (plan_to_now > 0) {
        percent = cum_actual / plan_to_now * 100;
        if (*percent < options_.far_behind_below)
          status = "far_behind";
        else if (*percent < options_.behind_below)
          status = "behind";
      }
    }
    t["percent"] = rounded(percent);
    t["status"] = status;
    t["scrap"] = rounded(scrap, 3);
    t["fpy"] = fpy_parts && fpy_first_pass > 0 ? rounded(fpy_good / fpy_first_pass * 100) : json(nullptr);
    t["newest_data_at"] = timeOrNull(team.newest);
    t["hours"] = std::move(team_hours);
    json history = json::array();
    for (size_t i = 1; i < shown.size(); ++i) {
      auto totals = team.history.find(shiftKey(shown[i].shift_date, shown[i].shift_code));
      const Totals empty;
      const Totals& s = totals == team.history.end() ? empty : totals->second;
      history.push_back({{"shift_date", core::formatDate(shown[i].shift_date)},
                         {"shift_code", shown[i].shift_code},
                         {"plan", rounded(planOf(name, shown[i]))},
                         {"actual", rounded(s.good, 3)},
                         {"scrap", rounded(s.scrap, 3)},
                         {"fpy", s.fpy_parts && s.fpy_first_pass > 0 ? rounded(s.fpy_good / s.fpy_first_pass * 100)
                                                                     : json(nullptr)}});
    }
    t["history"] = std::move(history);
    if (options_.show_employees) {
      json employees = json::array();
      for (const auto& [employee, actual] : team.employees) {
        employees.push_back({{"employee", employee}, {"actual", rounded(actual, 3)}});
      }
      t["employees"] = std::move(employees);
    }
    teams_json.push_back(std::move(t));
  }
  out["teams"] = std::move(teams_json);
  return out.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace dutybridge::board
