#pragma once
// A loaded Mapping as the pipeline's core::Transform. Binds each new source schema once (no
// per-record name lookups). One instance per pipeline thread.
//
// An aggregate mapping (`aggregate:`) makes the transform stateful: it owns the pipeline's
// aggregation engine, feeds every record's contribution into it, and emits window revisions
// after each batch and from tick() (windows closing by the clock). Its state changes are
// handed to the pipeline (takeStateChanges) and restored from it at start.

#include <memory>

#include "src/aggregate/aggregator.h"
#include "src/core/transform.h"
#include "src/mapping/mapping.h"

namespace dutybridge::mapping {

class MappingTransform final : public core::Transform {
 public:
  MappingTransform(std::shared_ptr<const Mapping> mapping, const core::Clock& clock);

  std::string label() const override { return mapping_->label(); }
  void apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
             std::vector<core::DeadLetter>& dead_letters) override;
  void tick(std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters) override;
  void takeStateChanges(std::vector<StateEntry>& changes) override;
  core::Status restore(const std::vector<StateEntry>& entries) override;
  bool stateful() const override { return aggregator_ != nullptr; }

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
};

}  // namespace dutybridge::mapping
