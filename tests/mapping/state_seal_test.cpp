// Sealed state (src/mapping/state_seal.h): what a stateful mapping with personal input fields
// stores carries no personal value in clear, restores under the same key, and refuses a wrong or
// missing key; entries stored in clear before the key are rewritten sealed.

#include "src/mapping/state_seal.h"

#include <catch2/catch.hpp>
#include <string>

#include "src/core/clock.h"
#include "src/mapping/mapping.h"
#include "src/mapping/mapping_transform.h"
#include "tests/support/files.h"

using namespace dutybridge;

namespace {

constexpr std::string_view kBadge = "B-CANARY7f3a";

std::shared_ptr<const mapping::Mapping> load() {
  static const auto dir = testing::makeTempDir("state-seal");
  const std::string config = std::string(DUTYBRIDGE_SOURCE_DIR) + "/config";
  auto loaded = mapping::loadMapping(testing::writeFile(
      dir / "seal.yaml",
      "name: seal\ncatalog: " + config + "/duties.yaml\ncalendars: " + config + "/calendars.yaml\n" + R"(input:
  report_no: string
  operator_badge: {type: string, pii: mask}
  good_qty: decimal
tables:
  badge_employee:
    rows: {B-CANARY7f3a: E1}
let:
  employee: 'lookup("badge_employee", operator_badge)!'
aggregate:
  id: report_no
  part: operator_badge
  calendar: plant-01
  period: DAY
  shift_date: 'to_date("2025-03-14")!'
  group_by:
    employee_no: employee
  measures:
    good_qty: sum(good_qty)
quarantine:
  max_age: 1d
emit:
  - contract: duty_kpi.v1
    fields:
      kpi_code: '"KPI.TL.DAILY_GOOD_OUTPUT"'
      employee_no: employee_no
      value: good_qty
      source_system: '"MES"'
)"));
  if (!loaded) FAIL(loaded.error().format());
  return std::shared_ptr<const mapping::Mapping>(std::move(*loaded));
}

core::Record report(const std::string& report_no, const std::string& badge) {
  return mapping::recordFromMap(core::Value(core::ValueMap{{"report_no", core::Value(report_no)},
                                                           {"operator_badge", core::Value(badge)},
                                                           {"good_qty", core::Value(std::string("10"))}}));
}

std::vector<core::StateEntry> run(mapping::MappingTransform& transform, const std::vector<core::Record>& inputs) {
  std::vector<core::Record> outputs;
  std::vector<core::DeadLetter> dead;
  transform.apply(inputs, outputs, dead);
  std::vector<core::StateEntry> changes;
  transform.takeStateChanges(changes);
  return changes;
}

std::string text(const std::vector<core::StateEntry>& entries) {
  std::string out;
  for (const auto& e : entries) out += e.key + "=" + e.value + "\n";
  return out;
}

}  // namespace

TEST_CASE("state seal: rows, windows and held records are stored without the badge, and restore", "[mapping][pii]") {
  auto mapping = load();
  REQUIRE(mapping->needsStateKey());
  core::ManualClock clock(core::Timestamp{1'742'000'000'000'000});
  auto seal = std::make_shared<const mapping::StateSeal>("a state key");
  mapping::MappingTransform transform(mapping, clock, seal);
  auto stored = run(transform, {report("PR1", std::string(kBadge)), report("PR2", "B-CANARY7f3a-unknown")});
  const std::string all = text(stored);
  CHECK_THAT(all, Catch::Contains("s/~") && Catch::Contains("w/~") && Catch::Contains("q/~"));
  // (Short values could occur in base64 by chance: the marker cannot.)
  CHECK_THAT(all, !Catch::Contains("CANARY7f3a") && !Catch::Contains("E1|"));
  CHECK(transform.quarantined() == 1);

  mapping::MappingTransform again(mapping, clock, seal);
  REQUIRE(again.restore(stored));
  CHECK(again.quarantined() == 1);
  REQUIRE(again.aggregator()->stats().rows == 1);
  // The same row again replaces its contribution under the same digested key.
  auto replayed = run(again, {report("PR1", std::string(kBadge))});
  bool same_key = false;
  for (const auto& e : replayed) {
    for (const auto& s : stored) same_key = same_key || (e.key == s.key && e.key.starts_with("s/"));
  }
  CHECK(same_key);
  CHECK(again.aggregator()->stats().rows == 1);

  SECTION("another key is refused") {
    mapping::MappingTransform other(mapping, clock, std::make_shared<const mapping::StateSeal>("another key"));
    auto restored = other.restore(stored);
    REQUIRE(!restored);
    CHECK(restored.error().kind == core::ErrorKind::Fatal);
    CHECK_THAT(restored.error().message, Catch::Contains("another kafka.state_key"));
  }
  SECTION("no key is refused") {
    mapping::MappingTransform none(mapping, clock);
    auto restored = none.restore(stored);
    REQUIRE(!restored);
    CHECK_THAT(restored.error().message, Catch::Contains("no kafka.state_key is configured"));
  }
}

TEST_CASE("state seal: entries stored in clear before the key restore and are rewritten sealed", "[mapping][pii]") {
  auto mapping = load();
  core::ManualClock clock(core::Timestamp{1'742'000'000'000'000});
  mapping::MappingTransform clear(mapping, clock);
  auto stored = run(clear, {report("PR1", std::string(kBadge)), report("PR2", "B-CANARY7f3a-unknown")});
  REQUIRE_THAT(text(stored), Catch::Contains("CANARY7f3a"));

  auto seal = std::make_shared<const mapping::StateSeal>("a state key");
  mapping::MappingTransform sealed(mapping, clock, seal);
  REQUIRE(sealed.restore(stored));
  CHECK(sealed.quarantined() == 1);
  CHECK(sealed.aggregator()->stats().rows == 1);
  std::vector<core::StateEntry> rewrite;
  sealed.takeStateChanges(rewrite);
  // Every clear entry is deleted and stored again sealed.
  size_t deleted = 0;
  for (const auto& e : rewrite) {
    if (e.value.empty()) {
      ++deleted;
    } else {
      CHECK(mapping::StateSeal::isSealed(e.key));
      CHECK_THAT(e.value, !Catch::Contains("CANARY7f3a"));
    }
  }
  size_t sealable = 0;
  for (const auto& e : stored) sealable += mapping::StateSeal::sealable(e.key) && !e.value.empty() ? 1 : 0;
  CHECK(deleted == sealable);
}

TEST_CASE("state seal: keys are deterministic per key, window values keep closed", "[mapping][pii]") {
  mapping::StateSeal seal("k");
  CHECK(seal.sealKey("s/PR1") == seal.sealKey("s/PR1"));
  CHECK(seal.sealKey("s/PR1") != mapping::StateSeal("k2").sealKey("s/PR1"));
  auto sealed = seal.seal({"w/E1|DAY|2025-03-14", R"({"closed":true})"});
  CHECK_THAT(sealed.value, Catch::Contains("\"closed\":true") && !Catch::Contains("E1|"));
  auto opened = seal.open(sealed);
  REQUIRE(opened);
  CHECK(opened->key == "w/E1|DAY|2025-03-14");
}
