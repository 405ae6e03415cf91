#pragma once
// Metrics a source, a sink or a transform reports about itself (Source::metrics(),
// Sink::metrics(), Transform::metrics()), without knowing how they are exposed: the pipeline
// collects them on its thread about once a second into its PipelineStatus, and the admin
// server renders that snapshot as Prometheus text (src/admin/metrics.cpp, which holds the help
// text of every name). A name the renderer does not know is left out, so a new metric needs a
// line there and in docs/operations.md.
//
// Names: the full Prometheus name, "dutybridge_<what>_<base unit>", counters ending in
// "_total". The renderer adds the label `pipeline`; the pipeline adds `role` to a sink's
// samples (output or dead_letters).
// Labels: bounded values only (a topic, a partition): never a key, a field value or anything
// naming a person, since they leave the process in clear.
// Counters count from the connector's creation; the pipeline carries them across its runs (a
// run builds fresh connectors), so what is published never goes back.
//
// LatencyHistogram: a fixed-bucket histogram of durations written with atomics only, for a
// connector's own threads (observe() from any thread, snapshot() from any other).

#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace dutybridge::core {

enum class MetricKind : uint8_t { Counter, Gauge, Histogram };

struct HistogramSnapshot {
  std::vector<double> bounds;        // upper bounds, ascending; +Inf is implied
  std::vector<uint64_t> cumulative;  // observations <= each bound
  uint64_t count = 0;                // all observations (the +Inf bucket)
  double sum = 0;
};

struct MetricSample {
  std::string name;
  std::vector<std::pair<std::string, std::string>> labels;
  MetricKind kind = MetricKind::Gauge;
  double value = 0;             // Counter, Gauge
  HistogramSnapshot histogram;  // Histogram
};

class LatencyHistogram {
 public:
  static constexpr std::array<double, 15> kBounds = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,     2.5,   5,    10,    30,   60,  300};
  void observe(double seconds, uint64_t count = 1);
  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> cumulative{};  // per bound, then +Inf
    uint64_t count = 0;
    double sum = 0;
  };
  // Buckets consistent with the count (the sum may trail them by observations in progress).
  Snapshot snapshot() const;
  // The snapshot as a histogram sample.
  MetricSample sample(std::string name, std::vector<std::pair<std::string, std::string>> labels = {}) const;

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<double> sum_{0};
};

}  // namespace dutybridge::core
