#pragma once
// One pipeline: source -> transform (mapping) -> sink, run on its own worker thread.
//
// run() opens the sink (then the dead-letter sink), picks the Committer for the sink (cursor in
// the state store, position stored by the sink, or a Kafka transaction: committer.h), reads the
// position to resume from, restores the transform's state and opens the source. The loop then
// reads a batch, transforms it, delivers its dead letters when they have a sink of their own,
// hands the batch to the committer and writes it to the sink; the committer decides when what
// was delivered becomes durable. Retryable failures are retried with backoff (retry.h).
//
// An Abortable error aborts the transaction and run() returns it: the daemon then runs the
// pipeline again from scratch (fresh source, transform and sink), i.e. from the last commit.
//
// When the sink's queue is full the loop stops reading (backpressure), so memory stays bounded.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "src/core/clock.h"
#include "src/core/sink.h"
#include "src/core/source.h"
#include "src/core/state_store.h"
#include "src/core/transform.h"
#include "src/runtime/committer.h"
#include "src/runtime/pipeline_status.h"
#include "src/runtime/retry.h"
#include "src/runtime/state_layout.h"

namespace dutybridge::runtime {

struct PipelineOptions {
  std::chrono::milliseconds poll_wait{200};
  // Deadline of one transaction commit while running (a commit after an outage flushes up to
  // max_in_flight records first), and of delivering a batch's dead letters.
  std::chrono::milliseconds flush_timeout{10'000};
  // Deadline of what a stop still does (the last commit, or delivering what is in flight). With
  // the sinks' own close flushes a stop takes at most about 8 s whatever the cluster does
  // (systemd waits TimeoutStopSec=30 s; docs/delivery-guarantees.md).
  std::chrono::milliseconds stop_timeout{5'000};
  std::chrono::milliseconds backoff_initial{100};
  // Capped low on purpose: after an outage the pipeline must notice the service's return within
  // seconds (the chaos harness requires steady state within 30 s of the broker coming back).
  std::chrono::milliseconds backoff_max{5'000};
  std::chrono::milliseconds stats_interval{30'000};
  // Stop (after delivering everything) the first time the source has nothing to read: for
  // backfills, benchmarks and tests (`dutybridge run --once`).
  bool stop_when_idle = false;
  // Records read but not yet acknowledged by the sink; the source is not read beyond this.
  // Bounds memory (and what a crash re-sends) whatever the sink's own queue allows.
  size_t max_in_flight_records = 20'000;
  // Where records the transform cannot map go (as records with meta.topic set, through the
  // pipeline's sink, in the same batch, so the cursor only moves once they are delivered too;
  // or through the dead-letter sink, see Pipeline::setDeadLetterSink).
  std::string dlq_topic = "dutybridge.dlq";
  // Exactly-once (a transactional sink): a transaction commits after this long or this many
  // records, whichever comes first, and whenever the source is idle.
  std::chrono::milliseconds commit_interval{100};
  size_t commit_records = 10'000;
  // More than `max` dead letters (any stage) within `window` stop the pipeline (Permanent) before
  // the batch that crossed the limit is written: a flood of bad records is a broken upstream or
  // mapping, not something to file away. max 0: no limit.
  struct DeadLetterLimit {
    size_t max = 0;
    std::chrono::milliseconds window{60'000};
  } dead_letter_limit;
  // Called on the pipeline's thread once open() succeeded (cursor read, state restored, source
  // open), before the first batch: the daemon clears a stored failure here.
  std::function<void()> on_running;
  // Where the pipeline publishes its state, heartbeat and counters; the daemon keeps one per
  // configured pipeline across rebuilds. Null: the pipeline makes its own.
  std::shared_ptr<PipelineStatus> status;
};

class Pipeline {
 public:
  Pipeline(std::string name, std::unique_ptr<core::Source> source, std::unique_ptr<core::Sink> sink,
           core::StateStore& state, PipelineOptions options = {}, std::unique_ptr<core::Transform> transform = nullptr);
  ~Pipeline();

  const std::string& name() const { return name_; }
  const PipelineStats& stats() const { return stats_; }
  const std::shared_ptr<PipelineStatus>& status() const { return status_; }
  std::string cursorKey() const { return state_layout::cursorKey(name_); }
  // Where a stateful transform's entries live in the StateStore.
  std::string statePrefix() const { return state_layout::transformPrefix(name_); }

  // Runs on the calling thread until `stop` is requested (then flushes and stores the final
  // cursor) or the source reports end of input and everything is delivered. Returns the error
  // that stopped it, if any. Retryable errors never end the run; they are retried with backoff.
  core::Status run(std::stop_token stop);

  // For a sink that cannot hold dead letters (the ODBC upsert sink writes one table): they go
  // through this sink instead (the daemon gives a Kafka producer to kafka.dlq_topic). A batch's
  // dead letters are delivered (flushed) before the batch is written to the pipeline's sink,
  // so its position, which the sink may store with the rows, never passes an undelivered letter.
  // A crash in between sends them again: dead letters are at-least-once. Call before run().
  void setDeadLetterSink(std::unique_ptr<core::Sink> sink) { dead_letter_sink_ = std::move(sink); }

  // Records the sink refused while writing them (Sink::takeWriteRefusals), by record identity,
  // with their reasons. A run that ends Abortable after such refusals leaves them here; the
  // daemon hands them to the pipeline it builds for the next run, which dead-letters each
  // record when it reads it again (screenBatch) and writes the rest.
  // An entry stays for the pipeline's life (a record refused once is refused again when read
  // again, however often a later refusal makes the pipeline restart from before it); `lettered`
  // holds those whose dead letter the dead-letter sink has confirmed, so a record read again is
  // dropped without a second letter.
  struct WriteRefusals {
    std::unordered_map<std::string, std::string> reasons;  // record identity -> reason
    std::unordered_set<std::string> lettered;
  };
  WriteRefusals takeWriteRefusals() { return std::move(write_refusals_); }
  void carryWriteRefusals(WriteRefusals refusals) {
    write_refusals_ = std::move(refusals);
    carried_refusals_ = write_refusals_.reasons.size();
  }

 private:
  // Opens everything run() needs, retrying what is Retryable.
  core::Result<Attempted> open(std::stop_token stop, Retrier& retrier);
  // Runs the transform over a batch read from the source; its dead letters are added.
  void transformBatch(core::SourceBatch& batch);
  // Takes the records the sink would refuse (screen()) or refused in an earlier run
  // (write_refusals_) out of the batch, as dead letters.
  void screenBatch(core::SourceBatch& batch);
  // After the run: the sink's write-time refusals into write_refusals_. Permanent when a record
  // refused before is refused again (it was not recognised when read again, so a restart would
  // refuse it forever).
  core::Status keepWriteRefusals();
  // After write() returned Abortable: the refusals it made by index, named from the batch.
  void nameWriteRefusals(const core::SourceBatch& batch, size_t written);
  // One dead letter of the current batch (stage "source", "mapping" or "sink").
  void addDeadLetter(std::string_view stage, const std::string& position,
                     const std::optional<core::Timestamp>& event_time, const std::string& reason);
  // Counts the batch's dead letters against dead_letter_limit (Permanent when over it) and puts
  // them where they travel: into the batch (a sink that carries them) or dead_letters_.
  core::Status routeDeadLetters(core::SourceBatch& batch);
  core::Status deliverDeadLetters(std::stop_token stop, Retrier& retrier);
  // A batch just read: its source failures, transform, screening and dead letters (delivered
  // first when they have a sink of their own), then handed to the committer as sink batch
  // `sequence` (advanced when the batch has records). False: stopped while its dead letters
  // could not be delivered (the batch is not written; it is read again after the restart).
  core::Result<bool> acceptBatch(std::stop_token stop, Retrier& retrier, core::SourceBatch& batch, uint64_t& sequence);
  // ", quarantined 3, open_windows 12" from the transform's gauges, for log lines.
  std::string gaugeText() const;
  // The transform's gauges and the metrics of the source, the sinks and the transform into the
  // status (about once a second).
  void publishGauges();
  std::string name_;
  std::string component_;  // "pipeline <name>", for log lines
  std::unique_ptr<core::Source> source_;
  std::unique_ptr<core::Sink> sink_;
  std::unique_ptr<core::Transform> transform_;
  std::unique_ptr<core::Sink> dead_letter_sink_;
  std::vector<core::Record> batch_dead_letters_;  // of the batch being prepared
  std::string first_dead_letter_;                 // its first letter, for the log line
  std::vector<core::Record> dead_letters_;        // of the current batch, for dead_letter_sink_
  std::deque<std::pair<std::chrono::steady_clock::time_point, size_t>> recent_dead_letters_;
  size_t recent_dead_letter_count_ = 0;  // within dead_letter_limit.window
  uint64_t dead_letter_sequence_ = 0;
  WriteRefusals write_refusals_;
  std::vector<core::WriteRefusal> named_refusals_;  // this run's, until keepWriteRefusals()
  size_t carried_refusals_ = 0;  // write_refusals_ received from the previous run
  size_t matched_refusals_ = 0;  // of those, read again and dead-lettered in this run
  std::vector<std::string> lettering_;  // refusals dead-lettered in the current batch
  core::StateStore& state_;
  PipelineOptions options_;
  std::shared_ptr<PipelineStatus> status_;
  PipelineStats& stats_;  // status_->stats
  std::chrono::steady_clock::time_point last_gauges_{};
  std::vector<core::MetricSample> metric_samples_;  // publishGauges()'s, reused
  bool metrics_run_begun_ = false;                  // run() told the status its connectors are new
  std::unique_ptr<Committer> committer_;  // chosen in open(), once the sink is open; lives for one run()
};

}  // namespace dutybridge::runtime
