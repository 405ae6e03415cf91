#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "src/core/time.h"
#include "tests/expr/expr_harness.h"

using namespace dutybridge;
using namespace dutybridge::expr;
using core::Value;
using core::ValueType;
using testing::dec;
using testing::Harness;

namespace {

std::string ts(const Value& v) { return core::formatTimestamp(v.asTimestamp()); }

}  // namespace

TEST_CASE("string functions are UTF-8 aware", "[mapping][functions]") {
  Harness h;
  h.field("name", "string", Value("  注塑车间 Line-3 \xE3\x80\x80"));
  CHECK(h.value("lower('ÄBC Straße ΣΑ')").asString() == "äbc straße σα");
  CHECK(h.value("upper('abc äöü 注塑 ｌｉｎｅ')").asString() == "ABC ÄÖÜ 注塑 ＬＩＮＥ");
  CHECK(h.value("upper('工序代码')").asString() == "工序代码");
  CHECK(h.value("trim(name)").asString() == "注塑车间 Line-3");
  CHECK(h.value("length('注塑车间')").asInt() == 4);
  CHECK(h.value("length(trim(name))").asInt() == 11);
  CHECK(h.value("length(split('a,b', ','))").asInt() == 2);
  CHECK(h.value("substr('注塑车间', 1, 2)").asString() == "塑车");
  CHECK(h.value("substr('注塑车间', 2)").asString() == "车间");
  CHECK(h.value("substr('注塑车间', -1)").asString() == "间");
  CHECK(h.value("substr('注塑车间', 9)").asString() == "");
  CHECK(h.value("substr('注塑车间', 0, 99)").asString() == "注塑车间");
  CHECK(h.value("replace('a-b-c', '-', '::')").asString() == "a::b::c");
  CHECK(h.value("replace('abc', '', 'x')").asString() == "abc");
  auto parts = h.value("split('L1|L2||L3', '|')").asList();
  REQUIRE(parts.size() == 4);
  CHECK(parts[2].asString() == "");
  CHECK(h.value("split('注塑', '')").asList().size() == 2);
  CHECK(h.value("concat('a', 1, 2.50, true)").asString() == "a12.50true");
  CHECK(h.value("concat('t=', 90s)").asString() == "t=90s");
  CHECK(h.value("format('{} of {} ({{ok}})', 3, 'x')").asString() == "3 of x ({ok})");
  CHECK(h.value("format('{}', 1500ms)").asString() == "1.5s");
  CHECK_THAT(h.errors("format('{} {}', 1)"), Catch::Contains("the format has 2 placeholders but 1 value was given"));
  CHECK_THAT(h.errors("format('{', 1)"), Catch::Contains("invalid format string"));
  CHECK_THAT(h.errors("format(name, 1)"), Catch::Contains("the format of format must be a string literal"));
  CHECK_THAT(h.errors("substr(name, '1')"), Catch::Contains("argument 2 of substr must be an int, not string"));
  CHECK_THAT(h.errors("lower(1)"), Catch::Contains("argument 1 of lower must be a string, not int"));
  CHECK_THAT(h.errors("lower(name, 1)"), Catch::Contains("lower takes 1 argument, not 2"));
  auto unknown = h.errors("lowr(name)");
  CHECK_THAT(unknown, Catch::Contains("unknown function 'lowr'"));
  CHECK_THAT(unknown, Catch::Contains("did you mean 'lower'?"));
}

TEST_CASE("regular expressions are compiled once from literals", "[mapping][functions]") {
  Harness h;
  h.field("code", "string", Value("WO-2025-0042"));
  h.field("pattern", "string", Value("x"));
  CHECK(h.value("matches(code, '^WO-\\\\d{4}-\\\\d+$')").asBool());
  CHECK_FALSE(h.value("matches(code, '^PO-')").asBool());
  CHECK(h.value("extract(code, 'WO-(\\\\d{4})-(\\\\d+)')").asString() == "2025");
  CHECK(h.value("extract(code, 'WO-(\\\\d{4})-(\\\\d+)', 2)").asString() == "0042");
  CHECK(h.value("extract(code, '\\\\d+')").asString() == "2025");
  CHECK(h.value("extract(code, 'ZZ(\\\\d)')").isNull());
  CHECK(h.type("extract(code, '(x)')") == Type{Type::Kind::String, true});
  CHECK_THAT(h.errors("matches(code, '(')"), Catch::Contains("invalid regular expression"));
  CHECK_THAT(h.errors("matches(code, pattern)"), Catch::Contains("the pattern of matches must be a string literal"));
  CHECK_THAT(h.errors("extract(code, '(a)', 2)"), Catch::Contains("the pattern has no group 2 (it has 1)"));
  h.slots[0] = Value(std::string(20'000, 'a'));
  auto r = h.eval("matches(code, '(a|b)*')");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("longer than 16384 bytes"));
}

TEST_CASE("math functions", "[mapping][functions]") {
  Harness h;
  h.field("q", "decimal", Value(dec("2.345")));
  h.field("d", "double", Value(2.5));
  CHECK(h.value("round(q, 2)").asDecimal().toString() == "2.34");  // half-even
  CHECK(h.value("round(2.355, 2)").asDecimal().toString() == "2.36");
  CHECK(h.value("round(2.5)").asDecimal().toString() == "2");
  CHECK(h.value("round(3.5)").asDecimal().toString() == "4");
  CHECK(h.value("round(q, 5)").asDecimal().toString() == "2.345");
  CHECK(h.value("round(d)").asDouble() == 2.0);
  CHECK(h.value("round(7)").asInt() == 7);
  CHECK(h.value("floor(-2.5)").asDecimal().toString() == "-3");
  CHECK(h.value("ceil(-2.5)").asDecimal().toString() == "-2");
  CHECK(h.value("ceil(q)").asDecimal().toString() == "3");
  CHECK(h.value("floor(d)").asDouble() == 2.0);
  CHECK(h.value("abs(-3)").asInt() == 3);
  CHECK(h.value("abs(-1.50)").asDecimal().toString() == "1.50");
  CHECK(h.value("abs(-90s)").asInt() == 90'000'000);
  CHECK(h.value("min(3, 1, 2)").asInt() == 1);
  CHECK(h.value("max(3, 4.5, 2)").asDecimal() == dec("4.5"));
  CHECK(h.value("max(3, 4.5, 2)").type() == ValueType::Decimal);
  CHECK(h.value("min(3, 1.5, 2)").type() == ValueType::Decimal);
  CHECK(h.value("max('a', 'b')").asString() == "b");
  CHECK(ts(h.value("max(@2025-01-01T00:00:00Z, @2025-02-01T00:00:00Z)")) == "2025-02-01T00:00:00Z");
  CHECK_FALSE(h.eval("abs(-9223372036854775808)").has_value());
  CHECK_THAT(h.errors("round(q, 40)"), Catch::Contains("round digits must be between 0 and 18"));
  CHECK_THAT(h.errors("min(1, 'a')"), Catch::Contains("arguments of min must have one type, not int and string"));
  CHECK_THAT(h.errors("max(true, false)"), Catch::Contains("max cannot order bool values"));
  CHECK_THAT(h.errors("abs('x')"), Catch::Contains("argument 1 of abs must be a number or duration"));
}

TEST_CASE("time functions use the system tz database", "[mapping][functions]") {
  Harness h;
  h.field("local", "string", Value("2025-03-14 20:00:00"));
  CHECK(ts(h.value("parse_timestamp(local, '%Y-%m-%d %H:%M:%S', 'Asia/Shanghai')!")) == "2025-03-14T12:00:00Z");
  CHECK(ts(h.value("parse_timestamp('14.03.2025 08:30', '%d.%m.%Y %H:%M', 'Asia/Shanghai')!")) ==
        "2025-03-14T00:30:00Z");
  CHECK(ts(h.value("parse_timestamp('2025-03-14 20:00:00.250', '%Y-%m-%d %H:%M:%S', 'Asia/Shanghai')!")) ==
        "2025-03-14T12:00:00.250000Z");
  // Berlin: CET (+01:00) before 2025-03-30 02:00, CEST (+02:00) after; back on 2025-10-26 03:00.
  const char* berlin = "parse_timestamp('{}', '%Y-%m-%d %H:%M:%S', 'Europe/Berlin')!";
  CHECK(ts(h.value(fmt::format(fmt::runtime(berlin), "2025-03-29 12:00:00"))) == "2025-03-29T11:00:00Z");
  CHECK(ts(h.value(fmt::format(fmt::runtime(berlin), "2025-03-31 12:00:00"))) == "2025-03-31T10:00:00Z");
  CHECK(ts(h.value(fmt::format(fmt::runtime(berlin), "2025-03-30 02:30:00"))) == "2025-03-30T01:30:00Z");  // gap
  CHECK(ts(h.value(fmt::format(fmt::runtime(berlin), "2025-10-26 02:30:00"))) == "2025-10-26T00:30:00Z");  // fold
  CHECK(ts(h.value("parse_timestamp('2025-03-14 20:00 +0800', '%Y-%m-%d %H:%M %z', 'Europe/Berlin')!")) ==
        "2025-03-14T12:00:00Z");
  CHECK(h.value("parse_timestamp('not a time', '%Y-%m-%d %H:%M:%S', 'Asia/Shanghai')").isNull());
  CHECK(h.value("parse_timestamp('2025-03-14 20:00:00 trailing', '%Y-%m-%d %H:%M:%S', 'Asia/Shanghai')").isNull());
  CHECK(h.type("parse_timestamp(local, '%Y', 'Asia/Shanghai')") == Type{Type::Kind::Timestamp, true});
  auto zone = h.errors("parse_timestamp(local, '%Y', 'Asia/Shangai')");
  CHECK_THAT(zone, Catch::Contains("unknown time zone 'Asia/Shangai'"));
  CHECK_THAT(zone, Catch::Contains("did you mean 'Asia/Shanghai'?"));

  CHECK(h.value("format_timestamp(@2025-03-14T12:00:00Z, '%Y-%m-%d %H:%M', 'Asia/Shanghai')").asString() ==
        "2025-03-14 20:00");
  CHECK(h.value("format_timestamp(@2025-07-01T10:00:00Z, '%H:%M %Z', 'Europe/Berlin')").asString() == "12:00 CEST");
  CHECK(h.value("to_zone(@2025-07-01T10:00:00Z, 'Europe/Berlin')").asString() == "2025-07-01T12:00:00+02:00");
  CHECK(h.value("to_zone(@2025-01-01T10:00:00Z, 'Europe/Berlin')").asString() == "2025-01-01T11:00:00+01:00");
  CHECK(h.value("to_zone(@2025-03-14T12:00:00Z, 'Asia/Shanghai')").asString() == "2025-03-14T20:00:00+08:00");
  CHECK(core::formatDate(h.value("date_of(@2025-03-14T18:00:00Z, 'Asia/Shanghai')").asDate()) == "2025-03-15");
  CHECK(core::formatDate(h.value("date_of(@2025-03-14T18:00:00Z, 'Europe/Berlin')").asDate()) == "2025-03-14");
  // Fuzz finding: an instant at the end of the 64-bit range overflowed adding the zone offset.
  for (const char* text : {"date_of(@1970-01-01T00:00:00Z + seconds(9223372036854), 'Asia/Shanghai')",
                           "to_zone(@1970-01-01T00:00:00Z - seconds(9223372036854), 'America/New_York')",
                           "format_timestamp(@1970-01-01T00:00:00Z + seconds(9223372036854), '%H', 'Europe/Berlin')"}) {
    auto far = h.eval(text);
    REQUIRE_FALSE(far.has_value());
    CHECK_THAT(far.error().message, Catch::Contains("timestamp out of range for a time zone"));
  }
  CHECK(ts(h.value("now()")) == "2025-03-14T08:00:00Z");
  h.clock.advance(90'000'000);
  CHECK(ts(h.value("now() + 1h")) == "2025-03-14T09:01:30Z");
  CHECK(h.value("diff(@2025-03-14T10:00:00Z, @2025-03-14T08:30:00Z) == 90m").asBool());
  CHECK(h.value("diff(@2025-03-14, @2025-03-10) == 4d").asBool());
  CHECK(h.value("days(2) + hours(3) + minutes(4) + seconds(5)").asInt() == ((2 * 24 + 3) * 60 + 4) * 60'000'000LL + 5'000'000);
  CHECK_THAT(h.errors("diff(@2025-03-14, @2025-03-14T00:00:00Z)"), Catch::Contains("diff needs two timestamps or two dates"));
  CHECK_THAT(h.errors("days(1.5)"), Catch::Contains("argument 1 of days must be an int, not decimal"));
}

TEST_CASE("conversions", "[mapping][functions]") {
  Harness h;
  h.field("s", "string", Value("42"));
  h.field("n", "int", Value(int64_t{7}));
  CHECK(h.value("to_int(s)").asInt() == 42);
  CHECK(h.value("to_int('4.0')").asInt() == 4);
  CHECK(h.value("to_int('4.5')").isNull());
  CHECK(h.value("to_int('x')").isNull());
  CHECK(h.type("to_int(s)") == Type{Type::Kind::Int, true});
  CHECK(h.type("to_int(n)") == Type{Type::Kind::Int, false});
  CHECK(h.value("to_decimal('12.50')").asDecimal().toString() == "12.50");
  CHECK(h.value("to_decimal('x')").isNull());
  CHECK(h.type("to_decimal(n)") == Type{Type::Kind::Decimal, false});
  CHECK(h.value("to_double('2.5')").asDouble() == 2.5);
  CHECK(h.value("to_string(n)").asString() == "7");
  CHECK(h.value("to_string(1.50)").asString() == "1.50");
  CHECK(h.value("to_string(@2025-03-14T08:00:00+08:00)").asString() == "2025-03-14T00:00:00Z");
  CHECK(h.value("to_string(90m)").asString() == "5400s");
  CHECK(core::formatDate(h.value("to_date('2025-03-14')!").asDate()) == "2025-03-14");
  CHECK(h.value("to_date('2025-02-30')").isNull());
  CHECK(ts(h.value("to_timestamp('2025-03-14T08:00:00+08:00')!")) == "2025-03-14T00:00:00Z");
  CHECK(h.value("to_timestamp('yesterday')").isNull());
  CHECK(h.value("coalesce(to_int('x'), to_int(s), 0)").asInt() == 42);
  CHECK(h.type("coalesce(to_int('x'), 0)") == Type{Type::Kind::Int, false});
  CHECK(h.type("coalesce(to_int('x'), to_int(s))") == Type{Type::Kind::Int, true});
  CHECK(h.value("coalesce(null, 1.5, 2)").asDecimal() == dec("1.5"));
  CHECK(h.value("coalesce(null, 2, 1.5)").type() == ValueType::Decimal);
}

TEST_CASE("hashing", "[mapping][functions]") {
  Harness h;
  h.env.hmac_keys["badge"] = "Jefe";
  h.field("data", "string", Value("what do ya want for nothing?"));
  h.field("badge_no", "int", Value(int64_t{1234}));
  CHECK(h.value("sha256('abc')").asString() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(h.value("sha256(badge_no) == sha256('1234')").asBool());
  // RFC 4231 test case 2.
  CHECK(h.value("hmac_sha256(data, 'badge')").asString() ==
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  auto unknown = h.errors("hmac_sha256(data, 'badg')");
  CHECK_THAT(unknown, Catch::Contains("unknown HMAC key 'badg'"));
  CHECK_THAT(unknown, Catch::Contains("did you mean 'badge'?"));
  CHECK_THAT(unknown, !Catch::Contains("Jefe"));
  CHECK_THAT(h.errors("hmac_sha256(data, data)"), Catch::Contains("the key name of hmac_sha256 must be a string literal"));
}

TEST_CASE("lookup tables", "[mapping][functions]") {
  Harness h;
  h.env.tables["workcenters"] = makeStaticTable("workcenters", {{"WC-10", Value("Moulding")}, {"7", Value("Assembly")}});
  h.env.tables["mixed"] = makeStaticTable("mixed", {{"a", Value(int64_t{1})}, {"b", Value("x")}});
  h.field("wc", "string", Value("WC-10"));
  h.field("wc_id", "int", Value(int64_t{7}));
  CHECK(h.value("lookup('workcenters', wc)").asString() == "Moulding");
  CHECK(h.value("lookup('workcenters', wc_id)").asString() == "Assembly");
  CHECK(h.value("lookup('workcenters', 'WC-99')").isNull());
  CHECK(h.value("lookup('workcenters', 'WC-99') ?? 'unknown'").asString() == "unknown");
  CHECK(h.type("lookup('workcenters', wc)") == Type{Type::Kind::String, true});
  CHECK(h.type("lookup('mixed', wc)") == Type{Type::Kind::Any, true});
  auto unknown = h.errors("lookup('workcenter', wc)");
  CHECK_THAT(unknown, Catch::Contains("unknown lookup table 'workcenter'"));
  CHECK_THAT(unknown, Catch::Contains("did you mean 'workcenters'?"));
  // The expression holds the table handle: it outlives the environment it was found in.
  diag::Diagnostics diagnostics;
  auto expr = h.compile("lookup('workcenters', wc)", diagnostics);
  REQUIRE(expr);
  h.env.tables.clear();
  EvalContext context{h.slots, &h.clock, &h.env};
  CHECK(expr->eval(context)->asString() == "Moulding");
}

TEST_CASE("function names are listed for hints and docs", "[mapping][functions]") {
  auto names = functionNames();
  CHECK(std::is_sorted(names.begin(), names.end()));
  for (const char* f : {"lower", "substr", "hmac_sha256", "lookup", "parse_timestamp", "coalesce", "now"}) {
    CHECK(std::find(names.begin(), names.end(), f) != names.end());
  }
}
