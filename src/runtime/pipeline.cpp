#include "src/runtime/pipeline.h"

#include <fmt/format.h>

#include <algorithm>
#include <span>
#include <utility>

#include "src/common/log.h"

namespace dutybridge::runtime {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

Pipeline::Pipeline(std::string name, std::unique_ptr<core::Source> source, std::unique_ptr<core::Sink> sink,
                   core::StateStore& state, PipelineOptions options, std::unique_ptr<core::Transform> transform)
    : name_(std::move(name)),
      component_("pipeline " + name_),
      source_(std::move(source)),
      sink_(std::move(sink)),
      transform_(std::move(transform)),
      state_(state),
      options_(std::move(options)),
      status_(options_.status ? options_.status : std::make_shared<PipelineStatus>()),
      stats_(status_->stats) {}

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
  stats_.records_mapped.fetch_add(outputs.size(), std::memory_order_relaxed);
  for (const auto& letter : dead) {
    addDeadLetter("mapping", letter.input->meta.source_position, letter.input->meta.event_time, letter.reason);
  }
  batch.records = std::move(outputs);
}

void Pipeline::screenBatch(core::SourceBatch& batch) {
  if (batch.records.empty()) return;
  std::vector<bool> refused(batch.records.size(), false);
  size_t refused_count = 0;
  auto refuse = [&](size_t index, const std::string& reason) {
    if (index >= batch.records.size() || refused[index]) return;
    refused[index] = true;
    ++refused_count;
    const core::Record& record = batch.records[index];
    addDeadLetter("sink", record.meta.source_position, record.meta.event_time, reason);
  };
  auto compact = [&] {
    if (refused_count == 0) return;
    size_t kept = 0;
    for (size_t i = 0; i < batch.records.size(); ++i) {
      if (refused[i]) continue;
      if (kept != i) batch.records[kept] = std::move(batch.records[i]);
      ++kept;
    }
    batch.records.resize(kept);
    refused.assign(kept, false);
    refused_count = 0;
  };
  for (const auto& refusal : sink_->screen(batch.records)) refuse(refusal.index, refusal.reason);
  compact();
  lettering_.clear();
  if (write_refusals_.reasons.empty()) return;
  // Identities over the records the sink is offered, as it named them when it refused them.
  auto identities = core::recordIdentities(batch.records);
  for (size_t i = 0; i < identities.size(); ++i) {
    auto found = write_refusals_.reasons.find(identities[i]);
    if (found == write_refusals_.reasons.end()) continue;
    ++matched_refusals_;
    if (write_refusals_.lettered.contains(identities[i])) {
      // Its letter is out already (a later refusal made the pipeline read it again): dropped.
      if (!refused[i]) {
        refused[i] = true;
        ++refused_count;
      }
      continue;
    }
    refuse(i, found->second);
    lettering_.push_back(identities[i]);
  }
  compact();
}

void Pipeline::nameWriteRefusals(const core::SourceBatch& batch, size_t written) {
  auto refusals = sink_->takeWriteRefusals();
  if (refusals.empty()) return;
  auto identities = core::recordIdentities(batch.records);
  for (auto& refusal : refusals) {
    if (refusal.index && written + *refusal.index < identities.size()) {
      refusal.record = identities[written + *refusal.index];
      refusal.index.reset();
    }
    named_refusals_.push_back(std::move(refusal));
  }
}

core::Status Pipeline::keepWriteRefusals() {
  auto refusals = std::move(named_refusals_);
  named_refusals_.clear();
  for (auto& refusal : sink_->takeWriteRefusals()) refusals.push_back(std::move(refusal));
  if (refusals.empty()) return {};
  if (std::any_of(refusals.begin(), refusals.end(), [](const auto& refusal) { return refusal.record.empty(); })) {
    // A record that cannot be recognised when read again would be refused after every restart.
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("the sink refused a record while writing it (first: {}) but did not say which",
                                  refusals.front().reason));
  }
  if (carried_refusals_ > 0 && matched_refusals_ == 0) {
    // The records refused in the last run were not recognised when read again (their source
    // positions changed): restarting again would refuse them again, forever.
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("the sink refused {} record(s) while writing them (first: {}), and the {} it "
                                  "refused before were not found again when read again after the restart",
                                  refusals.size(), refusals.front().reason, carried_refusals_));
  }
  log::warning(component_,
               "the sink refused {} record(s) while writing them (first: {}); nothing of their batch was stored, "
               "the pipeline restarts from its last stored position and sends them to {}",
               refusals.size(), refusals.front().reason, options_.dlq_topic);
  for (auto& refusal : refusals) {
    write_refusals_.reasons.insert_or_assign(std::move(refusal.record), std::move(refusal.reason));
  }
  return {};
}

void Pipeline::addDeadLetter(std::string_view stage, const std::string& position,
                             const std::optional<core::Timestamp>& event_time, const std::string& reason) {
  // The dead letter names the pipeline, mapping, stage, source position and reason, but carries
  // no field values: whoever repairs it re-reads the source record by its position.
  static const auto kSchema = std::make_shared<core::RecordSchema>(
      std::vector<std::string>{"pipeline", "mapping", "source_position", "error_class", "error"});
  std::string label = transform_ ? transform_->label() : std::string();
  core::Record record(kSchema, {core::Value(name_), core::Value(label), core::Value(position),
                                core::Value(std::string(stage)), core::Value(reason)});
  record.meta.source_position = position;
  record.meta.event_time = event_time;
  record.meta.topic = options_.dlq_topic;
  record.meta.key = name_;
  record.meta.headers = {{"dutybridge_pipeline", name_},
                         {"dutybridge_mapping", label},
                         {"dutybridge_error_class", std::string(stage)},
                         {"dutybridge_error", reason},
                         {"dutybridge_source_position", position}};
  const auto stage_index = stage == "source"    ? DeadLetterStage::Source
                           : stage == "mapping" ? DeadLetterStage::Mapping
                                                : DeadLetterStage::Sink;
  stats_.dead_letters_by_stage[static_cast<size_t>(stage_index)].fetch_add(1, std::memory_order_relaxed);
  if (batch_dead_letters_.empty()) {
    first_dead_letter_ = fmt::format("{} (stage {}, source position {})", reason, stage, position);
  }
  batch_dead_letters_.push_back(std::move(record));
}

core::Status Pipeline::routeDeadLetters(core::SourceBatch& batch) {
  if (batch_dead_letters_.empty()) return {};
  const size_t count = batch_dead_letters_.size();
  stats_.dead_letters.fetch_add(count, std::memory_order_relaxed);
  log::warning(component_, "{} record(s) sent to {}: first: {}", count, options_.dlq_topic, first_dead_letter_);
  if (options_.dead_letter_limit.max > 0) {
    const auto now = Clock::now();
    recent_dead_letters_.push_back({now, count});
    recent_dead_letter_count_ += count;
    while (!recent_dead_letters_.empty() &&
           now - recent_dead_letters_.front().first > options_.dead_letter_limit.window) {
      recent_dead_letter_count_ -= recent_dead_letters_.front().second;
      recent_dead_letters_.pop_front();
    }
    if (recent_dead_letter_count_ > options_.dead_letter_limit.max) {
      // Nothing of this batch is written, so its position is not stored: after the cause is
      // repaired (or the limit raised) the pipeline reads these records again.
      batch_dead_letters_.clear();
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("{} dead letters within {} s exceed dead_letter_limit ({} per {} s); the "
                                    "pipeline stops before writing the batch (position not moved). The last: {}",
                                    recent_dead_letter_count_,
                                    std::chrono::duration_cast<std::chrono::seconds>(options_.dead_letter_limit.window).count(),
                                    options_.dead_letter_limit.max,
                                    std::chrono::duration_cast<std::chrono::seconds>(options_.dead_letter_limit.window).count(),
                                    first_dead_letter_));
    }
  }
  auto& into = dead_letter_sink_ ? dead_letters_ : batch.records;
  for (auto& letter : batch_dead_letters_) into.push_back(std::move(letter));
  batch_dead_letters_.clear();
  return {};
}

Pipeline::~Pipeline() = default;

void Pipeline::publishGauges() {
  last_gauges_ = Clock::now();
  if (transform_) {
    if (status_->takeHeldRetry()) transform_->retryHeldNow();
    status_->publishGauges(transform_->gauges());
    status_->publishHeld(transform_->held(PipelineStatus::kHeldShown));
  }
  status_->sinkRetrying(sink_->retrying());
  metric_samples_.clear();
  source_->metrics(metric_samples_);
  // Two sinks may be of one type (kafka output, kafka dead letters): `role` keeps them apart.
  auto sinkMetrics = [&](const core::Sink& sink, const char* role) {
    const size_t first = metric_samples_.size();
    sink.metrics(metric_samples_);
    for (size_t i = first; i < metric_samples_.size(); ++i) metric_samples_[i].labels.emplace_back("role", role);
  };
  sinkMetrics(*sink_, "output");
  if (dead_letter_sink_) sinkMetrics(*dead_letter_sink_, "dead_letters");
  if (transform_) transform_->metrics(metric_samples_);
  status_->publishMetrics(metric_samples_);
}

std::string Pipeline::gaugeText() const {
  std::string text;
  if (!transform_) return text;
  for (const auto& [name, value] : transform_->gauges()) text += fmt::format(", {} {}", name, value);
  return text;
}

// What open() came to when it did not fail: ready to run, or stopped while waiting.
core::Result<Attempted> Pipeline::open(std::stop_token stop, Retrier& retrier) {
  // The sink first: a transactional sink fences an earlier instance of this pipeline (and aborts
  // its open transaction) here, before the state it may have been writing is read.
  status_->beginStep("sink.open");
  auto attempted = retrier.until(stop, "opening the sink", [&] { return sink_->open(); });
  if (!attempted || *attempted == Attempted::Stopped) return attempted;
  if (dead_letter_sink_) {
    status_->beginStep("dead_letters.open");
    attempted = retrier.until(stop, "opening the dead-letter sink", [&] { return dead_letter_sink_->open(); });
    if (!attempted || *attempted == Attempted::Stopped) return attempted;
  }
  committer_ = makeCommitter(CommitTarget{
      .component = component_,
      .sink = *sink_,
      .source = *source_,
      .state = state_,
      .cursor_key = cursorKey(),
      .state_prefix = statePrefix(),
      .status = *status_,
      .retrier = retrier,
      .flush_timeout = options_.flush_timeout,
      .commit_interval = options_.commit_interval,
      .commit_records = options_.commit_records,
      .max_in_flight_records = options_.max_in_flight_records,
  });
  log::info(component_, "delivery: {}", committer_->describe());

  std::optional<std::string> position;
  status_->beginStep("cursor.read");
  attempted = retrier.until(stop, "reading the stored cursor", [&]() -> core::Status {
    auto stored = committer_->readPosition();
    if (!stored) return core::fail(stored.error());
    position = std::move(*stored);
    return {};
  });
  if (!attempted || *attempted == Attempted::Stopped) return attempted;
  log::info(component_, "starting from {}", position ? "the stored cursor" : "the configured start");
  status_->cursorRead(position);

  if (transform_ && transform_->stateful()) {
    std::optional<core::Error> restore_error;
    status_->beginStep("state.restore");
    attempted = retrier.until(stop, "reading the transform state", [&]() -> core::Status {
      auto entries = state_.scan(statePrefix());
      if (!entries) return core::fail(entries.error());
      std::vector<core::StateEntry> restored;
      restored.reserve(entries->size());
      for (auto& [key, value] : *entries) restored.push_back({key.substr(statePrefix().size()), std::move(value)});
      // A state that cannot be restored is not retried: it is reported as it is.
      if (auto status = transform_->restore(restored); !status) {
        restore_error = status.error();
        return {};
      }
      log::info(component_, "restored {} state entries of {}", restored.size(), transform_->label());
      return {};
    });
    if (restore_error) return core::fail(*restore_error);
    if (!attempted || *attempted == Attempted::Stopped) return attempted;
  }

  status_->beginStep("source.open");
  attempted = retrier.until(stop, "opening the source", [&] { return source_->open(position); });
  if (!attempted || *attempted == Attempted::Stopped) return attempted;
  // A mapping with `input: from_source` compiles against the source's description here.
  if (auto prepared = transform_ ? transform_->prepare(*source_) : core::Status{}; !prepared) {
    source_->close();
    return core::fail(prepared.error());
  }
  retrier.reset();
  return Attempted::Done;
}

// A batch's dead letters, when they have a sink of their own: delivered before the batch is
// written. Returns with dead_letters_ not empty when stopped during an outage.
core::Status Pipeline::deliverDeadLetters(std::stop_token stop, Retrier& retrier) {
  const uint64_t sequence = ++dead_letter_sequence_;
  size_t offered = 0;
  bool stopped = false;
  status_->beginStep("dead_letters.write");
  while (offered < dead_letters_.size()) {
    auto accepted = dead_letter_sink_->write(std::span<const core::Record>(dead_letters_).subspan(offered), sequence);
    if (!accepted) {
      if (retrier.retry(stop, accepted.error(), "writing dead letters", &stopped)) continue;
      return stopped ? core::Status{} : core::fail(accepted.error());
    }
    offered += *accepted;
    if (offered < dead_letters_.size()) {
      if (auto polled = dead_letter_sink_->poll(std::chrono::milliseconds(50)); !polled) {
        if (!retrier.retry(stop, polled.error(), "delivering dead letters", &stopped)) {
          return stopped ? core::Status{} : core::fail(polled.error());
        }
      }
    }
  }
  status_->beginStep("dead_letters.flush");
  auto flushed = retrier.until(stop, "delivering dead letters",
                               [&] { return dead_letter_sink_->flush(Clock::now() + options_.flush_timeout); });
  if (!flushed) return core::fail(flushed.error());
  if (*flushed == Attempted::Stopped) return {};
  if (auto polled = dead_letter_sink_->poll(std::chrono::milliseconds(0)); !polled) return core::fail(polled.error());
  dead_letters_.clear();
  return {};
}

core::Result<bool> Pipeline::acceptBatch(std::stop_token stop, Retrier& retrier, core::SourceBatch& batch,
                                         uint64_t& sequence) {
  Committer& committer = *committer_;
  stats_.records_read.fetch_add(batch.records.size() + batch.failures.size(), std::memory_order_relaxed);
  int64_t newest_event_micros = 0;
  for (const auto& record : batch.records) {
    if (record.meta.event_time) newest_event_micros = std::max(newest_event_micros, record.meta.event_time->micros);
  }
  const int64_t newest_event_ms = newest_event_micros / 1000;
  if (newest_event_ms > stats_.newest_event_unix_ms.load(std::memory_order_relaxed)) {
    stats_.newest_event_unix_ms.store(newest_event_ms, std::memory_order_relaxed);
  }
  const bool idle = batch.records.empty() && batch.failures.empty();
  for (const auto& failure : batch.failures) {
    addDeadLetter("source", failure.position, failure.event_time, failure.reason);
  }
  if (status_->tap.active(TapStage::Source)) {
    status_->tap.offer(TapStage::Source, batch.records, [&](core::Record& record) {
      if (transform_) transform_->maskPersonal(record, core::Transform::RecordStage::kSource);
    });
  }
  status_->beginStep("transform");
  transformBatch(batch);
  screenBatch(batch);
  if (status_->tap.active(TapStage::Output)) {
    // Before the dead letters join the batch: the tap shows what the sink gets.
    status_->tap.offer(TapStage::Output, batch.records, [&](core::Record& record) {
      if (transform_) transform_->maskPersonal(record, core::Transform::RecordStage::kOutput);
    });
  }
  if (auto routed = routeDeadLetters(batch); !routed) return core::fail(routed.error());
  if (!dead_letters_.empty()) {
    if (auto delivered = deliverDeadLetters(stop, retrier); !delivered) return core::fail(delivered.error());
    // Stopped while the dead-letter topic was unreachable: the batch is not written, so its
    // position is not stored and it is read again after the restart.
    if (!dead_letters_.empty()) return false;
    // Confirmed by the dead-letter sink: a refused record read again gets no second letter.
    for (auto& identity : lettering_) write_refusals_.lettered.insert(std::move(identity));
    lettering_.clear();
  }
  std::vector<core::StateEntry> state_changes;
  if (transform_) transform_->takeStateChanges(state_changes);
  if (!batch.records.empty()) ++sequence;
  if (auto added =
          committer.add(sequence, batch.records.size(), batch.position, std::move(state_changes), newest_event_ms);
      !added) {
    return core::fail(added.error());
  }
  if (idle && batch.records.empty()) {
    if (auto committed = committer.commitIfDue(stop, true); !committed) return core::fail(committed.error());
  }
  return true;
}

core::Status Pipeline::run(std::stop_token stop) {
  Retrier retrier(component_, options_.backoff_initial, options_.backoff_max, status_.get());
  // This run's connectors count from 0: the status carries what the previous run's counted.
  if (!metrics_run_begun_) status_->beginMetricsRun();
  metrics_run_begun_ = true;
  auto closeSinks = [&] {
    sink_->close();
    if (dead_letter_sink_) dead_letter_sink_->close();
  };
  auto opened = open(stop, retrier);
  if (!opened || *opened == Attempted::Stopped) {
    closeSinks();
    return opened ? core::Status{} : core::fail(opened.error());
  }
  Committer& committer = *committer_;
  status_->setState(PipelineState::Running);
  publishGauges();
  if (options_.on_running) options_.on_running();

  uint64_t sequence = 0;
  core::SourceBatch batch;
  size_t written = 0;  // records of `batch` the sink has accepted
  bool end_of_input = false;
  core::Status outcome;
  auto last_stats = Clock::now();

  auto pollSink = [&](std::chrono::milliseconds wait) -> core::Status {
    status_->beginStep("sink.poll");
    auto delivered = sink_->poll(wait);
    if (!delivered) return core::fail(delivered.error());
    return committer.delivered(*delivered);
  };
  // A failed step of the loop: true to go round again (retried after the backoff), false to
  // leave the loop (`outcome` set unless it was a stop).
  auto retryStep = [&](const core::Status& status, std::string_view what) {
    bool stopped = false;
    if (retrier.retry(stop, status.error(), what, &stopped)) return true;
    if (!stopped) outcome = status;
    return false;
  };

  while (!stop.stop_requested()) {
    if (written == batch.records.size()) {
      status_->beginStep("commit");
      if (auto committed = committer.commitIfDue(stop, end_of_input); !committed) {
        outcome = committed;
        break;
      }
      if (end_of_input) {
        if (committer.nothingInFlight()) break;
        if (auto polled = pollSink(options_.poll_wait); !polled && !retryStep(polled, "delivery")) break;
        continue;
      }
      if (committer.inFlightRecords() >= options_.max_in_flight_records) {
        // Enough is unacknowledged: wait for delivery reports before reading more, so memory
        // stays bounded by this, not by the sink's (much larger) queue.
        if (auto polled = pollSink(std::chrono::milliseconds(50)); !polled && !retryStep(polled, "delivery")) break;
        continue;
      }
      status_->beginStep("source.poll");
      auto next = source_->poll(options_.poll_wait);
      if (!next) {
        if (!retryStep(core::fail(next.error()), "reading the source")) break;
        continue;
      }
      retrier.reset();
      batch = std::move(*next);
      written = 0;
      end_of_input = batch.end_of_input || (options_.stop_when_idle && batch.records.empty() &&
                                                   batch.failures.empty() && !batch.more_pending);
      auto accepted = acceptBatch(stop, retrier, batch, sequence);
      if (!accepted) {
        outcome = core::fail(accepted.error());
        break;
      }
      if (!*accepted) break;
    }
    if (written < batch.records.size()) {
      if (written == 0) committer.beforeWrite(batch.position);
      status_->beginStep("sink.write");
      auto accepted = sink_->write(std::span<const core::Record>(batch.records).subspan(written), sequence);
      if (!accepted) {
        if (accepted.error().kind == core::ErrorKind::Abortable) nameWriteRefusals(batch, written);
        if (!retryStep(core::fail(accepted.error()), "writing to the sink")) break;
        continue;
      }
      written += *accepted;
    }
    // A full queue: serve delivery reports (which frees space) before offering more.
    auto wait = written < batch.records.size() ? std::chrono::milliseconds(50) : std::chrono::milliseconds(0);
    if (auto polled = pollSink(wait); !polled && !retryStep(polled, "delivery")) break;
    if (Clock::now() - last_gauges_ >= std::chrono::seconds(1)) publishGauges();
    if (Clock::now() - last_stats >= options_.stats_interval) {
      last_stats = Clock::now();
      log::info(component_, "read {} records, delivered {}, {} dead letters, {} retries{}", stats_.records_read.load(),
                stats_.records_delivered.load(), stats_.dead_letters.load(), stats_.retries.load(), gaugeText());
    }
  }

  status_->beginStep("stop");
  auto deadline = Clock::now() + options_.stop_timeout;
  const bool complete = outcome && written == batch.records.size();
  if (auto finished = committer.finish(stop, complete, deadline); !finished && outcome) outcome = finished;
  const size_t refusals_before = write_refusals_.reasons.size();
  if (auto kept = keepWriteRefusals(); !kept) outcome = kept;
  if (!outcome && outcome.error().kind == core::ErrorKind::Abortable &&
      write_refusals_.reasons.size() == refusals_before) {
    log::warning(component_, "transaction aborted ({}); resuming from the last committed cursor", outcome.error().message);
  }
  if (auto flushed = state_.flush(deadline); !flushed) {
    log::warning(component_, "state flush incomplete at stop: {}", flushed.error().message);
    if (outcome) outcome = flushed;
  }
  closeSinks();
  source_->close();
  log::info(component_, "stopped: read {} records, delivered {}, {} dead letters, {} retries{}",
            stats_.records_read.load(), stats_.records_delivered.load(), stats_.dead_letters.load(),
            stats_.retries.load(), gaugeText());
  committer_.reset();  // it holds this run's Retrier
  publishGauges();
  status_->sinkRetrying(std::nullopt);  // closed: whatever it retried is over
  if (!outcome && outcome.error().kind == core::ErrorKind::Abortable) {
    stats_.transactions_aborted.fetch_add(1, std::memory_order_relaxed);
  }
  status_->beginStep(nullptr);
  return outcome;
}

}  // namespace dutybridge::runtime
