#include "src/runtime/committer.h"

#include <utility>

#include "src/common/log.h"

namespace dutybridge::runtime {
namespace {

using Clock = std::chrono::steady_clock;

// At-least-once: progress becomes durable as the sink reports batches delivered. The position
// goes to the state store, or, for a sink that stores it with its rows, is handed to the sink
// before each batch (and only transform state goes to the state store).
class DeliveredCommitter final : public Committer {
 public:
  DeliveredCommitter(CommitTarget target, bool sink_stores_position)
      : Committer(std::move(target)), sink_stores_position_(sink_stores_position) {}

  std::string_view describe() const override { return "at-least-once"; }

  core::Result<std::optional<std::string>> readPosition() override {
    // A sink that stores positions with its data (same database transaction) is the truth.
    auto stored = sink_stores_position_ ? target_.sink.storedPosition() : target_.state.get(target_.cursor_key);
    if (stored) stored_position_ = stored->value_or("");
    return stored;
  }

  void beforeWrite(const std::string& position) override {
    if (sink_stores_position_) target_.sink.nextBatchPosition(position);
  }

  core::Status add(uint64_t sequence, size_t records, std::string position, std::vector<core::StateEntry> state,
                   int64_t newest_event_unix_ms) override {
    if (records > 0) {
      push({sequence, std::move(position), records, std::move(state), newest_event_unix_ms});
      return {};
    }
    if (position.empty() && state.empty()) return {};
    // The source (or the transform's state) moved without records. It becomes durable together
    // with whatever is still in flight before it, or at once.
    if (!in_flight_.empty()) {
      if (!position.empty()) in_flight_.back().position = std::move(position);
      for (auto& entry : state) in_flight_.back().state.push_back(std::move(entry));
      return {};
    }
    if (auto stored = storeState(state); !stored) return stored;
    return storePosition(std::move(position));
  }

  core::Status delivered(uint64_t sequence) override {
    std::string newest;
    const int64_t now = in_flight_.empty() ? 0 : unixMillisNow();
    while (!in_flight_.empty() && in_flight_.front().sequence <= sequence) {
      if (auto stored = storeState(in_flight_.front().state); !stored) return stored;
      if (!in_flight_.front().position.empty()) newest = std::move(in_flight_.front().position);
      countDelivered(in_flight_.front(), now);
      in_flight_records_ -= in_flight_.front().records;
      in_flight_.pop_front();
    }
    return storePosition(std::move(newest));
  }

  core::Status commitIfDue(std::stop_token, bool) override { return {}; }

  core::Status finish(std::stop_token, bool, Clock::time_point deadline) override {
    // Deliver what is in flight (bounded by the flush timeout), then store the final cursor.
    // Records not yet accepted by the sink are simply read again after a restart.
    // A sink that failed for good says so again from poll() below.
    if (auto flushed = target_.sink.flush(deadline); !flushed && flushed.error().kind == core::ErrorKind::Retryable) {
      log::warning(target_.component, "flush incomplete at stop: {}", flushed.error().message);
    }
    auto polled = target_.sink.poll(std::chrono::milliseconds(0));
    if (!polled) return core::fail(polled.error());
    return delivered(*polled);
  }

 private:
  // Transform state first, then the cursor. The state topic keeps their order, so a stored
  // cursor never points past state that was not stored.
  core::Status storeState(std::vector<core::StateEntry>& entries) {
    for (auto& entry : entries) {
      if (auto put = target_.state.put(target_.state_prefix + entry.key, std::move(entry.value)); !put) return put;
    }
    entries.clear();
    return {};
  }

  core::Status storePosition(std::string newest) {
    if (newest.empty() || newest == stored_position_) return {};
    if (!sink_stores_position_) {
      if (auto put = target_.state.put(target_.cursor_key, newest); !put) return put;
    }
    if (auto committed = target_.source.commit(newest); !committed) return committed;
    target_.status.cursorStored(newest);
    stored_position_ = std::move(newest);
    return {};
  }

  bool sink_stores_position_;
};

// Exactly-once: the in-flight batches' records, their transform state and the newest cursor
// commit as one Kafka transaction; the state store only remembers what was committed.
class TransactionCommitter final : public Committer {
 public:
  explicit TransactionCommitter(CommitTarget target) : Committer(std::move(target)) {}

  std::string_view describe() const override { return "exactly-once (Kafka transactions)"; }

  core::Result<std::optional<std::string>> readPosition() override {
    auto stored = target_.state.get(target_.cursor_key);
    if (stored) stored_position_ = stored->value_or("");
    return stored;
  }

  core::Status add(uint64_t sequence, size_t records, std::string position, std::vector<core::StateEntry> state,
                   int64_t newest_event_unix_ms) override {
    // Even record-less moves (skipped rows, a retraction not yet emitted) are an entry of the
    // transaction, so they commit with it.
    if (records == 0 && position.empty() && state.empty()) return {};
    push({sequence, std::move(position), records, std::move(state), newest_event_unix_ms});
    transaction_records_ += records;
    if (!transaction_started_) transaction_started_ = Clock::now();
    return {};
  }

  // Batches are delivered when their transaction commits.
  core::Status delivered(uint64_t) override { return {}; }

  core::Status commitIfDue(std::stop_token stop, bool idle) override {
    if (in_flight_.empty()) return {};
    bool due = idle || transaction_records_ >= target_.commit_records ||
               in_flight_records_ >= target_.max_in_flight_records ||
               (transaction_started_ && Clock::now() - *transaction_started_ >= target_.commit_interval);
    return due ? commit(stop, std::nullopt) : core::Status{};
  }

  core::Status finish(std::stop_token stop, bool complete, Clock::time_point deadline) override {
    // Commit what is complete; a batch half written (or a transaction that cannot commit) is
    // aborted, and the next start resumes from the last commit.
    core::Status outcome;
    bool committed = false;
    if (complete && !stopped_uncommitted_) {
      outcome = commit(stop, deadline);
      committed = outcome && !stopped_uncommitted_;
    }
    if (!committed && !in_flight_.empty()) {
      if (auto aborted = target_.sink.abortTransaction(deadline); !aborted) {
        // E.g. after a commit that timed out librdkafka refuses the abort; the broker aborts the
        // transaction when the next instance fences this one (or after transaction.timeout.ms).
        log::notice(target_.component,
                    "the open transaction is left to the broker to abort ({}); the next start resumes from the last "
                    "commit",
                    aborted.error().message);
      } else {
        log::notice(target_.component, "open transaction aborted; the next start resumes from the last commit");
      }
    }
    return outcome;
  }

 private:
  // Only called between batches (never with a batch half written, whose cursor would pass
  // records not yet in the transaction).
  // Each attempt waits flush_timeout while running; at a stop, at most until the stop's deadline.
  core::Status commit(std::stop_token stop, std::optional<Clock::time_point> stop_deadline) {
    if (in_flight_.empty()) return {};
    std::vector<core::StateEntry> entries;
    std::string newest;
    for (const auto& f : in_flight_) {
      for (const auto& entry : f.state) entries.push_back({target_.state_prefix + entry.key, entry.value});
      if (!f.position.empty()) newest = f.position;
    }
    if (!newest.empty() && newest != stored_position_) entries.push_back({target_.cursor_key, newest});
    auto attempted = target_.retrier.until(stop, "committing the transaction", [&] {
      return target_.sink.commitTransaction(entries, stop_deadline ? *stop_deadline : Clock::now() + target_.flush_timeout);
    });
    if (!attempted) return core::fail(attempted.error());
    if (*attempted == Attempted::Stopped) {
      // A stop while the cluster cannot commit: nothing of the transaction is visible, and the
      // next start resumes from the last commit. That is a clean stop, not a failure.
      stopped_uncommitted_ = true;
      return {};
    }
    target_.state.remember(entries);
    const int64_t now = unixMillisNow();
    for (const auto& f : in_flight_) countDelivered(f, now);
    target_.status.stats.transactions.fetch_add(1, std::memory_order_relaxed);
    in_flight_.clear();
    in_flight_records_ = 0;
    transaction_started_.reset();
    transaction_records_ = 0;
    if (!newest.empty()) {
      target_.status.cursorStored(newest);
      stored_position_ = newest;
      if (auto committed = target_.source.commit(newest); !committed) return committed;
    }
    return {};
  }

  std::optional<Clock::time_point> transaction_started_;
  size_t transaction_records_ = 0;
  bool stopped_uncommitted_ = false;  // a stop came while a commit was being retried
};

}  // namespace

std::unique_ptr<Committer> makeCommitter(CommitTarget target) {
  if (target.sink.transactional()) return std::make_unique<TransactionCommitter>(std::move(target));
  const bool sink_stores_position = target.sink.storesPosition();
  return std::make_unique<DeliveredCommitter>(std::move(target), sink_stores_position);
}

}  // namespace dutybridge::runtime
