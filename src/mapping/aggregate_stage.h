#pragma once
// The aggregation stage of an aggregate mapping (`aggregate:`): it owns the aggregation engine,
// applies each record's contribution (computed by Mapping::contribution), creates the windows a
// roster expects (`expect:`), and turns due window revisions into output records through the
// mapping's emit blocks. The mapping computes; the stage keeps the state.
//
// State: the engine's entries ("w/" windows, "s/" row contributions) and "x/through", the
// shift date up to which every period has its roster windows. Keys are without the pipeline's
// prefix (runtime/state_layout.h); restore() rebuilds from them after a restart.
//
// Threading: one stage per pipeline thread (or per `dutybridge map` run); nothing is
// thread-safe. Ownership: the stage keeps a pointer to its mapping, which the caller keeps
// alive (useMapping() after the mapping was compiled again for a source's description).

#include <optional>
#include <string>
#include <vector>

#include "src/aggregate/aggregator.h"
#include "src/core/transform.h"
#include "src/mapping/mapping.h"

namespace dutybridge::mapping {

class AggregateStage {
 public:
  // `mapping` must have an `aggregate:` block.
  explicit AggregateStage(const Mapping& mapping);

  // The same aggregate block compiled again (input types from the source): state stays.
  void useMapping(const Mapping& mapping) { mapping_ = &mapping; }

  // One record's contribution into the engine. Permanent errors are the record's dead letter;
  // Retryable ones a missing attribution. `identity`, if given, receives the row's identity.
  core::Status add(const core::Record& input, const Binding& binding, const core::Clock& clock,
                   std::string* identity = nullptr);

  // Creates expected windows, then emits the revisions due at the clock's now into `outputs`
  // (with each output's emit block index into `emit_indices`, if given). A revision the emit
  // blocks fail on becomes a dead letter pointing at a stand-in record that names the window
  // and revision, never its group values (they may be personal data); stand-ins live until the
  // next tick().
  void tick(const core::Clock& clock, std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters,
            std::vector<size_t>* emit_indices = nullptr);

  void takeStateChanges(std::vector<core::StateEntry>& changes);
  // Entries of this stage (see above); Fatal when one cannot be read.
  core::Status restore(const std::vector<core::StateEntry>& entries);

  const aggregate::Aggregator& aggregator() const { return aggregator_; }

 private:
  const Mapping* mapping_;
  aggregate::Aggregator aggregator_;
  std::vector<aggregate::Revision> revisions_;
  std::vector<aggregate::WindowRef> expected_;
  std::vector<core::Record> failed_revisions_;
  std::optional<core::Date> expected_through_;
  bool expected_changed_ = false;
};

}  // namespace dutybridge::mapping
