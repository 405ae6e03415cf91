#pragma once
// A mapping's quarantine (`quarantine:`): records whose attribution lookup (`lookup(...)!`)
// found nothing are held, tried again when one of the mapping's tables was refreshed or every
// `retry`, and dead-lettered after `max_age`.
//
// State: one "q/..." entry per held record (the record as typed JSON, when it was held and
// why). The caller chooses the key: "q/id/<row identity>" for an aggregate row, so a newer
// version of the row replaces (or, once it maps, releases) the held one; "q/<source position>"
// otherwise. Keys are without the pipeline's prefix (runtime/state_layout.h).
//
// Threading: one quarantine per pipeline thread; nothing is thread-safe.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/record.h"
#include "src/core/state_store.h"
#include "src/core/transform.h"
#include "src/mapping/mapping.h"

namespace dutybridge::mapping {

class Quarantine {
 public:
  // `label` names the mapping in log lines.
  Quarantine(QuarantinePolicy policy, std::string label) : policy_(policy), label_(std::move(label)) {}

  static bool owns(std::string_view state_key) { return state_key.starts_with("q/"); }

  size_t size() const { return held_.size(); }
  bool empty() const { return held_.empty(); }

  // Holds `record` under `key` (a record already held there is replaced).
  void hold(std::string key, const core::Record& record, core::Timestamp now, std::string reason);
  // The row held under `key` is obsolete (a newer version of it was mapped).
  void drop(const std::string& key);
  // Held records, oldest first, at most `max` (positions and reasons, never field values).
  std::vector<core::Transform::HeldRecord> list(size_t max) const;
  // The next retry() tries every held record, as if `retry` had passed.
  void retryNow() { last_retry_.reset(); }

  // Maps the held records again with `map` when `tables_refreshed` or `retry` has passed since
  // the last try: a record that maps, or fails for good, leaves; one still unattributed (a
  // Retryable error) stays until `max_age`, then becomes a dead letter. Dead letters point at
  // records the quarantine keeps until the next retry().
  using MapFn = std::function<core::Status(const core::Record&)>;
  void retry(core::Timestamp now, bool tables_refreshed, const MapFn& map, std::vector<core::DeadLetter>& dead_letters);

  void takeStateChanges(std::vector<core::StateEntry>& changes);
  // One "q/" entry; Fatal when it cannot be read.
  core::Status restore(const core::StateEntry& entry);

 private:
  struct Held {
    core::Record record;
    core::Timestamp since;
    std::string reason;
  };
  bool expired(const Held& held, core::Timestamp now) const {
    return now.micros - held.since.micros >= policy_.max_age_micros;
  }

  QuarantinePolicy policy_;
  std::string label_;
  std::map<std::string, Held> held_;    // by state key
  std::vector<std::string> changed_;    // state keys changed since the last take
  std::vector<core::Record> released_;  // dead letters of expired holds point here
  std::optional<core::Timestamp> last_retry_;
};

}  // namespace dutybridge::mapping
