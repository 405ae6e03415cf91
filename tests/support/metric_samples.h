#pragma once
// Finding what a connector reported through metrics() (core/metrics.h), for assertions.

#include <string_view>
#include <utility>
#include <vector>

#include "src/core/metrics.h"

namespace dutybridge::testing {

// The samples named `name` whose labels include every one of `labels`.
inline std::vector<const core::MetricSample*> findMetrics(
    const std::vector<core::MetricSample>& samples, std::string_view name,
    const std::vector<std::pair<std::string_view, std::string_view>>& labels = {}) {
  std::vector<const core::MetricSample*> out;
  for (const auto& sample : samples) {
    if (sample.name != name) continue;
    bool all = true;
    for (const auto& [label, value] : labels) {
      bool found = false;
      for (const auto& [have, have_value] : sample.labels) found = found || (have == label && have_value == value);
      all = all && found;
    }
    if (all) out.push_back(&sample);
  }
  return out;
}
// Pointers into a temporary would dangle (a range-for over findMetrics(metricsOf(x), ...)
// destroys the samples before the loop runs): keep the samples in a variable.
std::vector<const core::MetricSample*> findMetrics(
    std::vector<core::MetricSample>&& samples, std::string_view name,
    const std::vector<std::pair<std::string_view, std::string_view>>& labels = {}) = delete;

template <typename Reporter>
std::vector<core::MetricSample> metricsOf(const Reporter& reporter) {
  std::vector<core::MetricSample> out;
  reporter.metrics(out);
  return out;
}

}  // namespace dutybridge::testing
