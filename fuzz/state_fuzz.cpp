// libFuzzer target for the decoding of stored state entries: what a mapping's transform reads
// back from the state topic at start-up (aggregation windows "w/", row contributions "s/",
// quarantined records "q/", the roster mark "x/through"). A tampered, truncated or old entry
// must give a clear error, never a crash or a transform that breaks later.
// docs/fuzzing.md has the build and run commands.
//
// Byte 0 chooses the mapping by its parity: even mappings/tl_daily_good_output.yaml (SHIFT
// windows, quarantine), odd mappings/parts_count_on_time.yaml (DAY windows, expect roster,
// quarantine). The rest is the stored state, one entry per line: key, a tab, value.
// After a successful restore the transform runs the steps of the mapping's embedded tests
// (records and clock moves, with tick()), and the state it then holds must restore into a new
// transform. Contracts besides sanitizer reports: a refused restore says why; a restored and
// updated state restores again.
//
// DUTYBRIDGE_FUZZ_WRITE_SEEDS=DIR makes the target write the state of each embedded test of both
// mappings into DIR first (how fuzz/corpus/state was made).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "src/core/clock.h"
#include "src/mapping/mapping.h"
#include "src/mapping/mapping_transform.h"

namespace {

using dutybridge::core::StateEntry;
using dutybridge::fuzz::contractBroken;
using dutybridge::mapping::Mapping;
using dutybridge::mapping::MappingTransform;

using State = std::map<std::string, std::string>;

std::shared_ptr<const Mapping> load(const char* name) {
  auto mapping = dutybridge::mapping::loadMapping(dutybridge::fuzz::sourceDir() / "mappings" / name);
  if (!mapping) {
    std::fprintf(stderr, "%s", mapping.error().format().c_str());
    std::abort();
  }
  return std::shared_ptr<const Mapping>(std::move(*mapping));
}

const Mapping& mappingFor(int which) {
  static const std::shared_ptr<const Mapping> mappings[2] = {load("tl_daily_good_output.yaml"),
                                                             load("parts_count_on_time.yaml")};
  return *mappings[which];
}

std::vector<StateEntry> entriesOf(const State& state) {
  std::vector<StateEntry> entries;
  for (const auto& [key, value] : state) entries.push_back({key, value});
  return entries;
}

void take(MappingTransform& transform, State& state) {
  std::vector<StateEntry> changes;
  transform.takeStateChanges(changes);
  for (auto& change : changes) {
    if (change.value.empty()) state.erase(change.key);  // a tombstone: the entry is gone
    else state[change.key] = std::move(change.value);
  }
}

// Every step of every embedded test, in order, on one transform; the state after each test goes
// to `each_test` when given.
void runSteps(const Mapping& mapping, MappingTransform& transform, dutybridge::core::ManualClock& clock, State& state,
              const std::function<void(const State&)>& each_test = {}) {
  std::vector<dutybridge::core::Record> outputs;
  std::vector<dutybridge::core::DeadLetter> dead_letters;
  for (const auto& test : mapping.tests) {
    for (const auto& step : test.steps) {
      if (step.now && *step.now > clock.now()) clock.set(*step.now);
      if (step.input) transform.apply(std::span(&*step.input, 1), outputs, dead_letters);
      transform.tick(outputs, dead_letters);
      take(transform, state);
      for (const auto& output : outputs) {
        for (const auto& value : output.values()) (void)value.toText();
      }
      outputs.clear();
      dead_letters.clear();
    }
    if (each_test) each_test(state);
  }
}

void writeSeeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  for (int which = 0; which < 2; ++which) {
    const Mapping& mapping = mappingFor(which);
    dutybridge::core::ManualClock clock{dutybridge::core::Timestamp{0}};
    MappingTransform transform(std::shared_ptr<const Mapping>(std::shared_ptr<const Mapping>{}, &mapping), clock);
    State state;
    int n = 0;
    auto write = [&](const State& now) {
      std::ofstream out(dir / (mapping.name + "-" + std::to_string(++n)), std::ios::binary);
      out << (which == 0 ? '0' : '1');
      for (const auto& [key, value] : now) out << key << '\t' << value << '\n';
    };
    runSteps(mapping, transform, clock, state, write);
    // And a record whose team or badge nobody knows, alone: a state with a quarantined record.
    for (const auto& test : mapping.tests) {
      if (test.steps.empty() || !test.steps.front().input) continue;
      dutybridge::core::Record unknown = *test.steps.front().input;
      for (size_t i = 0; i < unknown.size(); ++i) {
        if (unknown.name(i) == "team_code" || unknown.name(i) == "clerk_badge") {
          unknown.value(i) = dutybridge::core::Value("UNKNOWN-9");
        }
      }
      unknown.meta.source_position = R"({"id":9})";
      if (test.steps.front().now) clock.set(*test.steps.front().now);
      MappingTransform fresh(std::shared_ptr<const Mapping>(std::shared_ptr<const Mapping>{}, &mapping), clock);
      std::vector<dutybridge::core::Record> outputs;
      std::vector<dutybridge::core::DeadLetter> dead_letters;
      fresh.apply(std::span(&unknown, 1), outputs, dead_letters);
      State held;
      take(fresh, held);
      write(held);
      break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  if (const char* dir = std::getenv("DUTYBRIDGE_FUZZ_WRITE_SEEDS")) writeSeeds(dir);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const int which = data[0] % 2;
  const Mapping& mapping = mappingFor(which);
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  // As the state store hands them over: one value per key (the last), no tombstones.
  State state;
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    size_t tab = line.find('\t');
    if (tab == std::string_view::npos) continue;
    std::string key(line.substr(0, tab));
    if (tab + 1 == line.size()) state.erase(key);
    else state[key] = std::string(line.substr(tab + 1));
  }
  const std::vector<StateEntry> entries = entriesOf(state);

  // The clock starts where the embedded tests start (their first step is in March 2025).
  dutybridge::core::ManualClock clock{dutybridge::core::Timestamp{1'741'910'400'000'000}};  // 2025-03-14T00:00Z
  const std::shared_ptr<const Mapping> shared(std::shared_ptr<const Mapping>{}, &mapping);
  MappingTransform transform(shared, clock);
  auto restored = transform.restore(entries);
  if (!restored) {
    if (restored.error().message.empty()) contractBroken("a refused state without a message");
    return 0;
  }
  runSteps(mapping, transform, clock, state);

  MappingTransform again(shared, clock);
  if (auto second = again.restore(entriesOf(state)); !second) {
    std::fprintf(stderr, "second restore: %s\n", second.error().message.c_str());
    contractBroken("a restored and updated state does not restore again");
  }
  return 0;
}
