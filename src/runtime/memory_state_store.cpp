#include "src/runtime/memory_state_store.h"

namespace dutybridge::runtime {

core::Result<std::optional<std::string>> MemoryStateStore::get(std::string_view key) {
  std::lock_guard lock(mutex_);
  auto it = values_.find(key);
  if (it == values_.end()) return std::optional<std::string>{};
  return std::optional<std::string>{it->second};
}

core::Status MemoryStateStore::put(std::string_view key, std::string value) {
  std::lock_guard lock(mutex_);
  // Like the Kafka store: an empty value deletes the key.
  if (value.empty()) {
    if (auto it = values_.find(key); it != values_.end()) values_.erase(it);
  } else {
    values_.insert_or_assign(std::string(key), std::move(value));
  }
  return {};
}

core::Result<std::vector<std::pair<std::string, std::string>>> MemoryStateStore::scan(std::string_view prefix) {
  std::lock_guard lock(mutex_);
  std::vector<std::pair<std::string, std::string>> out;
  for (auto it = values_.lower_bound(prefix); it != values_.end() && it->first.starts_with(prefix); ++it) {
    out.emplace_back(it->first, it->second);
  }
  return out;
}

core::Status MemoryStateStore::flush(std::chrono::steady_clock::time_point) { return {}; }

void MemoryStateStore::remember(const std::vector<core::StateEntry>& entries) {
  for (const auto& entry : entries) (void)put(entry.key, entry.value);
}

}  // namespace dutybridge::runtime
