#pragma once
// Plant calendars (config/calendars.yaml): the shift pattern in the plant's local wall time,
// rest days and holidays, and the KPI periods built from them. docs/calendars.md is the user's
// reference.
//
// The domain rule: a shift belongs to the date on which it started (its shift_date), in the
// plant's time zone. DAY, WEEK and MONTH periods are unions of whole shifts, chosen by
// shift_date, never by wall-clock date: DAY d runs from the start of d's first shift to the end
// of its last one.
//
// HOUR periods are the hour slots of one shift instance, counted in UTC instants from the
// shift's start: slot k (1-based) is [start + (k-1) h, min(start + k h, end)). A 12 h shift has
// 12 slots, but the Europe/Berlin night shift across the spring change (11 h) has 11 and the one
// across the autumn change (13 h) has 13; a shift whose length is not a whole number of hours
// ends with a short last slot. The supervisors' hour-by-hour board reads facts per slot.
//
// Wall-clock shift boundaries become instants deterministically, so the shifts of consecutive
// days tile the timeline with no gap and no overlap even across DST changes:
//   - a boundary inside a spring-forward gap moves to the end of the gap (the instant the clocks
//     jump), so a 20:00-08:00 shift on the night of Europe/Berlin's spring change lasts 11 h;
//   - a boundary inside the repeated autumn hour takes its first occurrence (summer time), so a
//     20:00-08:00 shift on that night lasts 13 h.
//
// Threading: a loaded Calendar / Calendars is immutable; every const method may run
// concurrently. Ownership: Calendars owns its calendars; the time zones they point to belong to
// the date library's process-wide tz database.
// Errors: load problems are diag::Diagnostics (file:line:column, caret, hint), all at once.
// Queries return core::Result with Permanent errors (an unknown shift code, an instant outside
// the years 1900-9999): the record that asked belongs in the dead-letter path.

#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/config_schema.h"
#include "src/core/error.h"
#include "src/core/time.h"
#include "src/diagnostics/diagnostics.h"

namespace date {
class time_zone;
}

namespace dutybridge::calendar {

// The day types of config/calendars.yaml and of the MES report table (day_type column).
inline constexpr std::string_view kDayTypes[] = {"NORMAL", "OT", "REST", "HOLIDAY"};

struct ShiftDefinition {
  std::string code;
  int start_minute = 0;     // local wall time, 0..1439
  int length_minutes = 0;   // nominal (wall-clock) length, 1..1440; the end may be on the next day
};

struct ShiftInstance {
  core::Date shift_date;  // the date the shift started on (plant time zone)
  std::string shift_code;
  core::Timestamp start, end;  // [start, end), UTC
  std::string day_type;        // NORMAL | OT | REST | HOLIDAY, of shift_date
};

enum class PeriodType { Shift, Day, Week, Month, Hour };

// "SHIFT", "DAY", "WEEK", "MONTH", "HOUR" (exact spelling, as in the duty catalog and
// duty_kpi.v1).
std::optional<PeriodType> parsePeriodType(std::string_view text);
std::string_view toString(PeriodType type);

// The period_id of duty_kpi.v1: SHIFT "2025-03-14/N", DAY "2025-03-14", WEEK (ISO 8601 week of
// shift_date) "2025-W11", MONTH "2025-03", HOUR "2025-03-14/N/03" (shift, then the two-digit
// 1-based slot). shift_code is used only for SHIFT and HOUR, hour only for HOUR.
std::string periodId(PeriodType type, core::Date shift_date, std::string_view shift_code, int hour = 0);

struct PeriodBounds {
  core::Timestamp start, end;  // [start, end), UTC
};

// The hour slots of a shift instance, in order: element k - 1 is slot k (see the top of this
// file). Never empty for a shift with start < end.
std::vector<PeriodBounds> hourSlots(const ShiftInstance& shift);
// The slot (1-based) of `shift` that contains the instant, clamped into the shift: an instant at
// or after its end counts in its last slot (a report stamped exactly at the shift end belongs to
// the last hour), one before its start in its first.
int hourOf(const ShiftInstance& shift, core::Timestamp utc);

class Calendar {
 public:
  // Normally built by loadCalendars, which checks the shifts tile the day. `zone` is an entry
  // of the date library's tz database (date::locate_zone), which lives as long as the process.
  Calendar(std::string name, std::string time_zone, const date::time_zone* zone, std::vector<ShiftDefinition> shifts,
           std::vector<bool> rest_weekdays, std::map<core::Date, std::string> holidays);

  const std::string& name() const { return name_; }
  const std::string& timeZone() const { return time_zone_; }
  // Sorted by start time: the order of the shifts within one shift_date.
  const std::vector<ShiftDefinition>& shifts() const { return shifts_; }
  const ShiftDefinition* findShift(std::string_view code) const;

  // The shift instance that contains the instant.
  core::Result<ShiftInstance> shiftOf(core::Timestamp utc) const;
  // The instance of shift `shift_code` on shift_date (unknown code: Permanent error).
  core::Result<ShiftInstance> shift(core::Date shift_date, std::string_view shift_code) const;
  // The shift instance just before / after `shift` on the time line (the one that ends where it
  // starts / starts where it ends), across dates and DST changes. The board walks back from
  // shiftOf(now) with shiftBefore to show the previous shifts.
  core::Result<ShiftInstance> shiftBefore(const ShiftInstance& shift) const;
  core::Result<ShiftInstance> shiftAfter(const ShiftInstance& shift) const;
  // hourSlots(shift(shift_date, shift_code)).
  core::Result<std::vector<PeriodBounds>> hourSlots(core::Date shift_date, std::string_view shift_code) const;
  // HOLIDAY/REST/NORMAL/OT from the holidays list, else REST on a rest weekday, else NORMAL.
  std::string dayType(core::Date day) const;
  // SHIFT: that shift; DAY: first shift start to last shift end of shift_date; WEEK: the ISO week
  // (Monday..Sunday shift dates) containing shift_date; MONTH: its calendar month of shift dates.
  // HOUR: slot `hour` (1-based) of that shift. shift_code matters only for SHIFT and HOUR
  // (unknown code: Permanent error), hour only for HOUR (outside 1..slots: Permanent error).
  core::Result<PeriodBounds> periodBounds(PeriodType type, core::Date shift_date, std::string_view shift_code,
                                          int hour = 0) const;

 private:
  // Local wall-clock microseconds -> instant, by the gap/fold rules above.
  core::Result<core::Timestamp> resolve(int64_t local_micros) const;
  core::Result<core::Timestamp> dayStart(core::Date shift_date) const;
  core::Result<ShiftInstance> instance(core::Date shift_date, const ShiftDefinition& shift) const;

  std::string name_;
  std::string time_zone_;
  const date::time_zone* zone_;
  std::vector<ShiftDefinition> shifts_;
  std::vector<bool> rest_weekdays_;  // index: 0 = Sunday .. 6 = Saturday
  std::map<core::Date, std::string> holidays_;
};

struct Calendars {
  std::map<std::string, Calendar, std::less<>> by_name;

  const Calendar* find(std::string_view name) const;
  std::vector<std::string> names() const;
};

// The calendars file as a schema: its keys, types and descriptions. The one validator
// (src/schema) checks a file's structure against it, and docs/calendars.md's key table is
// generated from it (and tested).
const core::ConfigSchema& calendarsFileSchema();

// Loads and checks a calendars file. Every problem (unknown key, missing key, wrong type,
// unknown zone, bad time, overlapping or gapped shifts, bad date or day type) is reported, with
// its location: the structure by the schema, then what the values mean for every calendar whose
// structure is sound.
std::expected<std::shared_ptr<const Calendars>, diag::Diagnostics> loadCalendars(const std::filesystem::path& file);

}  // namespace dutybridge::calendar
