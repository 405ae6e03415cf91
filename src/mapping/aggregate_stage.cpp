#include "src/mapping/aggregate_stage.h"

#include <fmt/format.h>

#include "src/core/time.h"

namespace dutybridge::mapping {

namespace {
constexpr std::string_view kExpectedThroughKey = "x/through";
}  // namespace

AggregateStage::AggregateStage(const Mapping& mapping) : mapping_(&mapping), aggregator_(mapping.aggregatorOptions()) {}

core::Status AggregateStage::add(const core::Record& input, const Binding& binding, const core::Clock& clock,
                                 std::string* identity) {
  auto contribution = mapping_->contribution(input, binding, clock);
  if (!contribution) return core::fail(contribution.error());
  if (identity) *identity = contribution->identity();
  auto applied = aggregator_.apply(std::move(*contribution), clock.now(), input.meta.source_position);
  if (!applied) return core::fail(applied.error());
  return {};
}

void AggregateStage::tick(const core::Clock& clock, std::vector<core::Record>& outputs,
                          std::vector<core::DeadLetter>& dead_letters, std::vector<size_t>* emit_indices) {
  const core::Timestamp now = clock.now();
  if (!mapping_->aggregate->expect_table.empty()) {
    expected_.clear();
    auto through = mapping_->expectedWindows(expected_through_, now, expected_);
    for (const auto& window : expected_) aggregator_.expect(window, now);
    if (through != expected_through_) {
      expected_through_ = through;
      expected_changed_ = true;
    }
  }
  revisions_.clear();
  aggregator_.collect(now, revisions_);
  failed_revisions_.clear();
  failed_revisions_.reserve(revisions_.size());
  for (const auto& revision : revisions_) {
    auto emitted = mapping_->emitRevision(revision, clock, outputs, emit_indices);
    if (!emitted) {
      core::Record stand_in;
      const auto& ref = revision.window->ref;
      stand_in.meta.source_position =
          ref.period_id.empty() ? fmt::format("{} revision {}", ref.period_type, revision.revision)
                                : fmt::format("{} {} revision {}", ref.period_type, ref.period_id, revision.revision);
      failed_revisions_.push_back(std::move(stand_in));
      dead_letters.push_back({&failed_revisions_.back(), emitted.error().message});
    }
  }
}

void AggregateStage::takeStateChanges(std::vector<core::StateEntry>& changes) {
  if (expected_changed_ && expected_through_) {
    changes.push_back({std::string(kExpectedThroughKey), core::formatDate(*expected_through_)});
    expected_changed_ = false;
  }
  std::vector<aggregate::StateChange> taken;
  aggregator_.takeStateChanges(taken);
  for (auto& change : taken) changes.push_back({std::move(change.key), std::move(change.value)});
}

core::Status AggregateStage::restore(const std::vector<core::StateEntry>& entries) {
  std::vector<aggregate::StateChange> engine;
  engine.reserve(entries.size());
  for (const auto& entry : entries) {
    if (entry.key == kExpectedThroughKey) {
      auto through = core::parseDate(entry.value);
      if (!through) return core::fail(core::ErrorKind::Fatal, "state entry x/through cannot be read: " + entry.value);
      expected_through_ = *through;
      continue;
    }
    engine.push_back({entry.key, entry.value});
  }
  return aggregator_.restore(engine);
}

}  // namespace dutybridge::mapping
