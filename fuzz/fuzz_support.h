#pragma once
// Shared by the fuzz targets: a private scratch directory per process, writing an input to a
// file there (the loaders under test take paths), and where the repository is (for the shipped
// mappings, calendars and catalog some targets start from).
//
// The targets build two ways (fuzz/CMakeLists.txt): with clang and libFuzzer for fuzzing, and
// with the normal presets' g++ plus fuzz/replay_main.cpp, which replays the committed corpora
// and regressions as a ctest test.

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

namespace dutybridge::fuzz {

// The source tree, set by CMake (DUTYBRIDGE_SOURCE_DIR).
inline std::filesystem::path sourceDir() {
  return std::filesystem::path(DUTYBRIDGE_SOURCE_DIR);
}

inline const std::filesystem::path& workDir() {
  static const std::filesystem::path dir = [] {
    std::string pattern = (std::filesystem::temp_directory_path() / "dutybridge-fuzz-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    return std::filesystem::path(pattern);
  }();
  return dir;
}

inline std::filesystem::path writeFile(const std::string& name, std::string_view content) {
  std::filesystem::path file = workDir() / name;
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
  if (!out.flush()) {
    std::perror("write fuzz input");
    std::abort();
  }
  return file;
}

// A broken contract of the code under test (not a sanitizer finding): say which, then abort so
// libFuzzer keeps the input as a crash.
[[noreturn]] inline void contractBroken(const char* what) {
  std::fprintf(stderr, "fuzz contract broken: %s\n", what);
  std::abort();
}

}  // namespace dutybridge::fuzz
