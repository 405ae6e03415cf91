// Data-driven golden tests for mapping files: tests/golden/mappings/<case>/ holds mapping.yaml
// and either expected_diagnostics.txt (the exact load diagnostics, with the case folder
// written as "<case>/") or input.jsonl + expected.jsonl (what `dutybridge map` would print:
// one {"topic","key","value"} line per output, or {"dead_letter": reason}). A case whose mapping
// has `input: from_source` adds source_description.json ([{"name","type","nullable"}], type as
// core::toString(ValueType) spells it): the mapping is compiled against it, as at start-up.
// DUTYBRIDGE_UPDATE_GOLDEN=1 rewrites the expected files.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validator.hpp>

#include "src/codec/json.h"
#include "src/codec/json_value.h"
#include "src/core/clock.h"
#include "src/mapping/mapping.h"
#include "src/mapping/mapping_schema.h"
#include "src/mapping/mapping_transform.h"
#include "src/schema/schema_doc.h"
#include "tests/support/docs.h"
#include "tests/support/files.h"

using namespace dutybridge;

namespace {

const std::filesystem::path kGolden = DUTYBRIDGE_GOLDEN_MAPPINGS_DIR;

using testing::readFile;

std::string replaceAll(std::string text, const std::string& from, const std::string& to) {
  for (size_t at = text.find(from); at != std::string::npos; at = text.find(from, at + to.size())) {
    text.replace(at, from.size(), to);
  }
  return text;
}

void compareOrUpdate(const std::filesystem::path& expected_file, const std::string& actual) {
  if (std::getenv("DUTYBRIDGE_UPDATE_GOLDEN")) {
    std::ofstream(expected_file) << actual;
    return;
  }
  REQUIRE(std::filesystem::exists(expected_file));
  CHECK(actual == readFile(expected_file));
}

// Stateful mappings (aggregate:, quarantine:) run as the pipeline runs them, through a
// MappingTransform, one input line per batch. Lines may carry directives: "_now" sets the clock
// (a line with nothing else only moves it and lets windows close), "_write" + "_text" replace a
// file of the case (a reference table learning a row; the case runs in a copy of its folder).
// After each line the outputs, the dead letters and a change in the number of quarantined
// records are printed.
std::string runStateful(std::shared_ptr<const mapping::Mapping> mapping, const std::filesystem::path& input,
                        const std::filesystem::path& dir) {
  core::ManualClock clock(*core::parseTimestamp("2025-03-14T12:00:00Z"));
  mapping::MappingTransform transform(mapping, clock);
  std::ifstream in(input);
  std::string line, out;
  size_t held = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto value = codec::parseJsonValue(line);
    REQUIRE(value);
    core::ValueMap fields;
    for (const auto& [name, v] : value->asMap()) {
      if (name == "_now") {
        clock.set(*core::parseTimestamp(v.asString()));
      } else if (name == "_write") {
        std::ofstream(dir / v.asString()) << value->find("_text")->asString();
      } else if (name != "_text") {
        fields.emplace_back(name, v);
      }
    }
    std::vector<core::Record> records;
    if (!fields.empty()) records.push_back(mapping::recordFromMap(core::Value(std::move(fields))));
    std::vector<core::Record> outputs;
    std::vector<core::DeadLetter> dead;
    if (records.empty()) {
      transform.tick(outputs, dead);
    } else {
      transform.apply(records, outputs, dead);
    }
    for (const auto& o : outputs) out += codec::envelopeJson(o) + "\n";
    for (const auto& letter : dead) {
      nlohmann::ordered_json d;
      d["dead_letter"] = letter.reason;
      out += d.dump() + "\n";
    }
    if (transform.quarantined() != held) {
      held = transform.quarantined();
      nlohmann::ordered_json q;
      q["quarantined"] = held;
      out += q.dump() + "\n";
    }
  }
  return out;
}

std::string runCase(const mapping::Mapping& mapping, const std::filesystem::path& input) {
  core::ManualClock clock(*core::parseTimestamp("2025-03-14T12:00:00Z"));
  std::ifstream in(input);
  std::string line, out;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    auto value = codec::parseJsonValue(line);
    REQUIRE(value);
    core::Record record = mapping::recordFromMap(*value);
    auto outputs = mapping.apply(record, mapping.bind(record.schema()), clock);
    if (!outputs) {
      nlohmann::ordered_json dead;
      dead["dead_letter"] = outputs.error().message;
      out += dead.dump() + "\n";
      continue;
    }
    for (const auto& o : *outputs) out += codec::envelopeJson(o.record) + "\n";
  }
  return out;
}

// source_description.json of a case, if it has one.
std::optional<core::SourceDescription> readDescription(const std::filesystem::path& dir) {
  if (!std::filesystem::exists(dir / "source_description.json")) return std::nullopt;
  core::SourceDescription fields;
  for (const auto& item : nlohmann::json::parse(readFile(dir / "source_description.json"))) {
    core::FieldDescription field;
    field.name = item.at("name").get<std::string>();
    bool known = false;
    for (auto type : {core::ValueType::Null, core::ValueType::Bool, core::ValueType::Int, core::ValueType::Decimal,
                      core::ValueType::Double, core::ValueType::String, core::ValueType::Timestamp, core::ValueType::Date,
                      core::ValueType::List, core::ValueType::Map}) {
      if (core::toString(type) == item.at("type").get<std::string>()) {
        field.type = type;
        known = true;
      }
    }
    REQUIRE(known);
    field.nullable = item.value("nullable", true);
    fields.push_back(std::move(field));
  }
  return fields;
}

}  // namespace

TEST_CASE("golden mapping files", "[mapping][golden]") {
  REQUIRE(std::filesystem::is_directory(kGolden));
  std::vector<std::filesystem::path> cases;
  for (const auto& entry : std::filesystem::directory_iterator(kGolden)) {
    if (entry.is_directory()) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  REQUIRE(cases.size() >= 6);
  for (const auto& dir : cases) {
    std::string name = dir.filename().string();
    SECTION(name) {
      auto description = readDescription(dir);
      auto loaded = mapping::loadMapping(dir / "mapping.yaml", {.description = description ? &*description : nullptr});
      if (std::filesystem::exists(dir / "expected_diagnostics.txt") || (!loaded && std::getenv("DUTYBRIDGE_UPDATE_GOLDEN"))) {
        REQUIRE_FALSE(loaded.has_value());
        std::string text = replaceAll(loaded.error().format(), dir.string() + "/", name + "/");
        compareOrUpdate(dir / "expected_diagnostics.txt", text);
      } else {
        if (!loaded) FAIL(loaded.error().format());
        std::string outputs;
        if ((*loaded)->aggregate || (*loaded)->quarantine) {
          // In a scratch copy of the case: its input may rewrite the case's files.
          auto scratch = std::filesystem::temp_directory_path() / ("dutybridge_golden_" + name + "_" + std::to_string(::getpid()));
          std::filesystem::remove_all(scratch);
          std::filesystem::copy(dir, scratch, std::filesystem::copy_options::recursive);
          auto copy = mapping::loadMapping(scratch / "mapping.yaml");
          if (!copy) FAIL(copy.error().format());
          outputs = replaceAll(runStateful(std::move(*copy), scratch / "input.jsonl", scratch), scratch.string() + "/",
                               name + "/");
          std::filesystem::remove_all(scratch);
        } else {
          outputs = replaceAll(runCase(**loaded, dir / "input.jsonl"), dir.string() + "/", name + "/");
        }
        compareOrUpdate(dir / "expected.jsonl", outputs);
        auto failures = mapping::runMappingTests(**loaded);
        for (const auto& failure : failures) FAIL_CHECK(failure);
      }
    }
  }
}

TEST_CASE("JSON input keeps numbers exact", "[mapping][json]") {
  auto value = codec::parseJsonValue(R"({"a":0.1,"b":12345678901234567890123,"c":[1,"x",null],"d":{"e":true}})");
  REQUIRE(value);
  CHECK(value->find("a")->asDecimal().toString() == "0.1");
  CHECK(value->find("b")->asDecimal().toString() == "12345678901234567890123");
  CHECK(value->find("c")->asList().size() == 3);
  CHECK(value->find("d")->find("e")->asBool());
  CHECK_FALSE(codec::parseJsonValue("{\"a\":").has_value());
  CHECK_FALSE(codec::parseJsonValue(std::string(100000, '[')).has_value());
}

namespace {

// What `schema` finds wrong with `doc`, one problem a line; empty when it validates.
std::string schemaProblems(const valijson::Schema& schema, const nlohmann::json& doc) {
  valijson::Validator validator;
  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter target(doc);
  if (validator.validate(schema, target, &results)) return {};
  std::string problems = "invalid:\n";
  valijson::ValidationResults::Error error;
  while (results.popError(error)) problems += error.description + "\n";
  return problems;
}

}  // namespace

TEST_CASE("contract outputs validate against the JSON Schemas in docs/schemas", "[mapping][contract]") {
  const std::filesystem::path schemas = DUTYBRIDGE_SCHEMA_DIR;
  auto loadSchema = [&](const std::string& name, valijson::Schema& schema) {
    nlohmann::json doc = nlohmann::json::parse(readFile(schemas / name));
    valijson::SchemaParser parser;
    valijson::adapters::NlohmannJsonAdapter adapter(doc);
    parser.populateSchema(adapter, schema);
  };
  valijson::Schema duty_kpi, employee_record;
  loadSchema("duty_kpi.v1.json", duty_kpi);
  loadSchema("employee_record.v1.json", employee_record);
  size_t validated = 0, refused = 0;
  for (const char* name : {"duty_kpi_contract", "employee_record_contract", "employee_record_record_id"}) {
    auto dir = kGolden / name;
    auto loaded = mapping::loadMapping(dir / "mapping.yaml");
    REQUIRE(loaded);
    std::ifstream in(dir / "input.jsonl");
    std::string line;
    core::ManualClock clock(*core::parseTimestamp("2025-03-14T12:00:00Z"));
    while (std::getline(in, line)) {
      core::Record record = mapping::recordFromMap(*codec::parseJsonValue(line));
      record.meta.source_position = "{\"id\":1}";
      auto outputs = (*loaded)->apply(record, (*loaded)->bind(record.schema()), clock);
      if (!outputs) {
        // The cases' key parts with '|' or empty: Permanent errors (dead letters), never records.
        CHECK(outputs.error().kind == core::ErrorKind::Permanent);
        ++refused;
        continue;
      }
      for (const auto& out : *outputs) {
        nlohmann::json doc = nlohmann::json::parse(codec::toJson(out.record).dump());
        const valijson::Schema& schema = *out.record.meta.topic == "hr.duty-kpi.v1" ? duty_kpi : employee_record;
        std::string problems = schemaProblems(schema, doc);
        INFO(doc.dump() << "\n" << problems);
        CHECK(problems.empty());
        ++validated;
      }
    }
  }
  CHECK(validated == 7);
  CHECK(refused == 2);

  // And a document that breaks the contract is refused, so the check has teeth.
  nlohmann::json bad = {{"fact_key", "no-bars"}, {"revision", 0}};
  valijson::Validator validator;
  valijson::adapters::NlohmannJsonAdapter target(bad);
  CHECK_FALSE(validator.validate(duty_kpi, target, nullptr));
}

namespace {

// The facts a shipped HOUR mapping makes of one report in the 5th hour of a night shift (then
// the clock past that hour's close), each validated against duty_kpi.v1 and checked for the
// hour's period and the team.
std::vector<nlohmann::json> nightHourFacts(const std::string& mapping_file) {
  const std::filesystem::path schemas = DUTYBRIDGE_SCHEMA_DIR;
  nlohmann::json schema_doc = nlohmann::json::parse(readFile(schemas / "duty_kpi.v1.json"));
  valijson::Schema duty_kpi;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, duty_kpi);

  auto loaded = mapping::loadMapping(schemas.parent_path().parent_path() / "mappings" / mapping_file);
  if (!loaded) FAIL(loaded.error().format());
  testing::TempDir dir("hour-contract");
  auto input = dir.write(
      "input.jsonl", R"({"_now":"2025-03-14T16:45:00Z","report_no":"PR-1","work_order_no":"WO-1",)"
                     R"("operation_code":"MLD-INJ","product_code":"CVR-3105","workshop_code":"MOLD",)"
                     R"("team_code":"MOLD-T1","operator_badge":"B000123","shift_code":"N","shift_date":"2025-03-14",)"
                     R"("time_to":"2025-03-14T16:40:00Z","good_qty":"110","scrap_qty_labor":"2","uom":"PCS",)"
                     R"("state":"ACCEPTED","updated_at":"2025-03-14T16:45:00Z"})"
                     "\n"
                     R"({"_now":"2025-03-14T19:00:00Z"})"
                     "\n");
  std::string outputs = runStateful(std::move(*loaded), input, dir.path());
  std::istringstream lines(outputs);
  std::string line;
  std::vector<nlohmann::json> facts;
  while (std::getline(lines, line)) {
    nlohmann::json envelope = nlohmann::json::parse(line);
    REQUIRE(envelope.contains("value"));
    const nlohmann::json& doc = envelope["value"];
    std::string problems = schemaProblems(duty_kpi, doc);
    INFO(doc.dump() << "\n" << problems);
    CHECK(problems.empty());
    CHECK(doc["period"]["type"] == "HOUR");
    CHECK(doc["period"]["id"] == "2025-03-14/N/05");
    CHECK(doc["period"]["shift_date"] == "2025-03-14");
    CHECK(doc["period"]["shift_code"] == "N");
    CHECK(doc["period"]["start"] == "2025-03-14T16:00:00Z");
    CHECK(doc["period"]["end"] == "2025-03-14T17:00:00Z");
    CHECK(doc["org_unit"] == "MOLD-T1");
    facts.push_back(doc);
  }
  return facts;
}

}  // namespace

TEST_CASE(
    "SKILL_EVIDENCE records of the shipped ROLLING mes-skill-evidence mapping validate against employee_record.v1",
    "[mapping][contract]") {
  const std::filesystem::path schemas = DUTYBRIDGE_SCHEMA_DIR;
  nlohmann::json schema_doc = nlohmann::json::parse(readFile(schemas / "employee_record.v1.json"));
  valijson::Schema employee_record;
  valijson::SchemaParser parser;
  valijson::adapters::NlohmannJsonAdapter schema_adapter(schema_doc);
  parser.populateSchema(schema_adapter, employee_record);

  auto loaded = mapping::loadMapping(schemas.parent_path().parent_path() / "mappings" / "mes_skill_evidence.yaml");
  if (!loaded) FAIL(loaded.error().format());
  testing::TempDir dir("skill-contract");
  // A report, then the clock past the Shanghai midnight that ages it out of the 90 days: the
  // record and its lapse.
  auto input = dir.write(
      "input.jsonl", R"({"_now":"2025-03-14T05:00:00Z","report_no":"PR-1","work_order_no":"WO-1",)"
                     R"("operation_code":"OP010","product_code":"HSG-2201","workstation_code":"CNC-07",)"
                     R"("workshop_code":"MACH","operator_badge":"B000126","shift_code":"A","shift_date":"2025-03-14",)"
                     R"("time_from":"2025-03-14T00:00:00Z","time_to":"2025-03-14T04:30:00Z","good_qty":"96",)"
                     R"("scrap_qty_labor":"4","state":"ACCEPTED","updated_at":"2025-03-14T04:35:00Z"})"
                     "\n"
                     R"({"_now":"2025-06-11T16:00:00Z"})"
                     "\n");
  std::string outputs = runStateful(std::move(*loaded), input, dir.path());
  std::istringstream lines(outputs);
  std::string line;
  std::vector<nlohmann::json> records;
  while (std::getline(lines, line)) {
    nlohmann::json envelope = nlohmann::json::parse(line);
    REQUIRE(envelope.contains("value"));
    const nlohmann::json& doc = envelope["value"];
    std::string problems = schemaProblems(employee_record, doc);
    INFO(doc.dump() << "\n" << problems);
    CHECK(problems.empty());
    CHECK(envelope["topic"] == "hr.employee-record.v1");
    CHECK(doc["record_type"] == "SKILL_EVIDENCE");
    CHECK(doc.dump().find("B000126") == std::string::npos);
    records.push_back(doc);
  }
  REQUIRE(records.size() == 2);
  CHECK(records[0]["revision"] == 1);
  CHECK(records[0]["evidence"]["lapsed"] == false);
  CHECK(records[1]["revision"] == 2);
  CHECK(records[1]["evidence"]["lapsed"] == true);
  CHECK(records[1]["valid_to"] == "2025-06-11");
}

TEST_CASE("HOUR facts of the shipped team-hourly-output mapping validate against duty_kpi.v1", "[mapping][contract]") {
  auto facts = nightHourFacts("team_hourly_output.yaml");
  std::set<std::string> kpis;
  for (const auto& doc : facts) kpis.insert(doc["kpi_code"].get<std::string>());
  // Three facts a revision (open, then closed).
  CHECK(facts.size() == 6);
  CHECK(kpis == std::set<std::string>{"KPI.TL.HOURLY_FPY", "KPI.TL.HOURLY_GOOD_OUTPUT", "KPI.TL.HOURLY_SCRAP"});
}

TEST_CASE("HOUR facts of the shipped operator-hourly-output mapping validate against duty_kpi.v1, without the badge",
          "[mapping][contract]") {
  auto facts = nightHourFacts("operator_hourly_output.yaml");
  // One fact, open and then closed: the operator's (the badge's holder on the shift date).
  REQUIRE(facts.size() == 2);
  for (const auto& doc : facts) {
    INFO(doc.dump());
    CHECK(doc["kpi_code"] == "KPI.OP.HOURLY_GOOD_OUTPUT");
    CHECK(doc["employee_no"] == "E10023");
    CHECK(doc["position_code"] == "OPERATOR");
    CHECK(doc.contains("target"));
    CHECK(doc.value("target", nlohmann::json(0)).is_null());
    CHECK(doc.dump().find("B000123") == std::string::npos);
  }
  CHECK(facts[1]["period"]["closed"] == true);
}

TEST_CASE("a transform's stored entries are summarised for status by their owner", "[mapping][state]") {
  // `dutybridge status` counts through StateSummary instead of knowing the key layout itself.
  mapping::StateSummary summary;
  summary.add("w/E10013|SHIFT|2025-03-14/N", R"({"g":[],"pt":"SHIFT","closed":false,"rev":2})");
  summary.add("w/E10011|SHIFT|2025-03-14/N", R"({"g":[],"pt":"SHIFT","closed":true,"rev":3})");
  summary.add("w/E10012|SHIFT|2025-03-14/N", R"({"closed":"no"})");
  summary.add("w/E10014|SHIFT|2025-03-14/N", "{not json");
  summary.add("s/PR-1", R"({"v":null,"parts":[]})");
  summary.add("s/PR-2", R"({"v":null,"parts":[]})");
  summary.add("q/id/PR-3", R"({"since":0,"reason":"x","record":"{}"})");
  summary.add("x/through", "2025-03-14");
  CHECK(summary.windows == 4);
  CHECK(summary.open_windows == 1);
  CHECK(summary.unreadable_windows == 2);
  CHECK(summary.rows == 2);
  CHECK(summary.quarantined == 1);
}

TEST_CASE("docs/mapping-language.md and docs/aggregation.md list the keys the loader checks", "[mapping][docs]") {
  const auto docs = std::filesystem::path(DUTYBRIDGE_SCHEMA_DIR).parent_path();
  testing::checkGeneratedRegion(docs / "mapping-language.md", "mapping keys",
                                schema::markdownKeyTable(mapping::mappingFileSchema()));
  testing::checkGeneratedRegion(docs / "aggregation.md", "aggregate keys",
                                schema::markdownKeyTable(mapping::aggregateBlockSchema()));
}
