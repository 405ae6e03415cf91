// Plant calendars: shift patterns, night shifts across midnight, DST in Europe/Berlin, day
// types, period ids and bounds, and every load error with its location.

#include "src/calendar/calendar.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/schema/schema_doc.h"

using namespace dutybridge;
using namespace dutybridge::calendar;

namespace {

core::Timestamp ts(const char* text) { return *core::parseTimestamp(text); }
core::Date day(const char* text) { return *core::parseDate(text); }

std::filesystem::path writeFile(const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge-calendar-test-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto file = dir / "calendars.yaml";
  std::ofstream(file) << text;
  return file;
}

std::shared_ptr<const Calendars> load(const std::string& text) {
  auto loaded = loadCalendars(writeFile(text));
  if (!loaded) FAIL(loaded.error().format());
  return *loaded;
}

// The one diagnostic a broken file produces, as "line:column: message | hint".
std::vector<std::string> errors(const std::string& text) {
  auto loaded = loadCalendars(writeFile(text));
  REQUIRE_FALSE(loaded.has_value());
  std::vector<std::string> out;
  for (const auto& d : loaded.error().items()) {
    out.push_back(std::to_string(d.location.line) + ":" + std::to_string(d.location.column) + ": " + d.message +
                  (d.hint.empty() ? "" : " | " + d.hint) + (d.location.path.empty() ? "" : " @ " + d.location.path));
  }
  return out;
}

const char* kPlants = R"(calendars:
  plant-01:
    time_zone: Asia/Shanghai
    shifts:
      - {code: A, start: "08:00", end: "16:00"}
      - {code: B, start: "16:00", end: "24:00"}
      - {code: C, start: "00:00", end: "08:00"}
    rest_days: [saturday, sunday]
    holidays: {"2025-05-01": HOLIDAY, "2025-01-26": NORMAL, "2025-10-11": OT, "2025-03-12": REST}
  plant-02:
    time_zone: Europe/Berlin
    shifts:
      - {code: D, start: "08:00", end: "20:00"}
      - {code: N, start: "20:00", end: "08:00"}
  odd-hours:
    time_zone: Europe/Berlin
    shifts:
      - {code: X, start: "02:30", end: "14:30"}
      - {code: Y, start: "14:30", end: "02:30"}
)";

const Calendar& plant(const char* name) {
  static auto calendars = load(kPlants);
  const Calendar* c = calendars->find(name);
  REQUIRE(c);
  return *c;
}

void checkShift(const Calendar& c, const char* instant, const char* shift_date, const char* code, const char* start,
                const char* end) {
  INFO(c.name() << " at " << instant);
  auto shift = c.shiftOf(ts(instant));
  REQUIRE(shift);
  CHECK(core::formatDate(shift->shift_date) == shift_date);
  CHECK(shift->shift_code == code);
  CHECK(core::formatTimestamp(shift->start) == start);
  CHECK(core::formatTimestamp(shift->end) == end);
}

double hours(const ShiftInstance& s) { return static_cast<double>(s.end.micros - s.start.micros) / 3.6e9; }

}  // namespace

TEST_CASE("3x8 shifts in Asia/Shanghai: C at 00:00 belongs to the date it starts on", "[calendar]") {
  const Calendar& c = plant("plant-01");
  CHECK(c.timeZone() == "Asia/Shanghai");
  // Local 2025-03-15 00:00 (+08:00) is 2025-03-14T16:00Z: C of the 15th.
  checkShift(c, "2025-03-14T16:00:00Z", "2025-03-15", "C", "2025-03-14T16:00:00Z", "2025-03-15T00:00:00Z");
  checkShift(c, "2025-03-14T23:59:59.999999Z", "2025-03-15", "C", "2025-03-14T16:00:00Z", "2025-03-15T00:00:00Z");
  checkShift(c, "2025-03-15T00:00:00Z", "2025-03-15", "A", "2025-03-15T00:00:00Z", "2025-03-15T08:00:00Z");
  checkShift(c, "2025-03-15T08:00:00Z", "2025-03-15", "B", "2025-03-15T08:00:00Z", "2025-03-15T16:00:00Z");
  // The last instant of B on the 14th (local 23:59:59) is still the 14th.
  checkShift(c, "2025-03-14T15:59:59Z", "2025-03-14", "B", "2025-03-14T08:00:00Z", "2025-03-14T16:00:00Z");
  auto bounds = c.periodBounds(PeriodType::Day, day("2025-03-15"), "");
  REQUIRE(bounds);
  CHECK(core::formatTimestamp(bounds->start) == "2025-03-14T16:00:00Z");
  CHECK(core::formatTimestamp(bounds->end) == "2025-03-15T16:00:00Z");
}

TEST_CASE("2x12 shifts: the night shift crosses midnight and keeps its start date", "[calendar]") {
  const Calendar& c = plant("plant-02");
  // Europe/Berlin is +01:00 in March before the 30th.
  checkShift(c, "2025-03-14T19:00:00Z", "2025-03-14", "N", "2025-03-14T19:00:00Z", "2025-03-15T07:00:00Z");
  checkShift(c, "2025-03-14T23:30:00Z", "2025-03-14", "N", "2025-03-14T19:00:00Z", "2025-03-15T07:00:00Z");
  checkShift(c, "2025-03-15T06:59:59Z", "2025-03-14", "N", "2025-03-14T19:00:00Z", "2025-03-15T07:00:00Z");
  checkShift(c, "2025-03-15T07:00:00Z", "2025-03-15", "D", "2025-03-15T07:00:00Z", "2025-03-15T19:00:00Z");
  // Just after local midnight, before the day shift: still the previous date's night shift.
  checkShift(c, "2025-03-15T00:00:00Z", "2025-03-14", "N", "2025-03-14T19:00:00Z", "2025-03-15T07:00:00Z");
  REQUIRE(c.shifts().size() == 2);
  CHECK(c.shifts()[0].code == "D");
}

TEST_CASE("Europe/Berlin DST: the night shift lasts 11 h in spring and 13 h in autumn", "[calendar]") {
  const Calendar& c = plant("plant-02");
  SECTION("spring forward, 2025-03-30 02:00 CET -> 03:00 CEST") {
    checkShift(c, "2025-03-30T00:59:59Z", "2025-03-29", "N", "2025-03-29T19:00:00Z", "2025-03-30T06:00:00Z");
    checkShift(c, "2025-03-30T01:00:00Z", "2025-03-29", "N", "2025-03-29T19:00:00Z", "2025-03-30T06:00:00Z");
    checkShift(c, "2025-03-30T06:00:00Z", "2025-03-30", "D", "2025-03-30T06:00:00Z", "2025-03-30T18:00:00Z");
    auto n = c.shiftOf(ts("2025-03-30T02:00:00Z"));
    REQUIRE(n);
    CHECK(hours(*n) == 11.0);
    auto d = c.shiftOf(ts("2025-03-30T12:00:00Z"));
    REQUIRE(d);
    CHECK(hours(*d) == 12.0);
    auto bounds = c.periodBounds(PeriodType::Shift, day("2025-03-29"), "N");
    REQUIRE(bounds);
    CHECK(bounds->end.micros - bounds->start.micros == 11 * 3'600'000'000LL);
    // DAY 2025-03-29 is 23 h: 08:00 CET to 08:00 CEST.
    auto whole_day = c.periodBounds(PeriodType::Day, day("2025-03-29"), "");
    REQUIRE(whole_day);
    CHECK(whole_day->end.micros - whole_day->start.micros == 23 * 3'600'000'000LL);
  }
  SECTION("fall back, 2025-10-26 03:00 CEST -> 02:00 CET") {
    checkShift(c, "2025-10-25T18:00:00Z", "2025-10-25", "N", "2025-10-25T18:00:00Z", "2025-10-26T07:00:00Z");
    // 02:30 local happens twice: 00:30Z (CEST) and 01:30Z (CET); both are in the same night shift.
    checkShift(c, "2025-10-26T00:30:00Z", "2025-10-25", "N", "2025-10-25T18:00:00Z", "2025-10-26T07:00:00Z");
    checkShift(c, "2025-10-26T01:30:00Z", "2025-10-25", "N", "2025-10-25T18:00:00Z", "2025-10-26T07:00:00Z");
    checkShift(c, "2025-10-26T07:00:00Z", "2025-10-26", "D", "2025-10-26T07:00:00Z", "2025-10-26T19:00:00Z");
    auto n = c.shiftOf(ts("2025-10-26T01:00:00Z"));
    REQUIRE(n);
    CHECK(hours(*n) == 13.0);
  }
}

TEST_CASE("shift boundaries inside the DST gap or the repeated hour resolve deterministically", "[calendar]") {
  const Calendar& c = plant("odd-hours");
  // 02:30 does not exist on 2025-03-30: X starts when the clocks jump (03:00 CEST = 01:00Z).
  checkShift(c, "2025-03-30T00:59:59Z", "2025-03-29", "Y", "2025-03-29T13:30:00Z", "2025-03-30T01:00:00Z");
  checkShift(c, "2025-03-30T01:00:00Z", "2025-03-30", "X", "2025-03-30T01:00:00Z", "2025-03-30T12:30:00Z");
  // 02:30 happens twice on 2025-10-26: X starts at the first one (CEST, 00:30Z); the second pass
  // through 02:00-03:00 (01:00Z-02:00Z) is inside X.
  checkShift(c, "2025-10-26T00:29:59Z", "2025-10-25", "Y", "2025-10-25T12:30:00Z", "2025-10-26T00:30:00Z");
  checkShift(c, "2025-10-26T00:30:00Z", "2025-10-26", "X", "2025-10-26T00:30:00Z", "2025-10-26T13:30:00Z");
  checkShift(c, "2025-10-26T01:15:00Z", "2025-10-26", "X", "2025-10-26T00:30:00Z", "2025-10-26T13:30:00Z");
}

TEST_CASE("consecutive shifts tile the timeline through a whole year", "[calendar]") {
  for (const char* name : {"plant-01", "plant-02", "odd-hours"}) {
    const Calendar& c = plant(name);
    auto current = c.shiftOf(ts("2025-01-01T00:00:00Z"));
    REQUIRE(current);
    int shifts = 0;
    while (current->start < ts("2026-01-01T00:00:00Z")) {
      auto next = c.shiftOf(current->end);
      REQUIRE(next);
      INFO(name << " " << core::formatDate(current->shift_date) << "/" << current->shift_code);
      REQUIRE(next->start == current->end);
      REQUIRE(current->end > current->start);
      auto again = c.periodBounds(PeriodType::Shift, current->shift_date, current->shift_code);
      REQUIRE(again);
      REQUIRE(again->start == current->start);
      REQUIRE(again->end == current->end);
      current = next;
      ++shifts;
    }
    CHECK(shifts >= 365 * 2);
  }
}

TEST_CASE("day types: rest days, holidays, make-up working days and overtime days", "[calendar]") {
  const Calendar& c = plant("plant-01");
  CHECK(c.dayType(day("2025-03-14")) == "NORMAL");   // Friday
  CHECK(c.dayType(day("2025-03-15")) == "REST");     // Saturday
  CHECK(c.dayType(day("2025-03-16")) == "REST");     // Sunday
  CHECK(c.dayType(day("2025-05-01")) == "HOLIDAY");  // Thursday, holiday
  CHECK(c.dayType(day("2025-01-26")) == "NORMAL");   // Sunday, make-up working day
  CHECK(c.dayType(day("2025-10-11")) == "OT");       // Saturday worked as overtime
  CHECK(c.dayType(day("2025-03-12")) == "REST");     // Wednesday declared a rest day
  CHECK(plant("plant-02").dayType(day("2025-03-15")) == "NORMAL");  // no rest days configured
  // The day type of a shift is its shift_date's: C of 2025-05-01 starts at local 00:00 on the 1st.
  auto shift = c.shiftOf(ts("2025-04-30T16:30:00Z"));
  REQUIRE(shift);
  CHECK(shift->shift_code == "C");
  CHECK(shift->day_type == "HOLIDAY");
  // B of 2025-04-30 ends at local midnight: a normal Wednesday.
  shift = c.shiftOf(ts("2025-04-30T15:59:00Z"));
  REQUIRE(shift);
  CHECK(shift->day_type == "NORMAL");
}

TEST_CASE("period ids", "[calendar]") {
  CHECK(periodId(PeriodType::Shift, day("2025-03-14"), "N") == "2025-03-14/N");
  CHECK(periodId(PeriodType::Day, day("2025-03-14"), "N") == "2025-03-14");
  CHECK(periodId(PeriodType::Week, day("2025-03-14"), "") == "2025-W11");
  CHECK(periodId(PeriodType::Month, day("2025-03-14"), "") == "2025-03");
  // ISO weeks at the year boundary: the week with the year's first Thursday is week 1.
  CHECK(periodId(PeriodType::Week, day("2024-12-29"), "") == "2024-W52");
  CHECK(periodId(PeriodType::Week, day("2024-12-30"), "") == "2025-W01");
  CHECK(periodId(PeriodType::Week, day("2025-01-05"), "") == "2025-W01");
  CHECK(periodId(PeriodType::Week, day("2021-01-03"), "") == "2020-W53");
  CHECK(periodId(PeriodType::Week, day("2026-12-31"), "") == "2026-W53");
  CHECK(parsePeriodType("SHIFT") == PeriodType::Shift);
  CHECK(parsePeriodType("DAY") == PeriodType::Day);
  CHECK(parsePeriodType("WEEK") == PeriodType::Week);
  CHECK(parsePeriodType("MONTH") == PeriodType::Month);
  CHECK_FALSE(parsePeriodType("day"));
  CHECK_FALSE(parsePeriodType("YEAR"));
  CHECK(toString(PeriodType::Week) == "WEEK");
}

TEST_CASE("period bounds are built from shift dates", "[calendar]") {
  auto bounds = [](const Calendar& c, PeriodType type, const char* shift_date, const char* code) {
    auto b = c.periodBounds(type, day(shift_date), code);
    REQUIRE(b);
    return core::formatTimestamp(b->start) + " " + core::formatTimestamp(b->end);
  };
  const Calendar& berlin = plant("plant-02");
  CHECK(bounds(berlin, PeriodType::Shift, "2025-03-14", "N") == "2025-03-14T19:00:00Z 2025-03-15T07:00:00Z");
  CHECK(bounds(berlin, PeriodType::Shift, "2025-03-14", "D") == "2025-03-14T07:00:00Z 2025-03-14T19:00:00Z");
  CHECK(bounds(berlin, PeriodType::Day, "2025-03-14", "") == "2025-03-14T07:00:00Z 2025-03-15T07:00:00Z");
  // Monday 2025-03-10 08:00 CET to Monday 2025-03-17 08:00 CET.
  CHECK(bounds(berlin, PeriodType::Week, "2025-03-14", "") == "2025-03-10T07:00:00Z 2025-03-17T07:00:00Z");
  // The week of the spring change ends an hour earlier (CEST).
  CHECK(bounds(berlin, PeriodType::Week, "2025-03-30", "") == "2025-03-24T07:00:00Z 2025-03-31T06:00:00Z");
  // March: 1st 08:00 CET to 1 April 08:00 CEST; the last night shift of 31 March is inside.
  CHECK(bounds(berlin, PeriodType::Month, "2025-03-14", "") == "2025-03-01T07:00:00Z 2025-04-01T06:00:00Z");
  CHECK(bounds(berlin, PeriodType::Month, "2024-02-10", "") == "2024-02-01T07:00:00Z 2024-03-01T07:00:00Z");
  const Calendar& shanghai = plant("plant-01");
  // shift_date 2025-01-01 is in ISO week 2025-W01, Monday 2024-12-30 to Sunday 2025-01-05.
  CHECK(bounds(shanghai, PeriodType::Week, "2025-01-01", "") == "2024-12-29T16:00:00Z 2025-01-05T16:00:00Z");
  CHECK(bounds(shanghai, PeriodType::Shift, "2025-03-15", "C") == "2025-03-14T16:00:00Z 2025-03-15T00:00:00Z");
  CHECK(bounds(shanghai, PeriodType::Month, "2025-12-31", "") == "2025-11-30T16:00:00Z 2025-12-31T16:00:00Z");

  auto unknown = berlin.periodBounds(PeriodType::Shift, day("2025-03-14"), "C");
  REQUIRE_FALSE(unknown);
  CHECK(unknown.error().kind == core::ErrorKind::Permanent);
  CHECK(unknown.error().message == "calendar 'plant-02' has no shift 'C'");
  auto far = berlin.periodBounds(PeriodType::Day, day("1850-01-01"), "");
  REQUIRE_FALSE(far);
  CHECK(far.error().message == "date outside the calendar's range (years 1900 to 9999)");
  CHECK_FALSE(berlin.shiftOf(core::Timestamp{INT64_MAX}));
  CHECK_FALSE(berlin.shiftOf(core::Timestamp{INT64_MIN}));
}

TEST_CASE("the shipped config/calendars.yaml loads", "[calendar]") {
  auto loaded = loadCalendars(DUTYBRIDGE_SOURCE_DIR "/config/calendars.yaml");
  if (!loaded) FAIL(loaded.error().format());
  CHECK((*loaded)->names() == std::vector<std::string>{"plant-01", "plant-01-12h", "plant-02"});
}

TEST_CASE("calendar load errors: each with its message and location", "[calendar]") {
  SECTION("overlapping shifts") {
    CHECK(errors(R"(calendars:
  p:
    time_zone: UTC
    shifts:
      - {code: A, start: "08:00", end: "17:00"}
      - {code: B, start: "16:00", end: "08:00"}
)") == std::vector<std::string>{"6:9: shift 'B' (16:00-08:00) overlaps shift 'A' (08:00-17:00) | shifts never overlap: "
                                 "each one starts where another ends @ calendars.p.shifts[1]"});
  }
  SECTION("a gap between shifts") {
    CHECK(errors(R"(calendars:
  p:
    time_zone: UTC
    shifts:
      - {code: A, start: "08:00", end: "16:00"}
      - {code: B, start: "17:00", end: "08:00"}
)") == std::vector<std::string>{"5:7: no shift covers 16:00-17:00 | the shifts must cover the whole 24-hour day: "
                                 "every shift starts where another ends @ calendars.p.shifts"});
  }
  SECTION("a gap at midnight") {
    CHECK(errors(R"(calendars:
  p:
    time_zone: UTC
    shifts:
      - {code: A, start: "08:00", end: "16:00"}
      - {code: B, start: "16:00", end: "23:00"}
      - {code: C, start: "00:00", end: "08:00"}
)") == std::vector<std::string>{"5:7: no shift covers 23:00-24:00 | the shifts must cover the whole 24-hour day: "
                                 "every shift starts where another ends @ calendars.p.shifts"});
  }
  SECTION("an unknown time zone") {
    CHECK(errors(R"(calendars:
  p:
    time_zone: Asia/Shangai
    shifts: [{code: D, start: "00:00", end: "24:00"}]
)") == std::vector<std::string>{
               "3:16: unknown time zone 'Asia/Shangai' | did you mean 'Asia/Shanghai'? @ calendars.p.time_zone"});
  }
  SECTION("a missing time zone") {
    CHECK(errors(R"(calendars:
  p:
    shifts: [{code: D, start: "00:00", end: "24:00"}]
)") == std::vector<std::string>{"3:5: missing required key 'time_zone' (string) | The IANA zone of the plant's "
                                "wall clock, such as Asia/Shanghai. @ calendars.p"});
  }
  SECTION("bad times") {
    CHECK(errors(R"(calendars:
  p:
    time_zone: UTC
    shifts:
      - {code: A, start: "8:00", end: "16:00"}
      - {code: B, start: "16:00", end: "24:30"}
      - {code: C, start: "24:00", end: "08:00"}
      - {code: E, end: "08:00"}
      - {start: "08:00", end: "08:00"}
)") == std::vector<std::string>{
           // What the schema finds (missing keys) first, then what the values mean.
           "8:9: missing required key 'start' (string) | Start in local wall time, \"HH:MM\" from 00:00 to "
           "23:59 (quote it: YAML reads 08:00 unquoted as a number in some versions). @ calendars.p.shifts[3]",
           "9:9: missing required key 'code' (string) | The shift's code, unique in its calendar, without '/', "
           "'|' or spaces (it is part of period ids such as 2025-03-14/N and of fact keys). @ "
           "calendars.p.shifts[4]",
           "5:26: bad time '8:00' | write HH:MM from 00:00 to 23:59 (local wall time; quote it: \"08:00\") @ "
           "calendars.p.shifts[0].start",
           "6:40: bad time '24:30' | write HH:MM from 00:00 to 24:00 (local wall time; quote it: \"08:00\") @ "
           "calendars.p.shifts[1].end",
           "7:26: bad time '24:00' | write HH:MM from 00:00 to 23:59 (local wall time; quote it: \"08:00\") @ "
           "calendars.p.shifts[2].start"});
  }
  SECTION("unknown keys") {
    CHECK(errors(R"(calendar:
  p: {}
)") == std::vector<std::string>{"1:1: unknown key 'calendar' | did you mean 'calendars'? @ calendar",
                                "1:1: missing required key 'calendars' (map of objects) | Calendar name to calendar; "
                                "the only top-level key."});
    CHECK(errors("calendars: {}\n") ==
          std::vector<std::string>{"1:12: 'calendars' names no calendar | e.g. calendars: {plant-01: {time_zone: "
                                   "Asia/Shanghai, shifts: [...]}} @ calendars"});
    CHECK(errors("calendars: [plant-01]\n") ==
          std::vector<std::string>{"1:12: 'calendars' must map names to their settings, found a list @ calendars"});
    CHECK(errors(R"(calendars:
  p:
    time_zone: UTC
    timezone: UTC
    shifts:
      - {code: D, start: "00:00", end: "24:00", begin: "00:00"}
)") == std::vector<std::string>{"4:5: unknown key 'timezone' | did you mean 'time_zone'? @ calendars.p.timezone",
                                 "6:49: unknown key 'begin' | known keys: code, start, end @ calendars.p.shifts[0].begin"});
  }
  SECTION("rest days, holidays and shift codes") {
    CHECK(errors(R"(calendars:
  p:
    time_zone: UTC
    shifts:
      - {code: D, start: "08:00", end: "20:00"}
      - {code: D, start: "20:00", end: "08:00"}
      - {code: "N/2", start: "08:00", end: "08:00"}
    rest_days: [saturday, sundy]
    holidays: {"2025-02-30": HOLIDAY, "2025-05-01": HOLYDAY}
)") == std::vector<std::string>{
               "6:16: shift code 'D' is defined twice @ calendars.p.shifts[1].code",
               "7:16: shift code 'N/2' must not contain '/', '|' or spaces | shift codes are part of period ids "
               "(2025-03-14/N) and fact keys @ calendars.p.shifts[2].code",
               "8:27: unknown weekday 'sundy' | did you mean 'sunday'? @ calendars.p.rest_days[1]",
               "9:16: bad date '2025-02-30' | write YYYY-MM-DD @ calendars.p.holidays.2025-02-30",
               "9:53: unknown day type 'HOLYDAY' | did you mean 'HOLIDAY'? @ calendars.p.holidays.2025-05-01"});
  }
  SECTION("no shifts, YAML syntax") {
    CHECK(errors(R"(calendars:
  p:
    time_zone: UTC
)") == std::vector<std::string>{
           "3:5: missing required key 'shifts' (list of objects) | The shifts of a day: they never overlap and "
           "together cover the 24-hour day. @ calendars.p"});
    CHECK(errors(R"(calendars:
  p:
    time_zone: UTC
    shifts: []
    holidays: [2025-05-01]
)") == std::vector<std::string>{
           "5:15: 'holidays' must be a mapping of names to values, found a list @ calendars.p.holidays",
           "4:13: calendar 'p' has no shifts | a list of {code, start, end} covering the day @ calendars.p.shifts"});
    CHECK(errors("calendars: {p: [\n") ==
          std::vector<std::string>{"2:1: YAML: end of sequence flow not found"});
  }
  SECTION("the formatted report quotes the line with a caret") {
    auto loaded = loadCalendars(writeFile("calendars:\n  p:\n    time_zone: Europe/Berln\n    shifts: [{code: D, start: \"00:00\", end: \"24:00\"}]\n"));
    REQUIRE_FALSE(loaded);
    std::string text = loaded.error().format();
    CHECK(text.find("calendars.yaml:3:16: error: unknown time zone 'Europe/Berln' (at calendars.p.time_zone)\n"
                    " 3 |     time_zone: Europe/Berln\n"
                    "   |                ^~~~~~~~~~~~\n"
                    "  hint: did you mean 'Europe/Berlin'?\n") != std::string::npos);
  }
}

TEST_CASE("docs/calendars.md's key table is the schema the loader checks", "[calendar][docs]") {
  // DUTYBRIDGE_UPDATE_DOCS=1 rewrites the table between the markers instead of comparing.
  const auto file = std::filesystem::path(DUTYBRIDGE_SOURCE_DIR) / "docs/calendars.md";
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  std::string doc = text.str();
  const std::string begin = "<!-- keys: generated from calendarsFileSchema() -->\n";
  const std::string end = "<!-- end of generated keys -->";
  const size_t from = doc.find(begin);
  const size_t to = doc.find(end);
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  const std::string expected = schema::markdownKeyTable(calendarsFileSchema());
  if (const char* update = std::getenv("DUTYBRIDGE_UPDATE_DOCS"); update && std::string(update) == "1") {
    doc.replace(from + begin.size(), to - from - begin.size(), expected);
    std::ofstream(file) << doc;
    return;
  }
  INFO("run with DUTYBRIDGE_UPDATE_DOCS=1 to regenerate it");
  CHECK(doc.substr(from + begin.size(), to - from - begin.size()) == expected);
}
