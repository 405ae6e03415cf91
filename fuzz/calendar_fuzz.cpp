// libFuzzer target for shift calendars (calendars.yaml): YAML reading, zones, shift tiling,
// holidays, and then the questions the aggregation asks of every loaded calendar (which shift
// holds an instant, the bounds of each period type, the day type) at ordinary days, DST changes
// and the ends of the representable range (timestamps at INT64_MIN/MAX, dates at the days those
// reach, core::kMaxDateDays: no date the daemon makes or restores lies beyond). docs/fuzzing.md has the build and run commands.
//
// The input is a whole calendars file. Contracts besides sanitizer reports: a refused file says
// why; the shift found for an instant contains it; period bounds are not reversed.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "src/calendar/calendar.h"
#include "src/core/time.h"

namespace {

using dutybridge::calendar::PeriodType;
using dutybridge::core::Date;
using dutybridge::core::dateFromYmd;
using dutybridge::core::Timestamp;
using dutybridge::fuzz::contractBroken;

constexpr int64_t kHour = 3'600'000'000;

void ask(const dutybridge::calendar::Calendar& calendar) {
  const Timestamp instants[] = {
      Timestamp{1'741'939'200'000'000},            // 2025-03-14T08:00:00Z
      Timestamp{1'743'296'400'000'000},            // 2025-03-30T01:00:00Z, Europe's spring change
      Timestamp{1'743'296'400'000'000 - 1},
      Timestamp{1'761'440'400'000'000},            // 2025-10-26T01:00:00Z, Europe's autumn change
      Timestamp{1'761'440'400'000'000 - kHour / 2},
      Timestamp{0},
      Timestamp{-62'135'596'800'000'000},          // 0001-01-01T00:00:00Z
      Timestamp{253'402'300'799'999'999},          // 9999-12-31T23:59:59.999999Z
      Timestamp{std::numeric_limits<int64_t>::min()},
      Timestamp{std::numeric_limits<int64_t>::max()},
  };
  for (Timestamp t : instants) {
    auto shift = calendar.shiftOf(t);
    if (!shift) continue;
    if (!(shift->start <= t && t < shift->end)) contractBroken("shiftOf returned a shift that does not hold the instant");
    if (!calendar.findShift(shift->shift_code)) contractBroken("shiftOf returned an unknown shift code");
    (void)calendar.dayType(shift->shift_date);
    // Hour slots tile the shift; the instant's slot holds it; the neighbours touch it.
    auto slots = dutybridge::calendar::hourSlots(*shift);
    if (slots.empty() || slots.front().start != shift->start || slots.back().end != shift->end) {
      contractBroken("hour slots do not cover their shift");
    }
    for (size_t i = 1; i < slots.size(); ++i) {
      if (slots[i].start != slots[i - 1].end) contractBroken("hour slots leave a gap");
    }
    int hour = dutybridge::calendar::hourOf(*shift, t);
    if (hour < 1 || static_cast<size_t>(hour) > slots.size() ||
        !(slots[hour - 1].start <= t && t < slots[hour - 1].end)) {
      contractBroken("hourOf returned a slot that does not hold the instant");
    }
    if (auto before = calendar.shiftBefore(*shift); before && before->end != shift->start) {
      contractBroken("shiftBefore does not end where the shift starts");
    }
    if (auto after = calendar.shiftAfter(*shift); after && after->start != shift->end) {
      contractBroken("shiftAfter does not start where the shift ends");
    }
  }
  const Date dates[] = {dateFromYmd(2025, 3, 14), dateFromYmd(2025, 3, 30), dateFromYmd(2025, 10, 26),
                        dateFromYmd(2024, 2, 29), dateFromYmd(1970, 1, 1),  dateFromYmd(1, 1, 1),
                        dateFromYmd(9999, 12, 31), Date{-static_cast<int32_t>(dutybridge::core::kMaxDateDays)},
                        Date{static_cast<int32_t>(dutybridge::core::kMaxDateDays)}};
  for (Date day : dates) {
    (void)calendar.dayType(day);
    for (PeriodType type : {PeriodType::Day, PeriodType::Week, PeriodType::Month}) {
      auto bounds = calendar.periodBounds(type, day, "");
      if (bounds && bounds->end < bounds->start) contractBroken("period bounds end before they start");
      (void)dutybridge::calendar::periodId(type, day, "");
    }
    for (const auto& definition : calendar.shifts()) {
      auto bounds = calendar.periodBounds(PeriodType::Shift, day, definition.code);
      if (bounds && bounds->end < bounds->start) contractBroken("shift bounds end before they start");
      (void)dutybridge::calendar::periodId(PeriodType::Shift, day, definition.code);
      for (int hour : {0, 1, 13, 26}) {
        auto slot = calendar.periodBounds(PeriodType::Hour, day, definition.code, hour);
        if (slot && (slot->end <= slot->start || slot->end.micros - slot->start.micros > 3'600'000'000)) {
          contractBroken("an hour slot is empty or longer than an hour");
        }
      }
      (void)dutybridge::calendar::periodId(PeriodType::Hour, day, definition.code, 1);
    }
    (void)calendar.periodBounds(PeriodType::Shift, day, "no-such-shift");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto file = dutybridge::fuzz::writeFile("calendars.yaml", std::string_view(reinterpret_cast<const char*>(data), size));
  auto calendars = dutybridge::calendar::loadCalendars(file);
  if (!calendars) {
    if (calendars.error().empty()) contractBroken("a refused calendars file without a diagnostic");
    (void)calendars.error().format();
    return 0;
  }
  for (const auto& [name, calendar] : (*calendars)->by_name) ask(calendar);
  return 0;
}
