#include "tests/scenarios/scenario.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include "src/core/config_schema.h"

namespace dutybridge::scenarios {

const std::string& Step::word(size_t i) const {
  if (i >= words.size()) throw ScenarioError("'" + words.at(0) + "' needs more arguments");
  return words[i];
}

std::vector<std::string> splitWords(const std::string& line, char separator) {
  std::vector<std::string> out;
  std::string current;
  for (char c : line) {
    if (c == separator) {
      if (!current.empty() || separator != ' ') out.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty() || (separator != ' ' && !out.empty())) out.push_back(current);
  return out;
}

int64_t durationMicros(const std::string& text) {
  auto micros = core::parseDuration(text);
  if (!micros) throw ScenarioError("bad duration '" + text + "' (write 250ms, 5s, 2h, 1h30m)");
  return *micros;
}

int64_t integer(const std::string& text) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (...) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw ScenarioError("not a whole number: '" + text + "'");
  return value;
}

core::Timestamp timestamp(const std::string& text) {
  auto ts = core::parseTimestamp(text);
  if (!ts) throw ScenarioError("bad timestamp '" + text + "': " + ts.error().message);
  return *ts;
}

core::Date date(const std::string& text) {
  auto d = core::parseDate(text);
  if (!d) throw ScenarioError("bad date '" + text + "': " + d.error().message);
  return *d;
}

core::Timestamp clockStep(const std::string& when, core::Timestamp now) {
  if (when.starts_with("+")) return core::Timestamp{now.micros + durationMicros(when.substr(1))};
  return timestamp(when);
}

std::string errorLine(const core::Error& error) {
  return "error " + std::string(core::toString(error.kind)) + ": " + error.message;
}

std::vector<Step> parseScenario(const std::string& text, const std::string& file) {
  std::vector<Step> steps;
  std::istringstream in(text);
  std::string line;
  int number = 0;
  enum { Between, Body, Expected } state = Between;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.starts_with("#")) continue;
    bool blank = line.find_first_not_of(" \t") == std::string::npos;
    if (blank) {
      state = Between;
      continue;
    }
    switch (state) {
      case Between: {
        if (line == "----") throw ScenarioError(file + ":" + std::to_string(number) + ": '----' without a directive");
        Step step;
        step.line = number;
        step.text = line;
        step.words = splitWords(line);
        steps.push_back(std::move(step));
        state = Body;
        break;
      }
      case Body:
        if (line == "----") {
          steps.back().has_expected = true;
          state = Expected;
        } else {
          steps.back().body.push_back(line);
        }
        break;
      case Expected:
        steps.back().expected.push_back(line);
        break;
    }
  }
  return steps;
}

bool lineMatches(const std::string& expected, const std::string& actual) {
  if (expected.find('*') == std::string::npos) return expected == actual;
  // Glob with '*' only: iterative matching with backtracking to the last star.
  size_t e = 0, a = 0, star = std::string::npos, mark = 0;
  while (a < actual.size()) {
    if (e < expected.size() && expected[e] == '*') {
      star = e++;
      mark = a;
    } else if (e < expected.size() && expected[e] == actual[a]) {
      ++e;
      ++a;
    } else if (star != std::string::npos) {
      e = star + 1;
      a = ++mark;
    } else {
      return false;
    }
  }
  while (e < expected.size() && expected[e] == '*') ++e;
  return e == expected.size();
}

namespace {

bool matches(const std::vector<std::string>& expected, const std::vector<std::string>& actual) {
  if (expected.size() != actual.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (!lineMatches(expected[i], actual[i])) return false;
  }
  return true;
}

void printLines(std::ostream& out, const char* title, const std::vector<std::string>& lines) {
  out << "  " << title << (lines.empty() ? " (nothing)\n" : ":\n");
  for (const auto& l : lines) out << "    " << l << "\n";
}

}  // namespace

int runScenario(const std::filesystem::path& file, const std::string& display_name, Domain& domain) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::cout << display_name << ": cannot read the file\n";
    return 1;
  }
  std::string text((std::istreambuf_iterator<char>(in)), {});
  std::vector<Step> steps;
  try {
    steps = parseScenario(text, display_name);
  } catch (const ScenarioError& e) {
    std::cout << e.what() << "\n";
    return 1;
  }
  int failed = 0;
  for (const auto& step : steps) {
    std::vector<std::string> actual;
    try {
      actual = domain.run(step);
    } catch (const ScenarioError& e) {
      std::cout << display_name << ":" << step.line << ": " << step.text << "\n  error: " << e.what() << "\n";
      ++failed;
      continue;
    }
    if (!matches(step.expected, actual)) {
      std::cout << display_name << ":" << step.line << ": " << step.text << "\n";
      printLines(std::cout, "expected", step.expected);
      printLines(std::cout, "actual", actual);
      ++failed;
    }
  }
  std::cout << display_name << ": " << steps.size() << " steps, " << failed << " failed\n";
  return failed;
}

}  // namespace dutybridge::scenarios
