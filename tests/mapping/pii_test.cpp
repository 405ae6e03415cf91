// Personal data in mappings (docs/mapping-language.md, Personal data): `pii:` classes, the
// compile-time taint through let/emit/aggregate, the refusals, and the masking of views.

#include <stdlib.h>

#include <catch2/catch.hpp>
#include <string>

#include "src/core/clock.h"
#include "src/mapping/mapping.h"
#include "tests/support/files.h"

using namespace dutybridge;

namespace {

std::expected<std::unique_ptr<mapping::Mapping>, diag::Diagnostics> load(const std::string& name,
                                                                         const std::string& text) {
  static const auto dir = testing::makeTempDir("pii");
  ::setenv("DUTYBRIDGE_TEST_PII_HMAC_KEY", "k3y-for-tests", 1);
  return mapping::loadMapping(testing::writeFile(dir / (name + ".yaml"), text));
}

std::string errors(const std::string& name, const std::string& text) {
  auto loaded = load(name, text);
  if (loaded) return "";
  return loaded.error().format();
}

const std::string kHeader = R"(name: pii
hmac_keys:
  badge: ${env:DUTYBRIDGE_TEST_PII_HMAC_KEY}
input:
  report_no: string
  operator_badge: {type: string, pii: mask}
  operator_name: {type: "string?", pii: drop}
  card_no: {type: string, pii: hmac(badge)}
  good_qty: decimal
)";

core::Record report(const std::string& badge) {
  return mapping::recordFromMap(core::Value(core::ValueMap{{"report_no", core::Value(std::string("PR1"))},
                                                           {"operator_badge", core::Value(badge)},
                                                           {"operator_name", core::Value(std::string("Li Lei"))},
                                                           {"card_no", core::Value(std::string("C-99"))},
                                                           {"good_qty", core::Value(std::string("10"))}}));
}

}  // namespace

TEST_CASE("pii: a personal value derived through let is refused in a field that does not allow it", "[mapping][pii]") {
  std::string text = kHeader + R"(let:
  badge_upper: upper(operator_badge)
  line: concat(report_no, "-", badge_upper)
emit:
  - to: out.v1
    fields:
      report_no: report_no
      line: line
)";
  std::string out = errors("derived", text);
  CHECK_THAT(out, Catch::Contains("derived.yaml:17:13: error: a personal value cannot go into field 'line'"));
  CHECK_THAT(out, Catch::Contains("(at emit[0].fields.line)"));
  CHECK_THAT(out, Catch::Contains("allow_personal: [line]"));
}

TEST_CASE("pii: allow_personal lets a field carry it, hmac_sha256 and is_null clear it", "[mapping][pii]") {
  std::string text = kHeader + R"(emit:
  - to: out.v1
    key: [report_no]
    allow_personal: [badge]
    fields:
      badge: operator_badge
      digest: hmac_sha256(operator_badge, "badge")
      has_badge: not is_null(operator_badge)
      card: card_no
)";
  auto loaded = load("allowed", text);
  INFO((loaded ? std::string() : loaded.error().format()));
  REQUIRE(loaded);
  const auto& m = **loaded;
  CHECK(m.emits[0].personal_fields == std::vector<std::string>{"badge"});
  CHECK_FALSE(m.emits[0].personal_key);
  CHECK(m.personalInputFields() == std::vector<std::string>{"operator_badge", "operator_name", "card_no"});

  core::ManualClock clock(core::Timestamp{0});
  core::Record input = report("CANARY-7f3a");
  auto outputs = m.apply(input, m.bind(input.schema()), clock);
  REQUIRE(outputs);
  REQUIRE(outputs->size() == 1);
  core::Record out = (*outputs)[0].record;
  CHECK(out.find("badge")->asString() == "CANARY-7f3a");  // the sink gets what the mapping allows
  // card_no was pseudonymised before the mapping saw it: the same HMAC hmac_sha256 computes.
  CHECK(out.find("card")->asString() == expr::hmacSha256Hex("k3y-for-tests", "C-99"));
  CHECK(out.find("card")->asString().size() == 64);

  m.maskOutput(out, 0);
  CHECK(out.find("badge")->asString() == "***");
  CHECK(out.find("digest")->asString() != "***");
  m.maskInput(input);
  CHECK(input.find("operator_badge")->asString() == "***");
  CHECK(input.find("operator_name")->asString() == "***");
  CHECK(input.find("card_no")->asString() == "***");
  CHECK(input.find("report_no")->asString() == "PR1");
}

TEST_CASE("pii: for embedded tests an hmac key is a fixed test key, no secret needed", "[mapping][pii]") {
  static const auto dir = testing::makeTempDir("pii-test-keys");
  std::string text = R"(name: test-keys
hmac_keys:
  badge: ${cred:badge_hmac_key}
input:
  card_no: {type: string, pii: hmac(badge)}
emit:
  - to: out.v1
    fields:
      card: card_no
)";
  auto file = testing::writeFile(dir / "keys.yaml", text);
  ::unsetenv("CREDENTIALS_DIRECTORY");
  auto daemon = mapping::loadMapping(file);  // the daemon needs the credential
  REQUIRE_FALSE(daemon);
  CHECK_THAT(daemon.error().format(), Catch::Contains("CREDENTIALS_DIRECTORY is not set"));
  auto tests = mapping::loadMapping(file, {.test_hmac_keys = true});
  INFO((tests ? std::string() : tests.error().format()));
  REQUIRE(tests);
  core::ManualClock clock(core::Timestamp{0});
  core::Record input =
      mapping::recordFromMap(core::Value(core::ValueMap{{"card_no", core::Value(std::string("C-99"))}}));
  auto outputs = (*tests)->apply(input, (*tests)->bind(input.schema()), clock);
  REQUIRE(outputs);
  REQUIRE(outputs->size() == 1);
  CHECK((*outputs)[0].record.find("card")->asString() == expr::hmacSha256Hex("dutybridge-test-key:badge", "C-99"));
}

TEST_CASE("pii: a personal key is refused unless allowed, and then masked", "[mapping][pii]") {
  std::string refused = errors("key", kHeader + R"(emit:
  - to: out.v1
    key: [operator_badge]
    fields: {report_no: report_no}
)");
  CHECK_THAT(refused, Catch::Contains("a personal value cannot go into the record key"));
  auto loaded = load("key-allowed", kHeader + R"(emit:
  - to: out.v1
    key: [operator_badge]
    allow_personal: [_key]
    fields: {report_no: report_no}
)");
  REQUIRE(loaded);
  core::Record input = report("CANARY-7f3a");
  core::ManualClock clock(core::Timestamp{0});
  auto outputs = (*loaded)->apply(input, (*loaded)->bind(input.schema()), clock);
  REQUIRE(outputs);
  core::Record out = (*outputs)[0].record;
  CHECK(out.meta.key == "CANARY-7f3a");
  (*loaded)->maskOutput(out);  // by topic
  CHECK(out.meta.key == "***");
}

TEST_CASE("pii: a drop field cannot be read, and an unknown class or key is located", "[mapping][pii]") {
  std::string out = errors("drop", kHeader + R"(emit:
  - fields: {who: operator_name}
)");
  CHECK_THAT(out, Catch::Contains("drop.yaml:11:19: error: input field 'operator_name' is classed pii: drop"));
  out = errors("bad-class", R"(name: pii
input:
  a: {type: string, pii: hide}
  b: {type: string, pii: hmac(nokey)}
emit:
  - fields: {a: a}
)");
  CHECK_THAT(out, Catch::Contains("3:26: error: unknown pii class 'hide' (at input.a.pii)"));
  CHECK_THAT(out, Catch::Contains("4:26: error: unknown HMAC key 'nokey' (at input.b.pii)"));
}

TEST_CASE("pii: a contract allows the employee number only and counts are not personal", "[mapping][pii]") {
  const std::string base = R"(name: pii-kpi
catalog: )" + std::string(DUTYBRIDGE_SOURCE_DIR) +
                           R"(/config/duties.yaml
input:
  badge: {type: string, pii: mask}
  shift_date: date
  good_qty: decimal
emit:
  - contract: duty_kpi.v1
    fields:
      kpi_code: '"KPI.TL.DAILY_GOOD_OUTPUT"'
      employee_no: badge
      period_id: to_string(shift_date)
      value: good_qty
)";
  auto loaded = load("contract-ok", base);
  INFO((loaded ? std::string() : loaded.error().format()));
  REQUIRE(loaded);
  CHECK((*loaded)->emits[0].personal_fields == std::vector<std::string>{"employee_no", "fact_key"});
  CHECK((*loaded)->emits[0].personal_key);

  std::string out = errors("contract-refused", base + "      org_unit: concat(\"T-\", badge)\n");
  CHECK_THAT(out, Catch::Contains("a personal value cannot go into duty_kpi.v1 field 'org_unit'"));
  CHECK_THAT(out, Catch::Contains("duty_kpi.v1 allows personal values only in employee_no"));
}

TEST_CASE("pii: input from_source classes fields under input.pii", "[mapping][pii]") {
  std::string text = R"(name: pii-src
input:
  from_source: true
  pii: {badge: mask, name: drop}
emit:
  - fields: {n: report_no, b: badge}
)";
  std::string out = errors("from-source", text);
  CHECK_THAT(out, Catch::Contains("a personal value cannot go into field 'b'"));
  core::SourceDescription described = {{"report_no", core::ValueType::String, false},
                                       {"badge", core::ValueType::String, false}};
  auto loaded = load("from-source-ok", R"(name: pii-src
input:
  from_source: true
  pii: {badge: mask, nam: drop}
emit:
  - fields: {n: report_no}
)");
  REQUIRE(loaded);
  auto compiled = (*loaded)->compileFor(described);
  REQUIRE_FALSE(compiled);
  CHECK_THAT(compiled.error().format(), Catch::Contains("the source's description has no field 'nam' to class"));
}
