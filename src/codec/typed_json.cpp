#include "src/codec/typed_json.h"

#include <limits>
#include <stdexcept>

#include "src/codec/json_writer.h"

namespace dutybridge::codec {

using core::Decimal;
using core::Value;
using core::ValueType;
using Json = nlohmann::json;

nlohmann::json encodeTyped(const Value& v) {
  switch (v.type()) {
    case ValueType::Null: return nullptr;
    case ValueType::Bool: return v.asBool();
    case ValueType::Int: return Json{{"i", v.asInt()}};
    case ValueType::Decimal: return Json{{"d", v.asDecimal().toString()}};
    case ValueType::Double: return Json{{"f", v.asDouble()}};
    case ValueType::String: return v.asString();
    case ValueType::Timestamp: return Json{{"t", v.asTimestamp().micros}};
    case ValueType::Date: return Json{{"D", v.asDate().days}};
    case ValueType::List: {
      Json out = Json::array();
      for (const auto& item : v.asList()) out.push_back(encodeTyped(item));
      return Json{{"l", out}};
    }
    case ValueType::Map: {
      Json out = Json::array();
      for (const auto& [k, item] : v.asMap()) out.push_back(Json::array({k, encodeTyped(item)}));
      return Json{{"m", out}};
    }
  }
  return nullptr;
}

namespace {

// Typed values nest only as deep as the values that were stored (JSON input is capped at
// JsonLimits::max_depth); a deeper entry is corrupt or hostile and is refused, not recursed.
constexpr int kMaxTypedDepth = 256;

Value decodeTypedAt(const nlohmann::json& j, int depth) {
  if (depth > kMaxTypedDepth) throw std::runtime_error("value nested deeper than 256 levels");
  if (j.is_null()) return Value();
  if (j.is_boolean()) return Value(j.get<bool>());
  if (j.is_string()) return Value(j.get<std::string>());
  if (!j.is_object() || j.size() != 1) throw std::runtime_error("unexpected value encoding");
  // (Not items(): its proxy is a temporary, and a binding to its element outlives it.)
  auto member = j.begin();
  const std::string& tag = member.key();
  const Json& inner = member.value();
  if (tag == "i") return Value(storedInt(inner));
  if (tag == "d") {
    auto d = Decimal::parse(inner.get<std::string>());
    if (!d) throw std::runtime_error("bad decimal");
    return Value(*d);
  }
  if (tag == "f") {
    if (!inner.is_number()) throw std::runtime_error("double is not a number");
    return Value(inner.get<double>());
  }
  if (tag == "t") return Value(core::Timestamp{storedInt(inner)});
  if (tag == "D") return Value(storedDate(inner));
  if (tag == "l") {
    core::ValueList list;
    for (const auto& item : inner) list.push_back(decodeTypedAt(item, depth + 1));
    return Value(std::move(list));
  }
  if (tag == "m") {
    core::ValueMap map;
    for (const auto& item : inner) map.emplace_back(item.at(0).get<std::string>(), decodeTypedAt(item.at(1), depth + 1));
    return Value(std::move(map));
  }
  throw std::runtime_error("unknown value tag " + tag);
}

}  // namespace

Value decodeTyped(const nlohmann::json& j) { return decodeTypedAt(j, 0); }

int64_t storedInt(const nlohmann::json& j) {
  if (j.is_number_unsigned()) {
    if (j.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      throw std::runtime_error("integer out of range");
    }
    return static_cast<int64_t>(j.get<uint64_t>());
  }
  if (!j.is_number_integer()) throw std::runtime_error("integer expected");
  return j.get<int64_t>();
}

core::Date storedDate(const nlohmann::json& j) {
  const int64_t days = storedInt(j);
  if (days < -core::kMaxDateDays || days > core::kMaxDateDays) throw std::runtime_error("date out of range");
  return core::Date{static_cast<int32_t>(days)};
}

void appendTyped(std::string& out, const Value& v) {
  switch (v.type()) {
    case ValueType::Null: out += "null"; return;
    case ValueType::Bool: out += v.asBool() ? "true" : "false"; return;
    case ValueType::Int: out += "{\"i\":"; out += std::to_string(v.asInt()); out += '}'; return;
    case ValueType::Decimal: out += "{\"d\":\""; out += v.asDecimal().toString(); out += "\"}"; return;
    case ValueType::Double:
      out += "{\"f\":";
      appendJsonDouble(out, v.asDouble());
      out += '}';
      return;
    case ValueType::String: appendJsonString(out, v.asString()); return;
    case ValueType::Timestamp: out += "{\"t\":"; out += std::to_string(v.asTimestamp().micros); out += '}'; return;
    case ValueType::Date: out += "{\"D\":"; out += std::to_string(v.asDate().days); out += '}'; return;
    case ValueType::List: {
      out += "{\"l\":[";
      bool first = true;
      for (const auto& item : v.asList()) {
        if (!first) out += ',';
        first = false;
        appendTyped(out, item);
      }
      out += "]}";
      return;
    }
    case ValueType::Map: {
      out += "{\"m\":[";
      bool first = true;
      for (const auto& [key, item] : v.asMap()) {
        if (!first) out += ',';
        first = false;
        out += '[';
        appendJsonString(out, key);
        out += ',';
        appendTyped(out, item);
        out += ']';
      }
      out += "]}";
      return;
    }
  }
}

std::string encodeTypedRecord(const core::Record& record) {
  std::string out = "{\"names\":[";
  for (size_t i = 0; i < record.size(); ++i) {
    if (i > 0) out += ',';
    appendJsonString(out, record.name(i));
  }
  out += "],\"values\":[";
  for (size_t i = 0; i < record.size(); ++i) {
    if (i > 0) out += ',';
    appendTyped(out, record.value(i));
  }
  out += "],\"pos\":";
  appendJsonString(out, record.meta.source_position);
  if (record.meta.event_time) {
    out += ",\"et\":";
    out += std::to_string(record.meta.event_time->micros);
  }
  out += '}';
  return out;
}

core::Result<core::Record> decodeTypedRecord(std::string_view text) {
  try {
    Json j = Json::parse(text);
    std::vector<std::string> names = j.at("names").get<std::vector<std::string>>();
    std::vector<Value> values;
    for (const auto& v : j.at("values")) values.push_back(decodeTyped(v));
    if (names.size() != values.size()) return core::fail(core::ErrorKind::Fatal, "stored record: names and values differ in length");
    core::Record record(std::make_shared<core::RecordSchema>(std::move(names)), std::move(values));
    record.meta.source_position = j.value("pos", "");
    if (j.contains("et")) record.meta.event_time = core::Timestamp{storedInt(j.at("et"))};
    return record;
  } catch (const std::exception& e) {
    return core::fail(core::ErrorKind::Fatal, std::string("stored record cannot be read: ") + e.what());
  }
}

}  // namespace dutybridge::codec
