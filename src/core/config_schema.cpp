#include "src/core/config_schema.h"

#include <cctype>

namespace dutybridge::core {

std::string_view toString(FieldType type) {
  switch (type) {
    case FieldType::String: return "string";
    case FieldType::Int: return "integer";
    case FieldType::Bool: return "boolean";
    case FieldType::Duration: return "duration";
    case FieldType::Size: return "size";
    case FieldType::Enum: return "enum";
    case FieldType::StringList: return "list of strings";
    case FieldType::StringMap: return "map of strings";
    case FieldType::Object: return "object";
    case FieldType::ObjectList: return "list of objects";
    case FieldType::ObjectMap:
      return "map of objects";
    case FieldType::Expression:
      return "expression";
    case FieldType::ExpressionMap:
      return "map of expressions";
    case FieldType::Any:
      return "any";
    case FieldType::Source: return "source connector";
    case FieldType::Sink: return "sink connector";
  }
  return "unknown";
}

const FieldSpec* ConfigSchema::find(std::string_view name) const {
  for (const auto& field : fields_) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

const FieldSpec* ConfigSchema::findFormer(std::string_view name) const {
  for (const auto& field : fields_) {
    for (const auto& former : field.former_names) {
      if (former == name) return &field;
    }
  }
  return nullptr;
}

std::vector<ConfigProblem> ConfigSchema::crossCheck(const ConfigObject& object) const {
  if (!check_) return {};
  return check_(object);
}

const ConfigObject::Entry* ConfigObject::find(std::string_view name) const {
  for (const auto& entry : entries) {
    if (entry.name == name) return &entry;
  }
  return nullptr;
}

bool ConfigObject::has(std::string_view name) const {
  const Entry* entry = find(name);
  return entry && (!entry->value.isNull() || !entry->objects.empty());
}

std::string ConfigObject::getString(std::string_view name) const {
  const Entry* entry = find(name);
  if (!entry || entry->value.type() != ValueType::String) return {};
  return entry->value.asString();
}

int64_t ConfigObject::getInt(std::string_view name) const {
  const Entry* entry = find(name);
  if (!entry || entry->value.type() != ValueType::Int) return 0;
  return entry->value.asInt();
}

bool ConfigObject::getBool(std::string_view name) const {
  const Entry* entry = find(name);
  return entry && entry->value.type() == ValueType::Bool && entry->value.asBool();
}

std::chrono::microseconds ConfigObject::getDuration(std::string_view name) const {
  return std::chrono::microseconds(getInt(name));
}

int64_t ConfigObject::getSize(std::string_view name) const { return getInt(name); }

std::vector<std::string> ConfigObject::getStringList(std::string_view name) const {
  std::vector<std::string> out;
  const Entry* entry = find(name);
  if (!entry || entry->value.type() != ValueType::List) return out;
  for (const auto& item : entry->value.asList()) out.push_back(item.toText());
  return out;
}

std::vector<std::pair<std::string, std::string>> ConfigObject::getStringMap(std::string_view name) const {
  std::vector<std::pair<std::string, std::string>> out;
  const Entry* entry = find(name);
  if (!entry || entry->value.type() != ValueType::Map) return out;
  for (const auto& [key, item] : entry->value.asMap()) out.emplace_back(key, item.toText());
  return out;
}

const ConfigObject* ConfigObject::getObject(std::string_view name) const {
  const Entry* entry = find(name);
  if (!entry || entry->objects.empty()) return nullptr;
  return &entry->objects.front();
}

const std::vector<ConfigObject>& ConfigObject::getObjects(std::string_view name) const {
  static const std::vector<ConfigObject> kEmpty;
  const Entry* entry = find(name);
  return entry ? entry->objects : kEmpty;
}

std::optional<int64_t> parseDuration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    int64_t number = 0;
    size_t start = i;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (number > 1'000'000'000'000) return std::nullopt;
      number = number * 10 + (text[i] - '0');
      ++i;
    }
    if (i == start) return std::nullopt;
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t factor;
    if (unit == "us") factor = 1;
    else if (unit == "ms") factor = 1000;
    else if (unit == "s") factor = 1'000'000;
    else if (unit == "m") factor = 60'000'000;
    else if (unit == "h") factor = 3'600'000'000;
    else if (unit == "d") factor = 86'400'000'000;
    else return std::nullopt;
    total += number * factor;
  }
  return total;
}

std::optional<int64_t> parseSize(std::string_view text) {
  size_t i = 0;
  int64_t number = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    if (number > 1'000'000'000'000'000) return std::nullopt;
    number = number * 10 + (text[i] - '0');
    ++i;
  }
  if (i == 0) return std::nullopt;
  std::string_view unit = text.substr(i);
  if (unit.empty() || unit == "B") return number;
  if (unit == "KiB") return number << 10;
  if (unit == "MiB") return number << 20;
  if (unit == "GiB") return number << 30;
  if (unit == "KB" || unit == "kB") return number * 1000;
  if (unit == "MB") return number * 1'000'000;
  if (unit == "GB") return number * 1'000'000'000;
  return std::nullopt;
}

std::string formatDuration(int64_t micros) {
  if (micros % 3'600'000'000 == 0 && micros != 0) return std::to_string(micros / 3'600'000'000) + "h";
  if (micros % 60'000'000 == 0 && micros != 0) return std::to_string(micros / 60'000'000) + "m";
  if (micros % 1'000'000 == 0) return std::to_string(micros / 1'000'000) + "s";
  if (micros % 1000 == 0) return std::to_string(micros / 1000) + "ms";
  return std::to_string(micros) + "us";
}

}  // namespace dutybridge::core
