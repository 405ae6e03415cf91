#pragma once
// A scope with values, compiled and evaluated in one call, for the expression tests.

#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/expr/expr.h"

namespace dutybridge::expr::testing {

struct Harness {
  Scope scope;
  FunctionEnv env;
  std::vector<core::Value> slots;
  core::ManualClock clock{core::Timestamp{1'741'939'200'000'000}};  // 2025-03-14T08:00:00Z

  void field(const std::string& name, std::string_view type, core::Value value) {
    size_t slot = scope.add(name, *Type::parse(type));
    if (slots.size() <= slot) slots.resize(slot + 1);
    slots[slot] = std::move(value);
  }

  std::unique_ptr<Expr> compile(std::string_view text, diag::Diagnostics& diagnostics) {
    core::SourceLocation start{"expr.txt", 1, 1, ""};
    diagnostics.addSource("expr.txt", std::string(text));
    return compileExpression(text, start, scope, env, diagnostics);
  }

  // Compiles (must succeed) and evaluates.
  core::Result<core::Value> eval(std::string_view text) {
    diag::Diagnostics diagnostics;
    auto expr = compile(text, diagnostics);
    INFO(text);
    INFO(diagnostics.format());
    REQUIRE(expr);
    EvalContext context{slots, &clock, &env};
    return expr->eval(context);
  }

  core::Value value(std::string_view text) {
    auto v = eval(text);
    INFO(text);
    INFO((v ? std::string() : v.error().message));
    REQUIRE(v.has_value());
    return *v;
  }

  Type type(std::string_view text) {
    diag::Diagnostics diagnostics;
    auto expr = compile(text, diagnostics);
    INFO(text);
    INFO(diagnostics.format());
    REQUIRE(expr);
    return expr->type();
  }

  // Compilation must fail; returns the formatted diagnostics.
  std::string errors(std::string_view text) {
    diag::Diagnostics diagnostics;
    auto expr = compile(text, diagnostics);
    INFO(text);
    CHECK_FALSE(expr);
    CHECK_FALSE(diagnostics.empty());
    return diagnostics.format();
  }
};

inline core::Decimal dec(std::string_view text) { return *core::Decimal::parse(text); }

}  // namespace dutybridge::expr::testing
