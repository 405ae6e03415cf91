#pragma once
// A StateStore that opens its backing store on first use and keeps trying: while the store
// cannot be opened (the Kafka cluster is down at start-up) every call returns the open error,
// which is Retryable, so pipelines back off and retry instead of the daemon exiting.

#include <functional>
#include <memory>
#include <mutex>

#include "src/core/state_store.h"

namespace dutybridge::runtime {

class LazyStateStore final : public core::StateStore {
 public:
  using Opener = std::function<core::Result<std::unique_ptr<core::StateStore>>()>;

  explicit LazyStateStore(Opener opener) : opener_(std::move(opener)) {}

  core::Result<std::optional<std::string>> get(std::string_view key) override;
  core::Status put(std::string_view key, std::string value) override;
  core::Status flush(std::chrono::steady_clock::time_point deadline) override;
  core::Result<std::vector<std::pair<std::string, std::string>>> scan(std::string_view prefix) override;
  void remember(const std::vector<core::StateEntry>& entries) override;
  std::optional<int64_t> storedAtUnixMs(std::string_view key) override;

 private:
  core::Result<core::StateStore*> store();

  Opener opener_;
  std::mutex mutex_;
  std::unique_ptr<core::StateStore> store_;
};

}  // namespace dutybridge::runtime
