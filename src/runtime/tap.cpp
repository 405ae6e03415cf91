#include "src/runtime/tap.h"

#include <algorithm>

namespace dutybridge::runtime {

TapSubscription::TapSubscription(TapStage stage, size_t limit, double per_second)
    : stage_(stage),
      per_second_(per_second),
      remaining_(limit),
      tokens_(std::max(1.0, per_second)),
      refilled_(std::chrono::steady_clock::now()) {}

std::vector<core::Record> TapSubscription::take() {
  std::lock_guard lock(mutex_);
  std::vector<core::Record> out(std::make_move_iterator(ready_.begin()), std::make_move_iterator(ready_.end()));
  ready_.clear();
  return out;
}

bool TapSubscription::exhausted() const {
  std::lock_guard lock(mutex_);
  return remaining_ == 0;
}

size_t TapSubscription::allowance(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  const double elapsed = std::chrono::duration<double>(now - refilled_).count();
  refilled_ = now;
  tokens_ = std::min(std::max(1.0, per_second_), tokens_ + elapsed * per_second_);
  if (ready_.size() >= kMaxReady) return 0;
  return std::min({remaining_, static_cast<size_t>(tokens_), kMaxReady - ready_.size()});
}

void TapSubscription::add(core::Record record) {
  std::lock_guard lock(mutex_);
  if (remaining_ == 0 || tokens_ < 1) return;
  --remaining_;
  tokens_ -= 1;
  ready_.push_back(std::move(record));
}

std::shared_ptr<TapSubscription> TapHub::subscribe(TapStage stage, size_t limit, double per_second) {
  auto subscription = std::make_shared<TapSubscription>(stage, limit, per_second);
  std::lock_guard lock(mutex_);
  subscriptions_.push_back(subscription);
  subscribers_[static_cast<size_t>(stage)].fetch_add(1, std::memory_order_relaxed);
  return subscription;
}

void TapHub::unsubscribe(const std::shared_ptr<TapSubscription>& subscription) {
  std::lock_guard lock(mutex_);
  auto found = std::find(subscriptions_.begin(), subscriptions_.end(), subscription);
  if (found == subscriptions_.end()) return;
  subscriptions_.erase(found);
  subscribers_[static_cast<size_t>(subscription->stage())].fetch_sub(1, std::memory_order_relaxed);
}

void TapHub::offer(TapStage stage, std::span<const core::Record> records,
                   const std::function<void(core::Record&)>& mask) {
  if (records.empty()) return;
  std::lock_guard lock(mutex_);
  const auto now = std::chrono::steady_clock::now();
  for (const auto& subscription : subscriptions_) {
    if (subscription->stage() != stage) continue;
    const size_t n = std::min(records.size(), subscription->allowance(now));
    for (size_t i = 0; i < n; ++i) {
      core::Record copy = records[i];
      mask(copy);
      subscription->add(std::move(copy));
    }
  }
}

}  // namespace dutybridge::runtime
