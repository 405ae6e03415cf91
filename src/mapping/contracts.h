#pragma once
// The output contracts of the brief (duty_kpi.v1, employee_record.v1; JSON Schemas in
// docs/schemas/) and the duty catalog (config/duties.yaml) that duty_kpi facts are checked
// against. A mapping's emit block with `contract:` provides the contract's input fields; the
// loader checks them (presence, types, nullability, KPI code and period against the catalog),
// and at run time the contract record is completed: fact_key, duty_code, unit, direction,
// target (effective-dated), attainment, lineage and computed_at.

#include <expected>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/catalog/position_catalog.h"
#include "src/core/record.h"
#include "src/diagnostics/diagnostics.h"
#include "src/expr/expr.h"

namespace dutybridge::mapping {

// The duty catalog is the position catalog (src/catalog): its KPIs are what facts are checked
// against.
using KpiTarget = catalog::KpiTarget;
using KpiDefinition = catalog::KpiDefinition;
using DutyCatalog = catalog::PositionCatalog;

std::expected<DutyCatalog, diag::Diagnostics> loadDutyCatalog(const std::filesystem::path& file);

// One field a mapping provides to a contract.
struct ContractField {
  std::string name;
  expr::Type type;         // the expression's type must be this (int is accepted for decimal)
  bool required = false;   // must be present and non-null
  bool literal = false;    // must be a string literal (checked against the catalog)
  std::string description;
  // May carry a personal value (docs/mapping-language.md, Personal data): the brief lets the
  // employee number leave the plant, nothing else that identifies a person.
  bool personal = false;
};

struct Contract {
  std::string name;           // duty_kpi.v1
  std::string default_topic;  // hr.duty-kpi.v1
  std::vector<ContractField> fields;
  // Field names with this prefix build a nested object ("inputs.good" -> inputs: {good: ...}).
  std::string free_prefix;
  // Completed fields built from the personal ones (fact_key holds the employee number): masked
  // with them, and the record's Kafka key too.
  std::vector<std::string> personal_derived;
};

const Contract* findContract(std::string_view name);
std::vector<std::string> contractNames();

// What the loader resolved for one emit block with a contract.
struct ContractBinding {
  const Contract* contract = nullptr;
  const KpiDefinition* kpi = nullptr;  // duty_kpi.v1
  std::string record_type;             // employee_record.v1
  // For each contract field, the index of the emit field that provides it, if any.
  std::vector<std::optional<size_t>> provided;
  std::vector<std::pair<std::string, size_t>> free_fields;  // "inputs.x" -> emit field index
  std::shared_ptr<const core::RecordSchema> schema;         // the contract record's fields
  std::string time_zone;                                    // the catalog's plant time zone
  std::string plant;                                        // the catalog's plant code
};

// Builds the contract record from the emit block's evaluated field values. Permanent error
// (dead letter) when a value breaks the contract at run time.
core::Result<core::Record> buildContractRecord(const ContractBinding& binding, const std::vector<core::Value>& values,
                                               const core::Record& input, const std::string& mapping_label,
                                               const std::string& source_system, core::Timestamp now);

}  // namespace dutybridge::mapping
