#pragma once
// In-memory StateStore: for tests, and for pipelines run without a Kafka cluster configured
// (then cursors do not survive a restart, and the daemon says so at start-up).

#include <map>
#include <mutex>

#include "src/core/state_store.h"

namespace dutybridge::runtime {

class MemoryStateStore final : public core::StateStore {
 public:
  core::Result<std::optional<std::string>> get(std::string_view key) override;
  core::Status put(std::string_view key, std::string value) override;
  core::Status flush(std::chrono::steady_clock::time_point deadline) override;
  core::Result<std::vector<std::pair<std::string, std::string>>> scan(std::string_view prefix) override;
  void remember(const std::vector<core::StateEntry>& entries) override;

 private:
  std::mutex mutex_;
  std::map<std::string, std::string, std::less<>> values_;
};

}  // namespace dutybridge::runtime
