#include "src/runtime/lazy_state_store.h"

namespace dutybridge::runtime {

core::Result<core::StateStore*> LazyStateStore::store() {
  std::lock_guard lock(mutex_);
  if (!store_) {
    auto opened = opener_();
    if (!opened) return core::fail(opened.error());
    store_ = std::move(*opened);
  }
  return store_.get();
}

core::Result<std::optional<std::string>> LazyStateStore::get(std::string_view key) {
  auto s = store();
  if (!s) return core::fail(s.error());
  return (*s)->get(key);
}

core::Status LazyStateStore::put(std::string_view key, std::string value) {
  auto s = store();
  if (!s) return core::fail(s.error());
  return (*s)->put(key, std::move(value));
}

core::Status LazyStateStore::flush(std::chrono::steady_clock::time_point deadline) {
  auto s = store();
  if (!s) return core::fail(s.error());
  return (*s)->flush(deadline);
}

core::Result<std::vector<std::pair<std::string, std::string>>> LazyStateStore::scan(std::string_view prefix) {
  auto s = store();
  if (!s) return core::fail(s.error());
  return (*s)->scan(prefix);
}

void LazyStateStore::remember(const std::vector<core::StateEntry>& entries) {
  std::lock_guard lock(mutex_);
  if (store_) store_->remember(entries);
}

std::optional<int64_t> LazyStateStore::storedAtUnixMs(std::string_view key) {
  std::lock_guard lock(mutex_);
  return store_ ? store_->storedAtUnixMs(key) : std::nullopt;
}

}  // namespace dutybridge::runtime
