#include "src/mapping/contracts.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

namespace dutybridge::mapping {
namespace {

using core::Value;
using Kind = expr::Type::Kind;

expr::Type t(Kind kind, bool nullable = false) {
  return expr::Type{kind, nullable};
}

const std::vector<Contract>& contracts() {
  static const std::vector<Contract> all = {
      {"duty_kpi.v1",
       "hr.duty-kpi.v1",
       {
           {"kpi_code", t(Kind::String), true, true, "KPI code from the duty catalog (a string literal)"},
           {"employee_no", t(Kind::String), true, false, "employee (or team leader) the fact belongs to", true},
           {"period_id", t(Kind::String), true, false,
            "2025-03-14/N (SHIFT), 2025-03-14 (DAY), 2025-W11, 2025-03, 2025-03-14/N/03 (HOUR: slot 3 of the shift)"},
           {"value", t(Kind::Decimal), true, false, "the measured value (exact)"},
           {"plant", t(Kind::String), false, false, "plant code; default: the catalog's plant"},
           {"shift_date", t(Kind::Date, true), false, false, "date the shift started on"},
           {"shift_code", t(Kind::String, true), false, false, "shift code"},
           {"period_start", t(Kind::Timestamp, true), false, false, "start of the period"},
           {"period_end", t(Kind::Timestamp, true), false, false, "end of the period"},
           {"closed", t(Kind::Bool), false, false, "true for the final revision of a period; default false"},
           {"target", t(Kind::Decimal, true), false, false, "target; default: the catalog target in force"},
           {"position_code", t(Kind::String, true), false, false, "default: the catalog position of the KPI"},
           {"org_unit", t(Kind::String, true), false, false, "team, line or department"},
           {"revision", t(Kind::Int), false, false, "default: the source event time in microseconds"},
           {"source_system", t(Kind::String), false, false, "MES, ERP, CRM...; default: the mapping name"},
       },
       "inputs.",
       {"fact_key"}},
      {"employee_record.v1",
       "hr.employee-record.v1",
       {
           {"employee_no", t(Kind::String), true, false, "employee the record belongs to", true},
           {"record_type", t(Kind::String), true, true,
            "SKILL_EVIDENCE, QUALIFICATION, TRAINING_COMPLETION, ASSIGNMENT or BADGE"},
           {"code", t(Kind::String), true, false,
            "skill, qualification or training code; the position code of an ASSIGNMENT; the badge's HMAC "
            "pseudonym of a BADGE"},
           {"valid_from", t(Kind::Date), true, false, "first day the record is valid"},
           {"valid_to", t(Kind::Date, true), false, false, "last day, or null for open-ended"},
           {"revision", t(Kind::Int), false, false, "default: the source event time in microseconds"},
           {"source_system", t(Kind::String), false, false, "default: the mapping name"},
           {"record_id", t(Kind::String, true), false, false,
            "the source's identity of the record when an employee can hold the same code several times over "
            "time (an assignment id, a badge spell's id); when not null it is the record key's fourth part"},
       },
       "evidence.",
       {"record_key"}},
  };
  return all;
}

const Value* providedValue(const ContractBinding& b, const std::vector<Value>& values, std::string_view name) {
  const auto& fields = b.contract->fields;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (fields[i].name == name) return b.provided[i] ? &values[*b.provided[i]] : nullptr;
  }
  return nullptr;
}

std::optional<std::string> text(const Value* v) {
  if (!v || v->isNull()) return std::nullopt;
  return v->toText();
}

}  // namespace

std::expected<DutyCatalog, diag::Diagnostics> loadDutyCatalog(const std::filesystem::path& file) {
  return catalog::loadPositionCatalog(file);
}

const Contract* findContract(std::string_view name) {
  for (const auto& c : contracts()) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

std::vector<std::string> contractNames() {
  std::vector<std::string> out;
  for (const auto& c : contracts()) out.push_back(c.name);
  return out;
}

core::Result<core::Record> buildContractRecord(const ContractBinding& b, const std::vector<Value>& values,
                                               const core::Record& input, const std::string& mapping_label,
                                               const std::string& source_system_default, core::Timestamp now) {
  auto get = [&](std::string_view name) { return providedValue(b, values, name); };
  for (size_t i = 0; i < b.contract->fields.size(); ++i) {
    const auto& field = b.contract->fields[i];
    if (field.required && (!b.provided[i] || values[*b.provided[i]].isNull())) {
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("{} field '{}' is null", b.contract->name, field.name));
    }
  }
  core::ValueMap free_map;
  for (const auto& [name, index] : b.free_fields) free_map.emplace_back(name, values[index]);
  int64_t revision = 0;
  if (const Value* r = get("revision"); r && !r->isNull()) revision = r->asInt();
  else revision = input.meta.event_time ? input.meta.event_time->micros : now.micros;
  if (revision < 1) revision = 1;
  std::string source_system = text(get("source_system")).value_or(source_system_default);
  core::ValueMap lineage{{"source_system", Value(source_system)},
                         {"mapping", Value(mapping_label)},
                         {"source_positions", Value(core::ValueList{Value(input.meta.source_position)})},
                         {"watermark", input.meta.event_time ? Value(*input.meta.event_time) : Value()}};

  if (b.contract->name == "duty_kpi.v1") {
    const KpiDefinition& kpi = *b.kpi;
    std::string plant = text(get("plant")).value_or(b.plant);
    std::string employee = get("employee_no")->toText();
    std::string period_id = get("period_id")->toText();
    for (const std::string* part : {&plant, &employee, &period_id}) {
      if (part->find('|') != std::string::npos || part->empty()) {
        return core::fail(core::ErrorKind::Permanent, "duty_kpi.v1 key parts must be non-empty and contain no '|'");
      }
    }
    auto value = get("value")->toDecimal();
    if (!value) return core::fail(value.error());
    std::optional<core::Decimal> target;
    if (const Value* v = get("target"); v && !v->isNull()) {
      auto d = v->toDecimal();
      if (!d) return core::fail(d.error());
      target = *d;
    } else {
      const Value* shift_date = get("shift_date");
      core::Date day = shift_date && !shift_date->isNull() ? shift_date->asDate()
                                                          : core::Date{static_cast<int32_t>(now.micros / 86'400'000'000)};
      target = kpi.targetOn(day);
    }
    Value attainment;
    if (target) {
      const core::Decimal& numerator = kpi.lower_is_better ? *target : *value;
      const core::Decimal& denominator = kpi.lower_is_better ? *value : *target;
      if (denominator.sign() != 0) {
        auto ratio = numerator.divide(denominator, 4);
        if (!ratio) return core::fail(ratio.error());
        attainment = Value(*ratio);
      }
    }
    const Value* closed = get("closed");
    core::ValueMap period{{"type", Value(kpi.period)},
                          {"id", Value(period_id)},
                          {"shift_date", get("shift_date") ? *get("shift_date") : Value()},
                          {"shift_code", get("shift_code") ? *get("shift_code") : Value()},
                          {"start", get("period_start") ? *get("period_start") : Value()},
                          {"end", get("period_end") ? *get("period_end") : Value()},
                          {"tz", Value(b.time_zone)},
                          {"closed", Value(closed && !closed->isNull() && closed->asBool())}};
    std::vector<Value> out{
        Value(fmt::format("{}|{}|{}|{}|{}", plant, kpi.code, employee, kpi.period, period_id)),
        Value(revision),
        Value(employee),
        get("position_code") && !get("position_code")->isNull() ? *get("position_code") : Value(kpi.position_code),
        get("org_unit") ? *get("org_unit") : Value(),
        Value(kpi.code),
        Value(kpi.duty_code),
        Value(std::move(period)),
        Value(*value),
        Value(kpi.unit),
        target ? Value(*target) : Value(),
        Value(kpi.lower_is_better ? "LOWER_IS_BETTER" : "HIGHER_IS_BETTER"),
        attainment,
        Value(std::move(free_map)),
        Value("ACTIVE"),  // an aggregate's revision without rows sets WITHDRAWN (Mapping::emitRevision)
        Value(std::move(lineage)),
        Value(now)};
    core::Record record(b.schema, std::move(out));
    record.meta.key = record.value(0).asString();
    return record;
  }

  std::string employee = get("employee_no")->toText();
  std::string record_type = get("record_type")->toText();
  std::string code = get("code")->toText();
  std::optional<std::string> record_id = text(get("record_id"));
  for (const std::string* part : {&employee, &code, record_id ? &*record_id : &code}) {
    if (part->find('|') != std::string::npos || part->empty()) {
      return core::fail(core::ErrorKind::Permanent, "employee_record.v1 key parts must be non-empty and contain no '|'");
    }
  }
  std::string record_key = fmt::format("{}|{}|{}", employee, record_type, code);
  if (record_id) record_key += "|" + *record_id;
  std::vector<Value> out{Value(std::move(record_key)),
                         Value(revision),
                         Value(employee),
                         Value(record_type),
                         Value(code),
                         Value(std::move(free_map)),
                         *get("valid_from"),
                         get("valid_to") ? *get("valid_to") : Value(),
                         Value("ACTIVE"),
                         Value(std::move(lineage)),
                         Value(now)};
  core::Record record(b.schema, std::move(out));
  record.meta.key = record.value(0).asString();
  return record;
}

}  // namespace dutybridge::mapping
