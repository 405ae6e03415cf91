// Aggregation scenarios (tests/scenarios/aggregate/*.test): the windowed aggregation engine
// (src/aggregate/aggregator.h) through its public API: rows in, clock steps, revisions out,
// state saved and restored as the pipeline does it.

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <optional>

#include "src/aggregate/aggregator.h"
#include "src/core/decimal.h"
#include "tests/scenarios/scenario.h"

namespace dutybridge::scenarios {
namespace {

using aggregate::Aggregator;
using aggregate::AggregatorOptions;
using aggregate::MeasureInput;
using aggregate::WindowRef;
using core::Timestamp;
using core::Value;

// A literal of a row: null, true/false, a decimal number, else a string.
Value literal(const std::string& text) {
  if (text == "null") return Value();
  if (text == "true") return Value(true);
  if (text == "false") return Value(false);
  if (!text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) || text[0] == '-')) {
    if (auto d = core::Decimal::parse(text)) return Value(*d);
  }
  return Value(text);
}

std::string text(const Value& v) {
  return v.isNull() ? "null" : v.toText();
}

class AggregateDomain final : public Domain {
 public:
  std::vector<std::string> run(const Step& step) override {
    const std::string& directive = step.words.at(0);
    if (directive == "aggregator") return configure(step);
    if (directive == "window") return window(step);
    if (directive == "clock") {
      now_ = clockStep(step.word(1), now_);
      return {};
    }
    if (directive == "apply") return apply(step);
    if (directive == "collect") return collect();
    if (directive == "deadline") {
      auto next = engine().nextDeadline();
      return {next ? core::formatTimestamp(*next) : "none"};
    }
    if (directive == "stats") {
      auto s = engine().stats();
      std::string line =
          fmt::format("windows={} open={} sources={} rows={}", s.windows, s.open_windows, s.sources, s.rows);
      if (options_.rolling_days > 0) line += fmt::format(" before_window={}", s.rows_before_window);
      return {line};
    }
    if (directive == "save") return save();
    if (directive == "restart") return restart();
    throw ScenarioError("unknown directive '" + directive +
                        "' (aggregator, window, clock, apply, collect, deadline, stats, save, restart)");
  }

 private:
  // aggregator, with body lines "measures <name>:<kind>[/<scale>] ...", "grace <d>", "retain <d>",
  // "min_interval <d>": a fresh engine and an empty store.
  std::vector<std::string> configure(const Step& step) {
    options_ = AggregatorOptions{};
    for (const auto& line : step.body) {
      auto words = splitWords(line);
      if (words.empty()) continue;
      if (words[0] == "measures") {
        for (size_t i = 1; i < words.size(); ++i) {
          auto parts = splitWords(words[i], ':');
          if (parts.size() != 2) throw ScenarioError("write a measure as <name>:<kind>[/<scale>]: '" + words[i] + "'");
          auto kind_scale = splitWords(parts[1], '/');
          auto kind = aggregate::parseMeasureKind(kind_scale[0]);
          if (!kind) throw ScenarioError("unknown measure kind '" + kind_scale[0] + "'");
          aggregate::MeasureSpec spec{parts[0], *kind};
          if (kind_scale.size() > 1) spec.scale = static_cast<int>(integer(kind_scale[1]));
          options_.measures.push_back(spec);
        }
      } else if (words.size() == 2 && words[0] == "grace") {
        options_.grace_micros = durationMicros(words[1]);
      } else if (words.size() == 2 && words[0] == "retain") {
        options_.retain_micros = durationMicros(words[1]);
      } else if (words.size() == 2 && words[0] == "min_interval") {
        options_.min_interval_micros = durationMicros(words[1]);
      } else if (words.size() == 3 && words[0] == "rolling") {
        options_.rolling_days = durationMicros(words[1]) / 86'400'000'000;
        options_.time_zone = words[2];
      } else {
        throw ScenarioError("unknown aggregator setting '" + line +
                            "' (measures, grace, retain, min_interval, rolling <days>d <zone>)");
      }
    }
    engine_ = std::make_unique<Aggregator>(options_);
    store_.clear();
    return {};
  }

  Aggregator& engine() {
    if (!engine_) throw ScenarioError("no engine ('aggregator' first)");
    return *engine_;
  }

  // window <name> <group values, comma-separated> <TYPE> <period id> <start> <end>; a SHIFT
  // period id is "<shift date>/<code>", the others start with the first shift date.
  std::vector<std::string> window(const Step& step) {
    WindowRef ref;
    for (const auto& v : splitWords(step.word(2), ',')) ref.group.push_back(literal(v));
    ref.period_type = step.word(3);
    if (ref.period_type == "ROLLING") {
      // window <name> <group values> ROLLING <the row's day>: the group's one rolling window.
      auto day = core::parseDate(step.word(4));
      if (!day) throw ScenarioError("a ROLLING window names the row's day: '" + step.word(4) + "'");
      ref.shift_date = *day;
      windows_[step.word(1)] = ref;
      return {};
    }
    ref.period_id = step.word(4);
    auto slash = ref.period_id.find('/');
    auto date = core::parseDate(ref.period_id.substr(0, std::min(slash, size_t{10})));
    if (!date) throw ScenarioError("the period id does not start with a date: '" + ref.period_id + "'");
    ref.shift_date = *date;
    if (slash != std::string::npos) ref.shift_code = ref.period_id.substr(slash + 1);
    ref.start = timestamp(step.word(5));
    ref.end = timestamp(step.word(6));
    windows_[step.word(1)] = ref;
    return {};
  }

  // apply <source id>[/<part>] v<version>|v- <window name>|- <input>...: one input a measure,
  // "<a>/<b>" for the two inputs of a ratio or weighted average. Prints nothing when applied,
  // "stale" for an older version, the error otherwise.
  std::vector<std::string> apply(const Step& step) {
    auto id = splitWords(step.word(1), '/');
    std::string source = id.at(0), part = id.size() > 1 ? id[1] : "";
    const std::string& v = step.word(2);
    if (!v.starts_with("v")) throw ScenarioError("write the version as v<number> or v- (none): '" + v + "'");
    Value version = v == "v-" ? Value() : Value(integer(v.substr(1)));
    std::optional<WindowRef> ref;
    if (step.word(3) != "-") {
      auto it = windows_.find(step.word(3));
      if (it == windows_.end()) throw ScenarioError("no window '" + step.word(3) + "' ('window' first)");
      ref = it->second;
    }
    std::vector<MeasureInput> inputs;
    for (size_t i = 4; i < step.words.size(); ++i) {
      auto pair = splitWords(step.words[i], '/');
      inputs.push_back({literal(pair[0]), pair.size() > 1 ? literal(pair[1]) : Value()});
    }
    auto outcome = engine().apply(source, part, version, ref, std::move(inputs), now_);
    if (!outcome) return {errorLine(outcome.error())};
    if (*outcome == aggregate::ApplyOutcome::Stale) return {"stale"};
    if (*outcome == aggregate::ApplyOutcome::BeforeWindow) return {"before window"};
    return {};
  }

  // One line a revision, sorted: "<window key> r<revision> open|closed rows=<n> <measure>=<value>...".
  std::vector<std::string> collect() {
    std::vector<aggregate::Revision> revisions;
    engine().collect(now_, revisions);
    std::vector<std::string> out;
    for (const auto& r : revisions) {
      std::string line =
          fmt::format("{} r{} {} rows={}", r.window->key, r.revision, r.closed ? "closed" : "open", r.rows);
      if (options_.rolling_days > 0) {
        line += fmt::format(" days={}..{}", core::formatDate(r.window_first), core::formatDate(r.window_last));
      }
      for (size_t i = 0; i < r.values.size() && i < options_.measures.size(); ++i) {
        line += " " + options_.measures[i].name + "=" + text(r.values[i]);
      }
      out.push_back(std::move(line));
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  // The state changes since the last save, into the store (an empty value deletes).
  std::vector<std::string> save() {
    std::vector<aggregate::StateChange> changes;
    engine().takeStateChanges(changes);
    store_.save(changes);
    return {};
  }

  // A new engine with the same options, restored from the store (what survives a crash).
  std::vector<std::string> restart() {
    engine_ = std::make_unique<Aggregator>(options_);
    auto restored = engine_->restore(store_.entries<aggregate::StateChange>());
    if (!restored) return {errorLine(restored.error())};
    return {};
  }

  AggregatorOptions options_;
  std::unique_ptr<Aggregator> engine_;
  std::map<std::string, WindowRef> windows_;
  SavedState store_;
  Timestamp now_{0};
};

}  // namespace

std::unique_ptr<Domain> makeAggregateDomain() {
  return std::make_unique<AggregateDomain>();
}

}  // namespace dutybridge::scenarios
