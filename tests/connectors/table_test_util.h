#pragma once
// Helpers for the reference-table loader tests of several connectors: what a badge-lookup mapping
// emits (temporary directories for mapping files: testing::TempDir, tests/support/files.h).

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "src/mapping/mapping.h"
#include "tests/support/files.h"

namespace dutybridge::testing {

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
