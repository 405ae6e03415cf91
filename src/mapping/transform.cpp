#include "src/mapping/transform.h"

#include <fmt/format.h>

namespace dutybridge::mapping {

MappingTransform::MappingTransform(std::shared_ptr<const Mapping> mapping, const core::Clock& clock)
    : mapping_(std::move(mapping)), clock_(clock) {
  if (mapping_->aggregate) aggregator_ = std::make_unique<aggregate::Aggregator>(mapping_->aggregatorOptions());
}

void MappingTransform::apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
                             std::vector<core::DeadLetter>& dead_letters) {
  for (const auto& input : inputs) {
    if (binding_.schema != input.schema()) binding_ = mapping_->bind(input.schema());
    auto mapped = aggregator_ ? mapping_->contribute(input, binding_, clock_, *aggregator_)
                              : mapping_->applyInto(input, binding_, clock_, outputs);
    if (!mapped) dead_letters.push_back({&input, mapped.error().message});
  }
  if (aggregator_) tick(outputs, dead_letters);
}

void MappingTransform::tick(std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters) {
  if (!aggregator_) return;
  revisions_.clear();
  aggregator_->collect(clock_.now(), revisions_);
  failed_revisions_.clear();
  failed_revisions_.reserve(revisions_.size());
  for (const auto& revision : revisions_) {
    auto emitted = mapping_->emitRevision(revision, clock_, outputs);
    if (!emitted) {
      // The dead letter cites the window, never the group values (they may be personal data).
      core::Record stand_in;
      stand_in.meta.source_position =
          fmt::format("{} {} revision {}", revision.window->ref.period_type, revision.window->ref.period_id, revision.revision);
      failed_revisions_.push_back(std::move(stand_in));
      dead_letters.push_back({&failed_revisions_.back(), emitted.error().message});
    }
  }
}

void MappingTransform::takeStateChanges(std::vector<StateEntry>& changes) {
  if (!aggregator_) return;
  std::vector<aggregate::StateChange> taken;
  aggregator_->takeStateChanges(taken);
  for (auto& change : taken) changes.push_back({std::move(change.key), std::move(change.value)});
}

core::Status MappingTransform::restore(const std::vector<StateEntry>& entries) {
  if (!aggregator_) return {};
  std::vector<aggregate::StateChange> converted;
  converted.reserve(entries.size());
  for (const auto& entry : entries) converted.push_back({entry.key, entry.value});
  return aggregator_->restore(converted);
}

}  // namespace dutybridge::mapping
