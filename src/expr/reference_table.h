#pragma once
// Reference tables for lookup("table", key, at: ts): immutable, optionally effective-dated,
// swappable while evaluations run, and refreshable from pluggable sources.
//
// Contract:
// - ReferenceTable is immutable once built; find() may run concurrently from any thread, does
//   not allocate, and costs one hash probe plus a binary search over the key's validity ranges.
// - TableHandle is what compiled expressions hold. current() and swap() are thread-safe: an
//   evaluation that took current() keeps that version alive until it lets go, so a swap never
//   invalidates a table in use. generation() increases on every swap (quarantined records are
//   retried when it changes).
// - TableLoader implementations (core/table_source.h) are called from one thread at a time (the
//   loading thread at start-up, then the pipeline thread that owns the TableRefresher). Errors:
//   Retryable for unreachable sources, Permanent/InvalidConfig for bad queries or data; the
//   message must not contain row contents (keys are personal data: badges, employee numbers).
// - src/mapping never depends on connectors: connectors register table source factories by
//   name ("odbc", "kafka") in the core::Registry that the daemon passes to loadMapping().
//
// Validity: valid_from is inclusive, valid_to exclusive; an empty cell is open-ended. A bound
// may be a date ("2025-03-15", meaning local midnight in the table's time zone, UTC unless the
// table sets time_zone) or an RFC 3339 timestamp. Ranges of one key must not overlap; for an
// undated table that means every key appears once.

#include <atomic>
#include <chrono>
#include <climits>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "src/core/config_schema.h"
#include "src/core/error.h"
#include "src/core/table_source.h"
#include "src/core/time.h"
#include "src/core/value.h"

namespace dutybridge::expr {

// The rows a source delivers and the loader interface are core's (core/table_source.h: table
// sources are connector factories in core::Registry); these names keep the language's view.
inline constexpr size_t kMaxTableRows = core::kMaxTableRows;
using RawTable = core::RawTable;
using TableColumns = core::TableColumns;
using TableLoader = core::TableLoader;

struct TableProblem {
  core::SourceLocation where;
  std::string message;  // never contains cell contents
  std::string hint;
};

// One row ready for ReferenceTable::build.
struct TableRow {
  std::string key;
  core::Value value;
  std::optional<std::string> valid_from;  // nullopt or "": open
  std::optional<std::string> valid_to;
  core::SourceLocation where;           // for diagnostics
  core::SourceLocation validity_where;  // of the valid_from cell when known, else == where
};

class ReferenceTable {
 public:
  static constexpr int64_t kOpenStart = INT64_MIN;
  static constexpr int64_t kOpenEnd = INT64_MAX;

  // Validates (bounds parse, from < to, no overlapping ranges per key) and indexes the rows.
  // Returns every problem found, each located at its row.
  static std::expected<std::shared_ptr<const ReferenceTable>, std::vector<TableProblem>> build(
      std::vector<TableRow> rows, bool dated, std::string time_zone = "UTC");
  // Picks the columns of a RawTable (unknown column names are problems located at `where`).
  static std::expected<std::vector<TableRow>, std::vector<TableProblem>> rowsFrom(RawTable raw,
                                                                                  const TableColumns& columns,
                                                                                  const core::SourceLocation& where);

  bool dated() const { return dated_; }
  const std::string& timeZone() const { return time_zone_; }
  size_t size() const { return ranges_.size(); }
  // The common type of the non-null values, or nullopt when they differ or there are none.
  std::optional<core::ValueType> valueType() const { return mixed_ ? std::nullopt : common_; }

  // The value valid at `at_micros` (ignored by undated tables), or nullptr.
  const core::Value* find(std::string_view key, int64_t at_micros) const;
  // Undated lookup; on a dated table, the value valid at no particular time is undefined, so
  // this returns nullptr there.
  const core::Value* find(std::string_view key) const;
  // Local midnight of `date` in the table's zone, in microseconds since the epoch.
  int64_t dayStart(core::Date date) const;
  // Every key with a row valid at `at_micros` (all keys of an undated table), sorted: the roster
  // of an aggregate's `expect:`.
  std::vector<std::string> keysAt(int64_t at_micros) const;

 private:
  struct Range {
    int64_t from;
    int64_t to;
    core::Value value;
  };
  struct Span {
    uint32_t begin;
    uint32_t count;
  };
  struct TextHash {
    using is_transparent = void;
    size_t operator()(std::string_view text) const { return std::hash<std::string_view>{}(text); }
  };

  bool dated_ = false;
  bool utc_ = true;
  std::string time_zone_ = "UTC";
  std::optional<core::ValueType> common_;
  bool mixed_ = false;
  std::vector<Range> ranges_;  // grouped by key, each group sorted by `from`
  std::unordered_map<std::string, Span, TextHash, std::equal_to<>> index_;
};

// Parses a validity bound: "" -> open (the given default), a date (local midnight in zone) or
// an RFC 3339 timestamp.
core::Result<int64_t> parseValidityBound(std::string_view text, std::string_view zone, int64_t open);

class TableHandle {
 public:
  TableHandle(std::string name, std::shared_ptr<const ReferenceTable> table)
      : name_(std::move(name)), table_(std::move(table)) {}

  const std::string& name() const { return name_; }
  std::shared_ptr<const ReferenceTable> current() const { return table_.load(std::memory_order_acquire); }
  void swap(std::shared_ptr<const ReferenceTable> table) {
    table_.store(std::move(table), std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
  }
  // 0 for the table loaded at start-up, +1 per successful swap.
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

 private:
  std::string name_;
  std::atomic<std::shared_ptr<const ReferenceTable>> table_;
  std::atomic<uint64_t> generation_{0};
};

// An undated table from key/value pairs (inline `rows:` maps, tests). Duplicate keys are a
// programming error here: the last one wins.
std::shared_ptr<TableHandle> makeStaticTable(std::string name, const std::vector<std::pair<std::string, core::Value>>& rows);

// Reads a CSV file with a header line (RFC 4180 quoting); rows are located file:line:column.
class CsvTableLoader final : public TableLoader {
 public:
  explicit CsvTableLoader(std::filesystem::path file) : file_(std::move(file)) {}
  core::Result<RawTable> load() override;
  std::string describe() const override { return "csv " + file_.string(); }
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
};

// Reloads one table on a schedule. Called from one pipeline thread: maybeRefresh(now) between
// batches. A failed reload keeps the old table and logs (positions and counts only).
class TableRefresher {
 public:
  TableRefresher(std::shared_ptr<TableHandle> handle, std::unique_ptr<TableLoader> loader, TableColumns columns,
                 std::string time_zone, std::chrono::microseconds interval, core::SourceLocation where);

  // Reloads when `interval` has passed since the last attempt (the first call only starts the
  // clock). Returns true when a new table was swapped in.
  bool maybeRefresh(core::Timestamp now);
  // Loads, validates and swaps now; the error says why the old table was kept.
  core::Status refreshNow();

  uint64_t generation() const { return handle_->generation(); }
  const std::shared_ptr<TableHandle>& handle() const { return handle_; }
  std::chrono::microseconds interval() const { return interval_; }

 private:
  std::shared_ptr<TableHandle> handle_;
  std::unique_ptr<TableLoader> loader_;
  TableColumns columns_;
  std::string time_zone_;
  std::chrono::microseconds interval_;
  core::SourceLocation where_;
  std::optional<core::Timestamp> last_attempt_;
};

}  // namespace dutybridge::expr
