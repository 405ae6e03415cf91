#include "src/core/record.h"

namespace dutybridge::core {

RecordSchema::RecordSchema(std::vector<std::string> names) : names_(std::move(names)) {
  for (size_t i = 0; i < names_.size(); ++i) index_.emplace(names_[i], i);
}

std::optional<size_t> RecordSchema::indexOf(std::string_view name) const {
  auto it = index_.find(std::string(name));
  if (it == index_.end()) return std::nullopt;
  return it->second;
}

const Value* Record::find(std::string_view name) const {
  if (!schema_) return nullptr;
  auto index = schema_->indexOf(name);
  return index ? &values_[*index] : nullptr;
}

}  // namespace dutybridge::core
