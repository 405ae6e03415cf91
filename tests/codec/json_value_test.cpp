#include "src/codec/json_value.h"

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>

#include "src/codec/typed_json.h"

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


TEST_CASE("typed state values keep their numbers exact or are refused", "[codec][typed][hostile]") {
  // What a tampered or corrupt state entry may hold; found by fuzz/json_fuzz.cpp and
  // fuzz/calendar_fuzz.cpp (a date of INT32_MIN days overflowed the ISO week arithmetic).
  auto decode = [](std::string_view text) { return decodeTypedRecord(text); };
  auto ok = decode(R"({"names":["d","t","i"],"values":[{"D":20161},{"t":-5},{"i":9223372036854775807}]})");
  REQUIRE(ok);
  CHECK(ok->values()[0].asDate().days == 20161);
  CHECK(ok->values()[2].asInt() == INT64_MAX);
  for (const char* bad : {R"({"names":["d"],"values":[{"D":-2147483648}]})",      // beyond any timestamp's date
                          R"({"names":["d"],"values":[{"D":4294967296}]})",       // was cut to 0
                          R"({"names":["i"],"values":[{"i":1.5}]})",              // was cut to 1
                          R"({"names":["i"],"values":[{"i":9223372036854775808}]})",  // was wrapped
                          R"({"names":["t"],"values":[{"t":"12"}]})",
                          R"({"names":["f"],"values":[{"f":"2.5"}]})",
                          R"({"names":[],"values":[],"et":1.74e62})"}) {  // was undefined behaviour
    INFO(bad);
    auto refused = decode(bad);
    REQUIRE_FALSE(refused);
    CHECK_FALSE(refused.error().message.empty());
  }
}

}  // namespace
}  // namespace dutybridge::codec
