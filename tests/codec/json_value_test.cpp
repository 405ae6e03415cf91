#include "src/codec/json_value.h"

#include <catch2/catch.hpp>

#include <string>

namespace dutybridge::codec {
namespace {

using core::Value;

TEST_CASE("JSON nested deeper than the limit is refused with the limit named", "[codec][json][hostile]") {
  std::string deep = std::string(200, '[') + std::string(200, ']');
  auto refused = parseJsonValue(deep);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().kind == core::ErrorKind::Permanent);
  CHECK(refused.error().message == "JSON nested deeper than 128 levels");
  CHECK(parseJsonValue(deep, JsonLimits{200}));
  CHECK_FALSE(parseJsonObject("{\"a\":" + deep + "}"));
}

TEST_CASE("an object that repeats a key is refused, without quoting the key", "[codec][json][hostile]") {
  auto repeated = parseJsonValue(R"({"badge":"B1","badge":"B2"})");
  REQUIRE_FALSE(repeated);
  CHECK(repeated.error().message == "duplicate object key (member 2 repeats an earlier one) at nesting level 1");
  CHECK_FALSE(parseJsonObject(R"({"a":{"x":1,"x":2}})"));
  // The same key in sibling objects is fine.
  CHECK(parseJsonValue(R"([{"a":1},{"a":2}])"));
}

TEST_CASE("a value nested a million deep is freed without recursion", "[core][value][hostile]") {
  // Built by hand (the parser refuses such depth): the destructor must not use one stack frame
  // per level, or this overflows the stack.
  Value v = Value(core::ValueList{});
  for (int i = 0; i < 1'000'000; ++i) {
    v = Value(core::ValueList{std::move(v), Value(int64_t{i})});
  }
  core::ValueMap map;
  map.emplace_back("deep", std::move(v));
  Value root(std::move(map));
  Value shared = root;  // a second owner: the first release must leave the tree intact
  root = Value();
  CHECK(shared.find("deep") != nullptr);
  shared = Value();
  CHECK(shared.isNull());
}

}  // namespace
}  // namespace dutybridge::codec
