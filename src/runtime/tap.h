#pragma once
// The live tap of a pipeline (the admin API's GET .../tap, like `vector tap`): a sample of the
// records it reads (stage source) or hands to its sink (stage output), copied and masked on the
// pipeline's thread, taken by the admin server on the event loop.
//
// Cost when nobody taps: one relaxed atomic load per batch and stage. With a subscriber, the
// pipeline copies at most what the subscriber's rate and limit still allow (a token bucket per
// subscriber), so a tap never copies a whole batch stream and never waits for a slow client:
// what the client does not take in time is dropped, not queued without bound.
//
// Threading: subscribe/unsubscribe and TapSubscription::take on any thread (the event loop);
// active() and offer() on the pipeline's thread.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <vector>

#include "src/core/record.h"

namespace dutybridge::runtime {

enum class TapStage : uint8_t { Source, Output };

class TapSubscription {
 public:
  TapSubscription(TapStage stage, size_t limit, double per_second);

  TapStage stage() const { return stage_; }
  // The records offered since the last take, in order.
  std::vector<core::Record> take();
  // True once `limit` records were offered (and the last take may have them).
  bool exhausted() const;

 private:
  friend class TapHub;
  // How many records may be offered now: the rate's tokens and what is left of the limit.
  size_t allowance(std::chrono::steady_clock::time_point now);
  void add(core::Record record);

  const TapStage stage_;
  const double per_second_;
  mutable std::mutex mutex_;
  size_t remaining_;  // of the limit
  double tokens_;
  std::chrono::steady_clock::time_point refilled_;
  std::deque<core::Record> ready_;
  static constexpr size_t kMaxReady = 1000;  // a client that does not take: the rest is dropped
};

class TapHub {
 public:
  std::shared_ptr<TapSubscription> subscribe(TapStage stage, size_t limit, double per_second);
  void unsubscribe(const std::shared_ptr<TapSubscription>& subscription);

  bool active(TapStage stage) const {
    return subscribers_[static_cast<size_t>(stage)].load(std::memory_order_relaxed) > 0;
  }
  // Copies to each subscriber of `stage` what it may take now, each copy masked by `mask`
  // (personal fields) before anyone else sees it.
  void offer(TapStage stage, std::span<const core::Record> records, const std::function<void(core::Record&)>& mask);

 private:
  std::mutex mutex_;
  std::vector<std::shared_ptr<TapSubscription>> subscriptions_;
  std::array<std::atomic<int>, 2> subscribers_{};
};

}  // namespace dutybridge::runtime
