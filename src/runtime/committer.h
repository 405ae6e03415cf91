#pragma once
// How a pipeline makes its progress durable: the strategy behind `delivery:`, chosen once the
// sink is open (makeCommitter):
//
//   cursor in the state store (at-least-once): when the sink reports a batch and every earlier
//     one delivered, the batch's transform state and then the source cursor are put in the
//     StateStore ("transform/<pipeline>/...", "cursor/<pipeline>"). A crash re-sends what was
//     delivered after the last stored cursor.
//   position stored by the sink (the ODBC upsert sink): the sink writes the source position with
//     its rows in one database transaction and the pipeline resumes from Sink::storedPosition();
//     transform state still goes to the StateStore after delivery.
//   Kafka transaction (exactly-once): the records of the batches read since the last commit, their
//     transform state and the newest cursor commit in one transaction, every commit_interval or
//     commit_records and whenever the source is idle.
//
// The pipeline loop tells the committer what it read (add), what the sink delivered (delivered)
// and when it is between batches (commitIfDue); the committer decides what becomes durable when.
// Threading: owned by one pipeline, called from its thread only. Errors: Retryable ones from the
// state store or the sink are returned for the loop to retry; a transaction that cannot commit
// is retried here (with the pipeline's Retrier) until it commits, fails for good, or the stop comes.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/sink.h"
#include "src/core/source.h"
#include "src/core/state_store.h"
#include "src/runtime/pipeline_status.h"
#include "src/runtime/retry.h"

namespace dutybridge::runtime {

// What a committer works on, all owned by the pipeline.
struct CommitTarget {
  std::string component;  // "pipeline <name>", for log lines
  core::Sink& sink;
  core::Source& source;
  core::StateStore& state;
  std::string cursor_key;    // "cursor/<pipeline>"
  std::string state_prefix;  // "transform/<pipeline>/"
  PipelineStatus& status;    // counters, cursor stored-at, end-to-end latency
  Retrier& retrier;
  std::chrono::milliseconds flush_timeout{10'000};  // a commit's deadline while running (PipelineOptions)
  std::chrono::milliseconds commit_interval{100};
  size_t commit_records = 10'000;
  size_t max_in_flight_records = 20'000;
};

class Committer {
 public:
  explicit Committer(CommitTarget target) : target_(std::move(target)) {}
  virtual ~Committer() = default;
  Committer(const Committer&) = delete;
  Committer& operator=(const Committer&) = delete;

  // For the "delivery:" log line.
  virtual std::string_view describe() const = 0;
  // Where the source resumes; read once before the source opens.
  virtual core::Result<std::optional<std::string>> readPosition() = 0;
  // Before the first write() of a batch's records (the sink that stores positions needs it).
  virtual void beforeWrite(const std::string& position) { (void)position; }
  // A batch was read and transformed: `records` outputs written as sink batch `sequence` (none:
  // the source or the transform's state moved without records), its source `position`, the
  // transform's state changes and the newest event time of its rows (Unix ms, 0: none), from
  // which the end-to-end latency is measured when the batch is delivered.
  virtual core::Status add(uint64_t sequence, size_t records, std::string position, std::vector<core::StateEntry> state,
                           int64_t newest_event_unix_ms = 0) = 0;
  // The sink reported every batch up to `sequence` delivered.
  virtual core::Status delivered(uint64_t sequence) = 0;
  // Between batches (no batch half written): commit when due. `idle`: the source had nothing.
  virtual core::Status commitIfDue(std::stop_token stop, bool idle) = 0;
  // Graceful stop. `complete`: the loop ended without error and no batch is half written.
  virtual core::Status finish(std::stop_token stop, bool complete, std::chrono::steady_clock::time_point deadline) = 0;

  // Records read whose delivery is not durable yet (the source is not read beyond max_in_flight).
  size_t inFlightRecords() const { return in_flight_records_; }
  bool nothingInFlight() const { return in_flight_.empty(); }

 protected:
  struct InFlight {
    uint64_t sequence;
    std::string position;
    size_t records;
    std::vector<core::StateEntry> state;  // transform state as of this batch
    int64_t newest_event_unix_ms = 0;
  };
  // A batch became durable (delivered, or its transaction committed).
  void countDelivered(const InFlight& batch, int64_t now_unix_ms) {
    target_.status.stats.records_delivered.fetch_add(batch.records, std::memory_order_relaxed);
    target_.status.stats.batches_committed.fetch_add(1, std::memory_order_relaxed);
    if (batch.newest_event_unix_ms > 0 && batch.records > 0) {
      target_.status.stats.end_to_end_latency.observe(
          static_cast<double>(now_unix_ms - batch.newest_event_unix_ms) / 1000.0, batch.records);
    }
  }
  void push(InFlight batch) {
    in_flight_records_ += batch.records;
    in_flight_.push_back(std::move(batch));
  }

  CommitTarget target_;
  std::deque<InFlight> in_flight_;
  size_t in_flight_records_ = 0;
  std::string stored_position_;  // the newest durable source position
};

// The committer for an open sink: a Kafka transaction when the sink is transactional, the
// sink's stored position when it keeps one, else the cursor in the state store.
std::unique_ptr<Committer> makeCommitter(CommitTarget target);

}  // namespace dutybridge::runtime
