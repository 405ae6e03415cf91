#pragma once
// The windowed KPI aggregation engine behind a mapping's `aggregate:` block.
//
// Model. Every source row (identified by a source id, e.g. MES report_no, and optionally a
// part, e.g. the worker of a multi-worker report) contributes measure inputs to exactly one
// window: a group (e.g. employee_no) and a calendar period (SHIFT/DAY/WEEK/MONTH/HOUR with its
// start and end). The engine keeps each row's *contribution*, not only running totals, so a
// row that comes back with a newer version (an edited or declined report) first retracts what
// it added before; a replayed row (same version) replaces itself, so re-reading records after a
// crash never double counts. Totals are maintained incrementally (exact decimals; counts;
// multisets for distinct/min/max), so each record costs a few hash lookups.
//
// Revisions. A changed window emits a revision (rate-limited per window by `min_interval`), and
// a final closed revision once the clock passes end + grace. A record for a closed window
// produces a correction revision (closed stays true, revision + 1). Windows are evicted (and
// their rows' state deleted) once the clock passes end + grace + retain; a record older than
// that is refused with a Permanent error (the caller dead-letters it), never silently dropped.
//
// Rolling windows (options.rolling_days > 0, a mapping's `period: ROLLING`). One window per group,
// with no calendar period in its key; each row counts on its plant day (WindowRef::shift_date).
// On plant day D (the clock's date in options.time_zone) a window covers the days
// [D - rolling_days + 1, D]: when the clock passes a plant midnight that drops rows out of it, their
// contributions are retracted exactly and the window emits a revision; when the last row ages out
// that revision has the empty measures (rows 0: the window has lapsed). Rolling windows never
// close and are never evicted (their rows are), so a window's revisions keep increasing when it
// lapses and revives. A row whose day is before the window's first day counts for nothing (it
// retracts what it contributed before; apply() returns BeforeWindow; a row not held before leaves
// no state). A row that no longer counts keeps its version for `rolling_days` from when it was
// last applied, then is forgotten, so state stays proportional to the rows of the window.
//
// Durability. The engine records which rows and windows changed; the caller persists them
// with takeStateChanges() (keys "s/<source id>" and "w/<window key>", empty value = deleted)
// once the outputs of the same batch are delivered, and restore() rebuilds the engine from
// those entries after a restart. State is proportional to the rows of open (and retained)
// windows.
//
// Threading: one Aggregator belongs to one pipeline thread; no method is thread-safe.
// Errors: apply() returns Permanent errors (overflow, too late); restore() returns Fatal when the
// stored state cannot be parsed.

#include <array>
#include <boost/unordered/unordered_flat_map.hpp>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "src/core/error.h"
#include "src/core/value.h"

namespace dutybridge::aggregate {

enum class MeasureKind { Sum, Count, CountDistinct, Min, Max, RatioOfSums, WeightedAvg };

std::optional<MeasureKind> parseMeasureKind(std::string_view name);  // "sum", "count_distinct", ...
std::string_view measureKindName(MeasureKind kind);
// Number of inputs a measure takes per row: ratio and weighted average take two.
size_t measureArity(MeasureKind kind);

struct MeasureSpec {
  std::string name;
  MeasureKind kind = MeasureKind::Sum;
  int scale = 6;  // result scale of ratio and weighted average (rounded half-even)
};

struct AggregatorOptions {
  std::vector<MeasureSpec> measures;
  int64_t grace_micros = 0;         // after window end, before the closed revision
  int64_t retain_micros = 0;        // after end + grace, before the window is evicted
  int64_t min_interval_micros = 0;  // between two open revisions of one window
  // ROLLING: the number of plant days a window covers (0: calendar periods), and the IANA zone
  // whose midnights start the plant days.
  int64_t rolling_days = 0;
  std::string time_zone = "UTC";
};

// The window a row contributes to, as the caller computed it (calendar and group expressions).
struct WindowRef {
  std::vector<core::Value> group;  // values of the group_by expressions, in order
  std::string period_type;         // SHIFT | DAY | WEEK | MONTH | HOUR
  std::string period_id;  // "2025-03-14/N", "2025-03-14", "2025-W11", "2025-03", "2025-03-14/N/03"; ROLLING: empty
  core::Date shift_date;  // first shift date of the period; ROLLING: the row's plant day
  std::string shift_code;          // SHIFT and HOUR periods only
  core::Timestamp start;           // ROLLING: unused (0)
  core::Timestamp end;
};

// Inputs of one measure for one row: [value] or [numerator, denominator] / [value, weight].
// A null first input means "does not count" (sum, count, distinct, min, max skip it).
using MeasureInput = std::array<core::Value, 2>;

// What one source row adds, as the caller (a mapping's `aggregate:` block) computed it: the row's
// identity and version, and the window and measure inputs it counts in. No window: the row no
// longer counts (filtered out, e.g. declined), so its earlier contribution is retracted.
struct Contribution {
  std::string source_id;
  std::string part;       // one of several contributions of a row (a worker); empty: the whole row
  bool has_part = false;  // the mapping names parts (identity "id|part")
  core::Value version;    // orders the versions of a row; null: unversioned
  std::optional<WindowRef> window;
  std::vector<MeasureInput> inputs;  // per measure

  // "id" or "id|part": how a quarantine or a log names the row.
  std::string identity() const { return has_part ? source_id + "|" + part : source_id; }
};

struct Window;

// One emitted state of a window. It shares ownership of its window, so a revision stays
// readable after collect() evicted the window in the same call (a window can close and pass
// its retention in one step: a restart after a long downtime, `map --until` far ahead).
struct Revision {
  std::shared_ptr<const Window> window;
  int64_t revision = 0;
  bool closed = false;
  std::vector<core::Value> values;  // per measure
  int64_t rows = 0;                 // contributing rows
  // ROLLING: the days the window covers on the revision's plant day.
  core::Date window_first{};
  core::Date window_last{};
};

struct Window : std::enable_shared_from_this<Window> {
  std::string key;
  WindowRef ref;
  int64_t revision = 0;
  bool closed = false;
  std::optional<core::Timestamp> last_emit;
  std::vector<core::Value> emitted;  // values of the last revision (empty: none yet)
  int64_t rows = 0;
  std::string last_position;         // source position of the last row applied (lineage)
  bool changed = false;              // contributions changed since the last revision
  bool dirty = false;                // state entry not yet taken by takeStateChanges()
  struct Accumulator {
    core::Decimal a;  // sum of values / numerators / value * weight
    core::Decimal b;  // sum of denominators / weights
    int64_t n = 0;    // rows counted
    std::map<core::Value, int64_t, bool (*)(const core::Value&, const core::Value&)> multiset{valueLess};
  };
  std::vector<Accumulator> acc;

  // A total order over values for multisets: by type, then by value.
  static bool valueLess(const core::Value& a, const core::Value& b);
};

// BeforeWindow: a ROLLING row whose day is before the window's first day; it counts for nothing.
enum class ApplyOutcome { Applied, Stale, BeforeWindow };

struct StateChange {
  std::string key;    // "s/<source id>" or "w/<window key>"
  std::string value;  // empty: deleted
};

struct AggregatorStats {
  size_t windows = 0;
  size_t open_windows = 0;
  size_t sources = 0;
  size_t rows = 0;
  size_t approx_bytes = 0;  // estimate of heap memory held by the state
  // Counted by collect() since this engine was made (not stored: a restart counts from 0).
  uint64_t revisions_emitted = 0;
  uint64_t corrections_after_close = 0;  // revisions of windows already closed
  uint64_t rows_before_window = 0;       // ROLLING rows too old to count
};

class Aggregator {
 public:
  explicit Aggregator(AggregatorOptions options);
  ~Aggregator();
  Aggregator(const Aggregator&) = delete;
  Aggregator& operator=(const Aggregator&) = delete;

  const AggregatorOptions& options() const { return options_; }

  // Records the contribution of one row. `version` orders the versions of a source row (null:
  // unversioned, every row replaces its own part). A newer version retracts every part of the
  // row first; an older one is ignored (Stale). `contribution` nullopt means the row no longer
  // counts (filtered out, e.g. declined): its earlier contribution is retracted.
  // `position` is the row's source position, kept per window for lineage.
  core::Result<ApplyOutcome> apply(std::string_view source_id, std::string_view part, const core::Value& version,
                                   const std::optional<WindowRef>& window, std::vector<MeasureInput> inputs,
                                   core::Timestamp now, std::string_view position = {});
  core::Result<ApplyOutcome> apply(Contribution contribution, core::Timestamp now, std::string_view position = {}) {
    return apply(contribution.source_id, contribution.part, contribution.version, contribution.window,
                 std::move(contribution.inputs), now, position);
  }

  // A window that must exist even without rows (a duty that is due whether or not anything was
  // reported): it emits its closed revision with empty measures when nothing arrives. No-op
  // when the window exists or is already past its retention. Returns true when created.
  bool expect(const WindowRef& window, core::Timestamp now);

  // Revisions due at `now`: changed windows whose rate limit allows, windows whose end + grace
  // passed (the closed revision), and corrections of closed windows. Also evicts windows past
  // their retention.
  void collect(core::Timestamp now, std::vector<Revision>& out);

  // The earliest instant at which collect() has something time-driven to do, if any.
  std::optional<core::Timestamp> nextDeadline() const;

  // State entries changed since the last call (see the header comment).
  void takeStateChanges(std::vector<StateChange>& out);

  // Rebuilds the engine from stored entries (keys without any caller prefix).
  core::Status restore(const std::vector<StateChange>& entries);

  // Whether a stored window entry (the value under "w/<key>") is closed; nullopt when it cannot
  // be read. For status output, without restoring the engine.
  static std::optional<bool> storedWindowClosed(std::string_view value);

  // Walks every window and row (for the once-a-second gauges); the two counters alone are cheap.
  AggregatorStats stats() const;
  uint64_t revisionsEmitted() const { return revisions_emitted_; }
  uint64_t correctionsAfterClose() const { return corrections_after_close_; }
  uint64_t rowsBeforeWindow() const { return rows_before_window_; }

  // Current measure values of a window (by windowKey()), whether emitted or not.
  std::optional<std::vector<core::Value>> valuesOf(const std::string& window_key) const;
  std::vector<std::string> windowKeys() const;

 private:
  struct Part {
    std::string part;
    Window* window = nullptr;
    std::vector<MeasureInput> inputs;
    int32_t day = 0;  // ROLLING: the plant day the row counts on (days since 1970-01-01)
  };
  struct Source {
    core::Value version;
    std::vector<Part> parts;
    bool dirty = false;  // listed in dirty_sources_
    // ROLLING, a row without parts (declined, filtered): the plant day it was last applied. Its
    // version is remembered (an older one stays stale) until that day leaves the window.
    int32_t seen_day = 0;
  };
  void markSource(const std::string& key, Source* source);
  void markWindow(Window& window);

  Window& windowFor(const WindowRef& ref);
  core::Status add(Window& window, const std::vector<MeasureInput>& inputs, int sign);
  std::vector<core::Value> values(const Window& window) const;
  void evict(core::Timestamp now);
  std::string encodeSource(const Source& source) const;
  std::string encodeWindow(const Window& window) const;
  bool rolling() const { return options_.rolling_days > 0; }
  // ROLLING: the plant day of `now` (cached for the day), the instant its midnight starts, the
  // window's first day on the day of `now`, and the age-out of rows before it.
  core::Date plantDay(core::Timestamp now);
  core::Timestamp plantMidnight(core::Date day) const;
  core::Date windowFirst(core::Timestamp now) {
    return core::Date{static_cast<int32_t>(plantDay(now).days - options_.rolling_days + 1)};
  }
  void notePart(const Part& part, int sign);
  void ageOut(core::Timestamp now);

  uint64_t revisions_emitted_ = 0;
  uint64_t corrections_after_close_ = 0;
  uint64_t rows_before_window_ = 0;
  AggregatorOptions options_;
  // ROLLING: live parts per plant day (the earliest gives the next age-out), and the instants
  // [day_from_, day_to_) of the cached plant day day_.
  std::map<int32_t, int64_t> parts_by_day_;
  core::Date day_{};
  core::Timestamp day_from_{0};
  core::Timestamp day_to_{0};
  int32_t swept_first_ = std::numeric_limits<int32_t>::min();  // the window's first day at the last sweep
  // Open-addressing maps (Boost 1.81): a million rows fit in a few cache-friendly arrays.
  // Windows live behind shared_ptr, so their addresses (held by parts and changed_) are stable
  // and a Revision can keep an evicted window alive; Source values move on rehash, so nothing
  // keeps a pointer to one.
  boost::unordered_flat_map<std::string, std::shared_ptr<Window>> windows_;
  boost::unordered_flat_map<std::string, Source> sources_;
  std::unordered_set<Window*> changed_;
  // (end + grace, window key) and (end + grace + retain, window key): ordered by key at equal
  // times, so revisions come out in the same order whatever order the windows were created in.
  std::set<std::pair<core::Timestamp, std::string>> closing_;
  std::set<std::pair<core::Timestamp, std::string>> evicting_;
  // Keys whose state entry changed (a flag on the entry keeps them unique while it lives; a
  // deleted entry may be listed twice, which only repeats its tombstone).
  std::vector<std::string> dirty_sources_;
  std::vector<std::string> dirty_windows_;
  std::string key_buffer_;
};

// "group values|period type|period id" ('|' and '\\' in values escaped with '\\'; null as
// \N): the stable identity of a window.
std::string windowKey(const WindowRef& ref);

}  // namespace dutybridge::aggregate
