#include "src/diagnostics/diagnostics.h"

#include <fmt/format.h>

#include <algorithm>
#include <sstream>

#include "src/common/redact.h"

namespace dutybridge::diag {
namespace {

size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + cost});
      diagonal = above;
    }
  }
  return row[b.size()];
}

// Length of the token starting at column (1-based) on the line: the word under the caret.
size_t tokenLength(const std::string& line, int column) {
  size_t start = static_cast<size_t>(std::max(column - 1, 0));
  if (start >= line.size()) return 1;
  if (line[start] == '"' || line[start] == '\'') {
    size_t close = line.find(line[start], start + 1);
    return close == std::string::npos ? line.size() - start : close - start + 1;
  }
  size_t end = start;
  while (end < line.size() && line[end] != ':' && line[end] != ' ' && line[end] != ',' && line[end] != '#') ++end;
  return std::max<size_t>(end - start, 1);
}

}  // namespace

void Diagnostics::add(core::SourceLocation location, std::string message, std::string hint) {
  items_.push_back({std::move(location), std::move(message), std::move(hint)});
}

void Diagnostics::addSource(const std::string& file, std::string text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) lines.push_back(line);
  sources_[file] = std::move(lines);
}

void Diagnostics::merge(Diagnostics other) {
  for (auto& item : other.items_) items_.push_back(std::move(item));
  for (auto& [file, lines] : other.sources_) sources_.try_emplace(file, std::move(lines));
}

std::string Diagnostics::format() const {
  std::vector<Diagnostic> sorted = items_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.location.file, a.location.line, a.location.column) <
           std::tie(b.location.file, b.location.line, b.location.column);
  });
  std::string out;
  for (const auto& d : sorted) {
    const auto& loc = d.location;
    out += fmt::format("{}:{}:{}: error: {}", loc.file, loc.line, loc.column, d.message);
    if (!loc.path.empty()) out += fmt::format(" (at {})", loc.path);
    out += '\n';
    auto source = sources_.find(loc.file);
    if (source != sources_.end() && loc.line >= 1 && static_cast<size_t>(loc.line) <= source->second.size()) {
      // A password written literally into the file is not printed back (the caret still points
      // at the right column when the mask is shorter: masking happens after the key).
      const std::string line = redact::maskPasswordAssignments(source->second[static_cast<size_t>(loc.line - 1)]);
      std::string number = std::to_string(loc.line);
      out += fmt::format(" {} | {}\n", number, line);
      out += fmt::format(" {} | {}^{}\n", std::string(number.size(), ' '),
                         std::string(static_cast<size_t>(std::max(loc.column - 1, 0)), ' '),
                         std::string(tokenLength(line, loc.column) - 1, '~'));
    }
    if (!d.hint.empty()) out += fmt::format("  hint: {}\n", d.hint);
  }
  out += fmt::format("{} error{} found\n", sorted.size(), sorted.size() == 1 ? "" : "s");
  return redact::maskSecrets(out);
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    size_t distance = editDistance(word, candidate);
    if (distance < best_distance) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

}  // namespace dutybridge::diag
