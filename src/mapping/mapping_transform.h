#pragma once
// A loaded Mapping as the pipeline's core::Transform. Binds each new source schema once (no
// per-record name lookups). One instance per pipeline thread.
//
// It composes the mapping's parts: a row-level mapping maps each record into outputs; an
// aggregate mapping (`aggregate:`) feeds each record's contribution to its AggregateStage
// (aggregate_stage.h), which emits window revisions after each batch and from tick(); a mapping
// with `quarantine:` holds records whose attribution lookup found nothing in its Quarantine
// (quarantine.h). Their state changes are handed to the pipeline (takeStateChanges) and
// restored from it at start. The transform also refreshes the mapping's tables that have
// `refresh:` (from tick(), on this thread).
//
// prepare(): a mapping with `input: from_source` is compiled against source.describe() there;
// a source that cannot describe itself, or a mapping that does not type-check against the
// description, is InvalidConfig with every diagnostic in the message. Declared inputs need
// nothing.
//
// Personal data in state: with a `state_seal` (the daemon's kafka.state_key) every entry it
// hands out is sealed (state_seal.h) and sealed entries are opened on restore; entries stored
// in clear before the key was configured are restored and rewritten sealed (the clear key
// deleted) with the next state changes. A sealed entry without a seal is Fatal: nothing could
// match its rows.

#include <map>
#include <memory>
#include <optional>

#include "src/aggregate/aggregator.h"
#include "src/core/transform.h"
#include "src/mapping/aggregate_stage.h"
#include "src/mapping/mapping.h"
#include "src/mapping/quarantine.h"
#include "src/mapping/state_seal.h"

namespace dutybridge::mapping {

// What `dutybridge status` shows of a mapping transform's stored entries (keys without the
// pipeline's prefix, runtime/state_layout.h): the transform owns their layout ("w/" windows,
// "s/" row contributions of the aggregation, "q/" quarantined records, "x/" the roster mark).
struct StateSummary {
  size_t windows = 0;
  size_t open_windows = 0;
  size_t rows = 0;
  size_t quarantined = 0;
  size_t unreadable_windows = 0;  // window entries whose state cannot be read

  void add(std::string_view key, std::string_view value);
};

class MappingTransform final : public core::Transform {
 public:
  MappingTransform(std::shared_ptr<const Mapping> mapping, const core::Clock& clock,
                   std::shared_ptr<const StateSeal> state_seal = nullptr);

  std::string label() const override { return mapping_->label(); }
  core::Status prepare(core::Source& source) override;
  void apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
             std::vector<core::DeadLetter>& dead_letters) override;
  void tick(std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters) override;
  void takeStateChanges(std::vector<StateEntry>& changes) override;
  core::Status restore(const std::vector<StateEntry>& entries) override;
  bool stateful() const override { return stage_.has_value() || quarantine_.has_value(); }
  std::vector<std::pair<std::string, int64_t>> gauges() const override;
  std::vector<HeldRecord> held(size_t max) const override {
    return quarantine_ ? quarantine_->list(max) : std::vector<HeldRecord>{};
  }
  void retryHeldNow() override {
    if (quarantine_) quarantine_->retryNow();
  }
  void metrics(std::vector<core::MetricSample>& out) const override;
  std::vector<std::string> outputTopics() const override;
  void maskPersonal(core::Record& record, RecordStage stage) const override {
    if (stage == RecordStage::kSource)
      mapping_->maskInput(record);
    else
      mapping_->maskOutput(record);
  }
  size_t quarantined() const { return quarantine_ ? quarantine_->size() : 0; }

  // For status output and benchmarks; nullptr for a row-level mapping.
  const aggregate::Aggregator* aggregator() const { return stage_ ? &stage_->aggregator() : nullptr; }

 private:
  // One record through the mapping; Retryable errors come back for the quarantine to decide.
  core::Status map(const core::Record& input, std::vector<core::Record>& outputs, std::string* identity = nullptr);
  std::string holdKey(const core::Record& input);
  uint64_t tableGenerations() const;

  std::shared_ptr<const Mapping> mapping_;
  const core::Clock& clock_;
  Binding binding_;
  std::optional<AggregateStage> stage_;
  std::optional<Quarantine> quarantine_;
  std::shared_ptr<const StateSeal> seal_;
  std::vector<StateEntry> resealed_;  // clear entries found at restore, to store sealed
  uint64_t seen_generations_ = 0;
  uint64_t hold_counter_ = 0;
};

}  // namespace dutybridge::mapping
