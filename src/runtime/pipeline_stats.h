#pragma once
// Counters of one pipeline: written by its thread, read by anyone (log lines, status).

#include <atomic>
#include <cstdint>

namespace dutybridge::runtime {

struct PipelineStats {
  std::atomic<uint64_t> records_read{0};
  std::atomic<uint64_t> records_delivered{0};
  std::atomic<uint64_t> batches_committed{0};
  std::atomic<uint64_t> retries{0};
  std::atomic<uint64_t> records_mapped{0};  // outputs of the transform
  std::atomic<uint64_t> dead_letters{0};
  std::atomic<uint64_t> transactions{0};  // committed (exactly-once)
};

}  // namespace dutybridge::runtime
