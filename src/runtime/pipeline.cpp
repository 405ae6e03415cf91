#include "src/runtime/pipeline.h"

#include <fmt/format.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <span>
#include <utility>

#include "src/common/log.h"

namespace dutybridge::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// Capped exponential backoff with full jitter; sleeps are cut short by a stop request.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), current_(initial), rng_(std::random_device{}()) {}

  // Returns false when the stop was requested while waiting.
  bool wait(std::stop_token stop) {
    std::uniform_int_distribution<int64_t> jitter(current_.count() / 2, current_.count());
    auto delay = std::chrono::milliseconds(jitter(rng_));
    current_ = std::min(max_, current_ * 2);
    std::mutex mutex;
    std::condition_variable_any cv;
    std::unique_lock lock(mutex);
    return !cv.wait_for(lock, stop, delay, [] { return false; }) && !stop.stop_requested();
  }
  void reset() { current_ = initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_;
  std::mt19937_64 rng_;
};

}  // namespace

Pipeline::Pipeline(std::string name, std::unique_ptr<core::Source> source, std::unique_ptr<core::Sink> sink,
                   core::StateStore& state, PipelineOptions options, std::unique_ptr<core::Transform> transform)
    : name_(std::move(name)),
      source_(std::move(source)),
      sink_(std::move(sink)),
      transform_(std::move(transform)),
      state_(state),
      options_(std::move(options)) {}

void Pipeline::transformBatch(core::SourceBatch& batch) {
  if (!transform_) return;
  if (batch.records.empty() && !transform_->stateful()) return;
  std::vector<core::Record> outputs;
  outputs.reserve(batch.records.size());
  std::vector<core::DeadLetter> dead;
  if (batch.records.empty()) {
    transform_->tick(outputs, dead);  // windows closing by the clock while the source is idle
  } else {
    transform_->apply(batch.records, outputs, dead);
  }
  stats_.records_mapped.fetch_add(outputs.size());
  if (!dead.empty()) {
    stats_.dead_letters.fetch_add(dead.size());
    // The dead letter names the pipeline, mapping, source position and reason, but carries no
    // field values: whoever repairs it re-reads the source row by its position.
    static const auto kSchema = std::make_shared<core::RecordSchema>(
        std::vector<std::string>{"pipeline", "mapping", "source_position", "error_class", "error"});
    std::string label = transform_->label();
    for (const auto& letter : dead) {
      core::Record record(kSchema, {core::Value(name_), core::Value(label), core::Value(letter.input->meta.source_position),
                                    core::Value("mapping"), core::Value(letter.reason)});
      record.meta.source_position = letter.input->meta.source_position;
      record.meta.event_time = letter.input->meta.event_time;
      record.meta.topic = options_.dlq_topic;
      record.meta.key = name_;
      record.meta.headers = {{"dutybridge_pipeline", name_},
                             {"dutybridge_mapping", label},
                             {"dutybridge_error_class", "mapping"},
                             {"dutybridge_error", letter.reason},
                             {"dutybridge_source_position", letter.input->meta.source_position}};
      (dead_letter_sink_ ? dead_letters_ : outputs).push_back(std::move(record));
    }
    log::warning("pipeline " + name_, "{} record(s) sent to {}: first: {} (source position {})", dead.size(),
                 options_.dlq_topic, dead.front().reason, dead.front().input->meta.source_position);
  }
  batch.records = std::move(outputs);
}

Pipeline::~Pipeline() = default;

std::string Pipeline::gaugeText() const {
  std::string text;
  if (!transform_) return text;
  for (const auto& [name, value] : transform_->gauges()) text += fmt::format(", {} {}", name, value);
  return text;
}

core::Status Pipeline::run(std::stop_token stop) {
  const std::string component = "pipeline " + name_;
  Backoff backoff(options_.backoff_initial, options_.backoff_max);

  auto retryOrFail = [&](const core::Error& error, std::string_view what) -> bool {
    if (error.kind != core::ErrorKind::Retryable) return false;
    stats_.retries.fetch_add(1);
    log::warning(component, "{} failed, retrying: {}", what, error.message);
    return true;
  };

  // The sink first: a transactional sink fences an earlier instance of this pipeline (and aborts
  // its open transaction) here, before the state it may have been writing is read.
  while (true) {
    auto opened = sink_->open();
    if (opened) break;
    if (!retryOrFail(opened.error(), "opening the sink")) return core::fail(opened.error());
    if (!backoff.wait(stop)) return {};
  }
  while (dead_letter_sink_) {
    auto opened = dead_letter_sink_->open();
    if (opened) break;
    if (!retryOrFail(opened.error(), "opening the dead-letter sink")) {
      sink_->close();
      return core::fail(opened.error());
    }
    if (!backoff.wait(stop)) {
      sink_->close();
      return {};
    }
  }
  // A batch's dead letters, when they have a sink of their own: delivered before the batch is
  // written. Returns with dead_letters_ not empty when stopped during an outage.
  auto deliverDeadLetters = [&]() -> core::Status {
    const uint64_t sequence = ++dead_letter_sequence_;
    size_t offered = 0;
    while (offered < dead_letters_.size()) {
      auto accepted = dead_letter_sink_->write(std::span<const core::Record>(dead_letters_).subspan(offered), sequence);
      if (!accepted) {
        if (!retryOrFail(accepted.error(), "writing dead letters")) return core::fail(accepted.error());
        if (!backoff.wait(stop)) return {};
        continue;
      }
      offered += *accepted;
      if (offered < dead_letters_.size()) {
        if (auto polled = dead_letter_sink_->poll(std::chrono::milliseconds(50)); !polled) {
          if (!retryOrFail(polled.error(), "delivering dead letters")) return core::fail(polled.error());
          if (!backoff.wait(stop)) return {};
        }
      }
    }
    while (true) {
      auto flushed = dead_letter_sink_->flush(Clock::now() + options_.flush_timeout);
      if (flushed) break;
      if (!retryOrFail(flushed.error(), "delivering dead letters")) return flushed;
      if (!backoff.wait(stop)) return {};
    }
    if (auto polled = dead_letter_sink_->poll(std::chrono::milliseconds(0)); !polled) return core::fail(polled.error());
    dead_letters_.clear();
    return {};
  };
  auto closeSinks = [&] {
    sink_->close();
    if (dead_letter_sink_) dead_letter_sink_->close();
  };
  const bool transactional = sink_->transactional();
  log::info(component, "delivery: {}", transactional ? "exactly-once (Kafka transactions)" : "at-least-once");

  std::optional<std::string> position;
  const bool sink_positions = sink_->storesPosition();
  while (true) {
    // A sink that stores positions with its data (same database transaction) is the truth.
    auto stored = sink_positions ? sink_->storedPosition() : state_.get(cursorKey());
    if (stored) {
      position = *stored;
      break;
    }
    if (!retryOrFail(stored.error(), "reading the stored cursor")) {
      closeSinks();
      return core::fail(stored.error());
    }
    if (!backoff.wait(stop)) {
      closeSinks();
      return {};
    }
  }
  log::info(component, "starting from {}", position ? "the stored cursor" : "the configured start");
  if (transform_ && transform_->stateful()) {
    while (true) {
      auto entries = state_.scan(statePrefix());
      if (entries) {
        std::vector<core::StateEntry> restored;
        restored.reserve(entries->size());
        for (auto& [key, value] : *entries) restored.push_back({key.substr(statePrefix().size()), std::move(value)});
        if (auto status = transform_->restore(restored); !status) {
          closeSinks();
          return status;
        }
        log::info(component, "restored {} state entries of {}", restored.size(), transform_->label());
        break;
      }
      if (!retryOrFail(entries.error(), "reading the transform state")) {
        closeSinks();
        return core::fail(entries.error());
      }
      if (!backoff.wait(stop)) {
        closeSinks();
        return {};
      }
    }
  }

  while (true) {
    auto opened = source_->open(position);
    if (opened) break;
    if (!retryOrFail(opened.error(), "opening the source")) {
      closeSinks();
      return core::fail(opened.error());
    }
    if (!backoff.wait(stop)) {
      closeSinks();
      return {};
    }
  }
  // A mapping with `input: from_source` compiles against the source's description here.
  if (auto prepared = transform_ ? transform_->prepare(*source_) : core::Status{}; !prepared) {
    source_->close();
    closeSinks();
    return core::fail(prepared.error());
  }
  backoff.reset();

  struct InFlight {
    uint64_t sequence;
    std::string position;
    size_t records;
    std::vector<core::StateEntry> state;  // transform state as of this batch
  };
  std::deque<InFlight> in_flight;
  size_t in_flight_records = 0;
  uint64_t sequence = 0;
  core::SourceBatch batch;
  size_t written = 0;  // records of `batch` the sink has accepted
  bool end_of_input = false;
  core::Status outcome;
  std::string stored_position = position.value_or("");
  auto last_stats = Clock::now();
  // Exactly-once: the open transaction holds the in-flight batches.
  std::optional<Clock::time_point> transaction_started;
  size_t transaction_records = 0;
  bool stopped_uncommitted = false;  // a stop came while a commit was being retried

  // At-least-once: transform state first, then the cursor. The state topic keeps their order,
  // so a stored cursor never points past state that was not stored.
  auto storeState = [&](std::vector<core::StateEntry>& entries) -> core::Status {
    for (auto& entry : entries) {
      if (auto put = state_.put(statePrefix() + entry.key, std::move(entry.value)); !put) return put;
    }
    entries.clear();
    return {};
  };
  auto storePosition = [&](std::string newest) -> core::Status {
    if (newest.empty() || newest == stored_position) return {};
    if (!sink_positions) {
      if (auto put = state_.put(cursorKey(), newest); !put) return put;
    }
    if (auto committed = source_->commit(newest); !committed) return committed;
    stored_position = std::move(newest);
    return {};
  };

  auto storeDelivered = [&](uint64_t delivered) -> core::Status {
    std::string newest;
    while (!in_flight.empty() && in_flight.front().sequence <= delivered) {
      if (auto stored = storeState(in_flight.front().state); !stored) return stored;
      if (!in_flight.front().position.empty()) newest = std::move(in_flight.front().position);
      stats_.records_delivered.fetch_add(in_flight.front().records);
      in_flight_records -= in_flight.front().records;
      in_flight.pop_front();
      stats_.batches_committed.fetch_add(1);
    }
    return storePosition(std::move(newest));
  };

  // Exactly-once: the in-flight batches' records, their transform state and the newest cursor
  // commit as one transaction. Only called between batches (never with a batch half written,
  // whose cursor would pass records not yet in the transaction).
  auto commitTransaction = [&]() -> core::Status {
    if (in_flight.empty()) return {};
    std::vector<core::StateEntry> entries;
    std::string newest;
    size_t records = 0;
    for (const auto& f : in_flight) {
      for (const auto& entry : f.state) entries.push_back({statePrefix() + entry.key, entry.value});
      if (!f.position.empty()) newest = f.position;
      records += f.records;
    }
    if (!newest.empty() && newest != stored_position) entries.push_back({cursorKey(), newest});
    while (true) {
      auto committed = sink_->commitTransaction(entries, Clock::now() + options_.flush_timeout);
      if (committed) break;
      if (!retryOrFail(committed.error(), "committing the transaction")) return committed;
      // A stop while the cluster cannot commit: nothing of the transaction is visible, and the
      // next start resumes from the last commit. That is a clean stop, not a failure.
      if (!backoff.wait(stop)) {
        stopped_uncommitted = true;
        return {};
      }
    }
    state_.remember(entries);
    stats_.records_delivered.fetch_add(records);
    stats_.batches_committed.fetch_add(in_flight.size());
    stats_.transactions.fetch_add(1);
    in_flight.clear();
    in_flight_records = 0;
    transaction_started.reset();
    transaction_records = 0;
    if (!newest.empty()) {
      stored_position = newest;
      if (auto committed = source_->commit(newest); !committed) return committed;
    }
    return {};
  };
  auto commitDue = [&](bool idle) {
    if (in_flight.empty()) return false;
    return idle || transaction_records >= options_.commit_records || in_flight_records >= options_.max_in_flight_records ||
           (transaction_started && Clock::now() - *transaction_started >= options_.commit_interval);
  };

  auto pollSink = [&](std::chrono::milliseconds wait) -> core::Status {
    auto delivered = sink_->poll(wait);
    if (!delivered) return core::fail(delivered.error());
    if (transactional) return {};  // batches are delivered when their transaction commits
    return storeDelivered(*delivered);
  };

  while (!stop.stop_requested()) {
    if (written == batch.records.size()) {
      if (transactional && commitDue(end_of_input)) {
        if (auto committed = commitTransaction(); !committed) {
          outcome = committed;
          break;
        }
      }
      if (end_of_input) {
        if (in_flight.empty()) break;
        if (auto polled = pollSink(options_.poll_wait); !polled) {
          if (!retryOrFail(polled.error(), "delivery")) { outcome = polled; break; }
          if (!backoff.wait(stop)) break;
        }
        continue;
      }
      if (in_flight_records >= options_.max_in_flight_records) {
        // Enough is unacknowledged: wait for delivery reports before reading more, so memory
        // stays bounded by this, not by the sink's (much larger) queue.
        if (auto polled = pollSink(std::chrono::milliseconds(50)); !polled) {
          if (!retryOrFail(polled.error(), "delivery")) { outcome = polled; break; }
          if (!backoff.wait(stop)) break;
        }
        continue;
      }
      auto next = source_->poll(options_.poll_wait);
      if (!next) {
        if (!retryOrFail(next.error(), "reading the source")) { outcome = core::fail(next.error()); break; }
        if (!backoff.wait(stop)) break;
        continue;
      }
      backoff.reset();
      batch = std::move(*next);
      written = 0;
      end_of_input = batch.end_of_input || (options_.stop_when_idle && batch.records.empty() && !batch.more_pending);
      stats_.records_read.fetch_add(batch.records.size());
      const bool idle = batch.records.empty();
      transformBatch(batch);
      if (!dead_letters_.empty()) {
        if (auto delivered = deliverDeadLetters(); !delivered) {
          outcome = delivered;
          break;
        }
        // Stopped while the dead-letter topic was unreachable: the batch is not written, so
        // its position is not stored and it is read again after the restart.
        if (!dead_letters_.empty()) break;
      }
      std::vector<core::StateEntry> state_changes;
      if (transform_) transform_->takeStateChanges(state_changes);
      if (!batch.records.empty() || (transactional && (!batch.position.empty() || !state_changes.empty()))) {
        // Exactly-once keeps even record-less moves (skipped rows, a retraction not yet emitted)
        // as an entry of the transaction, so they commit with it.
        if (!batch.records.empty()) ++sequence;
        in_flight.push_back({sequence, batch.position, batch.records.size(), std::move(state_changes)});
        in_flight_records += batch.records.size();
        transaction_records += batch.records.size();
        if (transactional && !transaction_started) transaction_started = Clock::now();
      } else if (!batch.position.empty() || !state_changes.empty()) {
        // The source (or the transform's state) moved without records. It becomes durable
        // together with whatever is still in flight before it, or at once.
        if (!in_flight.empty()) {
          if (!batch.position.empty()) in_flight.back().position = batch.position;
          for (auto& entry : state_changes) in_flight.back().state.push_back(std::move(entry));
        } else if (auto stored = storeState(state_changes); !stored) {
          outcome = stored;
          break;
        } else if (auto moved = storePosition(batch.position); !moved) {
          outcome = moved;
          break;
        }
      }
      if (transactional && idle && commitDue(true) && batch.records.empty()) {
        if (auto committed = commitTransaction(); !committed) {
          outcome = committed;
          break;
        }
      }
    }
    if (written < batch.records.size()) {
      if (written == 0 && sink_positions) sink_->nextBatchPosition(batch.position);
      auto accepted = sink_->write(std::span<const core::Record>(batch.records).subspan(written), sequence);
      if (!accepted) {
        if (!retryOrFail(accepted.error(), "writing to the sink")) { outcome = core::fail(accepted.error()); break; }
        if (!backoff.wait(stop)) break;
        continue;
      }
      written += *accepted;
    }
    // A full queue: serve delivery reports (which frees space) before offering more.
    auto wait = written < batch.records.size() ? std::chrono::milliseconds(50) : std::chrono::milliseconds(0);
    if (auto polled = pollSink(wait); !polled) {
      if (!retryOrFail(polled.error(), "delivery")) { outcome = polled; break; }
      if (!backoff.wait(stop)) break;
    }
    if (Clock::now() - last_stats >= options_.stats_interval) {
      last_stats = Clock::now();
      log::info(component, "read {} records, delivered {}, {} dead letters, {} retries{}", stats_.records_read.load(),
                stats_.records_delivered.load(), stats_.dead_letters.load(), stats_.retries.load(), gaugeText());
    }
  }

  auto deadline = Clock::now() + options_.flush_timeout;
  if (transactional) {
    // Graceful stop: commit what is complete; a batch half written (or a transaction that
    // cannot commit) is aborted, and the next start resumes from the last commit.
    bool committed = false;
    if (outcome && written == batch.records.size() && !stopped_uncommitted) {
      if (auto done = commitTransaction(); !done) {
        outcome = done;
      } else {
        committed = !stopped_uncommitted;
      }
    }
    if (!committed && !in_flight.empty()) {
      if (auto aborted = sink_->abortTransaction(deadline); !aborted) {
        // E.g. after a commit that timed out librdkafka refuses the abort; the broker aborts the
        // transaction when the next instance fences this one (or after transaction.timeout.ms).
        log::notice(component, "the open transaction is left to the broker to abort ({}); the next start resumes "
                    "from the last commit", aborted.error().message);
      } else {
        log::notice(component, "open transaction aborted; the next start resumes from the last commit");
      }
    }
    if (!outcome && outcome.error().kind == core::ErrorKind::Abortable) {
      log::warning(component, "transaction aborted ({}); resuming from the last committed cursor", outcome.error().message);
    }
  } else {
    // Graceful stop: deliver what is in flight (bounded by the flush timeout), then store the
    // final cursor. Records not yet accepted by the sink are simply read again after a restart.
    if (auto flushed = sink_->flush(deadline); !flushed) {
      log::warning(component, "flush incomplete at stop: {}", flushed.error().message);
    }
    if (auto polled = pollSink(std::chrono::milliseconds(0)); !polled && outcome) outcome = polled;
  }
  if (auto flushed = state_.flush(deadline); !flushed) {
    log::warning(component, "state flush incomplete at stop: {}", flushed.error().message);
    if (outcome) outcome = flushed;
  }
  closeSinks();
  source_->close();
  log::info(component, "stopped: read {} records, delivered {}, {} dead letters, {} retries{}",
            stats_.records_read.load(), stats_.records_delivered.load(), stats_.dead_letters.load(),
            stats_.retries.load(), gaugeText());
  return outcome;
}

}  // namespace dutybridge::runtime
