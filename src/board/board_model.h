#pragma once
// The shop-floor board's numbers (docs/board.md), apart from Kafka and HTTP: KPI facts of
// hr.duty-kpi.v1 go in (the HOUR facts of the board's KPIs; every other fact is ignored), a
// snapshot comes out: the current shift of the board's calendar, hour by hour per team (org_unit),
// with plan, actual, cumulative figures, variance, scrap, first-pass yield and status, and the
// last N shifts for comparison. The JSON shape is docs/board.md's "Snapshot".
//
// Facts: the highest revision of each fact_key wins, whatever order they come in (the topic is
// compacted and read from a point in time; a correction is a newer revision). A revision that
// lowers an hour's value (an edited or declined report) marks the hour corrected.
// Teams: those with facts in the current shift, and those with none that worked the same shift
// (code) in the shifts shown for comparison (they are behind, not off).
// Plan: a team's rows of the plan topic for the shift (applyPlan: the MES work-order plan per
// team, shift and hour, summed over work orders; an hour without a row plans nothing, a break),
// else the shift target in force on the shift date (BoardOptions::shift_plan) spread over the
// shift's hours in proportion to their length. Plan to now counts the current hour pro rata.
//
// Threading: not thread-safe; the board service guards it with a mutex. Errors: none; a message
// that is not a board fact is counted in ignored().

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/calendar/calendar.h"
#include "src/core/time.h"
#include "src/core/topic_follower.h"

namespace dutybridge::board {

struct BoardOptions {
  std::string plant;
  std::string title;
  std::string good_kpi, scrap_kpi, fpy_kpi;
  std::string employee_kpi;  // empty: none
  int behind_below = 95;
  int far_behind_below = 85;
  std::chrono::milliseconds stale_after{300'000};
  int history_shifts = 3;
  bool show_employees = false;
  // The plan of one team for a whole shift (the catalog target in force on the shift date), or
  // nullopt when none is known.
  std::function<std::optional<double>(core::Date shift_date)> shift_plan;
};

// One hour slot of a shift: [start, end), label in the plant's local wall time ("08:00").
struct HourSlot {
  int hour = 0;  // 1-based
  core::Timestamp start, end;
  std::string label;
};

class BoardModel {
 public:
  BoardModel(const calendar::Calendar& calendar, BoardOptions options);

  // A message of the facts topic. Returns true when it changed what the board shows.
  bool apply(const core::FollowedMessage& message);
  // A message of the plan topic (mappings/mes_hourly_plan.yaml: team_code, shift_date,
  // shift_code, hour, planned_qty); a tombstone removes its row. Returns true when it changed
  // the plan.
  bool applyPlan(const core::FollowedMessage& message);
  // The snapshot JSON at `now` (one line).
  std::string snapshot(core::Timestamp now, uint64_t sequence) const;
  // Forgets facts of shifts older than the ones shown at `now`.
  void prune(core::Timestamp now);
  // Where a reader starts so that every shift shown at `now` is rebuilt: a day before the
  // oldest of them (a report may be late), as Unix milliseconds.
  int64_t replayFromUnixMs(core::Timestamp now) const;

  size_t facts() const { return facts_.size(); }
  size_t planRows() const { return plan_.size(); }
  size_t ignored() const { return ignored_; }

  // The hours of a shift instance, and the shift instances shown at `now` (current first).
  std::vector<HourSlot> hours(const calendar::ShiftInstance& shift) const;
  std::vector<calendar::ShiftInstance> shiftsShown(core::Timestamp now) const;

 private:
  enum class Kind { Good, Scrap, Fpy, Employee };
  struct Fact {
    Kind kind = Kind::Good;
    std::string team;
    std::string employee;  // Employee facts
    core::Date shift_date;
    std::string shift_code;
    int hour = 0;
    int64_t revision = 0;
    double value = 0;
    std::optional<double> good_qty, first_pass_qty;  // Fpy facts: inputs.numerator, inputs.denominator
    core::Timestamp computed_at;
    bool lowered = false;  // some revision lowered the value
    bool withdrawn = false;  // status WITHDRAWN: counted nowhere
  };

  struct PlanRow {
    std::string team;
    core::Date shift_date;
    std::string shift_code;
    int hour = 0;
    double planned = 0;
  };
  // The planned quantity of each hour (1-based index - 1) of a team's shift from the plan rows,
  // or nullopt when the plan topic has none for it.
  std::optional<std::vector<double>> plannedHours(const std::string& team, const calendar::ShiftInstance& shift,
                                                  size_t hours) const;

  const calendar::Calendar& calendar_;
  BoardOptions options_;
  std::map<std::string, Fact, std::less<>> facts_;    // by fact_key
  std::map<std::string, PlanRow, std::less<>> plan_;  // by message key
  std::optional<core::Timestamp> newest_;           // newest computed_at seen
  size_t ignored_ = 0;
};

}  // namespace dutybridge::board
