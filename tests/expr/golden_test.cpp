// Golden diagnostics: each folder under tests/golden/expressions holds expr.txt (the
// expression, starting at line 1 column 1), scope.txt ("name: type" lines) and expected.txt
// (the exact Diagnostics::format() output). Set DUTYBRIDGE_UPDATE_GOLDEN=1 to rewrite them.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "src/expr/expr.h"

using namespace dutybridge;
using namespace dutybridge::expr;

namespace {

std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

TEST_CASE("golden expression diagnostics", "[mapping][golden]") {
  std::filesystem::path root = DUTYBRIDGE_GOLDEN_DIR;
  std::vector<std::filesystem::path> cases;
  for (const auto& entry : std::filesystem::directory_iterator(root)) {
    if (entry.is_directory()) cases.push_back(entry.path());
  }
  std::sort(cases.begin(), cases.end());
  REQUIRE(cases.size() >= 12);
  bool update = std::getenv("DUTYBRIDGE_UPDATE_GOLDEN") != nullptr;
  for (const auto& dir : cases) {
    SECTION(dir.filename().string()) {
      std::string text = readFile(dir / "expr.txt");
      if (!text.empty() && text.back() == '\n') text.pop_back();
      Scope scope;
      std::istringstream lines(readFile(dir / "scope.txt"));
      std::string line;
      while (std::getline(lines, line)) {
        if (line.empty()) continue;
        auto colon = line.rfind(':');
        REQUIRE(colon != std::string::npos);
        auto type = Type::parse(line.substr(colon + 2));
        INFO(line);
        REQUIRE(type);
        scope.add(line.substr(0, colon), *type);
      }
      FunctionEnv env;
      env.tables["workcenters"] = makeStaticTable("workcenters", {{"WC-10", core::Value("Moulding")}});
      env.hmac_keys["badge"] = "secret-key-bytes";
      diag::Diagnostics diagnostics;
      diagnostics.addSource("expr.txt", text);
      auto expr = compileExpression(text, {"expr.txt", 1, 1, ""}, scope, env, diagnostics);
      CHECK_FALSE(expr);
      std::string actual = diagnostics.format();
      CHECK(actual.find("secret-key-bytes") == std::string::npos);
      if (update) {
        std::ofstream(dir / "expected.txt", std::ios::binary) << actual;
      } else {
        CHECK(actual == readFile(dir / "expected.txt"));
      }
    }
  }
}
