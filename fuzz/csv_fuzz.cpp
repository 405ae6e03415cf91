// libFuzzer target for reference tables from CSV files: RFC 4180 reading with located errors
// (CsvTableLoader), column picking, validity ranges and the index (ReferenceTable::build), and
// lookups. docs/fuzzing.md has the build and run commands.
//
// Byte 0 chooses the columns by its parity: even, an undated table (first column key, second
// value); odd, an effective-dated one (the same, with columns valid_from and valid_to, zone
// Asia/Shanghai). The rest is the CSV file. Contracts besides sanitizer reports: a refused file says why, and no
// message cites a cell: any data cell that holds "B000" (a badge number in the seeds) must not
// appear in a problem or error message (unless a header name holds it: messages name columns).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "src/core/time.h"
#include "src/expr/reference_table.h"

namespace {

using dutybridge::expr::ReferenceTable;
using dutybridge::fuzz::contractBroken;

std::vector<std::string> markedCells(const dutybridge::expr::RawTable& raw) {
  std::vector<std::string> cells;
  for (const auto& row : raw.rows) {
    for (const auto& cell : row.cells) {
      if (!cell || cell->find("B000") == std::string::npos) continue;
      // Messages may name columns; a cell that is part of a header name proves nothing.
      bool in_header = false;
      for (const auto& column : raw.columns) in_header = in_header || column.find(*cell) != std::string::npos;
      if (!in_header) cells.push_back(*cell);
    }
  }
  return cells;
}

void requireNoCell(const std::vector<std::string>& cells, std::string_view message) {
  for (const auto& cell : cells) {
    if (message.find(cell) != std::string_view::npos) contractBroken("a table message cites a cell value");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool dated = data[0] % 2 == 1;
  auto file = dutybridge::fuzz::writeFile("table.csv", std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  dutybridge::expr::CsvTableLoader loader(file);
  auto raw = loader.load();
  if (!raw) {
    if (raw.error().message.empty()) contractBroken("a refused CSV file without a message");
    if (raw.error().message.find("B000") != std::string::npos) contractBroken("a CSV error cites a cell value");
    return 0;
  }
  const auto cells = markedCells(*raw);
  dutybridge::expr::TableColumns columns;
  if (dated) columns = {"", "", "valid_from", "valid_to"};
  dutybridge::core::SourceLocation where{file.string(), 1, 1, ""};
  auto rows = ReferenceTable::rowsFrom(std::move(*raw), columns, where);
  if (!rows) {
    if (rows.error().empty()) contractBroken("refused columns without a problem");
    for (const auto& problem : rows.error()) requireNoCell(cells, problem.message + problem.hint);
    return 0;
  }
  std::vector<std::string> keys;
  for (const auto& row : *rows) keys.push_back(row.key);
  auto table = ReferenceTable::build(std::move(*rows), dated, dated ? "Asia/Shanghai" : "UTC");
  if (!table) {
    if (table.error().empty()) contractBroken("a refused table without a problem");
    for (const auto& problem : table.error()) requireNoCell(cells, problem.message + problem.hint);
    return 0;
  }
  const auto day = dutybridge::core::dateFromYmd(2025, 3, 14);
  const int64_t instants[] = {ReferenceTable::kOpenStart, (*table)->dayStart(day), 0, ReferenceTable::kOpenEnd - 1};
  for (const auto& key : keys) {
    (void)(*table)->find(key);
    for (int64_t at : instants) {
      if (const auto* value = (*table)->find(key, at)) (void)value->toText();
    }
  }
  for (int64_t at : instants) (void)(*table)->keysAt(at);
  (void)(*table)->valueType();
  return 0;
}
