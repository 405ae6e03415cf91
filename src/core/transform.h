#pragma once
// Transform: the stage between Source and Sink that turns source records into output records
// (a compiled mapping). Records it cannot map become dead letters with a reason; they are
// never dropped silently, and good outputs + dead letters account for every input.
//
// Threading: a Transform instance belongs to one pipeline and is called from its thread.
// Ownership: outputs are appended to caller-owned vectors; `DeadLetter::input` points into
// the caller's input span and is valid until the caller reuses it.
// Errors: per-record problems are dead letters (Permanent by nature); apply() itself does not
// fail. Only prepare() can stop a pipeline, before any record is read, and restore() when the
// stored state cannot be trusted (Fatal).
//
// State: a stateful transform (aggregation) reports what it changed through takeStateChanges()
// after every apply()/tick(); the pipeline stores those entries (under a prefix of its own) once
// the outputs of the same calls are delivered, together with the source position, and passes
// them back to restore() on the next start. A transform whose state lags its outputs must be
// idempotent for the records read again after a restart.

#include <span>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "src/core/error.h"
#include "src/core/metrics.h"
#include "src/core/record.h"
#include "src/core/state_store.h"
#include "src/core/source.h"

namespace dutybridge::core {

struct DeadLetter {
  const Record* input = nullptr;
  // Why the record could not be mapped: a mapping location and a message naming fields, never
  // field values (dead letters must not carry personal data).
  std::string reason;
};

class Transform {
 public:
  virtual ~Transform() = default;
  // "name@version", for dead-letter headers and logs.
  virtual std::string label() const = 0;
  // Called once on the pipeline thread after source.open() succeeded and before the first
  // poll(). A transform that depends on the shape of the source's records (a mapping with
  // `input: from_source`) asks source.describe() here and compiles itself against the answer.
  // An error stops the pipeline: InvalidConfig when the transform does not fit the source (the
  // message carries every diagnostic), or the source's own error from describe().
  virtual Status prepare(Source& source) {
    (void)source;
    return {};
  }
  virtual void apply(std::span<const Record> inputs, std::vector<Record>& outputs,
                     std::vector<DeadLetter>& dead_letters) = 0;

  // Outputs due by time alone (a window closing). Called after every apply() and when the
  // source is idle; `inputs`-less dead letters point at records the transform owns until the
  // next call.
  virtual void tick(std::vector<Record>& outputs, std::vector<DeadLetter>& dead_letters) {
    (void)outputs;
    (void)dead_letters;
  }

  using StateEntry = core::StateEntry;
  virtual void takeStateChanges(std::vector<StateEntry>& changes) { (void)changes; }
  virtual Status restore(const std::vector<StateEntry>& entries) {
    (void)entries;
    return {};
  }
  virtual bool stateful() const { return false; }

  // Topics the outputs may name (emit blocks with `to:` or a contract's topic), so a sink can
  // create them before anything is written.
  virtual std::vector<std::string> outputTopics() const { return {}; }

  // Figures for logs and status output ("quarantined", "open_windows", ...). Same thread.
  virtual std::vector<std::pair<std::string, int64_t>> gauges() const { return {}; }
  // Counters and the like for /metrics (core/metrics.h: revisions emitted, ...), beyond gauges().
  // Same thread, about once a second.
  virtual void metrics(std::vector<MetricSample>& out) const { (void)out; }

  // Records held in quarantine, oldest first, at most `max`: where each came from, why it is
  // held (no field values) and since when. For the admin API. Same thread.
  struct HeldRecord {
    std::string position;
    std::string reason;
    Timestamp since;
  };
  virtual std::vector<HeldRecord> held(size_t max) const {
    (void)max;
    return {};
  }
  // Try the held records again at the next tick, whatever the retry interval says (the admin
  // API's POST .../quarantine/retry, e.g. after the HR master was fixed). Same thread.
  virtual void retryHeldNow() {}

  // For every view of a record meant for a person (the live tap, `map --explain`): masks, in
  // place, the fields that carry personal values (a mapping's `pii:` fields and what derives
  // from them), never the record the sink gets. kSource: a record as the source read it;
  // kOutput: one of this transform's outputs. Any thread, but not while prepare() runs.
  enum class RecordStage { kSource, kOutput };
  virtual void maskPersonal(Record& record, RecordStage stage) const {
    (void)record;
    (void)stage;
  }
};

}  // namespace dutybridge::core
