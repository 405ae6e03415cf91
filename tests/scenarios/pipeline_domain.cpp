// Pipeline scenarios (tests/scenarios/pipeline/*.test): a Pipeline (src/runtime/pipeline.h) over
// the fakes of tests/fakes/fakes.h and an in-memory state store. The set-up steps describe the
// source, sink, transform and options; each `run` builds them afresh (a restart) over the same
// state store, and the steps after it ask what the run delivered and stored.

#include <fmt/format.h>

#include <map>
#include <stop_token>

#include "src/runtime/memory_state_store.h"
#include "src/runtime/pipeline.h"
#include "tests/fakes/fakes.h"
#include "tests/scenarios/scenario.h"

namespace dutybridge::scenarios {
namespace {

using testing::FakeSink;
using testing::FakeSource;
using testing::FakeStatefulTransform;
using testing::FakeTransactionalSink;
using testing::FakeTransform;

// "key=value" words after the directive; a word without '=' is a flag ("true").
std::map<std::string, std::string> settings(const Step& step, size_t from) {
  std::map<std::string, std::string> out;
  for (size_t i = from; i < step.words.size(); ++i) {
    auto eq = step.words[i].find('=');
    if (eq == std::string::npos) {
      out[step.words[i]] = "true";
    } else {
      out[step.words[i].substr(0, eq)] = step.words[i].substr(eq + 1);
    }
  }
  return out;
}

int64_t setting(const std::map<std::string, std::string>& s, const std::string& key, int64_t fallback) {
  auto it = s.find(key);
  return it == s.end() ? fallback : integer(it->second);
}

// Numbers as written: runs of three or more consecutive ones as "a..b", a dead letter (-1) as
// "dlq", k dead letters in a row as "dlq(k)".
std::string sequence(const std::vector<int64_t>& numbers) {
  std::vector<std::string> parts;
  for (size_t i = 0; i < numbers.size();) {
    if (numbers[i] < 0) {
      size_t j = i;
      while (j < numbers.size() && numbers[j] < 0) ++j;
      parts.push_back(j - i == 1 ? std::string("dlq") : fmt::format("dlq({})", j - i));
      i = j;
      continue;
    }
    size_t j = i;
    while (j + 1 < numbers.size() && numbers[j + 1] == numbers[j] + 1) ++j;
    parts.push_back(j >= i + 2 ? fmt::format("{}..{}", numbers[i], numbers[j])
                               : (j == i ? std::to_string(numbers[i]) : fmt::format("{} {}", numbers[i], numbers[j])));
    i = j + 1;
  }
  return parts.empty() ? "(none)" : fmt::format("{}", fmt::join(parts, " "));
}

std::string field(const core::Record& record, const char* name) {
  const core::Value* v = record.find(name);
  return v ? v->toText() : "(none)";
}

bool compare(int64_t actual, const std::string& op, int64_t expected) {
  if (op == "==") return actual == expected;
  if (op == "<=") return actual <= expected;
  if (op == ">=") return actual >= expected;
  if (op == "<") return actual < expected;
  if (op == ">") return actual > expected;
  if (op == "!=") return actual != expected;
  throw ScenarioError("unknown comparison '" + op + "' (==, !=, <, <=, >, >=)");
}

class PipelineDomain final : public Domain {
 public:
  std::vector<std::string> run(const Step& step) override {
    const std::string& directive = step.words.at(0);
    if (directive == "source") {
      source_ = settings(step, 1);
      return {};
    }
    if (directive == "sink") {
      sink_ = settings(step, 1);
      return {};
    }
    if (directive == "dlq_sink") {
      dlq_sink_ = settings(step, 1);
      return {};
    }
    if (directive == "transform") {
      transform_ = step.word(1);
      if (transform_ != "none" && transform_ != "fake" && transform_ != "sum") {
        throw ScenarioError("unknown transform '" + transform_ + "' (none, fake, sum)");
      }
      return {};
    }
    if (directive == "options") {
      for (const auto& [k, v] : settings(step, 1)) options_[k] = v;
      return {};
    }
    if (directive == "put") {
      auto put = state_.put(step.word(1), step.word(2));
      if (!put) throw ScenarioError(put.error().message);
      return {};
    }
    if (directive == "run") return runPipeline(step);
    if (directive == "delivered") return {sequence(delivered(step))};
    if (directive == "state") {
      auto value = state_.get(step.word(1));
      if (!value) return {"error: " + value.error().message};
      return {value->value_or("(none)")};
    }
    if (directive == "dead_letter") return deadLetter(step);
    if (directive == "commits") return commits();
    if (directive == "expect") {
      int64_t actual = metric(step.word(1));
      int64_t expected = integer(step.word(3));
      if (compare(actual, step.word(2), expected)) return {};
      return {fmt::format("{} is {}", step.word(1), actual)};
    }
    throw ScenarioError("unknown directive '" + directive +
                        "' (source, sink, dlq_sink, transform, options, put, run, delivered, state, dead_letter, "
                        "commits, expect)");
  }

 private:
  std::vector<std::string> runPipeline(const Step& step) {
    const std::string& name = step.word(1);
    auto source = std::make_unique<FakeSource>(static_cast<int>(setting(source_, "rows", 0)),
                                               static_cast<int>(setting(source_, "batch", 16)));
    source->fail_every = static_cast<int>(setting(source_, "fail_every", 0));
    source->fail_next_polls = static_cast<int>(setting(source_, "fail_next_polls", 0));
    source->end_when_done = !source_.contains("endless");
    src_ = source.get();

    std::unique_ptr<core::Sink> sink;
    snk_ = nullptr;
    txn_ = nullptr;
    if (sink_.contains("transactional")) {
      auto t = std::make_unique<FakeTransactionalSink>();
      t->fail_commit_number = static_cast<int>(setting(sink_, "fail_commit", 0));
      if (sink_.contains("fail_kind")) t->fail_kind = errorKind(sink_.at("fail_kind"));
      txn_ = t.get();
      sink = std::move(t);
    } else {
      auto s = std::make_unique<FakeSink>(static_cast<size_t>(setting(sink_, "capacity", 1000)));
      s->refuse_multiples_of = static_cast<int>(setting(sink_, "refuse_multiples_of", 0));
      snk_ = s.get();
      sink = std::move(s);
    }

    std::unique_ptr<core::Transform> transform;
    fake_sum_ = nullptr;
    if (transform_ == "fake") transform = std::make_unique<FakeTransform>();
    if (transform_ == "sum") {
      auto t = std::make_unique<FakeStatefulTransform>();
      fake_sum_ = t.get();
      transform = std::move(t);
    }

    runtime::PipelineOptions options;
    options.poll_wait = std::chrono::milliseconds(0);
    options.backoff_initial = std::chrono::milliseconds(1);
    options.backoff_max = std::chrono::milliseconds(2);
    for (const auto& [key, value] : options_) {
      if (key == "stop_when_idle") {
        options.stop_when_idle = value == "true";
      } else if (key == "max_in_flight") {
        options.max_in_flight_records = static_cast<size_t>(integer(value));
      } else if (key == "commit_records") {
        options.commit_records = static_cast<size_t>(integer(value));
      } else if (key == "commit_interval") {
        options.commit_interval = std::chrono::milliseconds(durationMicros(value) / 1000);
      } else if (key == "dlq_topic") {
        options.dlq_topic = value;
      } else if (key == "dead_letter_limit") {
        // <max>/<window>, e.g. 20/1m
        auto parts = splitWords(value, '/');
        if (parts.size() != 2) throw ScenarioError("write dead_letter_limit=<max>/<window>, e.g. 20/1m");
        options.dead_letter_limit = {static_cast<size_t>(integer(parts[0])),
                                     std::chrono::milliseconds(durationMicros(parts[1]) / 1000)};
      } else {
        throw ScenarioError("unknown option '" + key +
                            "' (stop_when_idle, max_in_flight, commit_records, commit_interval, dlq_topic, "
                            "dead_letter_limit)");
      }
    }

    pipeline_ = std::make_unique<runtime::Pipeline>(name, std::move(source), std::move(sink), state_, options,
                                                    std::move(transform));
    dlq_ = nullptr;
    if (!dlq_sink_.empty()) {
      auto d = std::make_unique<FakeSink>(static_cast<size_t>(setting(dlq_sink_, "capacity", 1000)));
      dlq_ = d.get();
      pipeline_->setDeadLetterSink(std::move(d));
    }
    std::stop_source stop;
    auto ran = pipeline_->run(stop.get_token());
    if (!ran) return {errorLine(ran.error())};
    return {"ok"};
  }

  static core::ErrorKind errorKind(const std::string& text) {
    for (auto kind : {core::ErrorKind::InvalidConfig, core::ErrorKind::Retryable, core::ErrorKind::Permanent,
                      core::ErrorKind::Abortable, core::ErrorKind::Fatal}) {
      if (core::toString(kind) == text) return kind;
    }
    throw ScenarioError("unknown error kind '" + text + "'");
  }

  void requireRun() const {
    if (!pipeline_) throw ScenarioError("no run yet ('run <pipeline>' first)");
  }

  // delivered [dlq]: what the sink (or the dead-letter sink) delivered; a transactional sink's
  // committed records.
  std::vector<int64_t> delivered(const Step& step) {
    requireRun();
    if (step.words.size() > 1 && step.words[1] == "dlq") {
      if (!dlq_) throw ScenarioError("no dead-letter sink in this run");
      return dlq_->delivered;
    }
    return txn_ ? txn_->visible : snk_->delivered;
  }

  // dead_letter [dlq] <index>: the dead letter's stage, position, error and pipeline.
  std::vector<std::string> deadLetter(const Step& step) {
    requireRun();
    bool from_dlq = step.words.size() > 2 && step.words[1] == "dlq";
    FakeSink* sink = from_dlq ? dlq_ : snk_;
    if (!sink) throw ScenarioError(from_dlq ? "no dead-letter sink in this run" : "no plain sink in this run");
    auto index = static_cast<size_t>(integer(step.words.back()));
    if (index >= sink->dead_letter_records.size()) {
      return {fmt::format("only {} dead letters", sink->dead_letter_records.size())};
    }
    const auto& r = sink->dead_letter_records[index];
    return {fmt::format("topic={} error_class={} source_position={} pipeline={} error={}",
                        sink->dead_letter_topics[index], field(r, "error_class"), field(r, "source_position"),
                        field(r, "pipeline"), field(r, "error"))};
  }

  // One line a transaction commit of a transactional sink: the records visible after it and the
  // state entries it committed.
  std::vector<std::string> commits() {
    requireRun();
    if (!txn_) throw ScenarioError("the sink of this run is not transactional");
    std::vector<std::string> out;
    for (const auto& entries : txn_->commits) {
      std::string line;
      for (const auto& e : entries) line += (line.empty() ? "" : " ") + e.key + "=" + e.value;
      out.push_back(line);
    }
    return out;
  }

  int64_t metric(const std::string& name) {
    requireRun();
    const auto& stats = pipeline_->stats();
    if (name == "stats.records_read") return static_cast<int64_t>(stats.records_read.load());
    if (name == "stats.records_delivered") return static_cast<int64_t>(stats.records_delivered.load());
    if (name == "stats.records_mapped") return static_cast<int64_t>(stats.records_mapped.load());
    if (name == "stats.dead_letters") return static_cast<int64_t>(stats.dead_letters.load());
    if (name == "stats.retries") return static_cast<int64_t>(stats.retries.load());
    if (name == "stats.transactions") return static_cast<int64_t>(stats.transactions.load());
    if (name == "source.polls") return src_->polls;
    if (name == "source.closed") return src_->closed ? 1 : 0;
    if (name == "source.commits") return static_cast<int64_t>(src_->commits.size());
    if (name == "source.opened_from") return src_->opened_from ? integer(*src_->opened_from) : -1;
    if (name == "source.last_commit") return src_->commits.empty() ? -1 : integer(src_->commits.back());
    if (name == "sink.delivered") return static_cast<int64_t>(txn_ ? txn_->visible.size() : snk_->delivered.size());
    if (dlq_ && name == "dlq.delivered") return static_cast<int64_t>(dlq_->delivered.size());
    if (snk_ && name == "sink.max_queue") return static_cast<int64_t>(snk_->max_queue);
    if (snk_ && name == "sink.queue_full_events") return snk_->queue_full_events;
    if (snk_ && name == "sink.dead_letters") return static_cast<int64_t>(snk_->dead_letter_records.size());
    if (dlq_ && name == "dlq.dead_letters") return static_cast<int64_t>(dlq_->dead_letter_records.size());
    if (txn_ && name == "sink.commits") return static_cast<int64_t>(txn_->commits.size());
    if (txn_ && name == "sink.aborts") return txn_->aborts;
    if (fake_sum_ && name == "transform.sum") return fake_sum_->sum;
    if (fake_sum_ && name == "transform.ticks") return fake_sum_->ticks;
    if (fake_sum_ && name == "transform.restored") return static_cast<int64_t>(fake_sum_->restored.size());
    throw ScenarioError(
        "unknown metric '" + name +
        "' for this run (stats.*, source.polls/closed/commits/opened_from/last_commit, "
        "sink.delivered/max_queue/queue_full_events/dead_letters/commits/aborts, dlq.delivered/dead_letters, "
        "transform.sum/ticks/restored)");
  }

  std::map<std::string, std::string> source_, sink_, dlq_sink_, options_;
  std::string transform_ = "none";
  runtime::MemoryStateStore state_;
  std::unique_ptr<runtime::Pipeline> pipeline_;
  FakeSource* src_ = nullptr;
  FakeSink* snk_ = nullptr;
  FakeTransactionalSink* txn_ = nullptr;
  FakeSink* dlq_ = nullptr;
  FakeStatefulTransform* fake_sum_ = nullptr;
};

}  // namespace

std::unique_ptr<Domain> makePipelineDomain() {
  return std::make_unique<PipelineDomain>();
}

}  // namespace dutybridge::scenarios
