#include "src/core/metrics.h"

#include <algorithm>

namespace dutybridge::core {

void LatencyHistogram::observe(double seconds, uint64_t count) {
  if (count == 0) return;
  seconds = std::max(0.0, seconds);
  const auto bound = std::lower_bound(kBounds.begin(), kBounds.end(), seconds);
  buckets_[static_cast<size_t>(bound - kBounds.begin())].fetch_add(count, std::memory_order_relaxed);
  sum_.fetch_add(seconds * static_cast<double>(count), std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
  Snapshot out;
  uint64_t running = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    out.cumulative[i] = running;
  }
  out.count = running;
  out.sum = sum_.load(std::memory_order_relaxed);
  return out;
}

MetricSample LatencyHistogram::sample(std::string name, std::vector<std::pair<std::string, std::string>> labels) const {
  const Snapshot snap = snapshot();
  MetricSample out;
  out.name = std::move(name);
  out.labels = std::move(labels);
  out.kind = MetricKind::Histogram;
  out.histogram.bounds.assign(kBounds.begin(), kBounds.end());
  out.histogram.cumulative.assign(snap.cumulative.begin(), snap.cumulative.begin() + kBounds.size());
  out.histogram.count = snap.count;
  out.histogram.sum = snap.sum;
  return out;
}

}  // namespace dutybridge::core
