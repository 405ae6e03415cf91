#pragma once
// Compiler-style diagnostics for configuration and mapping files: every problem is collected
// (not just the first), located by file:line:column and YAML path, and printed with the source
// line and a caret under the offending text.

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/config_schema.h"

namespace dutybridge::diag {

struct Diagnostic {
  core::SourceLocation location;
  std::string message;
  std::string hint;  // e.g. "did you mean 'batch_rows'?"; may be empty
};

class Diagnostics {
 public:
  void add(core::SourceLocation location, std::string message, std::string hint = {});
  // Registers the text of a file so formatted diagnostics can quote its lines.
  void addSource(const std::string& file, std::string text);
  // Takes over another file's diagnostics and source text (a file loaded by this one), so
  // they print with their own locations instead of nested in one message.
  void merge(Diagnostics other);

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }
  const std::vector<Diagnostic>& items() const { return items_; }

  // All diagnostics, sorted by file and position:
  //   config/x.yaml:12:7: error: unknown key 'batch_row' (at pipelines[0].source.batch_row)
  //      12 |       batch_row: 500
  //         |       ^~~~~~~~~
  //   hint: did you mean 'batch_rows'?
  std::string format() const;

 private:
  std::vector<Diagnostic> items_;
  std::map<std::string, std::vector<std::string>> sources_;
};

// Closest candidate within a small edit distance, or empty.
std::string suggest(std::string_view word, const std::vector<std::string>& candidates);

}  // namespace dutybridge::diag
