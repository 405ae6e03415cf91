#pragma once
// Files and names for tests: reading a file whole, temporary directories, names nobody else uses
// (tests run concurrently against one broker and one PostgreSQL), text substitution in fixtures.

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <system_error>

namespace dutybridge::testing {

// The whole file (empty when it cannot be read). No Catch macros: callable from any thread.
inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::filesystem::path writeFile(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

// `prefix` and a suffix of its own: a table, topic, group or file name no other test (or process)
// uses at the same time. Letters, digits and '_' only after the prefix.
inline std::string uniqueName(const std::string& prefix) {
  static std::atomic<unsigned> counter{0};
  static const uint64_t salt = std::random_device{}();
  return fmt::format("{}_{}_{:x}_{}", prefix, ::getpid(), salt & 0xffffffULL, counter++);
}

// A fresh directory under the temp directory that stays after the test (e2e runs keep their logs).
inline std::filesystem::path makeTempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / uniqueName("dutybridge-" + name);
  std::filesystem::create_directories(dir);
  return dir;
}

// A fresh, empty directory under the temp directory, removed with everything in it at the end.
class TempDir {
 public:
  explicit TempDir(const std::string& name = "test") : path_(makeTempDir(name)) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `text` to the file `name` in the directory; returns its path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    return writeFile(path_ / name, text);
  }

 private:
  std::filesystem::path path_;
};

// `text` with the first `from` replaced by `to`; fails the test when `from` is not there.
inline std::string replaceOnce(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  INFO("text to adjust: " << from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

}  // namespace dutybridge::testing
