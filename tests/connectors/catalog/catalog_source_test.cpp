// The `position_catalog` source: one publication per change of the catalog's elements, a
// revision above the last, nothing for comment-only edits or after a restart, and a broken edit
// that keeps the last good publication.

#include "connectors/catalog/catalog_source.h"

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <thread>

#include "src/core/clock.h"
#include "src/core/time.h"
#include "src/diagnostics/diagnostics.h"
#include "src/schema/secrets.h"
#include "src/schema/validator.h"
#include "tests/support/files.h"

using namespace dutybridge;

namespace {

core::Timestamp ts(const char* text) {
  return core::parseTimestamp(text).value();
}

const core::Registry& catalogRegistry() {
  static const core::Registry registry = [] {
    core::Registry r;
    connectors::registerPositionCatalogSource(r);
    return r;
  }();
  return registry;
}

// The source for `body` (its keys except type), validated as a config file at `config_file`.
core::Result<std::unique_ptr<core::Source>> makeSource(const std::filesystem::path& config_file,
                                                       const std::string& body, const core::Clock* clock) {
  std::string yaml = "type: position_catalog\n" + body;
  diag::Diagnostics diagnostics;
  diagnostics.addSource(config_file.string(), yaml);
  schema::SecretResolver secrets([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  schema::ValidationContext context{config_file.string(), &catalogRegistry(), &secrets, &diagnostics};
  auto config = schema::validateConnector(YAML::Load(yaml), core::Direction::Source, "source", context);
  INFO(diagnostics.format());
  REQUIRE(diagnostics.empty());
  core::ConnectorContext connector;
  connector.pipeline_name = "catalog";
  connector.clock = clock;
  return catalogRegistry().findSource("position_catalog")->create(config, connector);
}

const std::string kCatalog = R"(plant: p1
valid_from: 2025-01-01
trainings: {T.SAFE: Safety}
positions:
  OP:
    title: {zh: 操作工, en: Operator}
    requirements: [{training: T.SAFE}]
)";

core::SourceBatch pollOnce(core::Source& source) {
  auto batch = source.poll(std::chrono::milliseconds(0));
  if (!batch) FAIL(batch.error().describe());
  return std::move(*batch);
}

int64_t revisionOf(const core::Record& record) {
  return record.find("revision")->asInt();
}

}  // namespace

TEST_CASE("position_catalog source publishes every element once per change, with a rising revision",
          "[catalog][source]") {
  auto dir = testing::makeTempDir("catalog-source");
  auto file = testing::writeFile(dir / "duties.yaml", kCatalog);
  core::ManualClock clock(ts("2025-03-14T08:00:00Z"));
  auto source = makeSource(dir / "dutybridge.yaml", "file: duties.yaml\npoll_interval: 100ms\n", &clock);
  REQUIRE(source);
  auto description = (*source)->describe();
  REQUIRE(description);
  REQUIRE(description->has_value());
  CHECK((**description)[0].name == "catalog_key");

  REQUIRE((*source)->open(std::nullopt));
  auto first = pollOnce(**source);
  REQUIRE(first.records.size() == 3);  // the training, the position, its requirement
  CHECK(first.records[0].meta.key == "TRAINING|T.SAFE|2025-01-01");
  CHECK(first.records[1].find("title_zh")->asString() == "操作工");
  CHECK(first.records[2].find("requirement_type")->asString() == "TRAINING");
  const int64_t revision = revisionOf(first.records[0]);
  CHECK(revision == ts("2025-03-14T08:00:00Z").micros);
  for (const auto& r : first.records) CHECK(revisionOf(r) == revision);

  // Nothing new until the file changes; a comment is no change of the elements.
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(pollOnce(**source).records.empty());
  testing::writeFile(file, kCatalog + "# a comment\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  CHECK(pollOnce(**source).records.empty());

  // A restart from the stored position publishes nothing either; one from before it (the
  // publication was not delivered) publishes it again.
  REQUIRE((*source)->open(first.position));
  CHECK(pollOnce(**source).records.empty());
  REQUIRE((*source)->open(std::nullopt));
  CHECK(pollOnce(**source).records.size() == 3);
  REQUIRE((*source)->open(first.position));
  CHECK(pollOnce(**source).records.empty());

  // A broken edit: Retryable, the first problem named, nothing published; fixed again: a new
  // publication above the last, even with the clock behind it.
  testing::writeFile(file, kCatalog + "    department: NOPE\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  auto broken = (*source)->poll(std::chrono::milliseconds(0));
  REQUIRE_FALSE(broken);
  CHECK(broken.error().kind == core::ErrorKind::Retryable);
  CHECK_THAT(broken.error().message, Catch::Contains("unknown department 'NOPE'"));
  testing::writeFile(file, kCatalog + "    department: null\n  CELL: {title: Cell operator}\n");
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  clock.set(ts("2025-03-14T07:00:00Z"));
  auto second = pollOnce(**source);
  REQUIRE(second.records.size() == 4);
  CHECK(revisionOf(second.records[0]) == revision + 1);
  CHECK((*source)->checkPosition(second.position));
  CHECK_FALSE((*source)->checkPosition("12"));
}

TEST_CASE("position_catalog source: a catalog that does not load is refused at creation", "[catalog][source]") {
  auto dir = testing::makeTempDir("catalog-source");
  testing::writeFile(dir / "duties.yaml", "plant: p1\npositions: {OP: {requirements: [{skill: SK.NONE}]}}\n");
  core::ManualClock clock(ts("2025-03-14T08:00:00Z"));
  auto source = makeSource(dir / "dutybridge.yaml", "file: duties.yaml\n", &clock);
  REQUIRE_FALSE(source);
  CHECK(source.error().kind == core::ErrorKind::InvalidConfig);
  CHECK_THAT(source.error().message, Catch::Contains("unknown skill 'SK.NONE'"));
}
