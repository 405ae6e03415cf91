#pragma once
// Source: where records enter a pipeline (ODBC poll, Kafka consumer, HTTP poll, webhook, file).
//
// Threading: a Source belongs to exactly one pipeline and every method is called from that
// pipeline's worker thread, never concurrently. Sources may block inside poll() up to the
// given wait (ODBC calls block), which is why pipelines run on their own threads.
//
// Ownership: records returned by poll() are owned by the caller. The source keeps no pointer
// into them.
//
// Positions: every batch carries the opaque position *after* its last record. The pipeline
// stores that position in the StateStore only when every record up to it has been durably
// delivered by the sink, then calls commit(). On restart the last stored position is passed to
// open(), so the source resumes right after the last durable record (at-least-once; the
// exactly-once mode writes the position in the same Kafka transaction as the output).
//
// Description: after open(), describe() may tell what poll() will return: each field's name, the
// core::ValueType of its values (after the source's own conversions, e.g. SQL NUMERIC ->
// Decimal) and whether it can be null. A mapping with `input: from_source` is compiled against
// it at start-up. Sources whose records have no fixed shape (or that only know it after reading)
// keep the default, nullopt: "cannot describe"; such a mapping must then declare its input.
//
// Errors: Retryable -> the pipeline backs off (capped exponential, jittered) and calls poll()
// again; the source must be able to resume from its last returned position, reconnecting if
// needed. Permanent/Fatal -> the pipeline stops and reports it. One record that cannot be
// decoded is not an error of poll(): it is a SourceFailure of the batch (a dead letter), and
// the records around it go on.

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/error.h"
#include "src/core/metrics.h"
#include "src/core/record.h"
#include "src/core/value.h"

namespace dutybridge::core {

// A record the source read but cannot represent (a decimal of more than 38 digits, an invalid
// date, a Kafka message that is not a JSON object). It becomes a dead letter (stage "source")
// and the position moves past it, like past a record, once the letter is delivered.
struct SourceFailure {
  std::string position;  // what Record::meta.source_position would have been
  std::string reason;    // names columns or fields and what is wrong, never their values
  std::optional<Timestamp> event_time;
};

struct SourceBatch {
  std::vector<Record> records;
  // Records of this batch that could not be decoded; `position` covers them too.
  std::vector<SourceFailure> failures;
  // Position after the last record; empty when records is empty and nothing moved.
  std::string position;
  // True when the source will never produce more (a bounded generator or file); the pipeline
  // then drains and stops.
  bool end_of_input = false;
  // True when an empty batch does not mean "caught up" (a Kafka consumer still joining its
  // group, partitions not yet read to their end): `run --once` keeps polling.
  bool more_pending = false;
};

// One field of a source's records, as describe() reports it.
struct FieldDescription {
  std::string name;
  ValueType type = ValueType::String;  // the type of the non-null values poll() gives the field
  bool nullable = true;                // false only when the source guarantees a value
};
using SourceDescription = std::vector<FieldDescription>;

class Source {
 public:
  virtual ~Source() = default;

  // Connects and positions the source. `position` is the last durable position, or nullopt for
  // a first start (the source then begins at its configured start).
  virtual Status open(const std::optional<std::string>& position) = 0;

  // Returns the next batch, waiting at most `max_wait` for data. An empty batch is normal.
  virtual Result<SourceBatch> poll(std::chrono::milliseconds max_wait) = 0;

  // Everything up to `position` (a value some batch returned) is durable downstream. Sources
  // with their own offset store (Kafka consumer groups) commit it there; others ignore it.
  virtual Status commit(std::string_view position) = 0;

  // The fields of the records poll() will return, in record order. Called after a successful
  // open() (any number of times, from the pipeline thread). nullopt: this source cannot
  // describe its records before reading them. Errors as for open().
  virtual Result<std::optional<SourceDescription>> describe() { return std::optional<SourceDescription>(); }

  // Whether `position` is one open() would accept (this source's own format), for the cursor
  // tools (`PUT .../cursor`, `dutybridge cursor set`): an error says what is wrong, without
  // quoting values. Needs no connection; callable before open(), from any one thread.
  virtual Status checkPosition(std::string_view position) const {
    (void)position;
    return {};
  }

  // Appends what this source reports about itself (core/metrics.h: e.g. consumer lag per
  // partition). Called about once a second from the pipeline thread, also after close() (then
  // only what stays true, e.g. counters); must be cheap and must not block on the network.
  virtual void metrics(std::vector<MetricSample>& out) const { (void)out; }

  // Releases connections. Called once; no other call follows but metrics().
  virtual void close() = 0;
};

}  // namespace dutybridge::core
