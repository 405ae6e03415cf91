#include "src/expr/reference_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <numeric>

#include "src/common/file_read.h"
#include "src/common/log.h"

namespace dutybridge::expr {
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;

std::string locationText(const core::SourceLocation& where) {
  return fmt::format("{}:{}:{}", where.file, where.line, where.column);
}

}  // namespace

core::Result<int64_t> parseValidityBound(std::string_view text, std::string_view zone, int64_t open) {
  if (text.empty()) return open;
  if (text.size() == 10) {
    auto date = core::parseDate(text);
    if (!date) return core::fail(date.error());
    int64_t local = int64_t{date->days} * kMicrosPerDay;
    if (zone == "UTC") return local;
    auto instant = core::localToUtc(local, zone);
    if (!instant) return core::fail(instant.error());
    return instant->micros;
  }
  auto ts = core::parseTimestamp(text);
  if (!ts) return core::fail(ts.error());
  return ts->micros;
}

std::expected<std::vector<TableRow>, std::vector<TableProblem>> ReferenceTable::rowsFrom(
    RawTable raw, const TableColumns& columns, const core::SourceLocation& where) {
  std::vector<TableProblem> problems;
  auto column = [&](const std::string& name, std::optional<size_t> fallback, std::string_view role) -> std::optional<size_t> {
    if (name.empty()) {
      if (fallback && *fallback < raw.columns.size()) return fallback;
      problems.push_back({where, fmt::format("the table needs a {} column", role), "every row needs a key and a value"});
      return std::nullopt;
    }
    auto it = std::find(raw.columns.begin(), raw.columns.end(), name);
    if (it == raw.columns.end()) {
      problems.push_back({where, fmt::format("no column '{}' ({}) in the table source", name, role),
                          raw.columns.empty() ? std::string()
                                              : fmt::format("columns: {}", fmt::join(raw.columns, ", "))});
      return std::nullopt;
    }
    return static_cast<size_t>(it - raw.columns.begin());
  };
  auto key = column(columns.key, 0, "key");
  auto value = column(columns.value, 1, "value");
  std::optional<size_t> from, to;
  if (!columns.valid_from.empty()) from = column(columns.valid_from, std::nullopt, "valid_from");
  if (!columns.valid_to.empty()) to = column(columns.valid_to, std::nullopt, "valid_to");
  if (!problems.empty()) return std::unexpected(std::move(problems));
  if (raw.rows.size() > kMaxTableRows) {
    problems.push_back({where, "the table has more than 1,000,000 rows", ""});
    return std::unexpected(std::move(problems));
  }

  std::vector<TableRow> rows;
  rows.reserve(raw.rows.size());
  for (auto& r : raw.rows) {
    auto cell_where = [&](size_t index) {
      core::SourceLocation at = r.where;
      if (index < r.cell_columns.size()) at.column = r.cell_columns[index];
      return at;
    };
    if (*key >= r.cells.size() || !r.cells[*key] || r.cells[*key]->empty()) {
      problems.push_back({r.where, "the row has no key", ""});
      continue;
    }
    TableRow row;
    row.key = std::move(*r.cells[*key]);
    if (*value < r.cells.size() && r.cells[*value]) row.value = core::Value(std::move(*r.cells[*value]));
    if (from && *from < r.cells.size()) row.valid_from = r.cells[*from];
    if (to && *to < r.cells.size()) row.valid_to = r.cells[*to];
    row.where = cell_where(*key);
    row.validity_where = from ? cell_where(*from) : to ? cell_where(*to) : row.where;
    rows.push_back(std::move(row));
  }
  if (!problems.empty()) return std::unexpected(std::move(problems));
  return rows;
}

std::expected<std::shared_ptr<const ReferenceTable>, std::vector<TableProblem>> ReferenceTable::build(
    std::vector<TableRow> rows, bool dated, std::string time_zone) {
  std::vector<TableProblem> problems;
  auto table = std::make_shared<ReferenceTable>();
  table->dated_ = dated;
  table->time_zone_ = time_zone;
  table->utc_ = time_zone == "UTC";
  if (!table->utc_ && !core::isKnownTimeZone(time_zone)) {
    problems.push_back({rows.empty() ? core::SourceLocation{} : rows.front().where,
                        fmt::format("unknown time zone '{}'", time_zone), "use an IANA name such as Asia/Shanghai"});
    return std::unexpected(std::move(problems));
  }

  struct Pending {
    int64_t from;
    int64_t to;
    size_t row;
  };
  std::vector<Pending> pending;
  pending.reserve(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    const TableRow& row = rows[i];
    int64_t from = kOpenStart, to = kOpenEnd;
    if (dated) {
      auto f = parseValidityBound(row.valid_from.value_or(""), time_zone, kOpenStart);
      auto t = parseValidityBound(row.valid_to.value_or(""), time_zone, kOpenEnd);
      if (!f || !t) {
        problems.push_back({row.validity_where, "a validity bound is neither a date nor an RFC 3339 timestamp",
                            "write 2025-03-15 or 2025-03-15T06:00:00+08:00; leave it empty for open-ended"});
        continue;
      }
      if (*f >= *t) {
        problems.push_back({row.validity_where, "valid_from is not before valid_to",
                            "valid_from is inclusive and valid_to exclusive, so the range would be empty"});
        continue;
      }
      from = *f;
      to = *t;
    }
    pending.push_back({from, to, i});
  }

  // Group by key (stable: file order within a key for messages), then by start of validity.
  std::stable_sort(pending.begin(), pending.end(), [&](const Pending& a, const Pending& b) {
    int c = rows[a.row].key.compare(rows[b.row].key);
    return c != 0 ? c < 0 : a.from < b.from;
  });
  table->ranges_.reserve(pending.size());
  for (size_t i = 0; i < pending.size();) {
    size_t j = i;
    const std::string& key = rows[pending[i].row].key;
    while (j < pending.size() && rows[pending[j].row].key == key) ++j;
    for (size_t k = i + 1; k < j; ++k) {
      if (pending[k].from < pending[k - 1].to) {
        // Report at the later row of the file, citing the earlier one.
        size_t a = std::min(pending[k].row, pending[k - 1].row), b = std::max(pending[k].row, pending[k - 1].row);
        const TableRow& later = rows[b];
        problems.push_back({dated ? later.validity_where : later.where,
                            dated ? fmt::format("validity overlaps the row at {} for the same key",
                                                locationText(rows[a].where))
                                  : fmt::format("duplicate key (first at {})", locationText(rows[a].where)),
                            dated ? "a key may have one value at a time: end the earlier range (valid_to is "
                                    "exclusive) where the next one starts"
                                  : "keep one row per key, or add valid_from/valid_to columns"});
      }
    }
    table->index_.emplace(key, Span{static_cast<uint32_t>(table->ranges_.size()), static_cast<uint32_t>(j - i)});
    for (size_t k = i; k < j; ++k) {
      TableRow& row = rows[pending[k].row];
      if (!row.value.isNull()) {
        if (!table->common_) table->common_ = row.value.type();
        else if (*table->common_ != row.value.type()) table->mixed_ = true;
      }
      table->ranges_.push_back({pending[k].from, pending[k].to, std::move(row.value)});
    }
    i = j;
  }
  if (!problems.empty()) return std::unexpected(std::move(problems));
  return std::shared_ptr<const ReferenceTable>(std::move(table));
}

const core::Value* ReferenceTable::find(std::string_view key, int64_t at_micros) const {
  auto hit = index_.find(key);
  if (hit == index_.end()) return nullptr;
  const Range* first = ranges_.data() + hit->second.begin;
  const Range* last = first + hit->second.count;
  // The last range starting at or before `at`; ranges do not overlap, so it is the only
  // candidate.
  const Range* after = std::upper_bound(first, last, at_micros, [](int64_t at, const Range& r) { return at < r.from; });
  if (after == first) return nullptr;
  const Range& r = *(after - 1);
  return at_micros < r.to ? &r.value : nullptr;
}

const core::Value* ReferenceTable::find(std::string_view key) const {
  if (dated_) return nullptr;
  auto hit = index_.find(key);
  if (hit == index_.end()) return nullptr;
  return &ranges_[hit->second.begin].value;
}

std::vector<std::string> ReferenceTable::keysAt(int64_t at_micros) const {
  std::vector<std::string> keys;
  for (const auto& [key, span] : index_) {
    if (!dated_ || find(key, at_micros)) keys.push_back(key);
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

int64_t ReferenceTable::dayStart(core::Date date) const {
  int64_t local = int64_t{date.days} * kMicrosPerDay;
  if (utc_) return local;
  auto instant = core::localToUtc(local, time_zone_);
  return instant ? instant->micros : local;
}

std::shared_ptr<TableHandle> makeStaticTable(std::string name, const std::vector<std::pair<std::string, core::Value>>& rows) {
  std::map<std::string, core::Value, std::less<>> unique;
  for (const auto& [key, value] : rows) unique.insert_or_assign(key, value);
  std::vector<TableRow> table_rows;
  for (auto& [key, value] : unique) {
    TableRow row;
    row.key = key;
    row.value = std::move(value);
    table_rows.push_back(std::move(row));
  }
  auto table = ReferenceTable::build(std::move(table_rows), false);
  return std::make_shared<TableHandle>(std::move(name), table ? std::move(*table) : nullptr);
}

namespace {

// Length of the UTF-8 sequence starting at text[i], or 0 when it is not well formed (overlong
// forms, surrogates and code points past U+10FFFF included).
size_t utf8SequenceLength(std::string_view text, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char b0 = byte(i);
  if (b0 < 0x80) return 1;
  size_t len = b0 >= 0xC2 && b0 <= 0xDF ? 2 : b0 >= 0xE0 && b0 <= 0xEF ? 3 : b0 >= 0xF0 && b0 <= 0xF4 ? 4 : 0;
  if (len == 0 || i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
  }
  unsigned char b1 = byte(i + 1);
  if ((b0 == 0xE0 && b1 < 0xA0) || (b0 == 0xED && b1 > 0x9F) || (b0 == 0xF0 && b1 < 0x90) || (b0 == 0xF4 && b1 > 0x8F)) {
    return 0;
  }
  return len;
}

// RFC 4180: fields separated by commas, records by CRLF or LF; a field in double quotes may hold
// commas, line breaks and doubled quotes. The first record is the header. Errors cite
// file:line:column and never the content (reference rows hold badge and employee numbers).
core::Result<RawTable> parseCsv(std::string_view text, const std::string& file_name) {
  constexpr std::string_view kBom = "\xEF\xBB\xBF";
  size_t i = text.starts_with(kBom) ? kBom.size() : 0;
  int line = 1;
  size_t line_start = 0;
  auto column = [&](size_t at) { return static_cast<int>(at - line_start) + 1; };
  auto fail = [&](int at_line, int at_column, std::string message, std::string_view hint) -> core::Result<RawTable> {
    return core::fail(core::ErrorKind::InvalidConfig,
                      fmt::format("{}:{}:{}: {}{}{}", file_name, at_line, at_column, message, hint.empty() ? "" : "; ", hint));
  };
  for (size_t k = i; k < text.size();) {
    if (text[k] == '\n') {
      ++line;
      line_start = k + 1;
    }
    size_t len = utf8SequenceLength(text, k);
    if (len == 0) {
      return fail(line, column(k), fmt::format("invalid UTF-8 (byte 0x{:02x})", static_cast<unsigned char>(text[k])),
                  "");
    }
    k += len;
  }
  line = 1;
  line_start = 0;

  RawTable table;
  bool header = true;
  while (i < text.size()) {
    // A blank line between records is skipped.
    if (text[i] == '\n' || (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
      i += text[i] == '\r' ? 2 : 1;
      ++line;
      line_start = i;
      continue;
    }
    RawTable::Row row;
    row.where = core::SourceLocation{file_name, line, 1, ""};
    bool end_of_record = false;
    while (!end_of_record) {
      row.cell_columns.push_back(column(i));
      std::string cell;
      if (i < text.size() && text[i] == '"') {
        int open_line = line, open_column = column(i);
        ++i;
        while (true) {
          if (i >= text.size()) {
            return fail(open_line, open_column, "unbalanced quote: the quoted field opened here never closes", "");
          }
          char c = text[i];
          if (c == '"') {
            if (i + 1 < text.size() && text[i + 1] == '"') {
              cell += '"';
              i += 2;
              continue;
            }
            ++i;
            break;
          }
          if (c == '\n') {
            ++line;
            line_start = i + 1;
          }
          cell += c;
          ++i;
        }
        if (i < text.size() && text[i] != ',' && text[i] != '\n' && !(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
          return fail(line, column(i), "text after the closing quote of a field", "a quote inside a quoted field is written twice: \"\"");
        }
      } else {
        while (i < text.size() && text[i] != ',' && text[i] != '\n' && !(text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n')) {
          if (text[i] == '"') {
            return fail(line, column(i), "a quote inside an unquoted field",
                        "quote the whole field and double the quote: \"a \"\"b\"\" c\"");
          }
          cell += text[i];
          ++i;
        }
      }
      row.cells.emplace_back(std::move(cell));
      if (i >= text.size()) {
        end_of_record = true;
      } else if (text[i] == ',') {
        ++i;
      } else {
        i += text[i] == '\r' ? 2 : 1;
        ++line;
        line_start = i;
        end_of_record = true;
      }
    }
    if (header) {
      header = false;
      for (auto& name : row.cells) table.columns.push_back(name.value_or(""));
      continue;
    }
    if (row.cells.size() != table.columns.size()) {
      return fail(row.where.line, 1,
                  fmt::format("the row has {} field(s), the header has {}", row.cells.size(), table.columns.size()),
                  "");
    }
    table.rows.push_back(std::move(row));
    if (table.rows.size() > kMaxTableRows) {
      return core::fail(core::ErrorKind::InvalidConfig, file_name + ": more than 1,000,000 rows");
    }
  }
  return table;
}

}  // namespace

core::Result<RawTable> CsvTableLoader::load() {
  auto text = files::readRegularFile(file_, files::kMaxTableBytes, "the reference table " + file_.string());
  if (!text) return core::fail(text.error());
  return parseCsv(*text, file_.string());
}

TableRefresher::TableRefresher(std::shared_ptr<TableHandle> handle, std::unique_ptr<TableLoader> loader,
                               TableColumns columns, std::string time_zone, std::chrono::microseconds interval,
                               core::SourceLocation where)
    : handle_(std::move(handle)),
      loader_(std::move(loader)),
      columns_(std::move(columns)),
      time_zone_(std::move(time_zone)),
      interval_(interval),
      where_(std::move(where)) {}

bool TableRefresher::maybeRefresh(core::Timestamp now) {
  if (!last_attempt_) {
    last_attempt_ = now;
    return false;
  }
  if (now.micros - last_attempt_->micros < interval_.count()) return false;
  last_attempt_ = now;
  auto status = refreshNow();
  if (!status) {
    log::warning("tables", "table '{}' ({}): refresh failed, keeping generation {}: {}", handle_->name(),
                 locationText(where_), handle_->generation(), status.error().message);
    return false;
  }
  return true;
}

core::Status TableRefresher::refreshNow() {
  auto raw = loader_->load();
  if (!raw) return core::fail(raw.error());
  auto rows = ReferenceTable::rowsFrom(std::move(*raw), columns_, where_);
  auto summarize = [](const std::vector<TableProblem>& problems) {
    const TableProblem& first = problems.front();
    return core::Error::permanent(fmt::format("{} problem(s), first at {}: {}", problems.size(),
                                              locationText(first.where), first.message));
  };
  if (!rows) return core::fail(summarize(rows.error()));
  auto table = ReferenceTable::build(std::move(*rows), columns_.dated(), time_zone_);
  if (!table) return core::fail(summarize(table.error()));
  handle_->swap(std::move(*table));
  return {};
}

}  // namespace dutybridge::expr
