#include "src/codec/json_writer.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "src/codec/json.h"
#include "src/codec/typed_json.h"
#include "src/core/decimal.h"

namespace dutybridge {
namespace {

using core::Value;

// What nlohmann writes for the same value: the reference the one writer must match byte for byte.
std::string reference(const nlohmann::ordered_json& json) {
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string written(std::string_view text) {
  std::string out;
  codec::appendJsonString(out, text);
  return out;
}

TEST_CASE("the JSON writer escapes strings as nlohmann does", "[codec][json]") {
  for (std::string text : {std::string(""), std::string("plain"), std::string("quote \" backslash \\ slash /"),
                           std::string("\b\f\n\r\t"), std::string("\x01\x1f\x7f", 3), std::string("\0nul", 4),
                           std::string("二号线 ✓ 𝄞"), std::string("caf\xc3\xa9")}) {
    INFO(text);
    CHECK(written(text) == reference(nlohmann::ordered_json(text)));
  }
}

TEST_CASE("the JSON writer replaces invalid UTF-8 as nlohmann's replace handler does", "[codec][json]") {
  // Lone continuation, bad lead bytes, overlong forms, surrogates, above U+10FFFF, sequences cut
  // by a wrong byte or by the end, and a good character right after a broken one.
  for (std::string text : {std::string("\x80"), std::string("\xff"), std::string("\xc0\xaf"), std::string("\xc1\xbf"),
                           std::string("\xe0\x80\xaf"), std::string("\xed\xa0\x80"), std::string("\xf4\x90\x80\x80"),
                           std::string("\xf5\x80\x80\x80"), std::string("\xc3\x28"), std::string("\xe2\x82"),
                           std::string("a\xe2\x82"), std::string("\xe2\x82\x28\xc3\xa9"), std::string("\xf0\x9f\x98"),
                           std::string("\xf0\x9f\x98\x80\xf0"), std::string("ok\xc3"), std::string("\xc3\"\xc3\n")}) {
    INFO(nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
    CHECK(written(text) == reference(nlohmann::ordered_json(text)));
  }
}

TEST_CASE("the JSON writer matches nlohmann on a million random bytes", "[codec][json]") {
  std::mt19937_64 random(7);
  // Bytes drawn so that ASCII, control characters, valid and broken UTF-8 all occur often.
  const std::vector<unsigned char> alphabet = {'a',  'Z',  ' ',  '"',  '\\', '\n', 0x01, 0x1f, 0x7f,
                                               0x80, 0x8f, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xc3, 0xdf,
                                               0xe0, 0xe2, 0xed, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff};
  size_t total = 0;
  while (total < 1'000'000) {
    std::string text(random() % 24, '\0');
    for (auto& c : text) c = static_cast<char>(alphabet[random() % alphabet.size()]);
    total += text.size() + 1;
    std::string ours = written(text);
    std::string theirs = reference(nlohmann::ordered_json(text));
    if (ours != theirs) {
      INFO(nlohmann::json(text).dump(-1, ' ', true, nlohmann::json::error_handler_t::replace));
      REQUIRE(ours == theirs);
    }
  }
}

TEST_CASE("the JSON writer writes values and records as codec::toJson and nlohmann do", "[codec][json]") {
  std::vector<Value> values = {
      Value(),
      Value(true),
      Value(int64_t{-9'223'372'036'854'775'807} - 1),
      Value(0.1),
      Value(1e20),
      Value(-2.5e-7),
      Value(1.0),
      Value(std::numeric_limits<double>::quiet_NaN()),
      Value(std::numeric_limits<double>::infinity()),
      Value(*core::Decimal::parse("-0.00120")),
      Value(*core::Decimal::parse("12345678901234567890123456789.123456789")),
      Value(core::Timestamp{1'741'939'200'123'456}),
      Value(core::Timestamp{-1}),
      Value(core::Date{-800'000}),
      Value(core::Date{20'161}),
      Value(std::string("line\n\xff")),
      Value(core::ValueList{Value(int64_t{1}), Value(std::string("two")), Value(core::ValueList{})}),
      Value(core::ValueMap{{"a", Value(int64_t{1})}, {"b", Value(0.5)}, {"a", Value(std::string("last"))}}),
      Value(core::ValueMap{}),
  };
  for (const auto& value : values) {
    INFO(value.toText());
    std::string ours;
    codec::appendJsonValue(ours, value);
    CHECK(ours == reference(codec::toJson(value)));
  }
  auto schema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"id", "na\"me", "when", "qty"});
  core::Record record(schema, {Value(int64_t{7}), Value(std::string("二号线")), Value(core::Timestamp{0}),
                               Value(*core::Decimal::parse("1.50"))});
  codec::RecordJsonWriter writer;
  CHECK(writer.write(record) == reference(codec::toJson(record)));
  CHECK(writer.write(record) == reference(codec::toJson(record)));  // the cached field names
  std::string appended;
  codec::appendJson(record, appended);
  CHECK(appended == reference(codec::toJson(record)));
}

TEST_CASE("a record that repeats a field name is written as toJson writes it (one key, last value)",
          "[codec][json]") {
  auto schema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"qty", "id", "qty"});
  core::Record record(schema, {Value(int64_t{1}), Value(int64_t{7}), Value(int64_t{2})});
  const std::string expected = R"({"qty":2,"id":7})";
  REQUIRE(reference(codec::toJson(record)) == expected);
  std::string appended;
  codec::appendJson(record, appended);
  CHECK(appended == expected);
  codec::RecordJsonWriter writer;
  CHECK(writer.write(record) == expected);
}

TEST_CASE("stored state with invalid UTF-8 is valid JSON that reads back with U+FFFD", "[codec][json]") {
  // Before the one writer, typed JSON copied such bytes as they were: the entry could not be
  // parsed again (and a quarantined record's dump threw).
  auto schema = std::make_shared<const core::RecordSchema>(std::vector<std::string>{"name\xff", "list"});
  core::Record record(schema, {Value(std::string("bad \xc3\x28 byte")),
                               Value(core::ValueList{Value(0.25), Value(std::string("\xe2\x82"))})});
  record.meta.source_position = "pos\xf5";
  std::string text = codec::encodeTypedRecord(record);
  REQUIRE(nlohmann::json::accept(text));
  auto back = codec::decodeTypedRecord(text);
  REQUIRE(back);
  CHECK(back->name(0) == "name\xEF\xBF\xBD");
  CHECK(back->value(0).asString() == "bad \xEF\xBF\xBD( byte");
  CHECK(back->value(1).asList().at(0).asDouble() == 0.25);
  CHECK(back->value(1).asList().at(1).asString() == "\xEF\xBF\xBD");
  CHECK(back->meta.source_position == "pos\xEF\xBF\xBD");
}

}  // namespace
}  // namespace dutybridge
