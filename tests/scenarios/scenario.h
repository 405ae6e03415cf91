#pragma once
// The scenario-file runner (tests/scenarios/README.md): a case is a file of steps, each a
// directive line, optional body lines (YAML, settings) and, after a "----" line, the lines the
// step must print. A domain (calendar, aggregate, pipeline) turns one step into the lines it
// prints; the runner compares them with the expected ones and reports file:line on a mismatch.

#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "src/core/error.h"
#include "src/core/time.h"

namespace dutybridge::scenarios {

struct Step {
  int line = 0;                    // of the directive, 1-based
  std::string text;                // the directive line as written
  std::vector<std::string> words;  // the directive line split at spaces
  std::vector<std::string> body;   // lines between the directive and "----" (or the blank line)
  bool has_expected = false;       // a "----" line was written
  std::vector<std::string> expected;

  // The i-th word; a ScenarioError naming the directive when it is missing.
  const std::string& word(size_t i) const;
};

// A step that cannot run as written (unknown directive, bad argument): reported at its line.
struct ScenarioError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One kind of case. run() returns what the step prints: nothing for a statement that worked,
// an error line ("error <kind>: <message>") for one that did not, the answer of a query.
class Domain {
 public:
  virtual ~Domain() = default;
  virtual std::vector<std::string> run(const Step& step) = 0;
};

// Splits a scenario file into steps; throws ScenarioError("<file>:<line>: ...") when malformed.
std::vector<Step> parseScenario(const std::string& text, const std::string& file);

// An expected line matches an actual one when equal, or when it contains '*' and the actual
// line fits it ('*' stands for any text).
bool lineMatches(const std::string& expected, const std::string& actual);

// Runs every step of the file through the domain; prints each mismatch as
// "<file>:<line>: <directive>" with the expected and actual lines. Returns the number of failed steps.
int runScenario(const std::filesystem::path& file, const std::string& display_name, Domain& domain);

std::unique_ptr<Domain> makeCalendarDomain(const std::filesystem::path& source_dir);
std::unique_ptr<Domain> makeAggregateDomain();
std::unique_ptr<Domain> makeAggregateMappingDomain(const std::filesystem::path& source_dir);
std::unique_ptr<Domain> makePipelineDomain();

// Helpers for domains.
std::vector<std::string> splitWords(const std::string& line, char separator = ' ');
// "12", "2h", "90s", "250ms", "1h30m" as microseconds; ScenarioError when malformed.
int64_t durationMicros(const std::string& text);
// A whole number; ScenarioError when malformed.
int64_t integer(const std::string& text);
// "2025-03-14T19:00:00Z", "2025-03-14"; ScenarioError when malformed.
core::Timestamp timestamp(const std::string& text);
core::Date date(const std::string& text);
// The clock after `clock <when>`: an instant, or "+<duration>" past `now`.
core::Timestamp clockStep(const std::string& when, core::Timestamp now);
// What a step prints for an error: "error <kind>: <message>".
std::string errorLine(const core::Error& error);

// The state a restart restores from, kept as the pipeline keeps it: changes (key, value) are
// saved once their outputs count as delivered, an empty value deletes the key.
class SavedState {
 public:
  template <typename Change>
  void save(const std::vector<Change>& changes) {
    for (const auto& c : changes) {
      if (c.value.empty()) {
        entries_.erase(c.key);
      } else {
        entries_[c.key] = c.value;
      }
    }
  }
  template <typename Entry>
  std::vector<Entry> entries() const {
    std::vector<Entry> out;
    for (const auto& [k, v] : entries_) out.push_back({k, v});
    return out;
  }
  const std::map<std::string, std::string>& all() const { return entries_; }
  void clear() { entries_.clear(); }

 private:
  std::map<std::string, std::string> entries_;
};

}  // namespace dutybridge::scenarios
