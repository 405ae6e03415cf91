#pragma once
// Helpers for the reference-table source tests of several connectors: a table source's loader
// made as the mapping loader makes it, and what a badge-lookup mapping emits (temporary
// directories for mapping files: testing::TempDir, tests/support/files.h).

#include <catch2/catch.hpp>
#include <expected>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "connectors/builtin.h"
#include "src/core/registry.h"
#include "src/mapping/mapping.h"
#include "src/schema/validator.h"
#include "tests/support/files.h"

namespace dutybridge::testing {

// Every built-in connector, table sources included.
inline const core::Registry& builtinRegistry() {
  static const core::Registry registry = [] {
    core::Registry r;
    connectors::registerBuiltinConnectors(r);
    return r;
  }();
  return registry;
}

// The loader of table `table`'s `kind:` block (YAML, e.g. "{topic: t, format: json}") as the
// mapping loader makes it: validated by the one validator against the table source's schema,
// then created through the registry. The error is every diagnostic (formatted) or create()'s.
inline std::expected<std::unique_ptr<core::TableLoader>, std::string> tableLoader(
    const std::string& kind, const std::string& table, const std::string& yaml,
    const core::KafkaCluster* kafka = nullptr, core::TableColumns columns = {}) {
  const core::TableSourceFactory* factory = builtinRegistry().findTableSource(kind);
  REQUIRE(factory != nullptr);
  diag::Diagnostics diagnostics;
  diagnostics.addSource("block.yaml", yaml);
  schema::SecretResolver secrets;
  schema::ValidationContext context{"block.yaml", &builtinRegistry(), &secrets, &diagnostics};
  auto config =
      schema::validateObject(YAML::Load(yaml), factory->configSchema(), "tables." + table + "." + kind, context);
  if (!diagnostics.empty()) return std::unexpected(diagnostics.format());
  auto loader = factory->create(config, core::TableSourceContext{table, std::move(columns), kafka});
  if (!loader) return std::unexpected(loader.error().message);
  return std::move(*loader);
}

// The `employee_no` field the mapping (input {badge: string, day: date}) emits first; "null"
// when it is null.
inline std::string emittedEmployee(const mapping::Mapping& mapping, const char* badge, const char* day) {
  core::ManualClock clock(core::Timestamp{0});
  core::Record input =
      mapping::recordFromMap(core::Value(core::ValueMap{{"badge", core::Value(badge)}, {"day", core::Value(day)}}));
  auto out = mapping.apply(input, mapping.bind(input.schema()), clock);
  if (!out) FAIL(out.error().describe());
  REQUIRE_FALSE(out->empty());
  const core::Value* v = (*out)[0].record.find("employee_no");
  REQUIRE(v != nullptr);
  return v->isNull() ? std::string("null") : v->asString();
}

}  // namespace dutybridge::testing
