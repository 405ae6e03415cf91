#include <catch2/catch.hpp>
#include <string>

#include "connectors/kafka/event_id.h"
#include "src/codec/json.h"
#include "src/codec/json_value.h"
#include "src/codec/json_writer.h"
#include "src/core/decimal.h"
#include "tests/connectors/kafka/kafka_test_util.h"

using namespace dutybridge;
using core::Value;

namespace {

std::string reference(const core::Record& record) {
  std::string out;
  codec::appendJson(record, out);
  return out;
}

}  // namespace

TEST_CASE("record JSON is byte for byte what the codec writes", "[kafka][codec]") {
  codec::RecordJsonWriter writer;
  for (int i = 0; i < 200; ++i) {
    auto record = testing::testRecord(i);
    REQUIRE(std::string(writer.write(record)) == reference(record));
  }

  auto odd_schema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{
      "名字", "quote\"d", "ctl\x01", "list", "map", "nan", "big", "neg", "tiny", "old", "far"});
  std::vector<Value> values{
      Value("bad utf-8 \xff\xfe here"),
      Value("line\nbreak \x7f del"),
      Value(""),
      Value(core::ValueList{Value(1), Value("二"), Value()}),
      Value(core::ValueMap{{"a", Value(*core::Decimal::parse("-0.050"))}, {"b", Value(true)}}),
      Value(std::nan("")),
      Value(*core::Decimal::parse("-99999999999999999999999999999999999999")),
      Value(*core::Decimal::parse("-0.00000000000000000000000000000000000001")),
      Value(1e-300),
      Value(core::Timestamp{-62'135'596'800'000'000 - 1}),  // before year 1
      Value(core::Timestamp{253'402'300'800'000'000}),      // year 10000
  };
  core::Record odd(odd_schema, values);
  CHECK(std::string(writer.write(odd)) == reference(odd));

  core::Record empty;
  CHECK(std::string(writer.write(empty)) == reference(empty));

  // Schemas change between records; the cached field names must follow.
  auto other = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"x"});
  core::Record small(other, {Value(core::Date{-1})});
  CHECK(std::string(writer.write(small)) == reference(small));
  auto again = testing::testRecord(7);
  CHECK(std::string(writer.write(again)) == reference(again));
}

TEST_CASE("key text matches the canonical text of each value", "[kafka][codec]") {
  for (const Value& value : {Value(42), Value(int64_t{-7}), Value("张伟"), Value(*core::Decimal::parse("10.500")),
                             Value(*core::Decimal::parse("-0.001")), Value(core::Timestamp{1'741'953'600'000'001}),
                             Value(core::Date{20'161}), Value(true), Value(2.5)}) {
    std::string out;
    codec::appendKeyText(out, value);
    CHECK(out == value.toText());
  }
}

TEST_CASE("timestamps format like core::formatTimestamp", "[kafka][codec]") {
  for (int64_t micros :
       {int64_t{0}, int64_t{1}, int64_t{-1}, int64_t{1'741'953'600'000'000}, int64_t{1'741'953'600'123'456},
        int64_t{951'782'400'000'000} /* 2000-02-29 */, int64_t{-2'208'988'800'000'000},
        int64_t{-62'167'219'200'000'001}, int64_t{253'402'300'799'999'999}}) {
    char buffer[48];
    size_t n = codec::formatTimestampTo(core::Timestamp{micros}, buffer);
    CHECK(std::string(buffer, n) == core::formatTimestamp(core::Timestamp{micros}));
  }
}

TEST_CASE("ce_id is the hex SHA-256 of source, newline and position", "[kafka]") {
  kafka::EventIdHasher hasher;
  char id[kafka::EventIdHasher::kHexLength];
  REQUIRE(hasher.compute("dutybridge/mes", "row 42", id));
  CHECK(std::string(id, sizeof id) == testing::sha256Hex("dutybridge/mes\nrow 42"));
  REQUIRE(hasher.compute("dutybridge/mes", "", id));
  CHECK(std::string(id, sizeof id) == testing::sha256Hex("dutybridge/mes\n"));
}

TEST_CASE("codec::appendJsonValue writes what toJson(value).dump() writes", "[kafka][codec]") {
  auto same = [](const Value& value) {
    std::string fast;
    codec::appendJsonValue(fast, value);
    INFO(fast);
    CHECK(fast == codec::toJson(value).dump());
  };
  for (int i = 0; i < 50; ++i) {
    auto record = testing::testRecord(i);
    for (size_t f = 0; f < record.size(); ++f) same(record.value(f));
  }
  core::ValueMap lineage{{"source_system", Value("mes")},
                         {"mapping", Value("tl_daily_output@1")},
                         {"source_positions", Value(core::ValueList{Value("pr:1"), Value("pr \"2\"\\")})},
                         {"good_qty", Value(core::Decimal::parse("118.250").value())},
                         {"reports", Value(int64_t{-3})},
                         {"ratio", Value(0.25)},
                         {"closed", Value(true)},
                         {"none", Value()},
                         {"名前", Value("张三\n\t\x01")},
                         {"nested", Value(core::ValueMap{{"empty", Value(core::ValueList{})}, {"m", Value(core::ValueMap{})}})}};
  same(Value(lineage));
  same(Value(core::ValueMap{{"a", Value(1)}, {"b", Value(2)}, {"a", Value(3)}}));  // a repeated key
}

TEST_CASE("codec::parseJsonObject hands over an object's members, and says what else it got", "[kafka][codec]") {
  auto members = codec::parseJsonObject(R"({"a":1,"b":{"c":[1,"x"]},"d":"1.50"})");
  REQUIRE(members);
  REQUIRE(members->has_value());
  REQUIRE((*members)->size() == 3);
  CHECK((**members)[0].first == "a");
  CHECK((**members)[1].second.type() == core::ValueType::Map);
  core::ValueType type = core::ValueType::Null;
  auto list = codec::parseJsonObject("[1,2]", &type);
  REQUIRE(list);
  CHECK_FALSE(list->has_value());
  CHECK(type == core::ValueType::List);
  CHECK_FALSE(codec::parseJsonObject(R"({"a":)"));
}
