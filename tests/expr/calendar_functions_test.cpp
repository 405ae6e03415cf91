// The calendar functions of the expression language (src/expr/calendar_functions.cpp),
// against the shipped config/calendars.yaml: plant-01 (Asia/Shanghai, 3x8) and plant-02
// (Europe/Berlin, 2x12).

#include <catch2/catch.hpp>

#include "src/calendar/calendar.h"
#include "src/core/time.h"
#include "tests/expr/expr_harness.h"

using namespace dutybridge;
using namespace dutybridge::expr;
using core::Value;
using testing::Harness;
using Kind = Type::Kind;

namespace {

std::string ts(const Value& v) { return core::formatTimestamp(v.asTimestamp()); }

void withCalendars(Harness& h) {
  auto loaded = calendar::loadCalendars(DUTYBRIDGE_SOURCE_DIR "/config/calendars.yaml");
  if (!loaded) FAIL(loaded.error().format());
  h.env.calendars = *loaded;
}

}  // namespace

TEST_CASE("shift_of returns a typed shift record", "[mapping][functions][calendar]") {
  Harness h;
  withCalendars(h);
  h.field("t", "timestamp", Value(*core::parseTimestamp("2025-03-14T23:30:00Z")));
  h.field("maybe", "timestamp?", Value());
  auto shift = h.value("shift_of('plant-02', t)");
  REQUIRE(shift.type() == core::ValueType::Map);
  REQUIRE(shift.asMap().size() == 5);
  CHECK(core::formatDate(shift.find("shift_date")->asDate()) == "2025-03-14");
  CHECK(shift.find("shift_code")->asString() == "N");
  CHECK(ts(*shift.find("start")) == "2025-03-14T19:00:00Z");
  CHECK(ts(*shift.find("end")) == "2025-03-15T07:00:00Z");
  CHECK(shift.find("day_type")->asString() == "NORMAL");
  CHECK(h.type("shift_of('plant-02', t)").kind == Kind::Map);
  CHECK(h.type("shift_of('plant-02', t).shift_date") == Type{Kind::Date, false});
  CHECK(h.type("shift_of('plant-02', t).shift_code") == Type{Kind::String, false});
  CHECK(h.type("shift_of('plant-02', t).start") == Type{Kind::Timestamp, false});
  CHECK(h.type("shift_of('plant-02', t).end") == Type{Kind::Timestamp, false});
  CHECK(h.type("shift_of('plant-02', t).day_type") == Type{Kind::String, false});
  CHECK(h.type("shift_of('plant-02', maybe).shift_date") == Type{Kind::Date, true});
  CHECK(h.type("shift_of('plant-02', t)!.shift_date") == Type{Kind::Date, false});
  // A typed member works with the operators: a date plus whole days.
  CHECK(core::formatDate(h.value("shift_of('plant-02', t).shift_date + 1d").asDate()) == "2025-03-15");
  CHECK(h.value("shift_of('plant-02', maybe)").isNull());
  CHECK(h.value("shift_of('plant-02', maybe).shift_date").isNull());

  auto unknown = h.errors("shift_of('plant-02', t).shift_dat");
  CHECK_THAT(unknown, Catch::Contains("a shift has no field 'shift_dat'"));
  CHECK_THAT(unknown, Catch::Contains("did you mean 'shift_date'?"));
  CHECK_THAT(h.errors("shift_of('plant-02', t).shift_date + 'x'"), Catch::Contains("cannot add date and string"));
}

TEST_CASE("shift_date, shift_code, shift_start, shift_end, day_type", "[mapping][functions][calendar]") {
  Harness h;
  withCalendars(h);
  // Local 2025-03-15 00:30 in Shanghai: the C shift of the 15th (a Saturday: REST).
  h.field("t", "timestamp", Value(*core::parseTimestamp("2025-03-14T16:30:00Z")));
  h.field("maybe", "timestamp?", Value());
  CHECK(core::formatDate(h.value("shift_date('plant-01', t)").asDate()) == "2025-03-15");
  CHECK(h.value("shift_code('plant-01', t)").asString() == "C");
  CHECK(ts(h.value("shift_start('plant-01', t)")) == "2025-03-14T16:00:00Z");
  CHECK(ts(h.value("shift_end('plant-01', t)")) == "2025-03-15T00:00:00Z");
  CHECK(h.value("day_type('plant-01', t)").asString() == "REST");
  CHECK(h.value("day_type('plant-01', @2025-05-01)").asString() == "HOLIDAY");
  CHECK(h.value("day_type('plant-01', @2025-01-26)").asString() == "NORMAL");
  CHECK(h.type("shift_date('plant-01', t)") == Type{Kind::Date, false});
  CHECK(h.type("shift_code('plant-01', maybe)") == Type{Kind::String, true});
  CHECK(h.value("shift_end('plant-01', maybe)").isNull());
  // Berlin, spring forward: the night shift of 2025-03-29 lasts 11 hours.
  CHECK(h.value("diff(shift_end('plant-02', @2025-03-30T02:00:00Z), shift_start('plant-02', @2025-03-30T02:00:00Z))")
            .asInt() == 11LL * 3'600'000'000);
  CHECK(h.value("diff(shift_end('plant-02', @2025-10-26T01:30:00Z), shift_start('plant-02', @2025-10-26T01:30:00Z))")
            .asInt() == 13LL * 3'600'000'000);
  // An instant outside the calendar's years is a located Permanent error (dead letter).
  auto far = h.eval("shift_code('plant-01', @1850-01-01T00:00:00Z)");
  REQUIRE_FALSE(far);
  CHECK(far.error().message == "expr.txt:1:1: shift_code: date outside the calendar's range (years 1900 to 9999)");
}

TEST_CASE("period_id, period_start, period_end", "[mapping][functions][calendar]") {
  Harness h;
  withCalendars(h);
  h.field("d", "date", Value(*core::parseDate("2025-03-14")));
  h.field("code", "string", Value("N"));
  h.field("no_code", "string?", Value());
  h.field("bad_code", "string", Value("X"));
  CHECK(h.value("period_id('SHIFT', d, code)").asString() == "2025-03-14/N");
  CHECK(h.value("period_id('DAY', d)").asString() == "2025-03-14");
  CHECK(h.value("period_id('WEEK', d)").asString() == "2025-W11");
  CHECK(h.value("period_id('WEEK', @2024-12-30)").asString() == "2025-W01");
  CHECK(h.value("period_id('MONTH', d, code)").asString() == "2025-03");
  // The shift code matters only for SHIFT: a null code does not make a DAY period null.
  CHECK(h.value("period_id('DAY', d, no_code)").asString() == "2025-03-14");
  CHECK(h.type("period_id('DAY', d, no_code)") == Type{Kind::String, false});
  CHECK(h.type("period_id('SHIFT', d, no_code)") == Type{Kind::String, true});
  CHECK(h.value("period_id('SHIFT', d, no_code)").isNull());

  CHECK(ts(h.value("period_start('plant-02', 'SHIFT', d, code)")) == "2025-03-14T19:00:00Z");
  CHECK(ts(h.value("period_end('plant-02', 'SHIFT', d, code)")) == "2025-03-15T07:00:00Z");
  CHECK(ts(h.value("period_start('plant-02', 'DAY', d)")) == "2025-03-14T07:00:00Z");
  CHECK(ts(h.value("period_end('plant-02', 'WEEK', d)")) == "2025-03-17T07:00:00Z");
  CHECK(ts(h.value("period_end('plant-02', 'MONTH', d)")) == "2025-04-01T06:00:00Z");
  CHECK(ts(h.value("period_start('plant-01', 'DAY', d)")) == "2025-03-13T16:00:00Z");
  CHECK(h.type("period_start('plant-01', 'DAY', d)") == Type{Kind::Timestamp, false});
  auto bad = h.eval("period_start('plant-02', 'SHIFT', d, bad_code)");
  REQUIRE_FALSE(bad);
  // The message names the calendar, not the record's value.
  CHECK(bad.error().message == "expr.txt:1:1: period_start: the shift code is not a shift of calendar 'plant-02'");
}

TEST_CASE("calendar names and period types are literals checked at load", "[mapping][functions][calendar]") {
  Harness h;
  withCalendars(h);
  h.field("t", "timestamp", Value(*core::parseTimestamp("2025-03-14T16:30:00Z")));
  h.field("d", "date", Value(*core::parseDate("2025-03-14")));
  h.field("name", "string", Value("plant-01"));
  auto unknown = h.errors("shift_of('plant-1', t)");
  CHECK_THAT(unknown, Catch::Contains("unknown calendar 'plant-1'"));
  CHECK_THAT(unknown, Catch::Contains("did you mean 'plant-01'?"));
  CHECK_THAT(h.errors("shift_of('factory', t)"), Catch::Contains("hint: calendars: plant-01, plant-01-12h, plant-02"));
  CHECK_THAT(h.errors("shift_code(name, t)"), Catch::Contains("the calendar name of shift_code must be a string literal"));
  CHECK_THAT(h.errors("shift_of('plant-01', d)"), Catch::Contains("argument 2 of shift_of must be a timestamp"));
  auto period = h.errors("period_id('day', d)");
  CHECK_THAT(period, Catch::Contains("unknown period type 'day'"));
  CHECK_THAT(period, Catch::Contains("did you mean 'DAY'?"));
  CHECK_THAT(h.errors("period_id('SHIFT', d)"), Catch::Contains("period_id of a SHIFT period needs the shift code"));
  CHECK_THAT(h.errors("period_end('plant-01', 'SHIFT', d)"),
             Catch::Contains("period_end of a SHIFT period needs the shift code"));
  CHECK_THAT(h.errors("period_start('plant-01', 'WEEK', t)"),
             Catch::Contains("argument 3 of period_start must be a date (the shift date)"));

  Harness none;  // a mapping without `calendars:`
  none.field("t", "timestamp", Value(*core::parseTimestamp("2025-03-14T16:30:00Z")));
  CHECK_THAT(none.errors("shift_of('plant-01', t)"),
             Catch::Contains("no calendars are configured: add calendars: ../config/calendars.yaml to the mapping"));
}
