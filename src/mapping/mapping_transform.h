#pragma once
// A loaded Mapping as the pipeline's core::Transform. Binds each new source schema once (no
// per-record name lookups). One instance per pipeline thread.
//
// An aggregate mapping (`aggregate:`) makes the transform stateful: it owns the pipeline's
// aggregation engine, feeds every record's contribution into it, and emits window revisions
// after each batch and from tick() (windows closing by the clock). Its state changes are
// handed to the pipeline (takeStateChanges) and restored from it at start.
//
// A mapping with `quarantine:` holds records whose attribution lookup found nothing (state key
// "q/id/<row id>" for aggregate rows, else "q/<source position>"; the record as typed JSON), tries them again when one of the mapping's
// tables is refreshed or every `retry`, and dead-letters them after `max_age`. The transform
// also refreshes the mapping's tables that have `refresh:` (from tick(), on this thread).
//
// prepare(): a mapping with `input: from_source` is compiled against source.describe() there;
// a source that cannot describe itself, or a mapping that does not type-check against the
// description, is InvalidConfig with every diagnostic in the message. Declared inputs need
// nothing.

#include <map>
#include <memory>

#include "src/aggregate/aggregator.h"
#include "src/core/transform.h"
#include "src/mapping/mapping.h"

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
  MappingTransform(std::shared_ptr<const Mapping> mapping, const core::Clock& clock);

  std::string label() const override { return mapping_->label(); }
  core::Status prepare(core::Source& source) override;
  void apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
             std::vector<core::DeadLetter>& dead_letters) override;
  void tick(std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters) override;
  void takeStateChanges(std::vector<StateEntry>& changes) override;
  core::Status restore(const std::vector<StateEntry>& entries) override;
  bool stateful() const override { return aggregator_ != nullptr || mapping_->quarantine.has_value(); }
  std::vector<std::pair<std::string, int64_t>> gauges() const override;
  std::vector<std::string> outputTopics() const override;
  size_t quarantined() const { return held_.size(); }

  // For status output and benchmarks; nullptr for a row-level mapping.
  const aggregate::Aggregator* aggregator() const { return aggregator_.get(); }

 private:
  std::shared_ptr<const Mapping> mapping_;
  const core::Clock& clock_;
  Binding binding_;
  std::unique_ptr<aggregate::Aggregator> aggregator_;
  std::vector<aggregate::Revision> revisions_;
  // Stand-ins for window revisions that could not be emitted (dead letters point at them).
  std::vector<core::Record> failed_revisions_;

  struct Held {
    core::Record record;
    core::Timestamp since;
    std::string reason;
  };
  // One record through the mapping; Retryable errors come back for the quarantine to decide.
  core::Status map(const core::Record& input, std::vector<core::Record>& outputs, std::string* identity = nullptr);
  void hold(const core::Record& input, std::string reason);
  std::string holdKey(const core::Record& input);
  void retryHeld(std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters);
  uint64_t tableGenerations() const;

  std::map<std::string, Held> held_;                 // by state key
  std::vector<std::string> held_changes_;            // state keys changed since the last take
  std::vector<core::Record> released_;               // dead letters of expired holds point here
  uint64_t seen_generations_ = 0;
  std::optional<core::Timestamp> last_retry_;
  uint64_t hold_counter_ = 0;
  // `expect:`: shift dates whose periods all have their roster windows (state key "x/through").
  std::optional<core::Date> expected_through_;
  bool expected_changed_ = false;
};

}  // namespace dutybridge::mapping
