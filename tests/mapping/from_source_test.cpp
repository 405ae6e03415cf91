// `input: from_source`: a mapping checked offline, then compiled against a source's description
// through the same loader (src/mapping/mapping.h).

#include <catch2/catch.hpp>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "src/core/clock.h"
#include "src/mapping/mapping.h"

using namespace dutybridge;
using core::ValueType;

namespace {

std::filesystem::path writeMapping(const std::string& name, const std::string& text) {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge_from_source_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / (name + ".yaml");
  std::ofstream(path) << text;
  return path;
}

const core::SourceDescription kReports = {
    {"report_no", ValueType::String, false},
    {"good_qty", ValueType::Decimal, true},
    {"state", ValueType::String, true},
    {"updated_at", ValueType::Timestamp, false},
};

constexpr const char* kMapping = R"(name: from-source-output
input: from_source
where: (state ?? "") == "ACCEPTED"
emit:
  - key: [report_no]
    fields:
      report_no: report_no
      good: (good_qty ?? 0) * 2
      at: updated_at
)";

core::Record report(const char* no, const char* qty, const char* state) {
  return core::Record(std::make_shared<core::RecordSchema>(
                          std::vector<std::string>{"report_no", "good_qty", "state", "updated_at"}),
                      {core::Value(no), core::Value(*core::Decimal::parse(qty)), core::Value(state),
                       core::Value(*core::parseTimestamp("2025-03-14T01:00:00Z"))});
}

}  // namespace

TEST_CASE("from_source: offline load checks what it can and is not runnable", "[mapping][from_source]") {
  auto loaded = mapping::loadMapping(writeMapping("offline", kMapping));
  if (!loaded) FAIL(loaded.error().format());
  const mapping::Mapping& m = **loaded;
  CHECK(m.from_source);
  CHECK_FALSE(m.runnable);
  CHECK(m.source_fields == std::vector<std::string>{"state", "report_no", "good_qty", "updated_at"});
  core::ManualClock clock(core::Timestamp{0});
  auto record = report("PR1", "1", "ACCEPTED");
  auto applied = m.apply(record, m.bind(record.schema()), clock);
  REQUIRE_FALSE(applied);
  CHECK_THAT(applied.error().message, Catch::Contains("not compiled against its source"));

  // Mistakes that do not depend on the source's types are still found offline.
  auto broken = mapping::loadMapping(writeMapping("offline_broken", R"(name: x
input: from_source
emit:
  - fields:
      a: lenght(report_no)
      b: lookup("no_such_table", report_no)
)"));
  REQUIRE_FALSE(broken);
  std::string text = broken.error().format();
  CHECK_THAT(text, Catch::Contains("offline_broken.yaml:5:10"));
  CHECK_THAT(text, Catch::Contains("no_such_table"));
}

TEST_CASE("from_source: compiled against a description, the mapping runs with the described types",
          "[mapping][from_source]") {
  auto loaded = mapping::loadMapping(writeMapping("described", kMapping));
  REQUIRE(loaded);
  auto compiled = (*loaded)->compileFor(kReports);
  if (!compiled) FAIL(compiled.error().format());
  const mapping::Mapping& m = **compiled;
  CHECK(m.runnable);
  REQUIRE(m.inputs.size() == 4);
  CHECK(m.inputs[1].type.toString() == "decimal?");
  CHECK(m.inputs[1].described);
  core::ManualClock clock(core::Timestamp{0});
  auto record = report("PR1", "10.5", "ACCEPTED");
  auto applied = m.apply(record, m.bind(record.schema()), clock);
  if (!applied) FAIL(applied.error().message);
  REQUIRE(applied->size() == 1);
  CHECK((*applied)[0].record.find("good")->asDecimal() == *core::Decimal::parse("21"));
  CHECK((*applied)[0].record.meta.key == "PR1");

  // loadMapping with the description is the same compile in one step.
  auto direct = mapping::loadMapping(writeMapping("described", kMapping), {.description = &kReports});
  REQUIRE(direct);
  CHECK((*direct)->runnable);

  // A null where the source promised a value is a dead letter citing the mapping and the source.
  core::Record missing(record.schema(), {core::Value(), core::Value(), core::Value("ACCEPTED"),
                                         core::Value(*core::parseTimestamp("2025-03-14T01:00:00Z"))});
  auto dead = m.apply(missing, m.bind(missing.schema()), clock);
  REQUIRE_FALSE(dead);
  CHECK_THAT(dead.error().message, Catch::Contains("described.yaml:2:8: input field 'report_no' is null but "
                                                   "described by the source as string"));
}

TEST_CASE("from_source: a type error against the description is located and names the source",
          "[mapping][from_source]") {
  // The source says good_qty is text: arithmetic on it cannot compile.
  core::SourceDescription text_qty = kReports;
  text_qty[1].type = ValueType::String;
  auto loaded = mapping::loadMapping(writeMapping("mismatch", kMapping));
  REQUIRE(loaded);
  auto compiled = (*loaded)->compileFor(text_qty);
  REQUIRE_FALSE(compiled);
  std::string text = compiled.error().format();
  INFO(text);
  CHECK_THAT(text, Catch::Contains("mismatch.yaml:8:"));
  CHECK_THAT(text, Catch::Contains("field 'good_qty' is string? (from the source's description)"));
  CHECK_THAT(text, Catch::Contains("overrides"));

  // An override fixes it: the value is converted at the input boundary like a declared input.
  auto overridden = mapping::loadMapping(writeMapping("override", R"(name: from-source-output
input:
  from_source: true
  overrides:
    good_qty: decimal?
emit:
  - fields:
      good: (good_qty ?? 0) * 2
)"));
  if (!overridden) FAIL(overridden.error().format());
  auto fixed = (*overridden)->compileFor(text_qty);
  if (!fixed) FAIL(fixed.error().format());
  core::Record record = report("PR1", "0", "ACCEPTED");
  record = core::Record(record.schema(), {core::Value("PR1"), core::Value("1.25"), core::Value("ACCEPTED"),
                                          core::Value(*core::parseTimestamp("2025-03-14T01:00:00Z"))});
  core::ManualClock clock(core::Timestamp{0});
  auto applied = (*fixed)->apply(record, (*fixed)->bind(record.schema()), clock);
  if (!applied) FAIL(applied.error().message);
  CHECK((*applied)[0].record.find("good")->asDecimal() == *core::Decimal::parse("2.5"));

  // A field the source does not have is an unknown field at start-up, and an override of one too.
  core::SourceDescription without_qty = {kReports[0], kReports[2], kReports[3]};
  auto unknown = (*overridden)->compileFor(without_qty);
  REQUIRE_FALSE(unknown);
  text = unknown.error().format();
  CHECK_THAT(text, Catch::Contains("override.yaml:5:5: error: the source's description has no field 'good_qty'"));
  CHECK_THAT(text, Catch::Contains("override.yaml:8:14: error: unknown field 'good_qty'"));
  CHECK_THAT(text, Catch::Contains("the input types are from the source's description"));
}

TEST_CASE("from_source: embedded tests run with test_input types, which tests require", "[mapping][from_source]") {
  std::string with_tests = std::string(kMapping) + R"(test_input:
  report_no: string
  good_qty: decimal?
  state: string?
  updated_at: timestamp
tests:
  - name: doubled
    input: {report_no: PR1, good_qty: "1.5", state: ACCEPTED, updated_at: "2025-03-14T01:00:00Z"}
    expect: [{_key: PR1, good: 3}]
)";
  auto loaded = mapping::loadMapping(writeMapping("tests", with_tests));
  if (!loaded) FAIL(loaded.error().format());
  CHECK_FALSE((*loaded)->runnable);
  CHECK(mapping::runMappingTests(**loaded).empty());

  auto no_types = mapping::loadMapping(writeMapping("no_test_input", std::string(kMapping) + R"(tests:
  - input: {report_no: PR1}
    expect: []
)"));
  REQUIRE_FALSE(no_types);
  CHECK_THAT(no_types.error().format(), Catch::Contains("need test_input"));

  auto declared = mapping::loadMapping(writeMapping("declared_test_input", R"(name: x
input: {a: int}
test_input: {a: int}
emit: [{fields: {b: a}}]
)"));
  REQUIRE_FALSE(declared);
  CHECK_THAT(declared.error().format(), Catch::Contains("'test_input' is only for input: from_source"));
}
