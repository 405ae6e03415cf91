#include "src/admin/metrics.h"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "src/core/metrics.h"
#include "src/runtime/pipeline_status.h"

namespace dutybridge::admin {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric sample(std::vector<ClientMetric::Label> labels, double value, MetricType type) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter)
    m.counter.value = value;
  else
    m.gauge.value = value;
  return m;
}

// The transform's gauges under their metric names.
struct GaugeName {
  std::string_view gauge;
  std::string_view metric;
  std::string_view help;
};
constexpr GaugeName kGauges[] = {
    {"quarantined", "dutybridge_pipeline_quarantined_records",
     "Records held in quarantine (waiting for a lookup to answer) by the pipeline's mapping."},
    {"open_windows", "dutybridge_pipeline_open_windows", "Aggregation windows not yet closed."},
    {"windows", "dutybridge_pipeline_windows", "Aggregation windows held (open and retained closed ones)."},
    {"window_rows", "dutybridge_pipeline_window_rows", "Source rows held in aggregation windows."},
    {"state_bytes", "dutybridge_pipeline_state_bytes", "Approximate memory of the aggregation state."},
};

// What connectors and transforms report (core::MetricSample), by name: the only names rendered,
// so each has its help text here (and a row in docs/operations.md). The type comes from the
// samples.
struct ReportedMetric {
  std::string_view name;
  MetricType type;
  std::string_view help;
};
constexpr ReportedMetric kReported[] = {
    {"dutybridge_kafka_source_consumer_lag_messages", MetricType::Gauge,
     "Kafka source: messages of the partition not yet read (high watermark, the last stable offset when reading "
     "committed only, minus the next offset to read), by topic and partition."},
    {"dutybridge_kafka_producer_queue_messages", MetricType::Gauge,
     "Kafka sink: messages and requests in the producer's queue, not yet acknowledged by the broker (role: output "
     "or dead_letters)."},
    {"dutybridge_kafka_producer_queue_bytes", MetricType::Gauge,
     "Kafka sink: key and value bytes of the records produced and not yet acknowledged (role: output or "
     "dead_letters)."},
    {"dutybridge_pipeline_revisions_emitted_total", MetricType::Counter,
     "Revisions of aggregation windows the mapping emitted (every output of a window, corrections included)."},
    {"dutybridge_pipeline_corrections_after_close_total", MetricType::Counter,
     "Revisions of aggregation windows emitted after the window's closed revision (late or changed rows)."},
    {"dutybridge_pipeline_rows_before_window_total", MetricType::Counter,
     "Rows of a ROLLING aggregate whose day was before the window's first day: filtered, they count for nothing."},
    {"dutybridge_odbc_sink_rows_upserted_total", MetricType::Counter,
     "ODBC sink: rows written by upsert statements in committed transactions."},
    {"dutybridge_odbc_sink_transaction_duration_seconds", MetricType::Histogram,
     "ODBC sink: time from a transaction's first statement to its commit, for committed transactions."},
};

ClientMetric reportedSample(const ClientMetric::Label& pipeline, const core::MetricSample& s) {
  ClientMetric m;
  m.label.push_back(pipeline);
  for (const auto& [name, value] : s.labels) m.label.push_back({name, value});
  switch (s.kind) {
    case core::MetricKind::Counter:
      m.counter.value = s.value;
      break;
    case core::MetricKind::Gauge:
      m.gauge.value = s.value;
      break;
    case core::MetricKind::Histogram:
      m.histogram.sample_count = s.histogram.count;
      m.histogram.sample_sum = s.histogram.sum;
      for (size_t i = 0; i < s.histogram.bounds.size() && i < s.histogram.cumulative.size(); ++i) {
        m.histogram.bucket.push_back({s.histogram.cumulative[i], s.histogram.bounds[i]});
      }
      m.histogram.bucket.push_back({s.histogram.count, std::numeric_limits<double>::infinity()});
      break;
  }
  return m;
}

constexpr MetricType typeOf(core::MetricKind kind) {
  return kind == core::MetricKind::Counter ? MetricType::Counter
         : kind == core::MetricKind::Gauge ? MetricType::Gauge
                                           : MetricType::Histogram;
}

// process_* as the Prometheus client libraries define them, from /proc/self.
void processMetrics(std::vector<MetricFamily>& out) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  std::ifstream stat_file("/proc/self/stat");
  std::string stat((std::istreambuf_iterator<char>(stat_file)), std::istreambuf_iterator<char>());
  // Fields after the command (which may hold spaces), from field 3 on.
  const auto close = stat.rfind(')');
  if (close != std::string::npos) {
    std::istringstream fields(stat.substr(close + 2));
    std::vector<std::string> f;
    for (std::string field; fields >> field;) f.push_back(field);
    // f[0] is field 3 (state): utime 14, stime 15, starttime 22, vsize 23, rss 24.
    if (f.size() > 21) {
      const double cpu = (std::stod(f[11]) + std::stod(f[12])) / ticks;
      auto cpu_family =
          family("process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::Counter);
      cpu_family.metric.push_back(sample({}, cpu, MetricType::Counter));
      out.push_back(std::move(cpu_family));
      auto virt = family("process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::Gauge);
      virt.metric.push_back(sample({}, std::stod(f[20]), MetricType::Gauge));
      out.push_back(std::move(virt));
      auto rss = family("process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::Gauge);
      rss.metric.push_back(sample({}, std::stod(f[21]) * page, MetricType::Gauge));
      out.push_back(std::move(rss));
      // starttime is in ticks since boot; boot time is btime in /proc/stat. The systemd unit's
      // ProcSubset=pid hides /proc/stat: then it is the wall clock less the time since boot.
      std::ifstream proc_stat("/proc/stat");
      double boot = 0;
      for (std::string line; std::getline(proc_stat, line);) {
        if (line.starts_with("btime ")) boot = std::stod(line.substr(6));
      }
      timespec now{};
      timespec since_boot{};
      if (boot == 0 && clock_gettime(CLOCK_REALTIME, &now) == 0 && clock_gettime(CLOCK_BOOTTIME, &since_boot) == 0) {
        boot = static_cast<double>(now.tv_sec - since_boot.tv_sec) +
               static_cast<double>(now.tv_nsec - since_boot.tv_nsec) / 1e9;
      }
      auto start = family("process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
                          MetricType::Gauge);
      start.metric.push_back(sample({}, boot + std::stod(f[19]) / ticks, MetricType::Gauge));
      out.push_back(std::move(start));
    }
  }
  std::error_code ec;
  double fds = 0;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end; it.increment(ec)) ++fds;
  auto open_fds = family("process_open_fds", "Number of open file descriptors.", MetricType::Gauge);
  open_fds.metric.push_back(sample({}, fds, MetricType::Gauge));
  out.push_back(std::move(open_fds));
  auto max_fds = family("process_max_fds", "Maximum number of open file descriptors.", MetricType::Gauge);
  max_fds.metric.push_back(sample({}, static_cast<double>(sysconf(_SC_OPEN_MAX)), MetricType::Gauge));
  out.push_back(std::move(max_fds));
}

}  // namespace

std::string renderMetrics(const std::vector<runtime::PipelineView>& pipelines, const runtime::ReloadStats& reloads,
                          std::string_view version) {
  using runtime::PipelineState;
  std::vector<MetricFamily> families;
  auto build = family("dutybridge_build_info", "The running dutybridge build (value 1).", MetricType::Gauge);
  build.metric.push_back(sample({{"version", std::string(version)}}, 1, MetricType::Gauge));
  families.push_back(std::move(build));

  auto reload_total = family("dutybridge_config_reloads_total",
                             "Configuration reloads (SIGHUP, POST /api/v1/reload) by result: applied, unchanged, "
                             "invalid (the file has errors; nothing changed), refused (another one ran).",
                             MetricType::Counter);
  for (auto result : {runtime::ReloadOutcome::Result::Applied, runtime::ReloadOutcome::Result::Unchanged,
                      runtime::ReloadOutcome::Result::Invalid, runtime::ReloadOutcome::Result::Refused}) {
    reload_total.metric.push_back(sample({{"result", std::string(runtime::toString(result))}},
                                         static_cast<double>(reloads.by_result[static_cast<size_t>(result)]),
                                         MetricType::Counter));
  }
  families.push_back(std::move(reload_total));
  auto reload_ok = family("dutybridge_config_last_reload_successful",
                          "0 when the last reload found errors in the file (the daemon runs the previous one), else 1.",
                          MetricType::Gauge);
  reload_ok.metric.push_back(sample({}, reloads.last_successful ? 1 : 0, MetricType::Gauge));
  families.push_back(std::move(reload_ok));
  auto loaded_at =
      family("dutybridge_config_last_reload_success_timestamp_seconds",
             "When the configuration in force was loaded: the start, or the last valid reload.", MetricType::Gauge);
  loaded_at.metric.push_back(
      sample({}, static_cast<double>(reloads.config_loaded_unix_ms) / 1000.0, MetricType::Gauge));
  families.push_back(std::move(loaded_at));

  auto state = family("dutybridge_pipeline_state",
                      "1 for the pipeline's current state (starting, running, retrying, stopping, stopped, failed, "
                      "finished), 0 for the others.",
                      MetricType::Gauge);
  auto counter = [&](std::string name, std::string help) {
    return family(std::move(name), std::move(help), MetricType::Counter);
  };
  auto read = counter("dutybridge_pipeline_records_read_total",
                      "Records read from the source (with those it could not decode).");
  auto mapped = counter("dutybridge_pipeline_records_mapped_total", "Records the mapping emitted.");
  auto delivered = counter("dutybridge_pipeline_records_delivered_total",
                           "Records durably delivered (delivery report, committed transaction or database commit).");
  auto dead = counter("dutybridge_pipeline_dead_letters_total", "Records sent to the dead-letter topic, by stage.");
  auto batches = counter("dutybridge_pipeline_batches_total", "Batches durably delivered.");
  auto transactions = counter("dutybridge_pipeline_transactions_total",
                              "Kafka transactions (exactly-once pipelines) by outcome: committed or aborted.");
  auto retries = counter("dutybridge_pipeline_retries_total", "Retryable failures retried, by step.");
  auto restarts = counter("dutybridge_pipeline_restarts_total",
                          "Runs begun after the first (after an aborted transaction, or a resume or restart).");
  auto lag =
      family("dutybridge_pipeline_source_lag_seconds",
             "Now minus the event time of the newest row read (only for rows with an event time).", MetricType::Gauge);
  auto cursor_age =
      family("dutybridge_pipeline_cursor_age_seconds",
             "Now minus the time the cursor (or the sink's position) was last made durable.", MetricType::Gauge);
  auto step = family("dutybridge_pipeline_step_seconds",
                     "How long the pipeline thread has been in its current step (a wedged thread grows without "
                     "bound; /healthz fails past service.stuck_after).",
                     MetricType::Gauge);
  auto latency = family("dutybridge_pipeline_end_to_end_latency_seconds",
                        "Row event time to durable delivery, per batch from its newest row, weighted by its records.",
                        MetricType::Histogram);
  std::vector<MetricFamily> gauges;
  for (const auto& g : kGauges) gauges.push_back(family(std::string(g.metric), std::string(g.help), MetricType::Gauge));
  std::vector<MetricFamily> reported;
  for (const auto& r : kReported) reported.push_back(family(std::string(r.name), std::string(r.help), r.type));

  const int64_t now_ms = runtime::unixMillisNow();
  for (const auto& view : pipelines) {
    const runtime::PipelineStatus& status = *view.status;
    const runtime::PipelineStats& stats = status.stats;
    const std::string& name = view.config->name;
    const ClientMetric::Label pipeline{"pipeline", name};
    for (auto s : {PipelineState::Starting, PipelineState::Running, PipelineState::Retrying, PipelineState::Stopping,
                   PipelineState::Stopped, PipelineState::Failed, PipelineState::Finished}) {
      state.metric.push_back(sample({pipeline, {"state", std::string(runtime::toString(s))}},
                                    status.state() == s ? 1 : 0, MetricType::Gauge));
    }
    auto count = [&](MetricFamily& f, const std::atomic<uint64_t>& value, std::vector<ClientMetric::Label> extra = {}) {
      extra.insert(extra.begin(), pipeline);
      f.metric.push_back(
          sample(std::move(extra), static_cast<double>(value.load(std::memory_order_relaxed)), MetricType::Counter));
    };
    count(read, stats.records_read);
    count(mapped, stats.records_mapped);
    count(delivered, stats.records_delivered);
    for (size_t i = 0; i < runtime::kDeadLetterStages.size(); ++i) {
      count(dead, stats.dead_letters_by_stage[i], {{"stage", std::string(runtime::kDeadLetterStages[i])}});
    }
    count(batches, stats.batches_committed);
    count(transactions, stats.transactions, {{"outcome", "committed"}});
    count(transactions, stats.transactions_aborted, {{"outcome", "aborted"}});
    for (size_t i = 0; i < runtime::kRetrySteps.size(); ++i) {
      count(retries, stats.retries_by_step[i], {{"step", std::string(runtime::kRetrySteps[i])}});
    }
    count(restarts, stats.restarts);
    if (const int64_t newest = stats.newest_event_unix_ms.load(std::memory_order_relaxed); newest > 0) {
      lag.metric.push_back(sample({pipeline}, static_cast<double>(now_ms - newest) / 1000.0, MetricType::Gauge));
    }
    if (const int64_t stored = stats.cursor_stored_unix_ms.load(std::memory_order_relaxed); stored > 0) {
      cursor_age.metric.push_back(sample({pipeline}, static_cast<double>(now_ms - stored) / 1000.0, MetricType::Gauge));
    }
    const auto current = status.currentStep();
    step.metric.push_back(
        sample({pipeline}, std::chrono::duration<double>(current.running_for).count(), MetricType::Gauge));
    const auto histogram = stats.end_to_end_latency.snapshot();
    ClientMetric h;
    h.label = {pipeline};
    h.histogram.sample_count = histogram.count;
    h.histogram.sample_sum = histogram.sum;
    for (size_t i = 0; i < runtime::LatencyHistogram::kBounds.size(); ++i) {
      h.histogram.bucket.push_back({histogram.cumulative[i], runtime::LatencyHistogram::kBounds[i]});
    }
    h.histogram.bucket.push_back({histogram.count, std::numeric_limits<double>::infinity()});
    latency.metric.push_back(std::move(h));
    for (const auto& [gauge, value] : status.gauges()) {
      for (size_t i = 0; i < std::size(kGauges); ++i) {
        if (kGauges[i].gauge == gauge) {
          gauges[i].metric.push_back(sample({pipeline}, static_cast<double>(value), MetricType::Gauge));
        }
      }
    }
    for (const auto& s : status.metrics()) {
      for (size_t i = 0; i < std::size(kReported); ++i) {
        // A sample of another type than its table entry would make the exposition invalid.
        if (kReported[i].name == s.name && kReported[i].type == typeOf(s.kind)) {
          reported[i].metric.push_back(reportedSample(pipeline, s));
        }
      }
    }
  }
  for (auto* f : {&state, &read, &mapped, &delivered, &dead, &batches, &transactions, &retries, &restarts, &lag,
                  &cursor_age, &step, &latency}) {
    families.push_back(std::move(*f));
  }
  for (auto& f : gauges) families.push_back(std::move(f));
  // Families without samples (no pipeline has such a connector) are left out.
  for (auto& f : reported) {
    if (!f.metric.empty()) families.push_back(std::move(f));
  }
  processMetrics(families);
  return prometheus::TextSerializer().Serialize(families);
}

}  // namespace dutybridge::admin
