// The aggregation engine: what is not a case. Rows, edits, declines, replays, closing, late and
// too-late rows, rate limits and restoring from state are scenario files
// (tests/scenarios/aggregate/*.test); here: a random-stream property and the handling of broken
// or tampered state.

#include "src/aggregate/aggregator.h"

#include <catch2/catch.hpp>

#include <map>
#include <random>

namespace dutybridge::aggregate {
namespace {

using core::Decimal;
using core::Timestamp;
using core::Value;

constexpr int64_t kHour = 3'600'000'000;

Value dec(const char* text) { return Value(*Decimal::parse(text)); }

WindowRef shiftWindow(std::string employee, int day, std::string shift = "N") {
  WindowRef ref;
  ref.group = {Value(std::move(employee))};
  ref.period_type = "SHIFT";
  ref.shift_date = core::Date{20000 + day};
  ref.shift_code = shift;
  ref.period_id = core::formatDate(ref.shift_date) + "/" + shift;
  ref.start = Timestamp{(20000LL + day) * 24 * kHour + 20 * kHour};
  ref.end = Timestamp{ref.start.micros + 12 * kHour};
  return ref;
}

AggregatorOptions options() {
  AggregatorOptions o;
  o.measures = {{"good", MeasureKind::Sum},
                {"reports", MeasureKind::Count},
                {"products", MeasureKind::CountDistinct},
                {"yield", MeasureKind::RatioOfSums, 4},
                {"best", MeasureKind::Max}};
  o.grace_micros = 2 * kHour;
  o.retain_micros = 24 * kHour;
  return o;
}

std::vector<MeasureInput> report(const char* good, const char* scrap, const char* product) {
  Value g = dec(good);
  auto total = g.asDecimal().add(dec(scrap).asDecimal());
  return {{g, {}}, {Value(true), {}}, {Value(product), {}}, {g, Value(*total)}, {g, {}}};
}

TEST_CASE("a corrupt state entry is Fatal, never a silent reset", "[aggregate]") {
  Aggregator broken(options());
  auto bad = broken.restore({{"w/x", "{not json"}});
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == core::ErrorKind::Fatal);
}

// Random streams (shuffled, edited, declined, replayed) give the same totals as a brute-force
// recomputation from the final version of every row.
TEST_CASE("property: incremental totals equal a recomputation from the final rows", "[aggregate][property]") {
  std::mt19937 rng(GENERATE(1u, 2u, 3u, 4u, 5u, 6u, 7u, 8u));
  AggregatorOptions o;
  o.measures = {{"good", MeasureKind::Sum}, {"n", MeasureKind::Count}, {"distinct", MeasureKind::CountDistinct},
                {"ratio", MeasureKind::RatioOfSums, 6}, {"min", MeasureKind::Min}, {"max", MeasureKind::Max}};
  o.retain_micros = 1000 * kHour;
  Aggregator agg(o);
  struct Row {
    int version = 0;
    std::optional<WindowRef> window;
    std::vector<MeasureInput> inputs;
  };
  std::map<std::string, Row> latest;
  std::uniform_int_distribution<int> pick(0, 39), emp(0, 4), day(0, 2), qty(0, 500), act(0, 9);
  std::vector<Revision> revs;
  Timestamp now{shiftWindow("E0", 0).start.micros};
  for (int step = 0; step < 2000; ++step) {
    std::string id = "R" + std::to_string(pick(rng));
    Row& row = latest[id];
    int a = act(rng);
    int version = a < 2 && row.version > 0 ? row.version - 1 : (a < 4 ? row.version : row.version + 1);
    std::optional<WindowRef> window;
    std::vector<MeasureInput> inputs;
    if (a != 9) {
      window = shiftWindow("E" + std::to_string(emp(rng)), day(rng));
      Value g(Decimal::fromInt(qty(rng)));
      Value d(Decimal::fromInt(qty(rng) + 1));
      inputs = {{g, {}}, {Value(true), {}}, {Value("P" + std::to_string(qty(rng) % 7)), {}}, {g, d}, {g, {}}, {g, {}}};
    }
    auto outcome = agg.apply(id, "", Value(int64_t{version}), window, inputs, now);
    REQUIRE(outcome);
    CHECK((*outcome == ApplyOutcome::Stale) == (version < row.version));
    if (*outcome == ApplyOutcome::Applied) row = Row{version, window, inputs};
    if (step % 97 == 0) agg.collect(now, revs);
  }
  revs.clear();
  agg.collect(now, revs);

  // Brute force over the final rows.
  std::map<std::string, std::vector<const Row*>> by_window;
  for (const auto& [id, row] : latest) {
    if (row.window) by_window[windowKey(*row.window)].push_back(&row);
  }
  Aggregator fresh(o);
  int n = 0;
  for (const auto& [key, rows] : by_window) {
    for (const Row* r : rows) REQUIRE(fresh.apply("F" + std::to_string(n++), "", Value(), r->window, r->inputs, now));
  }

  // The engine, and a replica restored from its state changes, hold the same values.
  std::map<std::string, std::string> store;
  std::vector<StateChange> changes;
  agg.takeStateChanges(changes);
  for (auto& c : changes) store[c.key] = c.value;
  std::vector<StateChange> entries;
  for (auto& [k, v] : store) {
    if (!v.empty()) entries.push_back({k, v});
  }
  Aggregator replica(o);
  REQUIRE(replica.restore(entries));
  for (const auto& key : agg.windowKeys()) {
    INFO(key);
    auto want = fresh.valuesOf(key);
    auto got = agg.valuesOf(key);
    REQUIRE(got);
    if (want) {
      CHECK(*got == *want);
    } else {
      CHECK((*got)[1] == Value(int64_t{0}));  // every row left this window
    }
    CHECK(replica.valuesOf(key) == got);
  }
  for (const auto& key : fresh.windowKeys()) CHECK(agg.valuesOf(key));
}

TEST_CASE("state errors name the period, never the group values (employee numbers)", "[aggregate][hostile]") {
  Aggregator agg(options());
  auto w = shiftWindow("E10023", 1);
  REQUIRE(agg.apply("R1", "", Value(Timestamp{1}), w, report("480", "20", "P1"), Timestamp{w.start.micros + kHour}));
  std::vector<StateChange> changes;
  agg.takeStateChanges(changes);
  std::vector<StateChange> tampered;
  for (auto& c : changes) {
    if (c.key.starts_with("w/")) tampered.push_back({"w/E99999|SHIFT|x", c.value});
  }
  REQUIRE(tampered.size() == 1);
  Aggregator restored(options());
  auto status = restored.restore(tampered);
  REQUIRE_FALSE(status);
  CHECK(status.error().kind == core::ErrorKind::Fatal);
  CHECK_THAT(status.error().message, Catch::Contains("SHIFT " + w.period_id));
  CHECK_THAT(status.error().message, !Catch::Contains("E10023"));
  CHECK_THAT(status.error().message, !Catch::Contains("E99999"));
}

TEST_CASE("revisions emitted and corrections after close are counted", "[aggregate]") {
  Aggregator engine(options());
  const WindowRef window = shiftWindow("E1", 1);
  const Timestamp during{window.start.micros + kHour};
  REQUIRE(engine.apply("r1", "", Value(), window, report("10", "0", "p1"), during));
  std::vector<Revision> out;
  engine.collect(during, out);  // the open revision
  REQUIRE(out.size() == 1);
  const Timestamp closed{window.end.micros + 3 * kHour};  // past the grace
  engine.collect(closed, out);                            // the closed revision
  REQUIRE(out.size() == 2);
  CHECK(engine.revisionsEmitted() == 2);
  CHECK(engine.correctionsAfterClose() == 0);
  REQUIRE(engine.apply("r2", "", Value(), window, report("5", "0", "p1"), closed));  // a late report
  engine.collect(closed, out);
  REQUIRE(out.size() == 3);
  CHECK(engine.revisionsEmitted() == 3);
  CHECK(engine.correctionsAfterClose() == 1);
  CHECK(engine.stats().corrections_after_close == 1);
}

}  // namespace
}  // namespace dutybridge::aggregate
