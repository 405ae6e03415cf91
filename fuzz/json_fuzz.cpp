// libFuzzer target for the JSON readers: the JSON-lines parser of `map` input and the kafka
// source (codec/json_value.cpp), and the typed JSON of stored state (codec/typed_json.cpp).
// docs/fuzzing.md has the build and run commands.
//
// Byte 0 chooses the reader by its parity:
//   even: the rest is one JSON document for parseJsonValue and parseJsonObject (depth limit 16,
//     so nesting limits are reached quickly). A parsed value is written back with appendJsonValue
//     and must parse again to the same value (decimals come back as their text: outputs write
//     them as strings).
//   odd: the rest is a typed record (encodeTypedRecord's format) for decodeTypedRecord. A decoded
//     record is encoded again and must decode to the same names, values and metadata.
// A refusal needs a message; a crash, a sanitizer report or a broken round trip is a bug.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "src/codec/json.h"
#include "src/codec/json_value.h"
#include "src/codec/json_writer.h"
#include "src/codec/typed_json.h"

namespace {

using dutybridge::core::Value;
using dutybridge::core::ValueType;
using dutybridge::fuzz::contractBroken;

// appendJsonValue writes decimals as JSON strings of their canonical text (outputs keep every
// digit); everything else must come back as it was.
bool sameAfterWriting(const Value& before, const Value& after) {
  switch (before.type()) {
    case ValueType::Decimal:
      return after.type() == ValueType::String && after.asString() == before.toText();
    case ValueType::List: {
      if (after.type() != ValueType::List || after.asList().size() != before.asList().size()) return false;
      for (size_t i = 0; i < before.asList().size(); ++i) {
        if (!sameAfterWriting(before.asList()[i], after.asList()[i])) return false;
      }
      return true;
    }
    case ValueType::Map: {
      if (after.type() != ValueType::Map || after.asMap().size() != before.asMap().size()) return false;
      for (size_t i = 0; i < before.asMap().size(); ++i) {
        if (before.asMap()[i].first != after.asMap()[i].first) return false;
        if (!sameAfterWriting(before.asMap()[i].second, after.asMap()[i].second)) return false;
      }
      return true;
    }
    default:
      return before.type() == after.type() && before == after;
  }
}

void fuzzJson(std::string_view text) {
  const dutybridge::codec::JsonLimits limits{.max_depth = 16};
  auto value = dutybridge::codec::parseJsonValue(text, limits);
  auto object = dutybridge::codec::parseJsonObject(text, nullptr, limits);
  if (value.has_value() != object.has_value()) contractBroken("parseJsonValue and parseJsonObject disagree");
  if (!value) {
    if (value.error().message.empty()) contractBroken("a refused document without a message");
    return;
  }
  if (object->has_value() != (value->type() == ValueType::Map)) contractBroken("parseJsonObject: object or not, unlike parseJsonValue");
  std::string written;
  dutybridge::codec::appendJsonValue(written, *value);
  auto again = dutybridge::codec::parseJsonValue(written, limits);
  if (!again) contractBroken("written JSON does not parse again");
  if (!sameAfterWriting(*value, *again)) contractBroken("JSON round trip changed the value");
}

void fuzzTypedRecord(std::string_view text) {
  auto record = dutybridge::codec::decodeTypedRecord(text);
  if (!record) {
    if (record.error().message.empty()) contractBroken("a refused typed record without a message");
    return;
  }
  const std::string encoded = dutybridge::codec::encodeTypedRecord(*record);
  auto again = dutybridge::codec::decodeTypedRecord(encoded);
  if (!again) contractBroken("an encoded typed record does not decode again");
  if (again->schema()->names() != record->schema()->names()) contractBroken("typed record round trip changed names");
  if (again->values().size() != record->values().size()) contractBroken("typed record round trip changed arity");
  for (size_t i = 0; i < record->values().size(); ++i) {
    const auto& a = record->values()[i];
    const auto& b = again->values()[i];
    if (a.type() != b.type() || !(a == b)) contractBroken("typed record round trip changed a value");
  }
  if (again->meta.source_position != record->meta.source_position) contractBroken("typed record lost its position");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) fuzzJson(input);
  else fuzzTypedRecord(input);
  return 0;
}
