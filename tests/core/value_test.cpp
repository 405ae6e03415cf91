#include <catch2/catch.hpp>

#include <limits>

#include "src/core/record.h"
#include "src/core/time.h"
#include "src/core/value.h"

using namespace dutybridge::core;

TEST_CASE("values report their type and convert exactly", "[core][value]") {
  CHECK(Value().isNull());
  CHECK(Value(int64_t{5}).type() == ValueType::Int);
  CHECK(Value("汉字").type() == ValueType::String);
  CHECK(*Value("12.500").toDecimal() == *Decimal::parse("12.5"));
  CHECK(*Value(int64_t{7}).toDecimal() == Decimal::fromInt(7));
  CHECK(*Value("42").toInt() == 42);
  CHECK_FALSE(Value("42x").toInt().has_value());
  CHECK_FALSE(Value(2.5).toInt().has_value());
  CHECK(*Value(2.0).toInt() == 2);
  CHECK_FALSE(Value(true).toTimestamp().has_value());
}

TEST_CASE("int and decimal compare by value", "[core][value]") {
  CHECK(Value(int64_t{1}) == Value(*Decimal::parse("1.000")));
  CHECK_FALSE(Value(int64_t{1}) == Value("1"));
  CHECK(Value(ValueList{Value(1), Value("a")}) == Value(ValueList{Value(1), Value("a")}));
  ValueMap m{{"k", Value(1)}};
  CHECK(Value(m).find("k")->asInt() == 1);
  CHECK(Value(m).find("x") == nullptr);
}

TEST_CASE("UTF-8 text survives unchanged", "[core][value]") {
  std::string text = "注塑车间 — ümlaut";
  CHECK(Value(text).asString() == text);
  CHECK(Value(text).toText() == text);
}

TEST_CASE("timestamps parse RFC 3339 and format as UTC", "[core][time]") {
  auto ts = parseTimestamp("2025-03-14T20:00:00.5+08:00");
  REQUIRE(ts);
  CHECK(formatTimestamp(*ts) == "2025-03-14T12:00:00.500000Z");
  CHECK(formatTimestamp(*parseTimestamp("1970-01-01T00:00:00Z")) == "1970-01-01T00:00:00Z");
  CHECK(parseTimestamp("2025-03-14 12:00:00.123456789Z")->micros % 1'000'000 == 123456);
  for (const char* bad : {"2025-03-14", "2025-02-30T00:00:00Z", "2025-03-14T12:00:00", "x"}) {
    INFO(bad);
    CHECK_FALSE(parseTimestamp(bad).has_value());
  }
  CHECK(formatTimestamp(Timestamp{-1}) == "1969-12-31T23:59:59.999999Z");
}

TEST_CASE("dates", "[core][time]") {
  CHECK(formatDate(*parseDate("2024-02-29")) == "2024-02-29");
  CHECK_FALSE(parseDate("2025-02-29").has_value());
  CHECK(Value(*parseDate("2025-03-14")).toText() == "2025-03-14");
}

TEST_CASE("local times convert through the system tz database", "[core][time]") {
  // 2025-03-14 20:00 in Shanghai (UTC+8, no DST) is 12:00 UTC.
  int64_t local = parseTimestamp("2025-03-14T20:00:00Z")->micros;
  CHECK(formatTimestamp(*localToUtc(local, "Asia/Shanghai")) == "2025-03-14T12:00:00Z");
  // Berlin switches to summer time on 2025-03-30 at 02:00 -> 03:00.
  int64_t before = parseTimestamp("2025-03-30T01:30:00Z")->micros;
  int64_t gap = parseTimestamp("2025-03-30T02:30:00Z")->micros;
  CHECK(formatTimestamp(*localToUtc(before, "Europe/Berlin")) == "2025-03-30T00:30:00Z");
  CHECK(formatTimestamp(*localToUtc(gap, "Europe/Berlin")) == "2025-03-30T01:30:00Z");
  CHECK(*utcToLocal(*parseTimestamp("2025-07-01T10:00:00Z"), "Europe/Berlin") ==
        parseTimestamp("2025-07-01T12:00:00Z")->micros);
  CHECK_FALSE(localToUtc(local, "Mars/Olympus").has_value());
  CHECK(isKnownTimeZone("Asia/Shanghai"));
}

TEST_CASE("records share a schema and find fields by name", "[core][record]") {
  auto schema = std::make_shared<RecordSchema>(std::vector<std::string>{"report_no", "good_qty"});
  Record record(schema, {Value("PR1"), Value(*Decimal::parse("3.250"))});
  record.meta.source_position = "{\"id\":1}";
  CHECK(record.find("good_qty")->asDecimal().toString() == "3.250");
  CHECK(record.find("missing") == nullptr);
  CHECK(record.name(0) == "report_no");
}

TEST_CASE("local time of an instant at the edge of the range is an error, not overflow", "[core][time]") {
  CHECK_FALSE(utcToLocal(Timestamp{INT64_MAX - 1}, "Asia/Shanghai").has_value());
}

TEST_CASE("conversions that would change data silently are errors or documented", "[core][value][hostile]") {
  // NaN and infinity are not KPI inputs: refused, never turned into null downstream.
  for (const char* text : {"NaN", "nan", "Infinity", "-inf"}) {
    INFO(text);
    auto converted = Value(text).toDouble();
    REQUIRE_FALSE(converted);
    CHECK_THAT(converted.error().message, Catch::StartsWith("not a finite number"));
  }
  CHECK_FALSE(Value(std::numeric_limits<double>::quiet_NaN()).toDouble());
  auto huge = Value("1e400").toDouble();
  REQUIRE_FALSE(huge);
  CHECK_THAT(huge.error().message, Catch::StartsWith("number out of the range of a double"));

  // A UTC offset past ±23:59 and a leap second are refused, not folded into other instants.
  auto offset = Value("2025-03-14T08:00:00+25:00").toTimestamp();
  REQUIRE_FALSE(offset);
  CHECK_THAT(offset.error().message, Catch::StartsWith("UTC offset out of range"));
  CHECK_FALSE(Value("2025-03-14T08:00:00+08:60").toTimestamp());
  auto leap = Value("2016-12-31T23:59:60Z").toTimestamp();
  REQUIRE_FALSE(leap);
  CHECK_THAT(leap.error().message, Catch::StartsWith("a leap second (:60) cannot be represented"));
  // Digits beyond microseconds are truncated toward the earlier instant (documented).
  auto nanos = Value("2025-03-14T23:59:59.999999999Z").toTimestamp();
  REQUIRE(nanos);
  CHECK(formatTimestamp(*nanos) == "2025-03-14T23:59:59.999999Z");
}
