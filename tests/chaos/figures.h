#pragma once
// The figures a chaos scenario measured: printed as a Catch WARN (shown even when the test
// passes) and appended to $CHAOS_FIGURES_FILE when set (tests/chaos/run collects them there).

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <string>

namespace dutybridge::chaos {

inline void reportFigures(const std::string& line) {
  WARN(line);
  if (const char* file = std::getenv("CHAOS_FIGURES_FILE"); file && *file) {
    std::ofstream(file, std::ios::app) << line << "\n";
  }
}

}  // namespace dutybridge::chaos
