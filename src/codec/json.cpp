#include "src/codec/json.h"

#include "src/codec/json_writer.h"

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
  if (record.schema() && record.schema()->repeatsNames()) {
    out += toJson(record).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
    return;
  }
  out += '{';
  for (size_t i = 0; i < record.size(); ++i) {
    if (i > 0) out += ',';
    appendJsonString(out, record.name(i));
    out += ':';
    appendJsonValue(out, record.value(i));
  }
  out += '}';
}

std::string envelopeJson(const core::Record& record) {
  std::string out = "{\"topic\":";
  if (record.meta.topic)
    appendJsonString(out, *record.meta.topic);
  else
    out += "null";
  out += ",\"key\":";
  if (record.meta.key)
    appendJsonString(out, *record.meta.key);
  else
    out += "null";
  out += ",\"value\":";
  appendJson(record, out);
  out += '}';
  return out;
}

}  // namespace dutybridge::codec
