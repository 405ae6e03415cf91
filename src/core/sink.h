#pragma once
// Sink: where records leave a pipeline (Kafka producer, ODBC upsert, stdout).
//
// Threading: a Sink belongs to one pipeline; all methods are called from that pipeline's
// worker thread. Implementations may run their own I/O threads (librdkafka does) but must
// only report results through poll().
//
// Delivery accounting: write() tags records with a monotonically increasing batch sequence.
// poll() serves delivery reports and returns the highest sequence S such that every record of
// every batch <= S is durably delivered. The pipeline only persists a source position once its
// batch sequence is covered, so nothing is acknowledged before it is safe.
//
// Backpressure: write() may accept only part of a batch when the sink's bounded queue is full;
// it returns how many records it took. The pipeline then calls poll() (which frees queue space)
// and offers the rest again, and meanwhile does not read from the source.
//
// Errors: Retryable from write()/poll() -> back off and retry. Permanent -> the failing record
// belongs in the dead-letter path. Fatal -> stop the pipeline, exit non-zero.
//
// Transactions (exactly-once): a sink whose transactional() is true groups everything written
// between beginTransaction() and commitTransaction() into one atomic unit, together with the
// state entries (source cursor, transform state) passed to commitTransaction(), which it writes
// to the daemon's state topic inside the same transaction. poll() then reports a batch as
// delivered only once its transaction committed. Abortable from any call -> the pipeline calls
// abortTransaction() and resumes from the last committed cursor and state. Fatal (fenced by a
// newer instance with the same transactional id) -> stop.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <string>
#include <optional>
#include <vector>

#include "src/core/error.h"
#include "src/core/metrics.h"
#include "src/core/record.h"
#include "src/core/state_store.h"

namespace dutybridge::core {

// A record the sink can never take, found before it is written (screen()).
struct Refusal {
  size_t index = 0;    // into the span passed to screen()
  std::string reason;  // names fields or columns, never their values
};

// A record the sink refused while writing it, found only by trying (a database CHECK or type
// violation): `record` is its identity (recordIdentities()), `reason` names columns, never values.
struct WriteRefusal {
  std::string record;
  std::string reason;
  // Instead of `record`, from a sink that finds the refusal within write() itself: the index,
  // into the span of the write() call that returned Abortable, of the refused record (the
  // pipeline knows that span's records and names it).
  std::optional<size_t> index;
};

// Names a record of a batch so that it is recognised when the batch is read again after a
// restart: its source position and its place among the batch's records with that position (a
// mapping may emit several records for one source record), "<position>#<occurrence>".
std::vector<std::string> recordIdentities(std::span<const Record> records);

class Sink {
 public:
  virtual ~Sink() = default;

  virtual Status open() = 0;

  // Finds the records of a batch this sink would refuse whatever is retried (a missing key
  // field, a revision that is not an integer), before any of them is written. The pipeline turns
  // them into dead letters (stage "sink"), delivers those first and writes the rest, so one bad
  // record never stops the pipeline and the position never passes an undelivered letter.
  // write() still refuses such a record (Permanent) when it is offered one anyway.
  virtual std::vector<Refusal> screen(std::span<const Record> records) {
    (void)records;
    return {};
  }

  // After write(), poll() or flush() returned Abortable because records were refused while being
  // written: those records, each once (by identity, or by index when write() itself refused). Nothing of their batch
  // became durable. The pipeline ends its run; the next run (the daemon restarts it from the last durable position)
  // turns them into dead letters (stage "sink") when it reads them again, before the rest is written, as for screen()'s
  // refusals.
  virtual std::vector<WriteRefusal> takeWriteRefusals() { return {}; }

  // Enqueues records[0..n) for delivery as part of batch `sequence`; returns n (may be less than
  // records.size() when the queue is full). Sequences passed are strictly increasing.
  virtual Result<size_t> write(std::span<const Record> records, uint64_t sequence) = 0;

  // Serves delivery reports for up to `max_wait`; returns the highest fully delivered sequence
  // (0 when none yet).
  virtual Result<uint64_t> poll(std::chrono::milliseconds max_wait) = 0;

  // Waits until everything written is delivered or the deadline passes (Retryable then).
  virtual Status flush(std::chrono::steady_clock::time_point deadline) = 0;

  virtual void close() = 0;

  // A sink that keeps the source position in its own store, in the same transaction as the
  // records (the ODBC upsert sink: a dutybridge_offsets row in the target database), returns
  // true. The pipeline then calls nextBatchPosition() with a batch's position (opaque text)
  // before the batch's first write(), resumes the source from storedPosition() (called after
  // open()) instead of the StateStore's cursor, and stores no cursor of its own.
  virtual bool storesPosition() const { return false; }
  // What the sink is retrying on its own (its worker thread, its client library) while the
  // pipeline only sees deliveries stall: the failure's text (no values), or nullopt while it
  // delivers. Called about once a second from the pipeline's thread, for the pipeline's state
  // (retrying) and the admin API's readiness.
  virtual std::optional<std::string> retrying() const { return std::nullopt; }
  // Appends what this sink reports about itself (core/metrics.h: e.g. its queue, rows written).
  // Called about once a second from the pipeline's thread, also after close() (then only what
  // stays true, e.g. counters); must be cheap and must not block. A sink's own threads publish
  // through atomics that this reads.
  virtual void metrics(std::vector<MetricSample>& out) const { (void)out; }
  virtual void nextBatchPosition(std::string_view position) { (void)position; }
  virtual Result<std::optional<std::string>> storedPosition() { return std::optional<std::string>(); }

  virtual bool transactional() const { return false; }
  virtual Status beginTransaction() { return {}; }
  // Adds `state` to the open transaction and commits it; on success every record written since
  // beginTransaction() is durable and visible (read_committed), and poll() reports its batches.
  // Retryable: the commit may be tried again.
  virtual Status commitTransaction(const std::vector<StateEntry>& state, std::chrono::steady_clock::time_point deadline) {
    (void)state;
    (void)deadline;
    return {};
  }
  // Discards the open transaction and every batch written in it. The pipeline does not reuse a
  // sink after an abort (the daemon builds a fresh one): a producer whose records failed may be
  // unable to go on with its sequence numbers.
  virtual Status abortTransaction(std::chrono::steady_clock::time_point deadline) {
    (void)deadline;
    return {};
  }
};

}  // namespace dutybridge::core
