// Micro-benchmarks, hidden from ctest: run with `dutybridge_expr_tests [.bench]` on the
// release preset. Prints nanoseconds per evaluation.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>

#include "src/core/time.h"
#include "tests/expr/expr_harness.h"

using namespace dutybridge;
using namespace dutybridge::expr;
using core::Value;

namespace {

template <class F>
double nanosPerCall(int iterations, F&& f) {
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < iterations; ++i) f();
  auto elapsed = std::chrono::steady_clock::now() - start;
  return static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(elapsed).count()) / iterations;
}

}  // namespace

TEST_CASE("expression evaluation cost", "[.bench][mapping]") {
  testing::Harness h;
  h.env.tables["workcenters"] =
      expr::makeStaticTable("workcenters", {{"WC-10", Value("Moulding")}, {"WC-20", Value("Assembly")}});
  h.env.tables["shifts"] = expr::makeStaticTable("shifts", {{"A", Value("early")}, {"B", Value("late")}});
  h.field("id", "int", Value(int64_t{4}));
  h.field("badge_no", "string", Value("B-1042"));
  h.field("work_center", "string", Value("WC-10"));
  h.field("shift", "string?", Value("A"));
  h.field("good_qty", "decimal", Value(*core::Decimal::parse("118.000")));
  h.field("scrap_qty", "decimal?", Value(*core::Decimal::parse("2.000")));
  h.field("cycle_s", "int", Value(int64_t{42}));
  h.field("status", "string", Value("done"));
  h.field("reported_at", "timestamp", Value(*core::parseTimestamp("2025-03-14T08:00:00Z")));
  h.field("order_no", "string", Value("WO-2025-0042"));

  const std::vector<std::string> mapping = {
      "status in ['done', 'closed'] and good_qty > 0",  // filter
      "id",
      "badge_no",
      "work_center",
      "lookup('workcenters', work_center) ?? 'unknown'",
      "lookup('shifts', shift ?? 'A') ?? 'unknown'",
      "good_qty",
      "scrap_qty ?? 0",
      "good_qty + (scrap_qty ?? 0)",
      "round((good_qty / (good_qty + (scrap_qty ?? 0))) ?? 0, 4)",
      "cycle_s * 60",
      "reported_at",
      "reported_at + 8h",
      "order_no",
      "status == 'done'",
      "upper(status)",
  };
  diag::Diagnostics diagnostics;
  std::vector<std::unique_ptr<Expr>> exprs;
  for (const auto& text : mapping) {
    exprs.push_back(h.compile(text, diagnostics));
    INFO(text);
    INFO(diagnostics.format());
    REQUIRE(exprs.back());
  }
  auto field = h.compile("badge_no", diagnostics);
  auto int_field = h.compile("id", diagnostics);
  EvalContext context{h.slots, &h.clock, &h.env};
  volatile size_t sink = 0;

  double copy_string = nanosPerCall(2'000'000, [&] { sink = sink + field->eval(context)->asString().size(); });
  double copy_int = nanosPerCall(2'000'000, [&] { sink = sink + static_cast<size_t>(int_field->eval(context)->asInt()); });
  double record = nanosPerCall(200'000, [&] {
    for (const auto& e : exprs) sink = sink + (e->eval(context).has_value() ? 1 : 0);
  });
  std::printf("field copy (int): %.1f ns\nfield copy (string): %.1f ns\n16 expressions (filter + 15 fields): %.1f ns\n",
              copy_int, copy_string, record);
  CHECK(sink > 0);
}
