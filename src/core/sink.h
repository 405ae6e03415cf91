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

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "src/core/error.h"
#include "src/core/record.h"

namespace dutybridge::core {

class Sink {
 public:
  virtual ~Sink() = default;

  virtual Status open() = 0;

  // Enqueues records[0..n) for delivery as part of batch `sequence`; returns n (may be less than
  // records.size() when the queue is full). Sequences passed are strictly increasing.
  virtual Result<size_t> write(std::span<const Record> records, uint64_t sequence) = 0;

  // Serves delivery reports for up to `max_wait`; returns the highest fully delivered sequence
  // (0 when none yet).
  virtual Result<uint64_t> poll(std::chrono::milliseconds max_wait) = 0;

  // Waits until everything written is delivered or the deadline passes (Retryable then).
  virtual Status flush(std::chrono::steady_clock::time_point deadline) = 0;

  virtual void close() = 0;
};

}  // namespace dutybridge::core
