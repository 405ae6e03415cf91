#include "src/codec/json.h"

#include <algorithm>

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

namespace {

void appendJsonString(std::string_view text, std::string& out) {
  // nlohmann writes printable ASCII other than the quote and the backslash as it is.
  const bool plain = std::all_of(text.begin(), text.end(), [](char c) {
    return c >= 0x20 && c < 0x7f && c != '"' && c != '\\';
  });
  if (plain) {
    out += '"';
    out += text;
    out += '"';
    return;
  }
  out += nlohmann::ordered_json(std::string(text)).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

bool hasRepeatedKey(const core::ValueMap& map) {
  for (size_t i = 1; i < map.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (map[i].first == map[j].first) return true;
    }
  }
  return false;
}

}  // namespace

void appendJsonText(const core::Value& value, std::string& out) {
  using core::ValueType;
  switch (value.type()) {
    case ValueType::Null: out += "null"; return;
    case ValueType::Bool: out += value.asBool() ? "true" : "false"; return;
    case ValueType::Int: out += std::to_string(value.asInt()); return;
    case ValueType::Decimal:
    case ValueType::Timestamp:
    case ValueType::Date: appendJsonString(value.toText(), out); return;
    case ValueType::String: appendJsonString(value.asString(), out); return;
    case ValueType::List: {
      out += '[';
      bool first = true;
      for (const auto& item : value.asList()) {
        if (!first) out += ',';
        first = false;
        appendJsonText(item, out);
      }
      out += ']';
      return;
    }
    case ValueType::Map: {
      const auto& map = value.asMap();
      // toJson keeps the first position of a repeated key with the last value; rare enough
      // to leave to it (and the pairwise check to small maps).
      if (map.size() > 32 || hasRepeatedKey(map)) break;
      out += '{';
      bool first = true;
      for (const auto& [key, item] : map) {
        if (!first) out += ',';
        first = false;
        appendJsonString(key, out);
        out += ':';
        appendJsonText(item, out);
      }
      out += '}';
      return;
    }
    case ValueType::Double: break;
  }
  out += toJson(value).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
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
