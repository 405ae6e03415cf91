#include "src/contract/contract_spec.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace dutybridge::contract {
namespace {

constexpr const char* kDecimalPattern = "^-?[0-9]+(\\.[0-9]+)?$";

// Builds a Field: F("revision", Type::Int).col("revision").min(1).doc("...").
struct F {
  Field f;
  F(std::string path, Type type) {
    f.path = std::move(path);
    f.type = type;
  }
  F&& col(std::string column) && {
    f.column = std::move(column);
    return std::move(*this);
  }
  F&& col() && {  // the column is named as the field
    f.column = f.path;
    return std::move(*this);
  }
  F&& optional() && {  // may be missing or null
    f.required = false;
    f.nullable = true;
    return std::move(*this);
  }
  F&& maybeAbsent() && {  // may be missing, never null
    f.required = false;
    return std::move(*this);
  }
  F&& doc(std::string text) && {
    f.description = std::move(text);
    return std::move(*this);
  }
  F&& pattern(std::string text) && {
    f.pattern = std::move(text);
    return std::move(*this);
  }
  F&& oneOf(std::vector<std::string> values) && {
    f.choices = std::move(values);
    return std::move(*this);
  }
  F&& min(int64_t value) && {
    f.minimum = value;
    return std::move(*this);
  }
  F&& nonEmpty() && {
    f.non_empty = true;
    return std::move(*this);
  }
  F&& defaultFalse() && {
    f.sql_default_false = true;
    return std::move(*this);
  }
  operator Field() && { return std::move(f); }
};

std::vector<Field> lineage() {
  return {F("lineage", Type::Object).col(), F("lineage.source_system", Type::String),
          F("lineage.mapping", Type::String).doc("name@version"), F("lineage.source_positions", Type::TextList),
          F("lineage.watermark", Type::Timestamp).optional()};
}

Spec makeDutyKpi() {
  Spec s;
  s.name = "duty_kpi.v1";
  s.title = "duty_kpi fact v1";
  s.description =
      "One measured KPI value of one employee (or team) for one period. Kafka topic hr.duty-kpi.v1 (compacted), "
      "key = fact_key. A correction is a newer revision under the same key; HR applies the highest revision.";
  s.topic = "hr.duty-kpi.v1";
  s.key_field = "fact_key";
  s.fields = {
      F("fact_key", Type::String)
          .col()
          .doc("plant|kpi_code|employee_no|period_type|period_id")
          .pattern("^[^|]+\\|[^|]+\\|[^|]+\\|(SHIFT|DAY|WEEK|MONTH|HOUR)\\|[^|]+$"),
      F("revision", Type::Int).col().min(1).doc("Increases per fact_key; the highest wins."),
      F("employee_no", Type::String).col().nonEmpty(),
      F("position_code", Type::String).col().optional(),
      F("org_unit", Type::String).col().optional(),
      F("kpi_code", Type::String).col().pattern("^KPI\\."),
      F("duty_code", Type::String).col(),
      F("period", Type::Object),
      F("period.type", Type::Enum).col("period_type").oneOf({"SHIFT", "DAY", "WEEK", "MONTH", "HOUR"}),
      F("period.id", Type::String)
          .col("period_id")
          .doc("2025-03-14/N for a shift, 2025-03-14, 2025-W11, 2025-03, 2025-03-14/N/03 for the third hour slot "
               "of a shift (HOUR)"),
      F("period.shift_date", Type::Date).col("shift_date").optional(),
      F("period.shift_code", Type::String).col("shift_code").optional(),
      F("period.start", Type::Timestamp).col("period_start").optional(),
      F("period.end", Type::Timestamp).col("period_end").optional(),
      F("period.tz", Type::String).col("period_tz"),
      F("period.closed", Type::Bool).col("closed").defaultFalse(),
      F("value", Type::Decimal).col().doc("Exact decimal as text."),
      F("unit", Type::String).col(),
      F("target", Type::Decimal).col().optional(),
      F("direction", Type::Enum).col().oneOf({"HIGHER_IS_BETTER", "LOWER_IS_BETTER"}),
      F("attainment", Type::Decimal)
          .col()
          .optional()
          .doc("value/target (target/value when lower is better), 4 decimals; null without a target."),
      F("inputs", Type::Map).col().maybeAbsent().doc("The measures the value was computed from."),
      F("status", Type::Enum)
          .col()
          .oneOf({"ACTIVE", "WITHDRAWN"})
          .maybeAbsent()
          .doc("WITHDRAWN: every row that made the fact was retracted (declined, moved to another employee); the "
               "fact no longer exists and HR stores and views leave it out. A later revision can bring it back. "
               "Absent (revisions written before it existed) = ACTIVE."),
  };
  for (auto& f : lineage()) s.fields.push_back(std::move(f));
  s.fields.push_back(F("computed_at", Type::Timestamp).col());
  Table table;
  table.name = "duty_kpi_fact";
  table.indexes = {{"duty_kpi_fact_employee_period", {"employee_no", "period_type", "period_id"}}};
  s.tables = {table};
  return s;
}

Spec makeEmployeeRecord() {
  Spec s;
  s.name = "employee_record.v1";
  s.title = "employee_record update v1";
  s.description =
      "Evidence for an employee's record. Kafka topic hr.employee-record.v1 (compacted), key = "
      "employee_no|record_type|code, or employee_no|record_type|code|record_id when the source names its record "
      "(an assignment, a badge spell).";
  s.topic = "hr.employee-record.v1";
  s.key_field = "record_key";
  s.fields = {
      F("record_key", Type::String)
          .col()
          .pattern("^[^|]+\\|(SKILL_EVIDENCE|QUALIFICATION|TRAINING_COMPLETION|ASSIGNMENT|BADGE)\\|[^|]+(\\|[^|]+)?$"),
      F("revision", Type::Int).col().min(1),
      F("employee_no", Type::String).col().nonEmpty(),
      F("record_type", Type::Enum)
          .oneOf({"SKILL_EVIDENCE", "QUALIFICATION", "TRAINING_COMPLETION", "ASSIGNMENT", "BADGE"}),
      F("code", Type::String)
          .col()
          .nonEmpty()
          .doc("The skill, qualification, training or position code; BADGE: the badge's HMAC-SHA256 pseudonym "
               "(64 hex digits), never the badge number."),
      F("evidence", Type::Map)
          .col()
          .doc("What the record rests on: SKILL_EVIDENCE hours, reports, quantities, yield, first and last date; "
               "QUALIFICATION issue and expiry; TRAINING_COMPLETION hours; ASSIGNMENT department_code. Always "
               "source (the system)."),
      F("valid_from", Type::Date).col(),
      F("valid_to", Type::Date).col().optional(),
      F("status", Type::Enum)
          .col()
          .oneOf({"ACTIVE", "WITHDRAWN"})
          .maybeAbsent()
          .doc("WITHDRAWN: every row the record rested on was retracted; the record no longer exists and HR "
               "stores and views leave it out. A later revision can bring it back. Absent = ACTIVE."),
  };
  for (auto& f : lineage()) s.fields.push_back(std::move(f));
  s.fields.push_back(F("computed_at", Type::Timestamp).col());
  for (const auto& [name, type] :
       {std::pair{"employee_skill", "SKILL_EVIDENCE"}, std::pair{"employee_qualification", "QUALIFICATION"},
        std::pair{"employee_training", "TRAINING_COMPLETION"}}) {
    Table table;
    table.name = name;
    table.record_type = type;
    table.indexes = {{std::string(name) + "_employee", {"employee_no", "code"}}};
    s.tables.push_back(std::move(table));
  }
  Table assignment;
  assignment.name = "employee_assignment";
  assignment.record_type = "ASSIGNMENT";
  assignment.renames = {{"code", "position_code"}};
  assignment.extra = {F("evidence.department_code", Type::String).col("department_code").optional()};
  assignment.indexes = {{"employee_assignment_employee", {"employee_no", "valid_from"}}};
  s.tables.push_back(std::move(assignment));
  Table badge;
  badge.name = "employee_badge";
  badge.record_type = "BADGE";
  badge.renames = {{"code", "badge_hash"}};
  badge.indexes = {{"employee_badge_employee", {"employee_no", "valid_from"}},
                   {"employee_badge_badge", {"badge_hash", "valid_from"}}};
  s.tables.push_back(std::move(badge));
  return s;
}

Spec makePositionCatalog() {
  Spec s;
  s.name = "position_catalog.v1";
  s.title = "position catalog element v1";
  s.description =
      "One version of one element of the position catalog (config/duties.yaml). Kafka topic hr.position-catalog.v1 "
      "(compacted), key = catalog_key. Every element of a publication has the publication's revision; the newest "
      "publication is the catalog.";
  s.topic = "hr.position-catalog.v1";
  s.key_field = "catalog_key";
  s.fields = {
      F("catalog_key", Type::String)
          .col()
          .doc("ELEMENT_TYPE|codes...|valid_from")
          .pattern("^[A-Z_]+\\|.+\\|[0-9]{4}-[0-9]{2}-[0-9]{2}$"),
      F("revision", Type::Int).col().min(1).doc("The publication's revision (the same for all its elements)."),
      F("plant", Type::String).col().nonEmpty(),
      F("element_type", Type::Enum)
          .col()
          .oneOf({"DEPARTMENT", "POSITION", "DUTY", "DUTY_KPI", "REQUIREMENT", "SKILL", "QUALIFICATION", "TRAINING",
                  "SKILL_LEVEL"}),
      F("code", Type::String).col().nonEmpty().doc("The element's own code."),
      F("department_code", Type::String).col().optional(),
      F("position_code", Type::String).col().optional(),
      F("duty_code", Type::String).col().optional(),
      F("kpi_code", Type::String).col().optional(),
      F("requirement_type", Type::String).col().optional().doc("REQUIREMENT: SKILL, QUALIFICATION or TRAINING"),
      F("level", Type::Int).col().optional().doc("REQUIREMENT: the minimum skill level; SKILL_LEVEL: the level"),
      F("min_hours", Type::Decimal).col().optional().doc("SKILL_LEVEL: hours practised within the window"),
      F("title_zh", Type::String).col().optional(),
      F("title_en", Type::String).col().optional(),
      F("responsibility", Type::String).col().optional().doc("DUTY: what the holder answers for"),
      F("unit", Type::String).col().optional(),
      F("period_type", Type::String).col().optional(),
      F("direction", Type::String).col().optional(),
      F("target", Type::Decimal).col().optional().doc("DUTY_KPI: the target in force over this version"),
      F("valid_from", Type::Date).col(),
      F("valid_to", Type::Date).col().optional(),
      F("computed_at", Type::Timestamp).col(),
  };
  Table table;
  table.name = "position_catalog";
  table.indexes = {{"position_catalog_type", {"element_type", "revision"}}};
  s.tables = {table};
  return s;
}

// A field's own schema (without the members of an Object: jsonSchema adds them).
nlohmann::ordered_json fieldSchema(const Field& f) {
  nlohmann::ordered_json out;
  auto typed = [&](const char* type) {
    if (f.nullable)
      out["type"] = {type, "null"};
    else
      out["type"] = type;
  };
  auto formatted = [&](const char* format) {
    if (f.nullable) {
      out["anyOf"] = {{{"type", "null"}}, {{"type", "string"}, {"format", format}}};
    } else {
      out["type"] = "string";
      out["format"] = format;
    }
  };
  switch (f.type) {
    case Type::String:
      typed("string");
      if (!f.pattern.empty()) out["pattern"] = f.pattern;
      if (f.non_empty) out["minLength"] = 1;
      break;
    case Type::Int:
      typed("integer");
      if (f.minimum) out["minimum"] = *f.minimum;
      break;
    case Type::Decimal:
      typed("string");
      out["pattern"] = f.pattern.empty() ? kDecimalPattern : f.pattern;
      break;
    case Type::Date:
      formatted("date");
      break;
    case Type::Timestamp:
      formatted("date-time");
      break;
    case Type::Bool:
      typed("boolean");
      break;
    case Type::Enum: {
      nlohmann::ordered_json values = f.choices;
      if (f.nullable) values.push_back(nullptr);
      out["enum"] = values;
      break;
    }
    case Type::Object:
    case Type::Map:
      typed("object");
      break;
    case Type::TextList:
      typed("array");
      out["items"] = {{"type", "string"}};
      break;
  }
  if (!f.description.empty()) out["description"] = f.description;
  return out;
}

// The members of the object at `prefix` ("" or "period."): required list and properties.
void addMembers(const Spec& spec, const std::string& prefix, nlohmann::ordered_json& object) {
  nlohmann::ordered_json required = nlohmann::ordered_json::array();
  nlohmann::ordered_json properties = nlohmann::ordered_json::object();
  for (const auto& f : spec.fields) {
    if (!f.path.starts_with(prefix)) continue;
    std::string name = f.path.substr(prefix.size());
    if (name.find('.') != std::string::npos) continue;
    if (f.required) required.push_back(name);
    nlohmann::ordered_json schema = fieldSchema(f);
    if (f.type == Type::Object) addMembers(spec, f.path + ".", schema);
    properties[name] = std::move(schema);
  }
  object["required"] = std::move(required);
  object["additionalProperties"] = false;
  object["properties"] = std::move(properties);
}

}  // namespace

const Field* Spec::find(std::string_view path) const {
  for (const auto& f : fields) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

std::vector<std::string> Spec::topLevelNames() const {
  std::vector<std::string> out;
  for (const auto& f : fields) {
    if (f.path.find('.') == std::string::npos) out.push_back(f.path);
  }
  return out;
}

std::vector<std::pair<std::string, Field>> Spec::columns(const Table& table) const {
  std::vector<std::pair<std::string, Field>> out;
  for (const auto& f : fields) {
    if (f.column.empty()) continue;
    if (std::find(table.skip.begin(), table.skip.end(), f.column) != table.skip.end()) continue;
    std::string column = f.column;
    for (const auto& [from, to] : table.renames) {
      if (from == column) column = to;
    }
    out.emplace_back(column, f);
  }
  for (const auto& f : table.extra) out.emplace_back(f.column, f);
  return out;
}

const Spec& dutyKpi() {
  static const Spec spec = makeDutyKpi();
  return spec;
}
const Spec& employeeRecord() {
  static const Spec spec = makeEmployeeRecord();
  return spec;
}
const Spec& positionCatalog() {
  static const Spec spec = makePositionCatalog();
  return spec;
}

const std::vector<const Spec*>& all() {
  static const std::vector<const Spec*> specs = {&dutyKpi(), &employeeRecord(), &positionCatalog()};
  return specs;
}

const Spec* find(std::string_view name) {
  for (const Spec* spec : all()) {
    if (spec->name == name) return spec;
  }
  return nullptr;
}

std::string jsonSchema(const Spec& spec) {
  nlohmann::ordered_json doc;
  doc["$schema"] = "https://json-schema.org/draft/2020-12/schema";
  doc["$id"] = "https://dutybridge.example/schemas/" + spec.name + ".json";
  doc["title"] = spec.title;
  doc["description"] = spec.description;
  doc["type"] = "object";
  addMembers(spec, "", doc);
  return doc.dump(2) + "\n";
}

}  // namespace dutybridge::contract
