#include "src/calendar/calendar.h"

#include <date/date.h>
#include <date/iso_week.h>
#include <date/tz.h>
#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include "src/common/file_read.h"
#include "src/schema/validator.h"

namespace dutybridge::calendar {
namespace {

using Micros = std::chrono::duration<int64_t, std::micro>;
using SysMicros = std::chrono::time_point<std::chrono::system_clock, Micros>;

constexpr int64_t kMicrosPerMinute = 60'000'000;
constexpr int64_t kMicrosPerHour = 3'600'000'000;
constexpr int64_t kMicrosPerDay = 86'400'000'000;
constexpr int kMinutesPerDay = 1440;

// Dates and instants the calendar answers for; the date library's years end at ±32767, and a
// plant calendar has no business outside this range anyway.
const core::Date kFirstDay = core::dateFromYmd(1900, 1, 1);
const core::Date kLastDay = core::dateFromYmd(9999, 12, 31);

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

std::unexpected<core::Error> outOfRange() {
  return core::fail(core::ErrorKind::Permanent, "date outside the calendar's range (years 1900 to 9999)");
}

bool inRange(core::Date day) { return day >= kFirstDay && day <= kLastDay; }

std::string twoDigits(int n) { return fmt::format("{:02d}", n); }

std::string clockText(int minute) { return twoDigits(minute / 60) + ":" + twoDigits(minute % 60); }

std::string shiftText(const ShiftDefinition& s) {
  int end = s.start_minute + s.length_minutes;
  return clockText(s.start_minute) + "-" + clockText(end == kMinutesPerDay ? end : end % kMinutesPerDay);
}

// True when minute x (0..1439) lies in the circular interval [start, start + length).
bool covers(const ShiftDefinition& s, int x) {
  return ((x - s.start_minute) % kMinutesPerDay + kMinutesPerDay) % kMinutesPerDay < s.length_minutes;
}

// The text of a scalar node; empty for a missing (yaml-cpp "zombie") or non-scalar node.
std::string scalarOf(const YAML::Node& node) { return node.IsDefined() && node.IsScalar() ? node.Scalar() : ""; }

unsigned weekdayOf(core::Date day) {  // 0 = Sunday .. 6 = Saturday
  return date::weekday(date::sys_days{date::days{day.days}}).c_encoding();
}

constexpr const char* kWeekdays[] = {"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"};

// The meaning of the values of a calendars file: time zones, times, shift codes and their tiling,
// weekdays, dates and day types. The schema has checked the structure and reported what is
// missing or of the wrong kind; this passes over such values silently, so every problem is
// reported once. Works on the YAML nodes so that every problem is located at its value.
class Loader {
 public:
  explicit Loader(const std::filesystem::path& file) : file_(file.string()) {}

  diag::Diagnostics diagnostics;

  core::SourceLocation at(const YAML::Node& node, const std::string& path) const {
    core::SourceLocation loc{file_, 0, 0, path};
    if (node.IsDefined() && node.Mark().line >= 0) {
      loc.line = node.Mark().line + 1;
      loc.column = node.Mark().column + 1;
    }
    return loc;
  }

  void error(const YAML::Node& node, const std::string& path, std::string message, std::string hint = {}) {
    diagnostics.add(at(node, path), std::move(message), std::move(hint));
  }

  // "HH:MM" in 00:00..23:59, or 24:00 where allowed (a shift's end); nullopt after reporting.
  std::optional<int> clock(const YAML::Node& node, const std::string& path, bool allow_24) {
    if (!node.IsDefined() || !node.IsScalar()) return std::nullopt;  // reported by the schema
    std::string text = scalarOf(node);
    auto digit = [&](size_t i) { return text[i] >= '0' && text[i] <= '9'; };
    if (text.size() == 5 && digit(0) && digit(1) && text[2] == ':' && digit(3) && digit(4)) {
      int hours = (text[0] - '0') * 10 + (text[1] - '0');
      int minutes = (text[3] - '0') * 10 + (text[4] - '0');
      if (minutes < 60 && (hours < 24 || (allow_24 && hours == 24 && minutes == 0))) return hours * 60 + minutes;
    }
    error(node, path, "bad time '" + text + "'",
          allow_24 ? "write HH:MM from 00:00 to 24:00 (local wall time; quote it: \"08:00\")"
                   : "write HH:MM from 00:00 to 23:59 (local wall time; quote it: \"08:00\")");
    return std::nullopt;
  }

  const date::time_zone* zone(const YAML::Node& node, const std::string& path) {
    if (!node.IsDefined() || !node.IsScalar()) return nullptr;  // reported by the schema
    const std::string& name = node.Scalar();
    try {
      return date::locate_zone(name);
    } catch (const std::runtime_error&) {
      std::vector<std::string> names;
      for (const auto& z : date::get_tzdb().zones) names.push_back(z.name());
      std::string best = diag::suggest(name, names);
      error(node, path, "unknown time zone '" + name + "'",
            best.empty() ? "use an IANA name such as Asia/Shanghai" : "did you mean '" + best + "'?");
      return nullptr;
    }
  }

  // The shifts' codes and times; then that they tile the day.
  std::vector<ShiftDefinition> shifts(const YAML::Node& node, const std::string& path, const std::string& calendar) {
    std::vector<ShiftDefinition> out;
    if (!node.IsDefined() || !node.IsSequence()) return out;  // reported by the schema
    if (node.size() == 0) {
      error(node, path, "calendar '" + calendar + "' has no shifts", "a list of {code, start, end} covering the day");
      return out;
    }
    std::vector<YAML::Node> nodes;  // parallel to `out`, for locating overlaps
    bool ok = true;
    for (size_t i = 0; i < node.size(); ++i) {
      const YAML::Node shift = node[i];
      std::string item = path + "[" + std::to_string(i) + "]";
      if (!shift.IsMap()) {
        ok = false;
        continue;
      }
      const YAML::Node code = shift["code"];
      std::string code_text = scalarOf(code);
      if (code_text.empty()) {
        if (code.IsDefined() && code.IsScalar()) error(code, item + ".code", "a shift's code is empty");
        ok = false;
      } else if (code_text.find_first_of("/| ") != std::string::npos) {
        error(code, item + ".code", "shift code '" + code_text + "' must not contain '/', '|' or spaces",
              "shift codes are part of period ids (2025-03-14/N) and fact keys");
        ok = false;
      } else if (std::any_of(out.begin(), out.end(), [&](const ShiftDefinition& s) { return s.code == code_text; })) {
        error(code, item + ".code", "shift code '" + code_text + "' is defined twice");
        ok = false;
      }
      auto start = clock(shift["start"], item + ".start", false);
      auto end = clock(shift["end"], item + ".end", true);
      if (!start || !end || code_text.empty()) {
        ok = false;
        continue;
      }
      int length = ((*end - *start) % kMinutesPerDay + kMinutesPerDay) % kMinutesPerDay;
      if (length == 0) length = kMinutesPerDay;  // 06:00-06:00 or 00:00-24:00: one 24-hour shift
      out.push_back({code_text, *start, length});
      nodes.push_back(shift);
    }
    if (!ok) return out;
    if (overlapping(out, nodes, path)) return out;
    std::vector<ShiftDefinition> sorted = out;
    std::sort(sorted.begin(), sorted.end(),
              [](const ShiftDefinition& a, const ShiftDefinition& b) { return a.start_minute < b.start_minute; });
    for (size_t i = 0; i < sorted.size(); ++i) {
      int end = (sorted[i].start_minute + sorted[i].length_minutes) % kMinutesPerDay;
      int next = sorted[(i + 1) % sorted.size()].start_minute;
      if (end != next) {
        error(node, path, "no shift covers " + clockText(end) + "-" + clockText(next == 0 ? kMinutesPerDay : next),
              "the shifts must cover the whole 24-hour day: every shift starts where another ends");
      }
    }
    return out;
  }

  bool overlapping(const std::vector<ShiftDefinition>& shifts, const std::vector<YAML::Node>& nodes,
                   const std::string& path) {
    bool found = false;
    for (size_t j = 1; j < shifts.size(); ++j) {
      for (size_t i = 0; i < j; ++i) {
        if (covers(shifts[i], shifts[j].start_minute) || covers(shifts[j], shifts[i].start_minute)) {
          error(nodes[j], path + "[" + std::to_string(j) + "]",
                "shift '" + shifts[j].code + "' (" + shiftText(shifts[j]) + ") overlaps shift '" + shifts[i].code +
                    "' (" + shiftText(shifts[i]) + ")",
                "shifts never overlap: each one starts where another ends");
          found = true;
          break;
        }
      }
    }
    return found;
  }

  // A weekday name or a list of them (absent: none).
  std::vector<bool> restDays(const YAML::Node& node, const std::string& path) {
    std::vector<bool> out(7, false);
    if (!node.IsDefined() || node.IsNull()) return out;
    std::vector<std::pair<YAML::Node, std::string>> items;
    if (node.IsScalar()) {
      items.emplace_back(node, path);
    } else if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) {
        if (node[i].IsScalar()) items.emplace_back(node[i], path + "[" + std::to_string(i) + "]");
      }
    }
    std::vector<std::string> names(std::begin(kWeekdays), std::end(kWeekdays));
    for (const auto& [item, item_path] : items) {
      std::string text = scalarOf(item);
      std::string lower = text;
      std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
      auto hit = std::find(names.begin(), names.end(), lower);
      if (hit == names.end()) {
        std::string best = diag::suggest(lower, names);
        error(item, item_path, "unknown weekday '" + text + "'",
              best.empty() ? "write monday ... sunday" : "did you mean '" + best + "'?");
        continue;
      }
      out[static_cast<size_t>(hit - names.begin())] = true;
    }
    return out;
  }

  std::map<core::Date, std::string> holidays(const YAML::Node& node, const std::string& path) {
    std::map<core::Date, std::string> out;
    if (!node.IsDefined() || !node.IsMap()) return out;  // absent, or reported by the schema
    std::vector<std::string> types(std::begin(kDayTypes), std::end(kDayTypes));
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.Scalar();
      std::string item = path + "." + key;
      auto day = core::parseDate(key);
      if (!day) {
        error(it->first, item, "bad date '" + key + "'", "write YYYY-MM-DD");
        continue;
      }
      if (!inRange(*day)) {
        error(it->first, item, "date '" + key + "' is outside the years 1900 to 9999");
        continue;
      }
      if (!it->second.IsScalar()) continue;  // reported by the schema
      std::string type = scalarOf(it->second);
      if (std::find(types.begin(), types.end(), type) == types.end()) {
        std::string best = diag::suggest(type, types);
        error(it->second, item, "unknown day type '" + type + "'",
              best.empty() ? "day types: NORMAL, OT, REST, HOLIDAY" : "did you mean '" + best + "'?");
        continue;
      }
      out[*day] = type;
    }
    return out;
  }

  std::optional<Calendar> calendar(const std::string& name, const YAML::Node& node) {
    std::string path = "calendars." + name;
    const date::time_zone* tz = zone(node["time_zone"], path + ".time_zone");
    size_t errors = diagnostics.size();
    auto defined = shifts(node["shifts"], path + ".shifts", name);
    bool shifts_ok = diagnostics.size() == errors;
    auto rest = restDays(node["rest_days"], path + ".rest_days");
    auto days = holidays(node["holidays"], path + ".holidays");
    if (!tz || !shifts_ok) return std::nullopt;
    return Calendar(name, node["time_zone"].Scalar(), tz, std::move(defined), std::move(rest), std::move(days));
  }

 private:
  std::string file_;
};

}  // namespace

std::optional<PeriodType> parsePeriodType(std::string_view text) {
  if (text == "SHIFT") return PeriodType::Shift;
  if (text == "DAY") return PeriodType::Day;
  if (text == "WEEK") return PeriodType::Week;
  if (text == "MONTH") return PeriodType::Month;
  if (text == "HOUR") return PeriodType::Hour;
  return std::nullopt;
}

std::string_view toString(PeriodType type) {
  switch (type) {
    case PeriodType::Shift: return "SHIFT";
    case PeriodType::Day: return "DAY";
    case PeriodType::Week: return "WEEK";
    case PeriodType::Month: return "MONTH";
    case PeriodType::Hour:
      return "HOUR";
  }
  return "SHIFT";
}

std::string periodId(PeriodType type, core::Date shift_date, std::string_view shift_code, int hour) {
  switch (type) {
    case PeriodType::Shift: return core::formatDate(shift_date) + "/" + std::string(shift_code);
    case PeriodType::Hour:
      return fmt::format("{}/{}/{:02d}", core::formatDate(shift_date), shift_code, hour);
    case PeriodType::Day: return core::formatDate(shift_date);
    case PeriodType::Week: {
      iso_week::year_weeknum_weekday week{date::sys_days{date::days{shift_date.days}}};
      char buffer[16];
      int n = std::snprintf(buffer, sizeof buffer, "%04d-W%02u", static_cast<int>(week.year()),
                            static_cast<unsigned>(week.weeknum()));
      return std::string(buffer, static_cast<size_t>(n));
    }
    case PeriodType::Month: return core::formatDate(shift_date).substr(0, 7);
  }
  return {};
}

std::vector<PeriodBounds> hourSlots(const ShiftInstance& shift) {
  std::vector<PeriodBounds> out;
  for (int64_t start = shift.start.micros; start < shift.end.micros; start += kMicrosPerHour) {
    out.push_back({core::Timestamp{start}, core::Timestamp{std::min(start + kMicrosPerHour, shift.end.micros)}});
  }
  return out;
}

int hourOf(const ShiftInstance& shift, core::Timestamp utc) {
  int64_t slots = std::max<int64_t>(1, (shift.end.micros - shift.start.micros + kMicrosPerHour - 1) / kMicrosPerHour);
  if (utc.micros < shift.start.micros) return 1;
  if (utc.micros >= shift.end.micros) return static_cast<int>(slots);  // also keeps the subtraction in range
  return static_cast<int>((utc.micros - shift.start.micros) / kMicrosPerHour + 1);
}

Calendar::Calendar(std::string name, std::string time_zone, const date::time_zone* zone,
                   std::vector<ShiftDefinition> shifts, std::vector<bool> rest_weekdays,
                   std::map<core::Date, std::string> holidays)
    : name_(std::move(name)),
      time_zone_(std::move(time_zone)),
      zone_(zone),
      shifts_(std::move(shifts)),
      rest_weekdays_(std::move(rest_weekdays)),
      holidays_(std::move(holidays)) {
  std::sort(shifts_.begin(), shifts_.end(),
            [](const ShiftDefinition& a, const ShiftDefinition& b) { return a.start_minute < b.start_minute; });
  rest_weekdays_.resize(7, false);
}

const ShiftDefinition* Calendar::findShift(std::string_view code) const {
  for (const auto& s : shifts_) {
    if (s.code == code) return &s;
  }
  return nullptr;
}

std::string Calendar::dayType(core::Date day) const {
  if (auto hit = holidays_.find(day); hit != holidays_.end()) return hit->second;
  return rest_weekdays_[weekdayOf(day)] ? "REST" : "NORMAL";
}

core::Result<core::Timestamp> Calendar::resolve(int64_t local_micros) const {
  try {
    date::local_time<Micros> local{Micros{local_micros}};
    auto info = zone_->get_info(date::floor<std::chrono::seconds>(local));
    switch (info.result) {
      case date::local_info::unique:
      case date::local_info::ambiguous:  // the first occurrence: still on the earlier offset
        return core::Timestamp{local_micros - std::chrono::duration_cast<Micros>(info.first.offset).count()};
      case date::local_info::nonexistent:  // inside the gap: the instant the clocks jump
        return core::Timestamp{std::chrono::duration_cast<Micros>(info.second.begin.time_since_epoch()).count()};
    }
  } catch (const std::exception& e) {
    return core::fail(core::ErrorKind::Permanent, std::string("time zone lookup failed: ") + e.what());
  }
  return core::fail(core::ErrorKind::Permanent, "time zone lookup failed");
}

core::Result<core::Timestamp> Calendar::dayStart(core::Date shift_date) const {
  if (!inRange(shift_date)) return outOfRange();
  return resolve(shift_date.days * kMicrosPerDay + shifts_.front().start_minute * kMicrosPerMinute);
}

core::Result<ShiftInstance> Calendar::instance(core::Date shift_date, const ShiftDefinition& shift) const {
  if (!inRange(shift_date)) return outOfRange();
  int64_t local_start = shift_date.days * kMicrosPerDay + shift.start_minute * kMicrosPerMinute;
  auto start = resolve(local_start);
  if (!start) return std::unexpected(start.error());
  auto end = resolve(local_start + shift.length_minutes * kMicrosPerMinute);
  if (!end) return std::unexpected(end.error());
  return ShiftInstance{shift_date, shift.code, *start, *end, dayType(shift_date)};
}

core::Result<ShiftInstance> Calendar::shiftOf(core::Timestamp utc) const {
  int64_t local = 0;
  try {
    SysMicros point{Micros{utc.micros}};
    if (utc.micros < (kFirstDay.days + 1) * kMicrosPerDay || utc.micros > kLastDay.days * kMicrosPerDay) {
      return outOfRange();
    }
    local = utc.micros + std::chrono::duration_cast<Micros>(zone_->get_info(point).offset).count();
  } catch (const std::exception& e) {
    return core::fail(core::ErrorKind::Permanent, std::string("time zone lookup failed: ") + e.what());
  }
  // First guess by wall clock, then step until dayStart(d) <= utc < dayStart(d + 1). The
  // boundaries are monotonic (see resolve), so this ends after a step or two.
  core::Date day{static_cast<int32_t>(floorDiv(local - shifts_.front().start_minute * kMicrosPerMinute, kMicrosPerDay))};
  for (int step = 0; step < 4; ++step) {
    auto start = dayStart(day);
    if (!start) return std::unexpected(start.error());
    if (utc < *start) {
      --day.days;
      continue;
    }
    auto next = dayStart(core::Date{day.days + 1});
    if (!next) return std::unexpected(next.error());
    if (utc >= *next) {
      ++day.days;
      continue;
    }
    core::Timestamp shift_start = *start;
    for (const auto& shift : shifts_) {
      auto end = resolve(day.days * kMicrosPerDay + (shift.start_minute + shift.length_minutes) * kMicrosPerMinute);
      if (!end) return std::unexpected(end.error());
      if (utc < *end) return ShiftInstance{day, shift.code, shift_start, *end, dayType(day)};
      shift_start = *end;
    }
    break;  // unreachable: the last shift ends at dayStart(day + 1)
  }
  return core::fail(core::ErrorKind::Permanent, "no shift of calendar '" + name_ + "' contains the instant");
}

core::Result<ShiftInstance> Calendar::shift(core::Date shift_date, std::string_view shift_code) const {
  const ShiftDefinition* definition = findShift(shift_code);
  if (!definition) {
    return core::fail(core::ErrorKind::Permanent,
                      "calendar '" + name_ + "' has no shift '" + std::string(shift_code.substr(0, 16)) + "'");
  }
  return instance(shift_date, *definition);
}

core::Result<ShiftInstance> Calendar::shiftBefore(const ShiftInstance& shift) const {
  // Shifts tile the time line: the one before contains the last instant before this start. A
  // shift that lies wholly inside a DST gap is empty and is skipped, as shiftOf skips it.
  return shiftOf(core::Timestamp{shift.start.micros - 1});
}

core::Result<ShiftInstance> Calendar::shiftAfter(const ShiftInstance& shift) const {
  return shiftOf(shift.end);
}

core::Result<std::vector<PeriodBounds>> Calendar::hourSlots(core::Date shift_date, std::string_view shift_code) const {
  auto instance_of = shift(shift_date, shift_code);
  if (!instance_of) return std::unexpected(instance_of.error());
  return calendar::hourSlots(*instance_of);
}

core::Result<PeriodBounds> Calendar::periodBounds(PeriodType type, core::Date shift_date, std::string_view shift_code,
                                                  int hour) const {
  if (!inRange(shift_date)) return outOfRange();
  core::Date first = shift_date, last = shift_date;  // first and last shift date of the period
  switch (type) {
    case PeriodType::Shift: {
      auto instance_of = shift(shift_date, shift_code);
      if (!instance_of) return std::unexpected(instance_of.error());
      return PeriodBounds{instance_of->start, instance_of->end};
    }
    case PeriodType::Hour: {
      auto slots = hourSlots(shift_date, shift_code);
      if (!slots) return std::unexpected(slots.error());
      if (hour < 1 || static_cast<size_t>(hour) > slots->size()) {
        return core::fail(
            core::ErrorKind::Permanent,
            fmt::format("shift {}/{} of calendar '{}' has hours 1 to {}, not {}", core::formatDate(shift_date),
                        shift_code.substr(0, 16), name_, slots->size(), hour));
      }
      return (*slots)[static_cast<size_t>(hour - 1)];
    }
    case PeriodType::Day: break;
    case PeriodType::Week: {
      int32_t since_monday = static_cast<int32_t>((weekdayOf(shift_date) + 6) % 7);
      first = core::Date{shift_date.days - since_monday};
      last = core::Date{first.days + 6};
      break;
    }
    case PeriodType::Month: {
      date::year_month_day ymd{date::sys_days{date::days{shift_date.days}}};
      date::year_month_day_last end{ymd.year(), date::month_day_last{ymd.month()}};
      first = core::Date{static_cast<int32_t>(date::sys_days{ymd.year() / ymd.month() / 1}.time_since_epoch().count())};
      last = core::Date{static_cast<int32_t>(date::sys_days{end}.time_since_epoch().count())};
      break;
    }
  }
  auto start = dayStart(first);
  if (!start) return std::unexpected(start.error());
  auto end = dayStart(core::Date{last.days + 1});
  if (!end) return std::unexpected(end.error());
  return PeriodBounds{*start, *end};
}

const Calendar* Calendars::find(std::string_view name) const {
  auto hit = by_name.find(name);
  return hit == by_name.end() ? nullptr : &hit->second;
}

std::vector<std::string> Calendars::names() const {
  std::vector<std::string> out;
  for (const auto& [name, calendar] : by_name) out.push_back(name);
  return out;
}

const core::ConfigSchema& calendarsFileSchema() {
  using core::FieldSpec;
  using core::FieldType;
  static const core::ConfigSchema schema = [] {
    auto shift = std::make_shared<core::ConfigSchema>(std::vector<FieldSpec>{
        FieldSpec::make("code", FieldType::String)
            .req()
            .doc("The shift's code, unique in its calendar, without '/', '|' or spaces (it is part of period ids "
                 "such as 2025-03-14/N and of fact keys)."),
        FieldSpec::make("start", FieldType::String)
            .req()
            .doc("Start in local wall time, \"HH:MM\" from 00:00 to 23:59 (quote it: YAML reads 08:00 unquoted "
                 "as a number in some versions)."),
        FieldSpec::make("end", FieldType::String)
            .req()
            .doc("End in local wall time, \"HH:MM\" from 00:00 to 24:00. At or before `start` means the next day "
                 "(20:00-08:00 is 12 hours); equal to `start` is one 24-hour shift."),
    });
    auto calendar = std::make_shared<core::ConfigSchema>(std::vector<FieldSpec>{
        FieldSpec::make("time_zone", FieldType::String)
            .req()
            .doc("The IANA zone of the plant's wall clock, such as Asia/Shanghai."),
        FieldSpec::make("shifts", FieldType::ObjectList)
            .req()
            .fields(shift)
            .doc("The shifts of a day: they never overlap and together cover the 24-hour day."),
        FieldSpec::make("rest_days", FieldType::StringList).doc("Weekdays without work, `monday` .. `sunday`."),
        FieldSpec::make("holidays", FieldType::StringMap)
            .doc("`\"YYYY-MM-DD\"` to a day type (NORMAL, OT, REST, HOLIDAY); overrides the weekday rule."),
    });
    return core::ConfigSchema({FieldSpec::make("calendars", FieldType::ObjectMap)
                                   .req()
                                   .fields(calendar)
                                   .doc("Calendar name to calendar; the only top-level key.")});
  }();
  return schema;
}

std::expected<std::shared_ptr<const Calendars>, diag::Diagnostics> loadCalendars(const std::filesystem::path& file) {
  Loader loader(file);
  auto text = files::readRegularFile(file, files::kMaxConfigBytes, "the calendars file");
  if (!text) {
    loader.diagnostics.add(core::SourceLocation{file.string(), 0, 0, ""}, text.error().message);
    return std::unexpected(std::move(loader.diagnostics));
  }
  loader.diagnostics.addSource(file.string(), *text);
  auto calendars = std::make_shared<Calendars>();
  try {
    const YAML::Node root = YAML::Load(*text);
    schema::reportDuplicateKeys(root, file.string(), loader.diagnostics);
    // The structure by the schema, then the meaning of the values.
    schema::SecretResolver secrets;
    schema::ValidationContext context{file.string(), nullptr, &secrets, &loader.diagnostics};
    schema::validateObject(root, calendarsFileSchema(), "", context);
    const YAML::Node all = root.IsMap() ? root["calendars"] : YAML::Node();
    if (all.IsDefined() && all.IsMap() && all.size() == 0) {
      loader.error(all, "calendars", "'calendars' names no calendar",
                   "e.g. calendars: {plant-01: {time_zone: Asia/Shanghai, shifts: [...]}}");
    } else if (all.IsDefined() && all.IsMap()) {
      for (auto it = all.begin(); it != all.end(); ++it) {
        std::string name = it->first.Scalar();
        if (!it->second.IsMap()) continue;  // reported by the schema
        auto calendar = loader.calendar(name, it->second);
        if (calendar) calendars->by_name.emplace(name, std::move(*calendar));
      }
    }
  } catch (const YAML::Exception& e) {
    loader.diagnostics.add(core::SourceLocation{file.string(), e.mark.line + 1, e.mark.column + 1, ""}, "YAML: " + e.msg);
  }
  if (!loader.diagnostics.empty()) return std::unexpected(std::move(loader.diagnostics));
  return std::shared_ptr<const Calendars>(std::move(calendars));
}

}  // namespace dutybridge::calendar
