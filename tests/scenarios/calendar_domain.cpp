// Calendar scenarios (tests/scenarios/calendar/*.test): plant calendars from inline YAML or a file
// of the repository, then shifts, day types, period ids and bounds asked of them.

#include <fmt/format.h>
#include <unistd.h>

#include <fstream>
#include <optional>

#include "src/calendar/calendar.h"
#include "tests/scenarios/scenario.h"

namespace dutybridge::scenarios {
namespace {

using calendar::PeriodType;

PeriodType periodType(const std::string& text) {
  auto type = calendar::parsePeriodType(text);
  if (!type) throw ScenarioError("bad period type '" + text + "' (SHIFT, DAY, WEEK, MONTH, HOUR)");
  return *type;
}

// "12h", "11h", "7.5h": the length of [start, end).
std::string hours(core::Timestamp start, core::Timestamp end) {
  int64_t micros = end.micros - start.micros;
  if (micros % 3'600'000'000 == 0) return fmt::format("{}h", micros / 3'600'000'000);
  return fmt::format("{}h", static_cast<double>(micros) / 3.6e9);
}

class CalendarDomain final : public Domain {
 public:
  explicit CalendarDomain(std::filesystem::path source_dir) : source_dir_(std::move(source_dir)) {}

  std::vector<std::string> run(const Step& step) override {
    const std::string& directive = step.words.at(0);
    if (directive == "calendars") return load(step);
    if (directive == "names") return {fmt::format("{}", fmt::join(calendars()->names(), " "))};
    if (directive == "use") {
      current_ = calendars()->find(step.word(1));
      if (!current_) throw ScenarioError("no calendar '" + step.word(1) + "' in the loaded file");
      return {};
    }
    if (directive == "shift_of") return shiftOf(step);
    if (directive == "day_type") {
      std::vector<std::string> out;
      for (size_t i = 1; i < step.words.size(); ++i) out.push_back(calendar().dayType(date(step.words[i])));
      return out;
    }
    if (directive == "bounds") return bounds(step);
    if (directive == "period_id") {
      return {calendar::periodId(periodType(step.word(1)), date(step.word(2)),
                                 step.words.size() > 3 ? step.words[3] : "",
                                 step.words.size() > 4 ? number(step.words[4]) : 0)};
    }
    if (directive == "hour_slots") return hourSlots(step);
    if (directive == "hour_of") return hourOf(step);
    if (directive == "shift_before" || directive == "shift_after") return neighbour(step, directive == "shift_before");
    if (directive == "period_type") {
      auto type = calendar::parsePeriodType(step.word(1));
      return {type ? std::string(calendar::toString(*type)) : "none"};
    }
    if (directive == "tile") return tile(step);
    if (directive == "time_zone") return {calendar().timeZone()};
    if (directive == "shifts") {
      // In start order: "<code> <HH:MM> <minutes>min".
      std::vector<std::string> out;
      for (const auto& s : calendar().shifts()) {
        out.push_back(
            fmt::format("{} {:02d}:{:02d} {}min", s.code, s.start_minute / 60, s.start_minute % 60, s.length_minutes));
      }
      return out;
    }
    throw ScenarioError("unknown directive '" + directive +
                        "' (calendars, names, use, time_zone, shifts, shift_of, day_type, bounds, period_id, "
                        "period_type, tile, hour_slots, hour_of, shift_before, shift_after)");
  }

 private:
  // calendars [file <path from the repository root>], or the YAML in the body.
  std::vector<std::string> load(const Step& step) {
    std::filesystem::path file;
    if (step.words.size() > 2 && step.words[1] == "file") {
      file = source_dir_ / step.words[2];
    } else {
      if (step.body.empty()) throw ScenarioError("'calendars' needs YAML lines below it, or 'calendars file <path>'");
      auto dir = std::filesystem::temp_directory_path() / fmt::format("dutybridge-scenario-{}", ::getpid());
      std::filesystem::create_directories(dir);
      file = dir / "calendars.yaml";
      std::ofstream out(file, std::ios::binary);
      for (const auto& line : step.body) out << line << "\n";
    }
    calendars_.reset();
    current_ = nullptr;
    auto loaded = calendar::loadCalendars(file);
    if (!loaded) {
      // One line a diagnostic: "line:column: message | hint @ path".
      std::vector<std::string> out;
      for (const auto& d : loaded.error().items()) {
        out.push_back(fmt::format("error {}:{}: {}{}{}", d.location.line, d.location.column, d.message,
                                  d.hint.empty() ? "" : " | " + d.hint,
                                  d.location.path.empty() ? "" : " @ " + d.location.path));
      }
      return out;
    }
    calendars_ = *loaded;
    if (calendars_->by_name.size() == 1) current_ = &calendars_->by_name.begin()->second;
    return {};
  }

  const calendar::Calendars* calendars() const {
    if (!calendars_) throw ScenarioError("no calendars loaded (a 'calendars' step first)");
    return calendars_.get();
  }
  const calendar::Calendar& calendar() const {
    if (!current_) throw ScenarioError("which calendar? ('use <name>' first)");
    return *current_;
  }

  // One line an instant: "<shift date>/<code> <start> <end> <length> <day type>".
  std::vector<std::string> shiftOf(const Step& step) {
    std::vector<std::string> out;
    for (size_t i = 1; i < step.words.size(); ++i) {
      auto shift = calendar().shiftOf(timestamp(step.words[i]));
      if (!shift) {
        out.push_back(errorLine(shift.error()));
        continue;
      }
      out.push_back(fmt::format("{}/{} {} {} {} {}", core::formatDate(shift->shift_date), shift->shift_code,
                                core::formatTimestamp(shift->start), core::formatTimestamp(shift->end),
                                hours(shift->start, shift->end), shift->day_type));
    }
    if (out.empty()) throw ScenarioError("'shift_of' needs one or more instants");
    return out;
  }

  static int number(const std::string& text) {
    try {
      size_t used = 0;
      int n = std::stoi(text, &used);
      if (used == text.size()) return n;
    } catch (const std::exception&) {
    }
    throw ScenarioError("bad number '" + text + "'");
  }

  static std::string shiftLine(const calendar::ShiftInstance& shift) {
    return fmt::format("{}/{} {} {} {} {}", core::formatDate(shift.shift_date), shift.shift_code,
                       core::formatTimestamp(shift.start), core::formatTimestamp(shift.end),
                       hours(shift.start, shift.end), shift.day_type);
  }

  // hour_slots <shift date> <code>: "<NN> <start> <end> <length>" a slot, then "<n> slots".
  std::vector<std::string> hourSlots(const Step& step) {
    auto slots = calendar().hourSlots(date(step.word(1)), step.word(2));
    if (!slots) return {errorLine(slots.error())};
    std::vector<std::string> out;
    for (size_t i = 0; i < slots->size(); ++i) {
      const auto& slot = (*slots)[i];
      out.push_back(fmt::format("{:02d} {} {} {}", i + 1, core::formatTimestamp(slot.start),
                                core::formatTimestamp(slot.end), hours(slot.start, slot.end)));
    }
    out.push_back(fmt::format("{} slots", slots->size()));
    return out;
  }

  // hour_of <instant> [<shift date> <code>]: the HOUR period id of the instant, in the shift that
  // contains it or in the given shift (clamped into it).
  std::vector<std::string> hourOf(const Step& step) {
    core::Timestamp at = timestamp(step.word(1));
    auto shift = step.words.size() > 3 ? calendar().shift(date(step.word(2)), step.word(3)) : calendar().shiftOf(at);
    if (!shift) return {errorLine(shift.error())};
    return {calendar::periodId(PeriodType::Hour, shift->shift_date, shift->shift_code, calendar::hourOf(*shift, at))};
  }

  // shift_before|shift_after <shift date> <code> [<n>]: n shifts (default 1) walked back or on,
  // one line each as shift_of prints them.
  std::vector<std::string> neighbour(const Step& step, bool before) {
    auto shift = calendar().shift(date(step.word(1)), step.word(2));
    if (!shift) return {errorLine(shift.error())};
    int n = step.words.size() > 3 ? number(step.words[3]) : 1;
    std::vector<std::string> out;
    for (int i = 0; i < n; ++i) {
      shift = before ? calendar().shiftBefore(*shift) : calendar().shiftAfter(*shift);
      if (!shift) return {errorLine(shift.error())};
      out.push_back(shiftLine(*shift));
    }
    return out;
  }

  // bounds <TYPE> <shift date> [<shift code> [<hour>]]: "<start> <end> <length>".
  std::vector<std::string> bounds(const Step& step) {
    auto b = calendar().periodBounds(periodType(step.word(1)), date(step.word(2)),
                                     step.words.size() > 3 ? step.words[3] : "",
                                     step.words.size() > 4 ? number(step.words[4]) : 0);
    if (!b) return {errorLine(b.error())};
    return {fmt::format("{} {} {}", core::formatTimestamp(b->start), core::formatTimestamp(b->end),
                        hours(b->start, b->end))};
  }

  // tile <from> <to>: walks shift by shift; every shift starts where the one before ended and
  // has the bounds periodBounds(SHIFT) gives it. Prints "<n> shifts" or the first break.
  std::vector<std::string> tile(const Step& step) {
    core::Timestamp from = timestamp(step.word(1)), to = timestamp(step.word(2));
    auto current = calendar().shiftOf(from);
    if (!current) return {errorLine(current.error())};
    int shifts = 0;
    while (current->start < to) {
      std::string name = core::formatDate(current->shift_date) + "/" + current->shift_code;
      auto next = calendar().shiftOf(current->end);
      if (!next) return {name + ": " + errorLine(next.error())};
      if (next->start != current->end) return {name + ": the next shift does not start at its end"};
      if (!(current->end > current->start)) return {name + ": empty"};
      auto again = calendar().periodBounds(PeriodType::Shift, current->shift_date, current->shift_code);
      if (!again) return {name + ": " + errorLine(again.error())};
      if (again->start != current->start || again->end != current->end) return {name + ": bounds differ"};
      current = next;
      ++shifts;
    }
    return {fmt::format("{} shifts", shifts)};
  }

  std::filesystem::path source_dir_;
  std::shared_ptr<const calendar::Calendars> calendars_;
  const calendar::Calendar* current_ = nullptr;
};

}  // namespace

std::unique_ptr<Domain> makeCalendarDomain(const std::filesystem::path& source_dir) {
  return std::make_unique<CalendarDomain>(source_dir);
}

}  // namespace dutybridge::scenarios
