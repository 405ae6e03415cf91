#pragma once
// The position catalog (config/duties.yaml, docs/personnel-file.md): the plant's departments,
// its skills, qualifications and trainings, and its positions with their duties, the KPIs that
// measure each duty (unit, period, direction, effective-dated targets) and their requirements
// (a skill at a minimum level, a qualification, a training). Every element is effective-dated
// (`valid_from`, `valid_to`, both inclusive; open-ended without `valid_to`).
//
// Two readers: mappings check duty_kpi.v1 facts against the KPIs (src/mapping/contracts.h), and
// the `position_catalog` source publishes the elements (catalogElements) to the compacted topic
// hr.position-catalog.v1, from which the HR store loader fills the position_catalog table.
//
// Pure functions; the loaded catalog is immutable and may be shared between threads.

#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/core/decimal.h"
#include "src/core/time.h"
#include "src/diagnostics/diagnostics.h"

namespace dutybridge::catalog {

// A title in the plant's languages: `title: Team leader` (English) or
// `title: {zh: 班组长, en: Team leader}`.
struct Title {
  std::string zh;
  std::string en;
  // English when given, else Chinese.
  const std::string& text() const { return en.empty() ? zh : en; }
};

// Inclusive days; `to` empty = open-ended.
struct Validity {
  core::Date from{0};
  std::optional<core::Date> to;
  bool covers(core::Date day) const { return from <= day && (!to || day <= *to); }
  bool overlaps(const Validity& other) const { return (!to || other.from <= *to) && (!other.to || from <= *other.to); }
};

struct KpiTarget {
  core::Date from;
  core::Decimal value;
};

struct KpiDefinition {
  std::string code;
  std::string title;
  std::string duty_code;
  std::string position_code;
  std::string unit;
  std::string period;       // SHIFT | DAY | WEEK | MONTH | HOUR
  std::string aggregation;  // SUM | COUNT | COUNT_DISTINCT | MIN | MAX | RATIO_OF_SUMS | WEIGHTED_AVG
  bool lower_is_better = false;
  std::vector<KpiTarget> targets;  // ascending by `from`

  // The target in force on `day`, if any.
  std::optional<core::Decimal> targetOn(core::Date day) const;
};

struct Department {
  std::string code;
  Title title;
  Validity valid;
};

enum class CompetenceKind { Skill, Qualification, Training };
// "SKILL", "QUALIFICATION", "TRAINING"
std::string_view toString(CompetenceKind kind);

// Hours practised within the skill's rolling window that make a level.
struct SkillLevel {
  int level = 0;
  core::Decimal min_hours;
};

// A skill, qualification (licence, certificate) or training the plant tracks.
struct Competence {
  CompetenceKind kind = CompetenceKind::Skill;
  std::string code;
  Title title;
  Validity valid;
  std::vector<SkillLevel> levels;  // skills only, ascending by level
};

struct Duty {
  std::string code;
  Title title;
  std::string responsibility;  // what the holder answers for, in prose
  Validity valid;
  std::vector<std::string> kpi_codes;
};

struct Requirement {
  CompetenceKind kind = CompetenceKind::Skill;
  std::string code;
  std::optional<int> min_level;  // skills: default 1
  Validity valid;
};

struct Position {
  std::string code;
  Title title;
  std::optional<std::string> department;  // its usual department; assignments may differ
  Validity valid;
  std::vector<Duty> duties;
  std::vector<Requirement> requirements;
};

struct PositionCatalog {
  std::string plant;
  std::string time_zone;
  std::vector<Department> departments;
  std::vector<Competence> competences;
  std::vector<Position> positions;
  std::map<std::string, KpiDefinition, std::less<>> kpis;

  const Competence* findCompetence(CompetenceKind kind, std::string_view code) const;
};

// Reads and checks the catalog: unknown codes (a position's department, a requirement's skill,
// a duty's referenced KPI), duplicates, overlapping validity of one element, a skill level
// below the one before. Every problem located (file:line:column).
std::expected<PositionCatalog, diag::Diagnostics> loadPositionCatalog(const std::filesystem::path& file);

// One published version of one catalog element: a row of the HR store's position_catalog table
// and a message on hr.position-catalog.v1 (key = `key`). Fields that do not apply stay empty.
struct CatalogElement {
  std::string key;           // TYPE|codes...|valid_from
  std::string element_type;  // DEPARTMENT, POSITION, DUTY, DUTY_KPI, REQUIREMENT, SKILL, QUALIFICATION,
                             // TRAINING, SKILL_LEVEL
  std::string code;          // the element's own code
  std::optional<std::string> department_code;
  std::optional<std::string> position_code;
  std::optional<std::string> duty_code;
  std::optional<std::string> kpi_code;
  std::optional<std::string> requirement_type;  // REQUIREMENT: SKILL, QUALIFICATION, TRAINING
  std::optional<int> level;                     // REQUIREMENT: minimum skill level; SKILL_LEVEL: the level
  std::optional<core::Decimal> min_hours;       // SKILL_LEVEL
  std::optional<std::string> title_zh;
  std::optional<std::string> title_en;
  std::optional<std::string> responsibility;  // DUTY
  std::optional<std::string> unit;            // DUTY_KPI
  std::optional<std::string> period_type;     // DUTY_KPI
  std::optional<std::string> direction;       // DUTY_KPI
  std::optional<core::Decimal> target;        // DUTY_KPI: the target in force over this version
  Validity valid;
};

// Every element version of the catalog, in a stable order. A KPI gives one DUTY_KPI version per
// target period within its duty's validity (a raised target is a new version from its date).
std::vector<CatalogElement> catalogElements(const PositionCatalog& catalog);

}  // namespace dutybridge::catalog
