#pragma once
// Docs generated from code (schemas as key tables): a region of a markdown file between
// `<!-- generated: NAME -->` and `<!-- end of generated: NAME -->` must equal what the code
// renders now. DUTYBRIDGE_UPDATE_DOCS=1 rewrites the region instead of comparing.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "tests/support/files.h"

namespace dutybridge::testing {

inline void checkGeneratedRegion(const std::filesystem::path& file, const std::string& name,
                                 const std::string& expected) {
  std::string doc = readFile(file);
  const std::string begin = "<!-- generated: " + name + " -->\n";
  const std::string end = "<!-- end of generated: " + name + " -->";
  const size_t from = doc.find(begin);
  const size_t to = doc.find(end);
  INFO(file.string() << " needs the markers " << begin << "and " << end);
  REQUIRE(from != std::string::npos);
  REQUIRE(to != std::string::npos);
  if (const char* update = std::getenv("DUTYBRIDGE_UPDATE_DOCS"); update && std::string(update) == "1") {
    doc.replace(from + begin.size(), to - from - begin.size(), expected);
    writeFile(file, doc);
    return;
  }
  INFO("run the test with DUTYBRIDGE_UPDATE_DOCS=1 to regenerate it");
  CHECK(doc.substr(from + begin.size(), to - from - begin.size()) == expected);
}

}  // namespace dutybridge::testing
