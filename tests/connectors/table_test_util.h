#pragma once
// Helpers for the reference-table loader tests of several connectors: a temporary directory for
// mapping files, and what a badge-lookup mapping emits.

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>

#include "src/mapping/mapping.h"

namespace dutybridge::testing {

struct TableTempDir {
  std::filesystem::path path;
  explicit TableTempDir(const std::string& name)
      : path(std::filesystem::temp_directory_path() / ("dutybridge-table-" + name)) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TableTempDir() { std::filesystem::remove_all(path); }
  std::filesystem::path write(const std::string& name, const std::string& content) const {
    std::ofstream(path / name, std::ios::binary) << content;
    return path / name;
  }
};

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
