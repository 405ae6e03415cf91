#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>

#include "src/core/time.h"
#include "tests/expr/expr_harness.h"

using namespace dutybridge;
using namespace dutybridge::expr;
using core::Value;
using core::ValueType;
using testing::dec;
using testing::Harness;

TEST_CASE("types parse and print", "[mapping][expr]") {
  CHECK(Type::parse("decimal")->toString() == "decimal");
  CHECK(Type::parse("string?")->toString() == "string?");
  CHECK(Type::parse("any")->kind == Type::Kind::Any);
  CHECK(Type::parse("duration?")->nullable);
  CHECK_FALSE(Type::parse("strin").has_value());
  CHECK_FALSE(Type::parse("null").has_value());
  CHECK_FALSE(Type::parse("").has_value());
}

TEST_CASE("scope slots are stable and a second add replaces the type", "[mapping][expr]") {
  Scope scope;
  CHECK(scope.add("a", {Type::Kind::Int, false}) == 0);
  CHECK(scope.add("b", {Type::Kind::String, false}) == 1);
  CHECK(scope.add("a", {Type::Kind::Decimal, true}) == 0);
  CHECK(scope.find("a")->type == Type{Type::Kind::Decimal, true});
  CHECK_FALSE(scope.find("c"));
  CHECK(scope.names() == std::vector<std::string>{"a", "b"});
}

TEST_CASE("literals", "[mapping][expr]") {
  Harness h;
  CHECK(h.value("42") == Value(int64_t{42}));
  CHECK(h.value("-9223372036854775808").asInt() == INT64_MIN);
  CHECK(h.value("12.345").type() == ValueType::Decimal);
  CHECK(h.value("12.345").asDecimal().toString() == "12.345");
  CHECK(h.value("\"a\\\"b\\n\"").asString() == "a\"b\n");
  CHECK(h.value("'it\\'s'").asString() == "it's");
  CHECK(h.value("'\\u00e9\\u4e2d\\t\\\\'").asString() == "é中\t\\");
  CHECK(h.value("'\\ud83d\\ude00'").asString() == "\xF0\x9F\x98\x80");
  CHECK(h.value("true").asBool());
  CHECK_FALSE(h.value("false").asBool());
  CHECK(h.value("null").isNull());
  CHECK(core::formatTimestamp(h.value("@2025-03-14T08:00:00Z").asTimestamp()) == "2025-03-14T08:00:00Z");
  CHECK(core::formatTimestamp(h.value("@2025-03-14T08:00:00+08:00").asTimestamp()) == "2025-03-14T00:00:00Z");
  CHECK(core::formatDate(h.value("@2025-03-14").asDate()) == "2025-03-14");
  CHECK(h.value("90s").asInt() == 90'000'000);
  CHECK(h.value("15m").asInt() == 900'000'000);
  CHECK(h.value("8h").asInt() == 28'800'000'000);
  CHECK(h.value("2d").asInt() == 172'800'000'000);
  CHECK(h.value("500ms").asInt() == 500'000);
  CHECK(h.value("1.5h").asInt() == 5'400'000'000);
  CHECK(h.type("90s") == Type{Type::Kind::Duration, false});
  CHECK(h.type("@2025-03-14") == Type{Type::Kind::Date, false});
  CHECK(h.value("'汉字'").asString() == "汉字");
}

TEST_CASE("bad literals are located diagnostics", "[mapping][expr]") {
  Harness h;
  CHECK_THAT(h.errors("9223372036854775808"), Catch::Contains("integer literal out of range"));
  CHECK_THAT(h.errors("@2025-02-30"), Catch::Contains("invalid date literal '@2025-02-30'"));
  CHECK_THAT(h.errors("@2025-03-14T25:00:00Z"), Catch::Contains("invalid timestamp literal"));
  CHECK_THAT(h.errors("5min"), Catch::Contains("unknown duration unit 'min'"));
  CHECK_THAT(h.errors("'abc"), Catch::Contains("unterminated string literal"));
  CHECK_THAT(h.errors("'\\x'"), Catch::Contains("unknown escape sequence"));
  CHECK_THAT(h.errors("'\\ud800'"), Catch::Contains("unpaired surrogate"));
  CHECK_THAT(h.errors("1.5ms + 0.0000001s"), Catch::Contains("finer than a microsecond"));
}

TEST_CASE("field paths, nested maps and quoted names", "[mapping][expr]") {
  Harness h;
  h.field("good_qty", "int", Value(int64_t{7}));
  h.field("工序 代码", "string", Value("注塑"));
  h.field("meta", "map", Value(core::ValueMap{{"event", Value(core::ValueMap{{"id", Value(int64_t{4})}})}}));
  h.field("meta.source_position", "string", Value("{\"id\":4}"));
  CHECK(h.value("good_qty").asInt() == 7);
  CHECK(h.value("`工序 代码`").asString() == "注塑");
  CHECK(h.value("meta.event.id").asInt() == 4);
  CHECK(h.value("meta.event.missing").isNull());
  CHECK(h.type("meta.event.id") == Type{Type::Kind::Any, true});
  CHECK(h.value("meta.source_position").asString() == "{\"id\":4}");
  CHECK(h.value("meta.event.id! + 1").asInt() == 5);
  auto unknown = h.errors("good_qtty + 1");
  CHECK_THAT(unknown, Catch::Contains("unknown field 'good_qtty'"));
  CHECK_THAT(unknown, Catch::Contains("did you mean 'good_qty'?"));
  CHECK_THAT(h.errors("good_qty.x"), Catch::Contains("cannot read field 'x' of int"));
  CHECK_THAT(h.errors("工序"), Catch::Contains("quote names that are not plain ASCII in backticks"));
}

TEST_CASE("integer arithmetic and overflow", "[mapping][expr]") {
  Harness h;
  h.field("big", "int", Value(INT64_MAX));
  h.field("zero", "int", Value(int64_t{0}));
  h.field("n", "int", Value(int64_t{7}));
  CHECK(h.value("1 + 2 * 3").asInt() == 7);
  CHECK(h.value("(1 + 2) * 3").asInt() == 9);
  CHECK(h.value("10 - 4 - 3").asInt() == 3);
  CHECK(h.value("7 / 2").asInt() == 3);
  CHECK(h.value("-7 / 2").asInt() == -3);
  CHECK(h.value("7 % 3").asInt() == 1);
  CHECK(h.value("-n").asInt() == -7);
  CHECK(h.value("- -n").asInt() == 7);
  CHECK(h.type("7 / 2") == Type{Type::Kind::Int, false});
  CHECK(h.type("7 / n") == Type{Type::Kind::Int, true});
  CHECK(h.value("n / zero").isNull());
  CHECK(h.value("n % zero").isNull());
  CHECK(h.value("(n / zero) ?? -1").asInt() == -1);
  for (const char* text : {"big + 1", "big * 2", "-big - 2", "-(-big - 1)"}) {
    auto r = h.eval(text);
    INFO(text);
    REQUIRE_FALSE(r);
    CHECK(r.error().kind == core::ErrorKind::Permanent);
    CHECK_THAT(r.error().message, Catch::Contains("integer overflow"));
    CHECK_THAT(r.error().message, Catch::StartsWith("expr.txt:1:"));
  }
  CHECK_THAT(h.errors("n / 0"), Catch::Contains("division by zero"));
}

TEST_CASE("decimals are exact", "[mapping][expr]") {
  Harness h;
  h.field("qty", "decimal", Value(dec("2.5")));
  h.field("n", "int", Value(int64_t{3}));
  h.field("d", "double", Value(0.5));
  CHECK(h.value("0.1 + 0.2 == 0.3").asBool());
  CHECK(h.value("0.1 + 0.2").asDecimal().toString() == "0.3");
  CHECK(h.value("qty * n").asDecimal() == dec("7.5"));
  CHECK(h.type("qty * n") == Type{Type::Kind::Decimal, false});
  CHECK(h.value("n + 0.25").asDecimal() == dec("3.25"));
  CHECK(h.value("1.0 / 3").asDecimal().toString() == "0.333333");
  CHECK(h.value("10.00000000 / 4").asDecimal().toString() == "2.50000000");
  CHECK(h.value("qty % 1").asDecimal() == dec("0.5"));
  CHECK(h.value("qty - 3").asDecimal() == dec("-0.5"));
  CHECK(h.value("d + 1").type() == ValueType::Double);
  CHECK(h.value("d * qty").asDouble() == 1.25);
  CHECK(h.value("n == 3.0").asBool());
  CHECK(h.value("qty > 2").asBool());
  // A field declared decimal computes as decimal even when the record holds an int.
  h.slots[0] = Value(int64_t{5});
  CHECK(h.value("qty / 2").asDecimal() == dec("2.5"));
}

TEST_CASE("strings, times and durations combine sensibly", "[mapping][expr]") {
  Harness h;
  h.field("ts", "timestamp", Value(*core::parseTimestamp("2025-03-14T08:00:00Z")));
  h.field("day", "date", Value(*core::parseDate("2025-03-14")));
  h.field("s", "string", Value("ab"));
  CHECK(h.value("s + 'c'").asString() == "abc");
  CHECK(core::formatTimestamp(h.value("ts + 90m").asTimestamp()) == "2025-03-14T09:30:00Z");
  CHECK(core::formatTimestamp(h.value("ts - 1d").asTimestamp()) == "2025-03-13T08:00:00Z");
  CHECK(h.value("(ts + 8h) - ts").asInt() == 28'800'000'000);
  CHECK(h.type("ts - ts") == Type{Type::Kind::Duration, false});
  CHECK(core::formatDate(h.value("day + 2d").asDate()) == "2025-03-16");
  CHECK(h.value("day - @2025-03-01").asInt() == 13 * 86'400'000'000);
  CHECK(h.value("8h / 15m").asInt() == 32);
  CHECK(h.value("2 * 15m == 30m").asBool());
  CHECK(h.value("ts < @2025-03-14T08:00:01Z").asBool());
  CHECK(h.value("'abc' < 'abd'").asBool());
  auto r = h.eval("day + 1h");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("whole days"));
  CHECK_THAT(h.errors("s + 1"), Catch::Contains("cannot add string and int"));
  CHECK_THAT(h.errors("ts + 1"), Catch::Contains("cannot add timestamp and int"));
  CHECK_THAT(h.errors("ts + ts"), Catch::Contains("cannot add timestamp and timestamp"));
  CHECK_THAT(h.errors("s * 2"), Catch::Contains("cannot multiply string and int"));
  CHECK_THAT(h.errors("-s"), Catch::Contains("cannot negate string"));
  CHECK_THAT(h.errors("s == 1"), Catch::Contains("cannot compare string with int"));
  CHECK_THAT(h.errors("true < false"), Catch::Contains("cannot order bool values with '<'"));
}

TEST_CASE("comparison, membership and logic", "[mapping][expr]") {
  Harness h;
  h.field("status", "string", Value("done"));
  h.field("qty", "int", Value(int64_t{5}));
  h.field("flag", "bool?", Value());
  h.field("tags", "list", Value(core::ValueList{Value("a"), Value("b")}));
  CHECK(h.value("status in ['done', 'closed']").asBool());
  CHECK_FALSE(h.value("status not in ['done', 'closed']").asBool());
  CHECK(h.value("qty in [1, 5.0]").asBool());
  CHECK(h.value("'b' in tags").asBool());
  CHECK(h.value("qty >= 5 and qty <= 5").asBool());
  CHECK(h.value("qty > 5 or status == 'done'").asBool());
  CHECK(h.value("not qty > 5").asBool());
  CHECK(h.value("not (qty > 5) and true").asBool());
  CHECK(h.value("qty != 4").asBool());
  // Short-circuit: the right side would fail at run time.
  CHECK_FALSE(h.value("false and (flag!)").asBool());
  CHECK(h.value("true or (flag!)").asBool());
  CHECK(h.value("flag ?? true").asBool());
  CHECK_THAT(h.errors("flag and true"), Catch::Contains("operand of 'and' is bool? (it can be null)"));
  CHECK_THAT(h.errors("flag ? 1 : 2"), Catch::Contains("condition is bool? (it can be null)"));
  CHECK_THAT(h.errors("qty ? 1 : 2"), Catch::Contains("condition must be bool, not int"));
  CHECK_THAT(h.errors("qty == null"), Catch::Contains("comparison with null is always null"));
  CHECK_THAT(h.errors("1 < qty < 9"), Catch::Contains("comparison operators do not chain"));
  CHECK_THAT(h.errors("qty in [1, 'x']"), Catch::Contains("cannot compare int with string"));
  CHECK_THAT(h.errors("qty in 5"), Catch::Contains("'in' needs a list, not int"));
}

TEST_CASE("conditionals and precedence", "[mapping][expr]") {
  Harness h;
  h.field("a", "int?", Value());
  h.field("b", "int", Value(int64_t{2}));
  CHECK(h.value("b > 1 ? 'big' : 'small'").asString() == "big");
  CHECK(h.value("if b > 1 then 'big' else 'small'").asString() == "big");
  CHECK(h.value("1 + (if b > 5 then 10 else 20)").asInt() == 21);
  CHECK(h.value("b > 5 ? 1 : b > 1 ? 2 : 3").asInt() == 2);
  CHECK(h.value("a ?? b + 1").asInt() == 3);  // ?? binds looser than +
  CHECK(h.value("a ?? a ?? 9").asInt() == 9);
  CHECK(h.value("b > 1 ? 1 : 2.5").type() == ValueType::Decimal);  // branches unify to decimal
  CHECK(h.type("b > 1 ? 1 : 2.5") == Type{Type::Kind::Decimal, false});
  CHECK(h.type("b > 1 ? b : null") == Type{Type::Kind::Int, true});
  CHECK(h.value("-b * 3").asInt() == -6);
  CHECK(h.value("not b == 2 or true").asBool());
  CHECK(h.value("2 + 3 * 4 - 10 / 5 % 3").asInt() == 12);
  CHECK_THAT(h.errors("b > 1 ? 'x' : 1"), Catch::Contains("both branches must have the same type, not string and int"));
  CHECK_THAT(h.errors("a ?? 'x'"), Catch::Contains("both sides of '?\?' must have the same type"));
}

TEST_CASE("null propagates through operators and functions", "[mapping][expr]") {
  Harness h;
  h.field("a", "int?", Value());
  h.field("s", "string?", Value());
  h.field("n", "int", Value(int64_t{1}));
  CHECK(h.value("a + 1").isNull());
  CHECK(h.type("a + 1") == Type{Type::Kind::Int, true});
  CHECK(h.value("a * 2 + n").isNull());
  CHECK(h.value("-a").isNull());
  CHECK(h.value("a == 1").isNull());
  CHECK(h.type("a == 1") == Type{Type::Kind::Bool, true});
  CHECK(h.value("upper(s)").isNull());
  CHECK(h.type("upper(s)") == Type{Type::Kind::String, true});
  CHECK(h.type("upper(s) ?? ''") == Type{Type::Kind::String, false});
  CHECK(h.type("a!") == Type{Type::Kind::Int, false});
  CHECK(h.value("is_null(a)").asBool());
  CHECK_FALSE(h.value("is_null(n)").asBool());
  CHECK(h.value("a in [1, 2]").isNull());
}

TEST_CASE("'!' on null is a located permanent error without values", "[mapping][expr]") {
  Harness h;
  h.field("good_qty", "int?", Value());
  h.field("scrap", "int", Value(int64_t{3}));
  auto r = h.eval("scrap + good_qty!");
  REQUIRE_FALSE(r);
  CHECK(r.error().kind == core::ErrorKind::Permanent);
  CHECK(r.error().message == "expr.txt:1:17: value of good_qty is null");
  h.slots[0] = Value(int64_t{4});
  CHECK(h.value("scrap + good_qty!").asInt() == 7);
  // Multi-line text starting inside a file: the line advances and the column restarts at 1.
  diag::Diagnostics diagnostics;
  core::SourceLocation start{"mappings/mes.yaml", 12, 9, "fields.total"};
  h.slots[0] = Value();
  auto expr = compileExpression("scrap +\n  (good_qty)!", start, h.scope, h.env, diagnostics);
  REQUIRE(expr);
  CHECK(expr->location().line == 12);
  CHECK(expr->location().column == 9);
  EvalContext context{h.slots, &h.clock, &h.env};
  auto e = expr->eval(context);
  REQUIRE_FALSE(e);
  CHECK(e.error().message == "mappings/mes.yaml:13:13: value of (good_qty) is null");
}

TEST_CASE("diagnostics carry exact locations in multi-line text", "[mapping][expr]") {
  Harness h;
  h.field("good_qty", "int", Value(int64_t{1}));
  diag::Diagnostics diagnostics;
  core::SourceLocation start{"m.yaml", 4, 11, "fields.x"};
  auto expr = compileExpression("good_qty +\n   good_qtty", start, h.scope, h.env, diagnostics);
  CHECK_FALSE(expr);
  REQUIRE(diagnostics.size() == 1);
  CHECK(diagnostics.items()[0].location.line == 5);
  CHECK(diagnostics.items()[0].location.column == 4);
  CHECK(diagnostics.items()[0].location.path == "fields.x");
}

TEST_CASE("several type errors are reported at once", "[mapping][expr]") {
  Harness h;
  h.field("s", "string", Value("x"));
  diag::Diagnostics diagnostics;
  auto expr = h.compile("lowr(s) + 1 == 2 and s * 2 > 1 and unknown_field", diagnostics);
  CHECK_FALSE(expr);
  CHECK(diagnostics.size() == 3);
}

TEST_CASE("depth and length limits give diagnostics, never a crash", "[mapping][expr]") {
  Harness h;
  h.field("a", "int", Value(int64_t{1}));
  std::string deep(100'000, '(');
  deep += "a";
  deep += std::string(100'000, ')');
  CompileOptions options;
  options.max_length = 1'000'000;
  diag::Diagnostics diagnostics;
  auto expr = compileExpression(deep, {"expr.txt", 1, 1, ""}, h.scope, h.env, diagnostics, options);
  CHECK_FALSE(expr);
  CHECK_THAT(diagnostics.items().at(0).message, Catch::Contains("nested too deeply"));

  std::string chain = "a";
  for (int i = 0; i < 30'000; ++i) chain += "+a";
  diag::Diagnostics d2;
  CHECK_FALSE(compileExpression(chain, {"expr.txt", 1, 1, ""}, h.scope, h.env, d2, options));
  CHECK_THAT(d2.items().at(0).message, Catch::Contains("nested too deeply"));

  for (std::string prefix : {"-", "not ", "a ?? "}) {
    std::string text;
    for (int i = 0; i < 50'000; ++i) text += prefix;
    text += "a";
    diag::Diagnostics d3;
    CHECK_FALSE(compileExpression(text, {"expr.txt", 1, 1, ""}, h.scope, h.env, d3, options));
  }

  diag::Diagnostics d4;
  CHECK_FALSE(compileExpression(std::string(70'000, ' ') + "a", {"expr.txt", 1, 1, ""}, h.scope, h.env, d4));
  CHECK_THAT(d4.items().at(0).message, Catch::Contains("expression is too long"));

  std::string ok = "a";
  for (int i = 0; i < 100; ++i) ok = "(" + ok + " + 1)";
  CHECK(h.value(ok).asInt() == 101);
}

TEST_CASE("arbitrary bytes never crash the lexer or parser", "[mapping][expr]") {
  Harness h;
  h.field("a", "int", Value(int64_t{1}));
  CHECK_THAT(h.errors(std::string("a +\xff", 4)), Catch::Contains("invalid UTF-8 byte 0xff"));
  CHECK_THAT(h.errors(std::string("a\0b", 3)), Catch::Contains("unexpected control character U+0000"));
  CHECK_THAT(h.errors("'\xc3("), Catch::Contains("invalid UTF-8"));
  CHECK_THAT(h.errors(""), Catch::Contains("expected an operand but found end of expression"));
  std::mt19937 random(12345);
  const std::string alphabet = "a1.()[]'\"`@?:!+-*/%=<>,\\ \n\tznotandorifthenelse\xff\xe4\xb8\x80\x00";
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    size_t len = random() % 40;
    for (size_t k = 0; k < len; ++k) {
      if (random() % 4 == 0) text += static_cast<char>(random() % 256);
      else text += alphabet[random() % alphabet.size()];
    }
    diag::Diagnostics diagnostics;
    auto expr = compileExpression(text, {"expr.txt", 1, 1, ""}, h.scope, h.env, diagnostics);
    if (expr) {
      EvalContext context{h.slots, &h.clock, &h.env};
      (void)expr->eval(context);
    } else {
      CHECK_FALSE(diagnostics.empty());
      diagnostics.addSource("expr.txt", text);
      (void)diagnostics.format();
    }
  }
}

TEST_CASE("any-typed values are checked at run time", "[mapping][expr]") {
  Harness h;
  h.field("x", "any", Value("text"));
  h.field("n", "any", Value(int64_t{4}));
  CHECK(h.value("n + 1").asInt() == 5);
  CHECK(h.type("n + 1") == Type{Type::Kind::Any, false});
  CHECK(h.value("x + 'y'").asString() == "texty");
  auto r = h.eval("x * 2");
  REQUIRE_FALSE(r);
  CHECK_THAT(r.error().message, Catch::Contains("cannot multiply string and int"));
  CHECK_FALSE(h.eval("x > 1").has_value());
  CHECK_FALSE(h.eval("x and true").has_value());
}

TEST_CASE("compiled expressions evaluate concurrently", "[mapping][expr]") {
  Harness h;
  h.field("a", "int", Value(int64_t{2}));
  diag::Diagnostics diagnostics;
  auto expr = h.compile("upper('x') + to_string(a * 3)", diagnostics);
  REQUIRE(expr);
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      EvalContext context{h.slots, &h.clock, &h.env};
      for (int i = 0; i < 1000; ++i) {
        auto v = expr->eval(context);
        if (v && v->asString() == "X6") ++good;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(good == 4000);
}
