// One definition per contract (src/contract): the committed JSON Schemas, the HR store tables and
// the loader mappings' columns are what the definitions say.
// DUTYBRIDGE_UPDATE_DOCS=1 rewrites docs/schemas/*.json from the definitions.

#include "src/contract/contract_spec.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>

#include "src/mapping/mapping.h"
#include "tests/support/files.h"

using namespace dutybridge;

namespace {
const std::filesystem::path kSource = DUTYBRIDGE_SOURCE_DIR;
}

TEST_CASE("contracts: docs/schemas holds the JSON Schema each contract definition gives", "[contract][docs]") {
  for (const contract::Spec* spec : contract::all()) {
    INFO(spec->name << ": run the test with DUTYBRIDGE_UPDATE_DOCS=1 to regenerate it");
    auto file = kSource / "docs" / "schemas" / (spec->name + ".json");
    std::string generated = contract::jsonSchema(*spec);
    if (const char* update = std::getenv("DUTYBRIDGE_UPDATE_DOCS"); update && std::string(update) == "1") {
      testing::writeFile(file, generated);
    }
    CHECK(testing::readFile(file) == generated);
  }
}

TEST_CASE("contracts: the HR store loader mappings emit exactly the columns of their tables", "[contract]") {
  const contract::Spec& records = contract::employeeRecord();
  for (const auto& [table, file] : {std::pair{"employee_skill", "hr_store_skill.yaml"},
                                    std::pair{"employee_qualification", "hr_store_qualification.yaml"},
                                    std::pair{"employee_training", "hr_store_training.yaml"},
                                    std::pair{"employee_assignment", "hr_store_assignment.yaml"}}) {
    INFO(file);
    const contract::Table* spec_table = nullptr;
    for (const auto& t : records.tables) {
      if (t.name == table) spec_table = &t;
    }
    REQUIRE(spec_table != nullptr);
    if (!std::filesystem::exists(kSource / "mappings" / file)) {
      FAIL("mappings/" << file << " is missing");
    }
    auto mapping = mapping::loadMapping(kSource / "mappings" / file);
    REQUIRE(mapping);
    REQUIRE((*mapping)->emits.size() == 1);
    std::vector<std::string> emitted;
    for (const auto& [name, expression] : (*mapping)->emits[0].fields) emitted.push_back(name);
    std::vector<std::string> columns;
    for (const auto& [column, field] : records.columns(*spec_table)) columns.push_back(column);
    // The sink binds fields to columns by name: the order is free.
    std::sort(emitted.begin(), emitted.end());
    std::sort(columns.begin(), columns.end());
    CHECK(emitted == columns);
  }
}

TEST_CASE("contracts: keys, columns and the catalog contract", "[contract]") {
  const contract::Spec& facts = contract::dutyKpi();
  auto columns = facts.columns(facts.tables.at(0));
  REQUIRE(columns.size() == 24);
  CHECK(columns[7].first == "period_type");
  CHECK(columns[7].second.path == "period.type");
  CHECK(contract::find("position_catalog.v1")->topic == "hr.position-catalog.v1");
  const auto& tables = contract::employeeRecord().tables;
  auto table = [&](std::string_view name) {
    auto found = std::find_if(tables.begin(), tables.end(), [&](const auto& t) { return t.name == name; });
    REQUIRE(found != tables.end());
    return *found;
  };
  auto assignment_columns = contract::employeeRecord().columns(table("employee_assignment"));
  CHECK(assignment_columns[3].first == "position_code");
  CHECK(assignment_columns.back().first == "department_code");
  CHECK(assignment_columns.back().second.path == "evidence.department_code");
  auto badge_columns = contract::employeeRecord().columns(table("employee_badge"));
  CHECK(badge_columns[3].first == "badge_hash");
  CHECK(badge_columns[3].second.path == "code");
  CHECK(table("employee_badge").record_type == "BADGE");
}

TEST_CASE("contracts: a mapping's record_type is one the contract defines", "[contract]") {
  auto dir = testing::makeTempDir("record-type");
  std::string text = testing::readFile(kSource / "tests/golden/mappings/employee_record_contract/mapping.yaml");
  auto at = text.find("record_type: '\"SKILL_EVIDENCE\"'");
  REQUIRE(at != std::string::npos);
  text.replace(at, 31, "record_type: '\"SKILL_EVIDENCES\"'");
  auto loaded = mapping::loadMapping(testing::writeFile(dir / "mapping.yaml", text));
  REQUIRE_FALSE(loaded);
  auto problems = loaded.error().format();
  CHECK_THAT(problems, Catch::Contains("record_type 'SKILL_EVIDENCES' is not SKILL_EVIDENCE, QUALIFICATION, "
                                       "TRAINING_COMPLETION, ASSIGNMENT"));
  CHECK_THAT(problems, Catch::Contains("did you mean 'SKILL_EVIDENCE'?"));
}
