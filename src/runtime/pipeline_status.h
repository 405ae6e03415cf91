#pragma once
// What a pipeline publishes about itself, for the admin API (/healthz, /readyz, /metrics,
// /api/v1/pipelines), `status` and the periodic log line.
//
// Threading: written by the pipeline's worker thread (and by the daemon's event loop for the
// states it controls: stopping, stopped); read by anyone, typically the admin server on the
// event loop. Counters, times and the state are atomics, so a batch only ever touches atomics;
// the few strings (last error, cursor) sit behind a mutex and change at most once per commit or
// per retry. The admin server only reads: it can never slow a pipeline down.
//
// Lifetime: one PipelineStatus per configured pipeline for the whole run of the daemon, kept
// across the rebuilds after an aborted transaction and admin restarts, so counters only grow
// (Prometheus counters must not go back).

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/error.h"
#include "src/core/transform.h"
#include "src/runtime/tap.h"
#include "src/core/metrics.h"

namespace dutybridge::runtime {

enum class PipelineState : uint8_t {
  Starting,  // opening its sink, reading its cursor and state, opening its source
  Running,   // reading and delivering
  Retrying,  // a step failed with a Retryable error and is retried with backoff
  Stopping,  // a stop was requested (signal or admin); it delivers what it can and stores its cursor
  Stopped,   // stopped by the admin API, or by the daemon's stop
  Failed,    // ended on a Permanent, Fatal or configuration error
  Finished,  // its bounded input ended (run --once, a bounded generator) and all was delivered
};
std::string_view toString(PipelineState state);

// Dead letters by the stage that made them.
enum class DeadLetterStage : uint8_t { Source, Mapping, Sink };
inline constexpr std::array<std::string_view, 3> kDeadLetterStages = {"source", "mapping", "sink"};

// What a Retrier was doing when it retried, for retries_total{step}. Bounded on purpose: it
// becomes a metric label.
enum class RetryStep : uint8_t { Open, Source, Sink, Commit, DeadLetters, Restart };
inline constexpr std::array<std::string_view, 6> kRetrySteps = {"open",   "source",       "sink",
                                                                "commit", "dead_letters", "restart"};
RetryStep retryStepOf(std::string_view what);

// Row event time -> delivery; the same atomic histogram the connectors use.
using LatencyHistogram = core::LatencyHistogram;

// Counters of one pipeline: written by its thread, read by anyone.
struct PipelineStats {
  std::atomic<uint64_t> records_read{0};
  std::atomic<uint64_t> records_delivered{0};
  std::atomic<uint64_t> batches_committed{0};
  std::atomic<uint64_t> retries{0};
  std::array<std::atomic<uint64_t>, kRetrySteps.size()> retries_by_step{};
  std::atomic<uint64_t> records_mapped{0};  // outputs of the transform
  std::atomic<uint64_t> dead_letters{0};
  std::array<std::atomic<uint64_t>, kDeadLetterStages.size()> dead_letters_by_stage{};
  std::atomic<uint64_t> transactions{0};          // committed (exactly-once)
  std::atomic<uint64_t> transactions_aborted{0};  // runs that ended Abortable
  std::atomic<uint64_t> restarts{0};              // runs begun after the first
  // Newest event time among the rows read (Unix ms; 0: none had one) -> source lag.
  std::atomic<int64_t> newest_event_unix_ms{0};
  // When the cursor (or the sink's position) was last made durable (Unix ms; 0: not in this run).
  std::atomic<int64_t> cursor_stored_unix_ms{0};
  // Row event time -> delivery (the delivery report, or the commit of its transaction), per batch
  // from the batch's newest event time, weighted by its records.
  LatencyHistogram end_to_end_latency;
};

struct PipelineError {
  std::string kind;  // core::toString(ErrorKind)
  std::string message;
  int64_t since_unix_ms = 0;
};

class PipelineStatus {
 public:
  PipelineStats stats;
  // The live tap: not part of the status' value, so the admin server subscribes through a
  // const view of it.
  mutable TapHub tap;

  PipelineState state() const { return state_.load(std::memory_order_relaxed); }
  void setState(PipelineState state) { state_.store(state, std::memory_order_relaxed); }

  // Heartbeat: the pipeline marks the step it begins (a static string: "source.poll",
  // "sink.write", ...). A step running longer than the daemon's stuck limit is a wedged thread.
  void beginStep(const char* step);
  struct Step {
    const char* name = nullptr;
    std::chrono::steady_clock::duration running_for{};
  };
  Step currentStep() const;

  // A Retryable failure being retried: the state becomes Retrying (Running again on progress),
  // and the error is kept as the reason readiness reports.
  void retrying(std::string_view step, const core::Error& error);
  // Progress after retries: Running again (cheap when nothing was retried).
  void progressed();
  void failed(const core::Error& error);
  std::optional<PipelineError> lastError() const;
  // What the sink retries on its own (Sink::retrying), published by the pipeline thread: while
  // set, a running pipeline shows Retrying with it as the reason.
  void sinkRetrying(std::optional<std::string> reason);
  // The reason of the current retries ("source retrying: connection refused"), if retrying.
  std::string retryReason() const;

  // The durable cursor as stored (opaque to everyone but the source).
  void cursorStored(std::string_view position);
  void cursorRead(std::optional<std::string> position);
  std::optional<std::string> cursor() const;

  // The transform's gauges (quarantined, open_windows, ...), published by the pipeline thread.
  void publishGauges(std::vector<std::pair<std::string, int64_t>> gauges);
  std::vector<std::pair<std::string, int64_t>> gauges() const;

  // The oldest held records of the transform's quarantine (at most kHeldShown), published with
  // the gauges; and a retry the admin API asks for, which the pipeline thread carries out.
  static constexpr size_t kHeldShown = 500;
  void publishHeld(std::vector<core::Transform::HeldRecord> held);
  std::vector<core::Transform::HeldRecord> held() const;
  void requestHeldRetry() const { held_retry_.store(true, std::memory_order_relaxed); }
  bool takeHeldRetry() { return held_retry_.exchange(false, std::memory_order_relaxed); }
  // What the source, the sink(s) and the transform report (core/metrics.h), published by the
  // pipeline thread about once a second; each call replaces the previous snapshot.
  void publishMetrics(const std::vector<core::MetricSample>& samples);
  // A run with fresh connectors begins: their counters and histograms start at 0 again, so the
  // last published ones are carried and added to what the new run reports (published counters
  // never go back, and one that the new run no longer reports stays at its last value).
  void beginMetricsRun();
  std::vector<core::MetricSample> metrics() const;

 private:
  std::atomic<PipelineState> state_{PipelineState::Starting};
  std::atomic<bool> retrying_{false};       // a Retrier is retrying a step
  std::atomic<bool> sink_retrying_{false};  // the sink retries on its own
  std::atomic<const char*> step_{nullptr};
  std::atomic<int64_t> step_since_ns_{0};  // steady clock
  mutable std::atomic<bool> held_retry_{false};  // a request, not part of the status' value

  mutable std::mutex mutex_;  // the members below
  std::optional<PipelineError> last_error_;
  std::string retry_reason_;
  std::string sink_retry_reason_;
  std::optional<std::string> cursor_;
  std::vector<std::pair<std::string, int64_t>> gauges_;
  std::vector<core::Transform::HeldRecord> held_;
  // By name and labels: counters and histograms of earlier runs, and this run's as reported.
  std::map<std::string, core::MetricSample> carried_;
  std::map<std::string, core::MetricSample> run_;
  std::vector<core::MetricSample> metrics_;  // published: this run's plus carried_
};

int64_t unixMillisNow();

}  // namespace dutybridge::runtime
