#include "src/codec/json.h"

namespace dutybridge::codec {

nlohmann::ordered_json toJson(const core::Value& value) {
  using core::ValueType;
  switch (value.type()) {
    case ValueType::Null: return nullptr;
    case ValueType::Bool: return value.asBool();
    case ValueType::Int: return value.asInt();
    case ValueType::Double: return value.asDouble();
    case ValueType::Decimal:
    case ValueType::Timestamp:
    case ValueType::Date: return value.toText();
    case ValueType::String: return value.asString();
    case ValueType::List: {
      auto out = nlohmann::ordered_json::array();
      for (const auto& item : value.asList()) out.push_back(toJson(item));
      return out;
    }
    case ValueType::Map: {
      auto out = nlohmann::ordered_json::object();
      for (const auto& [key, item] : value.asMap()) out[key] = toJson(item);
      return out;
    }
  }
  return nullptr;
}

nlohmann::ordered_json toJson(const core::Record& record) {
  auto out = nlohmann::ordered_json::object();
  for (size_t i = 0; i < record.size(); ++i) out[record.name(i)] = toJson(record.value(i));
  return out;
}

void appendJson(const core::Record& record, std::string& out) {
  // Invalid UTF-8 is replaced rather than thrown on: a bad byte in one column must not stop a
  // pipeline, and the replacement is visible to whoever reads the record.
  out += toJson(record).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string envelopeJson(const core::Record& record) {
  nlohmann::ordered_json json;
  json["topic"] = record.meta.topic ? nlohmann::ordered_json(*record.meta.topic) : nullptr;
  json["key"] = record.meta.key ? nlohmann::ordered_json(*record.meta.key) : nullptr;
  json["value"] = toJson(record);
  return json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

}  // namespace dutybridge::codec
