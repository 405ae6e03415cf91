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
  values_.insert_or_assign(std::string(key), std::move(value));
  return {};
}

core::Status MemoryStateStore::flush(std::chrono::steady_clock::time_point) { return {}; }

}  // namespace dutybridge::runtime
