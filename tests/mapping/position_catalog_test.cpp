// The position catalog (src/catalog): the shipped config/duties.yaml loads and gives the elements
// hr.position-catalog.v1 carries; every kind of mistake is a located error.

#include "src/catalog/position_catalog.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/support/files.h"

using namespace dutybridge;

namespace {

const std::filesystem::path kSource = DUTYBRIDGE_SOURCE_DIR;

// The catalog `text` (after a minimal header) loaded from a temp file: its diagnostics, or "".
std::string problems(const std::string& text) {
  auto dir = testing::makeTempDir("catalog");
  auto file =
      testing::writeFile(dir / "duties.yaml", "plant: p1\ntime_zone: Asia/Shanghai\nvalid_from: 2025-01-01\n" + text);
  auto loaded = catalog::loadPositionCatalog(file);
  return loaded ? std::string() : loaded.error().format();
}

const catalog::CatalogElement* element(const std::vector<catalog::CatalogElement>& all, const std::string& key) {
  for (const auto& e : all) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const char* kSmall = R"(departments:
  MACH: {title: {zh: 机加工车间, en: Machining}}
skills:
  SK.TURN: {title: Turning, levels: [{level: 1, min_hours: 8}, {level: 2, min_hours: 40}]}
qualifications:
  Q.FORK: Forklift licence
trainings:
  T.SAFE: {title: {zh: 三级安全教育}}
positions:
  OP:
    title: {zh: 操作工, en: Operator}
    department: MACH
    duties:
      - code: D.OUT
        title: Output
        responsibility: Makes parts.
        kpis:
          - {code: KPI.OUT, unit: PCS, period: SHIFT, aggregation: SUM,
             targets: [{from: 2025-01-01, value: 100}, {from: 2025-04-01, value: 120}]}
    requirements:
      - {skill: SK.TURN, min_level: 1, valid_to: 2025-05-31}
      - {skill: SK.TURN, min_level: 2, valid_from: 2025-06-01}
      - {training: T.SAFE}
  CELL:
    title: Cell operator
    duties:
      - code: D.CELL
        valid_from: 2025-03-01
        kpis: [{code: KPI.OUT}]
)";

}  // namespace

TEST_CASE("position catalog: the shipped duties.yaml loads with departments, competences and requirements",
          "[catalog]") {
  auto loaded = catalog::loadPositionCatalog(kSource / "config/duties.yaml");
  REQUIRE(loaded.has_value());
  CHECK(loaded->departments.size() == 14);
  CHECK(loaded->findCompetence(catalog::CompetenceKind::Skill, "SK.CNC-TURNING") != nullptr);
  CHECK(loaded->kpis.contains("KPI.TL.DAILY_GOOD_OUTPUT"));
  auto elements = catalog::catalogElements(*loaded);
  const auto* cell = element(elements, "REQUIREMENT|CNC_CELL_OPERATOR|SKILL|SK.CNC-TURNING|2025-01-01");
  REQUIRE(cell != nullptr);
  CHECK(cell->level == 2);
  // The raised target of the team's output is a second version of the KPI under its duty.
  const auto* raised = element(elements, "DUTY_KPI|TEAM_LEADER|DUTY.TL.OUTPUT|KPI.TL.DAILY_GOOD_OUTPUT|2025-04-01");
  REQUIRE(raised != nullptr);
  CHECK(raised->target->toString() == "1300");
}

TEST_CASE("position catalog: elements are versioned by validity, targets split a KPI into versions", "[catalog]") {
  REQUIRE(problems(kSmall) == "");
  auto dir = testing::makeTempDir("catalog");
  auto file = testing::writeFile(dir / "duties.yaml", std::string("plant: p1\nvalid_from: 2025-01-01\n") + kSmall);
  auto loaded = catalog::loadPositionCatalog(file);
  REQUIRE(loaded.has_value());
  auto elements = catalog::catalogElements(*loaded);

  const auto* department = element(elements, "DEPARTMENT|MACH|2025-01-01");
  REQUIRE(department != nullptr);
  CHECK(*department->title_zh == "机加工车间");
  CHECK(*department->title_en == "Machining");
  CHECK(element(elements, "SKILL_LEVEL|SK.TURN|2|2025-01-01")->min_hours->toString() == "40");
  CHECK(element(elements, "QUALIFICATION|Q.FORK|2025-01-01")->title_en == "Forklift licence");

  const auto* first = element(elements, "DUTY_KPI|OP|D.OUT|KPI.OUT|2025-01-01");
  REQUIRE(first != nullptr);
  CHECK(first->target->toString() == "100");
  CHECK(core::formatDate(*first->valid.to) == "2025-03-31");
  const auto* second = element(elements, "DUTY_KPI|OP|D.OUT|KPI.OUT|2025-04-01");
  REQUIRE(second != nullptr);
  CHECK(second->target->toString() == "120");
  CHECK_FALSE(second->valid.to.has_value());
  // A duty from March referring to the KPI: the target in force then, then the raised one.
  CHECK(element(elements, "DUTY_KPI|CELL|D.CELL|KPI.OUT|2025-03-01")->target->toString() == "100");
  CHECK(element(elements, "DUTY_KPI|CELL|D.CELL|KPI.OUT|2025-04-01")->target->toString() == "120");

  const auto* low = element(elements, "REQUIREMENT|OP|SKILL|SK.TURN|2025-01-01");
  const auto* high = element(elements, "REQUIREMENT|OP|SKILL|SK.TURN|2025-06-01");
  REQUIRE(low != nullptr);
  REQUIRE(high != nullptr);
  CHECK(low->level == 1);
  CHECK(high->level == 2);
  CHECK(*element(elements, "DUTY|OP|D.OUT|2025-01-01")->responsibility == "Makes parts.");
  CHECK(element(elements, "POSITION|OP|2025-01-01")->department_code == "MACH");
}

TEST_CASE("position catalog: mistakes are located errors", "[catalog]") {
  SECTION("a requirement on an unknown skill, with a suggestion") {
    auto text = problems("skills: {SK.TURN: Turning}\npositions:\n  OP:\n    requirements: [{skill: SK.TRUN}]\n");
    CHECK_THAT(text, Catch::Contains("duties.yaml:7:28: error: unknown skill 'SK.TRUN'"));
    CHECK_THAT(text, Catch::Contains("did you mean 'SK.TURN'?"));
  }
  SECTION("overlapping validity of one requirement") {
    auto text = problems(
        "trainings: {T.SAFE: Safety}\npositions:\n  OP:\n    requirements:\n"
        "      - {training: T.SAFE, valid_to: 2025-06-30}\n      - {training: T.SAFE, valid_from: 2025-06-01}\n");
    CHECK_THAT(text, Catch::Contains("training T.SAFE is required twice by position OP with overlapping validity"));
  }
  SECTION("overlapping validity of one duty") {
    auto text =
        problems("positions:\n  OP:\n    duties:\n      - {code: D.A}\n      - {code: D.A, valid_from: 2025-03-01}\n");
    CHECK_THAT(text, Catch::Contains("duty D.A of position OP is listed twice with overlapping validity"));
  }
  SECTION("an unknown department and an unknown key") {
    auto text = problems("departments: {MACH: Machining}\npositions:\n  OP: {department: MACK, requirments: []}\n");
    CHECK_THAT(text, Catch::Contains("unknown department 'MACK'"));
    CHECK_THAT(text, Catch::Contains("unknown key 'requirments'"));
  }
  SECTION("a level the skill does not have, a level on a training, valid_to before valid_from") {
    auto text = problems(
        "skills: {SK.T: {levels: [{level: 1, min_hours: 8}]}}\ntrainings: {T.S: S}\npositions:\n  OP:\n"
        "    valid_to: 2024-12-31\n    requirements: [{skill: SK.T, min_level: 3}, {training: T.S, min_level: 1}]\n");
    CHECK_THAT(text, Catch::Contains("skill SK.T has no level 3 (its highest is 1)"));
    CHECK_THAT(text, Catch::Contains("only a skill requirement has a 'min_level'"));
    CHECK_THAT(text, Catch::Contains("'valid_to' is before 'valid_from'"));
  }
  SECTION("levels that do not go up, a KPI referred to but defined nowhere") {
    auto text = problems(
        "skills: {SK.T: {levels: [{level: 1, min_hours: 8}, {level: 2, min_hours: 8}]}}\npositions:\n  OP:\n"
        "    duties: [{code: D.A, kpis: [{code: KPI.NOPE}]}]\n");
    CHECK_THAT(text, Catch::Contains("levels go up"));
    CHECK_THAT(text, Catch::Contains("KPI KPI.NOPE is referred to but defined nowhere in the catalog"));
  }
}
