#pragma once
// Fakes for the core interfaces: deterministic, no sleeps, no wall clock.

#include <algorithm>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "src/core/sink.h"
#include "src/core/source.h"
#include "src/core/transform.h"

namespace dutybridge::testing {

// Emits `total` single-field records in batches of `batch`; positions are the record count.
class FakeSource final : public core::Source {
 public:
  FakeSource(int total, int batch) : total_(total), batch_(batch) {
    schema_ = std::make_shared<core::RecordSchema>(std::vector<std::string>{"n"});
  }

  core::Status open(const std::optional<std::string>& position) override {
    opened_from = position;
    next_ = position ? std::stoi(*position) : 0;
    return {};
  }
  core::Result<core::SourceBatch> poll(std::chrono::milliseconds) override {
    ++polls;
    if (fail_next_polls > 0) {
      --fail_next_polls;
      return core::fail(core::ErrorKind::Retryable, "database went away");
    }
    core::SourceBatch out;
    for (int i = 0; i < batch_ && next_ < total_; ++i, ++next_) {
      if (fail_every > 0 && next_ % fail_every == 0) {
        out.failures.push_back({std::to_string(next_), "column n cannot be decoded (test)", std::nullopt});
        continue;
      }
      out.records.emplace_back(schema_, std::vector<core::Value>{core::Value(int64_t{next_})});
      out.records.back().meta.source_position = std::to_string(next_);
    }
    out.position = std::to_string(next_);
    out.end_of_input = next_ >= total_ && end_when_done;
    return out;
  }
  core::Status commit(std::string_view position) override {
    commits.emplace_back(position);
    return {};
  }
  core::Result<std::optional<core::SourceDescription>> describe() override {
    ++describes;
    return description;
  }
  void close() override { closed = true; }
  void metrics(std::vector<core::MetricSample>& out) const override {
    out.insert(out.end(), reported.begin(), reported.end());
  }

  std::vector<core::MetricSample> reported;  // what metrics() reports
  // What describe() answers; nullopt (the default) = "cannot describe".
  std::optional<core::SourceDescription> description;
  int describes = 0;
  std::optional<std::string> opened_from;
  std::vector<std::string> commits;
  int fail_next_polls = 0;
  int fail_every = 0;  // records whose number is a multiple of this are SourceFailures instead
  int polls = 0;
  bool end_when_done = true;
  bool closed = false;

 private:
  int total_;
  int batch_;
  int next_ = 0;
  std::shared_ptr<core::RecordSchema> schema_;
};

// Queues up to `capacity` records; poll() delivers the queue unless `hold` is set.
class FakeSink final : public core::Sink {
 public:
  explicit FakeSink(size_t capacity) : capacity_(capacity) {}

  core::Status open() override { return {}; }
  std::vector<core::Refusal> screen(std::span<const core::Record> records) override {
    std::vector<core::Refusal> refusals;
    for (size_t i = 0; refuse_multiples_of > 0 && i < records.size(); ++i) {
      if (records[i].value(0).asInt() % refuse_multiples_of == 0) refusals.push_back({i, "column n refused (test)"});
    }
    return refusals;
  }
  core::Result<size_t> write(std::span<const core::Record> records, uint64_t sequence) override {
    if (aborted_) return core::fail(core::ErrorKind::Abortable, "records refused (test)");
    size_t offer = records.size();
    if (!refuse_on_write.empty() && refuse_by_index) {
      // As the kafka sink refuses a record too large to send: the records before it are taken,
      // and offered again first, it is refused by its index.
      for (size_t i = 0; i < records.size(); ++i) {
        if (records[i].meta.topic) continue;
        int64_t n = records[i].value(0).asInt();
        if (std::find(refuse_on_write.begin(), refuse_on_write.end(), n) == refuse_on_write.end()) continue;
        if (i > 0) {
          offer = i;
          break;
        }
        write_refusals_.push_back({std::string(), "the message is too large (test)", size_t{0}});
        aborted_ = true;
        return core::fail(core::ErrorKind::Abortable, "a record was refused (test)");
      }
    } else if (!refuse_on_write.empty()) {
      auto identities = core::recordIdentities(records);
      for (size_t i = 0; i < records.size(); ++i) {
        if (records[i].meta.topic) continue;
        int64_t n = records[i].value(0).asInt();
        if (std::find(refuse_on_write.begin(), refuse_on_write.end(), n) == refuse_on_write.end()) continue;
        write_refusals_.push_back({identities[i], "column n violates check constraint n_check (test)", std::nullopt});
      }
      if (!write_refusals_.empty()) {
        aborted_ = true;
        return core::fail(core::ErrorKind::Abortable, "records refused (test)");
      }
    }
    size_t room = capacity_ - queue_.size();
    size_t n = std::min(room, offer);
    if (n < offer) ++queue_full_events;
    for (size_t i = 0; i < n; ++i) {
      if (records[i].meta.topic) {
        dead_letter_topics.push_back(*records[i].meta.topic);
        dead_letter_records.push_back(records[i]);
        queue_.push_back({-1, sequence});
      } else {
        queue_.push_back({records[i].value(0).asInt(), sequence});
      }
    }
    max_queue = std::max(max_queue, queue_.size());
    if (n == records.size()) sealed_through_ = sequence;  // the batch's last records are in
    return n;
  }
  std::vector<core::WriteRefusal> takeWriteRefusals() override { return std::move(write_refusals_); }
  core::Result<uint64_t> poll(std::chrono::milliseconds) override {
    if (aborted_) return core::fail(core::ErrorKind::Abortable, "records refused (test)");
    if (!hold && !unreachable) deliverAll();
    return delivered_sequence_;
  }
  core::Status flush(std::chrono::steady_clock::time_point) override {
    if (aborted_) return core::fail(core::ErrorKind::Abortable, "records refused (test)");
    if (unreachable) return core::fail(core::ErrorKind::Retryable, "broker down (test)");
    if (!hold) deliverAll();
    return {};
  }
  void close() override {}

  void deliverAll() {
    // A batch counts as delivered only when nothing of it remains queued.
    while (!queue_.empty()) {
      delivered.push_back(queue_.front().first);
      uint64_t seq = queue_.front().second;
      queue_.pop_front();
      // ... and only once all of it was offered (a partly written batch is not delivered).
      if ((queue_.empty() || queue_.front().second != seq) && seq <= sealed_through_) delivered_sequence_ = seq;
    }
  }

  std::vector<int64_t> delivered;  // -1 for a dead letter
  std::vector<std::string> dead_letter_topics;
  std::vector<core::Record> dead_letter_records;
  int refuse_multiples_of = 0;  // screen() refuses records whose number is a multiple of this
  // write() refuses a batch holding records with these numbers, as a database refuses a row: it
  // takes nothing, names them for takeWriteRefusals(), and write(), poll() and flush() return
  // Abortable from then on (the pipeline does not reuse a sink after that).
  std::vector<int64_t> refuse_on_write;
  bool refuse_by_index = false;  // ... or refuse them one at a time within write(), by index
  size_t max_queue = 0;
  int queue_full_events = 0;
  bool hold = false;
  bool unreachable = false;  // flush() fails Retryable, poll() delivers nothing
  std::vector<core::MetricSample> reported;  // what metrics() reports

  void metrics(std::vector<core::MetricSample>& out) const override {
    out.insert(out.end(), reported.begin(), reported.end());
  }

 private:
  size_t capacity_;
  bool aborted_ = false;
  uint64_t sealed_through_ = 0;  // the highest sequence whose records were all offered
  std::vector<core::WriteRefusal> write_refusals_;
  std::deque<std::pair<int64_t, uint64_t>> queue_;
  uint64_t delivered_sequence_ = 0;
};

}  // namespace dutybridge::testing

namespace dutybridge::testing {

// Keeps even numbers (doubled), dead-letters odd ones.
class FakeTransform final : public core::Transform {
 public:
  std::string label() const override { return "fake@1"; }
  void apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
             std::vector<core::DeadLetter>& dead_letters) override {
    for (const auto& input : inputs) {
      int64_t n = input.value(0).asInt();
      if (n % 2 != 0) {
        dead_letters.push_back({&input, "odd number"});
        continue;
      }
      core::Record out(input.schema(), {core::Value(n * 2)});
      out.meta = input.meta;
      outputs.push_back(std::move(out));
    }
  }
};

// Sums its inputs, passes them through, and keeps the running sum as state ("sum"), like an
// aggregation: the pipeline stores the state once the batch is delivered and restores it.
class FakeStatefulTransform final : public core::Transform {
 public:
  std::string label() const override { return "sum@1"; }
  bool stateful() const override { return true; }
  void apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
             std::vector<core::DeadLetter>&) override {
    for (const auto& input : inputs) {
      sum += input.value(0).asInt();
      outputs.push_back(input);
    }
    changed = true;
  }
  void tick(std::vector<core::Record>&, std::vector<core::DeadLetter>&) override { ++ticks; }
  void takeStateChanges(std::vector<StateEntry>& changes) override {
    if (changed) changes.push_back({"sum", std::to_string(sum)});
    changed = false;
  }
  core::Status restore(const std::vector<StateEntry>& entries) override {
    restored = entries;
    for (const auto& e : entries) {
      if (e.key == "sum") sum = std::stoll(e.value);
    }
    return {};
  }
  int64_t sum = 0;
  bool changed = false;
  int ticks = 0;
  std::vector<StateEntry> restored;
};

// A transactional sink: written records are pending until commitTransaction(), which makes them
// and the given state entries "visible" together; abortTransaction() discards them. A test can
// make the Nth commit fail with an error kind.
class FakeTransactionalSink final : public core::Sink {
 public:
  core::Status open() override { return {}; }
  bool transactional() const override { return true; }
  core::Result<size_t> write(std::span<const core::Record> records, uint64_t sequence) override {
    for (const auto& r : records) pending.push_back(r.meta.topic ? -1 : r.value(0).asInt());
    last_sequence_ = sequence;
    return records.size();
  }
  core::Result<uint64_t> poll(std::chrono::milliseconds) override { return delivered_sequence_; }
  core::Status flush(std::chrono::steady_clock::time_point) override { return {}; }
  void close() override {}
  core::Status commitTransaction(const std::vector<core::StateEntry>& state,
                                 std::chrono::steady_clock::time_point) override {
    ++commit_calls;
    if (fail_commit_number == commit_calls) return core::fail(fail_kind, "commit refused by the test");
    for (int64_t n : pending) visible.push_back(n);
    pending.clear();
    commits.push_back(state);
    delivered_sequence_ = last_sequence_;
    return {};
  }
  core::Status abortTransaction(std::chrono::steady_clock::time_point) override {
    ++aborts;
    pending.clear();
    return {};
  }

  std::vector<int64_t> visible;  // committed records (-1: a dead letter)
  std::vector<int64_t> pending;
  std::vector<std::vector<core::StateEntry>> commits;  // the state entries of each commit
  int commit_calls = 0;
  int fail_commit_number = 0;  // this commit call fails (1-based; 0: none)
  core::ErrorKind fail_kind = core::ErrorKind::Abortable;
  int aborts = 0;

 private:
  uint64_t last_sequence_ = 0;
  uint64_t delivered_sequence_ = 0;
};

}  // namespace dutybridge::testing
