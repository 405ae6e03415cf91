// The quarantine on its own (src/mapping/quarantine.h): what it holds, when it retries, what it
// dead-letters and what it stores. Mapping files drive it end to end in the golden cases.
#include "src/mapping/quarantine.h"

#include <catch2/catch.hpp>

namespace dutybridge::mapping {
namespace {

constexpr int64_t kMinute = 60'000'000;

core::Record record(const std::string& position) {
  auto schema = std::make_shared<core::RecordSchema>(std::vector<std::string>{"report_no"});
  core::Record r(schema, {core::Value(position)});
  r.meta.source_position = position;
  return r;
}

Quarantine makeQuarantine() {
  return Quarantine(QuarantinePolicy{60 * kMinute, 10 * kMinute}, "test@1");
}

core::Status unattributed(const core::Record&) {
  return core::fail(core::Error::retryable("no leader"));
}

}  // namespace

TEST_CASE("quarantine: a held record is tried again only when a table refreshed or retry passed",
          "[mapping][quarantine]") {
  Quarantine q = makeQuarantine();
  q.hold("q/a", record("a"), core::Timestamp{0}, "no leader");
  std::vector<core::DeadLetter> dead;
  int tries = 0;
  auto counting = [&](const core::Record& r) {
    ++tries;
    return unattributed(r);
  };
  q.retry(core::Timestamp{0}, false, counting, dead);  // the first call tries at once
  CHECK(tries == 1);
  q.retry(core::Timestamp{5 * kMinute}, false, counting, dead);
  CHECK(tries == 1);
  q.retry(core::Timestamp{6 * kMinute}, true, counting, dead);
  CHECK(tries == 2);
  q.retry(core::Timestamp{16 * kMinute}, false, counting, dead);
  CHECK(tries == 3);
  CHECK(dead.empty());
  CHECK(q.size() == 1);
}

TEST_CASE("quarantine: a record that maps leaves, one still unattributed after max_age is a dead letter",
          "[mapping][quarantine]") {
  Quarantine q = makeQuarantine();
  q.hold("q/a", record("a"), core::Timestamp{0}, "no leader");
  q.hold("q/b", record("b"), core::Timestamp{0}, "no leader");
  std::vector<core::DeadLetter> dead;
  q.retry(
      core::Timestamp{kMinute}, true,
      [](const core::Record& r) { return r.meta.source_position == "a" ? core::Status{} : unattributed(r); }, dead);
  CHECK(q.size() == 1);
  CHECK(dead.empty());
  q.retry(core::Timestamp{61 * kMinute}, false, unattributed, dead);
  CHECK(q.empty());
  REQUIRE(dead.size() == 1);
  REQUIRE(dead[0].input != nullptr);
  CHECK(dead[0].input->meta.source_position == "b");
  CHECK_THAT(dead[0].reason, Catch::Contains("attribution still missing after quarantine.max_age: no leader"));
}

TEST_CASE("quarantine: a permanent failure on retry is a dead letter at once", "[mapping][quarantine]") {
  Quarantine q = makeQuarantine();
  q.hold("q/a", record("a"), core::Timestamp{0}, "no leader");
  std::vector<core::DeadLetter> dead;
  q.retry(
      core::Timestamp{kMinute}, true,
      [](const core::Record&) { return core::Status(core::fail(core::Error::permanent("good_qty is negative"))); },
      dead);
  CHECK(q.empty());
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].reason == "good_qty is negative");
}

TEST_CASE("quarantine: holds, drops and releases are stored, and a restored quarantine holds the same records",
          "[mapping][quarantine]") {
  Quarantine q = makeQuarantine();
  q.hold("q/id/a", record("a"), core::Timestamp{7}, "no leader");
  q.hold("q/id/b", record("b"), core::Timestamp{8}, "no leader");
  q.drop("q/id/b");
  q.drop("q/id/never-held");
  std::vector<core::StateEntry> changes;
  q.takeStateChanges(changes);
  REQUIRE(changes.size() == 3);
  CHECK(changes[0].key == "q/id/a");
  CHECK(changes[1].key == "q/id/b");
  CHECK(changes[2].key == "q/id/b");
  CHECK(changes[2].value.empty());  // deleted

  Quarantine restored = makeQuarantine();
  REQUIRE(restored.restore(changes[0]));
  CHECK(restored.size() == 1);
  std::vector<core::DeadLetter> dead;
  restored.retry(core::Timestamp{7 + 60 * kMinute}, false, unattributed, dead);
  REQUIRE(dead.size() == 1);  // held since 7, as stored
  CHECK(dead[0].input->values()[0].asString() == "a");

  auto broken = restored.restore({"q/id/c", "{\"since\":1}"});
  REQUIRE_FALSE(broken);
  CHECK(broken.error().kind == core::ErrorKind::Fatal);
  CHECK_THAT(broken.error().message, Catch::Contains("quarantine entry q/id/c cannot be read"));
}

}  // namespace dutybridge::mapping

namespace dutybridge::mapping {

TEST_CASE("quarantine: list shows the oldest held records first and retryNow makes the next retry due",
          "[mapping][quarantine]") {
  Quarantine q = makeQuarantine();
  q.hold("q/b", record("b"), core::Timestamp{2 * kMinute}, "no leader for b");
  q.hold("q/a", record("a"), core::Timestamp{kMinute}, "no leader for a");
  auto listed = q.list(10);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].position == "a");
  CHECK(listed[0].reason == "no leader for a");
  CHECK(listed[1].position == "b");
  CHECK(q.list(1).size() == 1);

  std::vector<core::DeadLetter> dead;
  int tries = 0;
  auto counting = [&](const core::Record& r) {
    ++tries;
    return unattributed(r);
  };
  q.retry(core::Timestamp{3 * kMinute}, false, counting, dead);
  CHECK(tries == 2);
  q.retry(core::Timestamp{4 * kMinute}, false, counting, dead);  // retry (10 min) has not passed
  CHECK(tries == 2);
  q.retryNow();
  q.retry(core::Timestamp{4 * kMinute}, false, counting, dead);
  CHECK(tries == 4);
}

}  // namespace dutybridge::mapping
