// Aggregate-mapping scenarios (tests/scenarios/aggregate_mapping/*.test): a real mapping file with
// an `aggregate:` block, driven as the pipeline drives it, through the core::Transform interface
// of MappingTransform with a ManualClock: rows in (apply, then tick), clock steps, the facts out,
// state saved and restored into a new transform (a restart).

#include <fmt/format.h>

#include <map>

#include "src/codec/json_value.h"
#include "src/core/clock.h"
#include "src/mapping/mapping.h"
#include "src/mapping/mapping_transform.h"
#include "tests/scenarios/scenario.h"

namespace dutybridge::scenarios {
namespace {

// A field of an output record by dotted path ("period.closed"); "key" is the message key.
std::string fieldText(const core::Record& record, const std::string& path) {
  if (path == "key") return record.meta.key.value_or("(none)");
  auto dot = path.find('.');
  const core::Value* v = record.find(path.substr(0, dot));
  while (v && dot != std::string::npos) {
    auto next = path.find('.', dot + 1);
    if (v->type() != core::ValueType::Map) return "(none)";
    v = v->find(path.substr(dot + 1, next == std::string::npos ? std::string::npos : next - dot - 1));
    dot = next;
  }
  if (!v) return "(none)";
  return v->isNull() ? "null" : v->toText();
}

class AggregateMappingDomain final : public Domain {
 public:
  explicit AggregateMappingDomain(std::filesystem::path source_dir) : source_dir_(std::move(source_dir)) {}

  std::vector<std::string> run(const Step& step) override {
    const std::string& directive = step.words.at(0);
    if (directive == "mapping") return load(step);
    if (directive == "fields") {
      fields_.assign(step.words.begin() + 1, step.words.end());
      return {};
    }
    if (directive == "clock") {
      clock_.set(clockStep(step.word(1), clock_.now()));
      return {};
    }
    if (directive == "row") return row(step);
    if (directive == "tick") {
      std::vector<core::Record> outputs;
      std::vector<core::DeadLetter> dead_letters;
      transform().tick(outputs, dead_letters);
      return print(outputs, dead_letters);
    }
    if (directive == "save") {
      std::vector<core::StateEntry> changes;
      transform().takeStateChanges(changes);
      store_.save(changes);
      return {};
    }
    if (directive == "restart") {
      transform_ = std::make_unique<mapping::MappingTransform>(mapping_, clock_);
      auto restored = transform_->restore(store_.entries<core::StateEntry>());
      if (!restored) return {errorLine(restored.error())};
      return {};
    }
    if (directive == "stored") {
      // How many state entries the store holds, by kind ("w/" windows, "s/" rows, ...).
      std::map<std::string, int> kinds;
      for (const auto& [k, v] : store_.all()) ++kinds[k.substr(0, k.find('/') + 1)];
      std::string line;
      for (const auto& [kind, n] : kinds) line += (line.empty() ? "" : " ") + kind + "=" + std::to_string(n);
      return {line.empty() ? "(none)" : line};
    }
    throw ScenarioError("unknown directive '" + directive +
                        "' (mapping, fields, clock, row, tick, save, restart, stored)");
  }

 private:
  // mapping file <path from the repository root>
  std::vector<std::string> load(const Step& step) {
    if (step.word(1) != "file") throw ScenarioError("write 'mapping file <path from the repository root>'");
    auto loaded = mapping::loadMapping(source_dir_ / step.word(2));
    if (!loaded) {
      std::vector<std::string> out;
      for (const auto& d : loaded.error().items()) out.push_back("error " + d.message);
      return out;
    }
    mapping_ = std::shared_ptr<const mapping::Mapping>(std::move(*loaded));
    transform_ = std::make_unique<mapping::MappingTransform>(mapping_, clock_);
    store_.clear();
    return {};
  }

  core::Transform& transform() {
    if (!transform_) throw ScenarioError("no mapping ('mapping file <path>' first)");
    return *transform_;
  }

  // row <JSON object>: one source record, applied as a batch of one, then tick (as the pipeline
  // does after every batch).
  std::vector<std::string> row(const Step& step) {
    std::string json =
        step.text.substr(step.text.find('{') == std::string::npos ? step.text.size() : step.text.find('{'));
    auto value = codec::parseJsonValue(json);
    if (!value) throw ScenarioError("the row is not a JSON object: " + value.error().message);
    std::vector<core::Record> inputs{mapping::recordFromMap(*value)};
    std::vector<core::Record> outputs;
    std::vector<core::DeadLetter> dead_letters;
    transform().apply(inputs, outputs, dead_letters);
    transform().tick(outputs, dead_letters);
    return print(outputs, dead_letters);
  }

  // One line an output ("<field>=<value>" of the chosen fields), then one a dead letter.
  std::vector<std::string> print(const std::vector<core::Record>& outputs,
                                 const std::vector<core::DeadLetter>& dead_letters) const {
    std::vector<std::string> out;
    for (const auto& record : outputs) {
      std::string line;
      for (const auto& f : fields_) line += (line.empty() ? "" : " ") + f + "=" + fieldText(record, f);
      out.push_back(line);
    }
    for (const auto& d : dead_letters) out.push_back("dead letter: " + d.reason);
    return out;
  }

  std::filesystem::path source_dir_;
  core::ManualClock clock_{core::Timestamp{0}};
  std::shared_ptr<const mapping::Mapping> mapping_;
  std::unique_ptr<mapping::MappingTransform> transform_;
  std::vector<std::string> fields_{"key", "revision", "value", "period.closed"};
  SavedState store_;
};

}  // namespace

std::unique_ptr<Domain> makeAggregateMappingDomain(const std::filesystem::path& source_dir) {
  return std::make_unique<AggregateMappingDomain>(source_dir);
}

}  // namespace dutybridge::scenarios
