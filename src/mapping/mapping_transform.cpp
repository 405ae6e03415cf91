#include "src/mapping/mapping_transform.h"

#include <fmt/format.h>

#include <algorithm>

#include "src/codec/typed_json.h"
#include "src/common/log.h"

namespace dutybridge::mapping {

core::Status MappingTransform::prepare(core::Source& source) {
  if (!mapping_->from_source) return {};
  auto description = source.describe();
  if (!description) return core::fail(description.error());
  if (!*description) {
    return core::fail(core::ErrorKind::InvalidConfig,
                      fmt::format("mapping {} takes its input types from the source (input: from_source), but this "
                                  "source cannot describe its records; declare them in {} (input: {{field: type}})",
                                  mapping_->label(), mapping_->file.string()));
  }
  auto compiled = mapping_->compileFor(**description);
  if (!compiled) {
    return core::fail(core::ErrorKind::InvalidConfig,
                      fmt::format("mapping {} does not fit the source's description:\n{}", mapping_->label(),
                                  compiled.error().format()));
  }
  // The aggregation engine (and any state restored into it) stays: the compiled mapping has the
  // same aggregate block, only its input types are now known.
  mapping_ = std::shared_ptr<const Mapping>(std::move(*compiled));
  if (stage_) stage_->useMapping(*mapping_);
  binding_ = Binding{};
  seen_generations_ = tableGenerations();
  return {};
}

void StateSummary::add(std::string_view key, std::string_view value) {
  if (key.starts_with("w/")) {
    ++windows;
    auto closed = aggregate::Aggregator::storedWindowClosed(value);
    if (!closed) ++unreadable_windows;
    else if (!*closed) ++open_windows;
  } else if (key.starts_with("s/")) {
    ++rows;
  } else if (key.starts_with("q/")) {
    ++quarantined;
  }
}

MappingTransform::MappingTransform(std::shared_ptr<const Mapping> mapping, const core::Clock& clock,
                                   std::shared_ptr<const StateSeal> state_seal)
    : mapping_(std::move(mapping)), clock_(clock), seal_(std::move(state_seal)) {
  if (mapping_->aggregate) stage_.emplace(*mapping_);
  if (mapping_->quarantine) quarantine_.emplace(*mapping_->quarantine, mapping_->label());
  seen_generations_ = tableGenerations();
}

core::Status MappingTransform::map(const core::Record& input, std::vector<core::Record>& outputs,
                                   std::string* identity) {
  if (binding_.schema != input.schema()) binding_ = mapping_->bind(input.schema());
  return stage_ ? stage_->add(input, binding_, clock_, identity)
                : mapping_->applyInto(input, binding_, clock_, outputs);
}

std::string MappingTransform::holdKey(const core::Record& input) {
  // An aggregate row is held under its identity, so a newer version of it replaces (or, once it
  // maps, releases) the held one; other records under their source position.
  if (stage_) {
    if (binding_.schema != input.schema()) binding_ = mapping_->bind(input.schema());
    if (auto id = mapping_->identity(input, binding_, clock_)) return "q/id/" + *id;
  }
  return "q/" + (input.meta.source_position.empty() ? fmt::format("#{}", ++hold_counter_) : input.meta.source_position);
}

void MappingTransform::apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
                             std::vector<core::DeadLetter>& dead_letters) {
  size_t held_before = quarantined();
  std::string first_reason;
  std::string identity;
  for (const auto& input : inputs) {
    // The row's identity comes out of the stage, so releasing a held version costs no second
    // evaluation per record.
    const bool releases = stage_ && quarantine_ && !quarantine_->empty();
    auto mapped = map(input, outputs, releases ? &identity : nullptr);
    if (mapped) {
      // A newer version of a held row was mapped: the held version is obsolete.
      if (releases) quarantine_->drop("q/id/" + identity);
      continue;
    }
    if (mapped.error().kind == core::ErrorKind::Retryable && quarantine_) {
      if (first_reason.empty()) first_reason = mapped.error().message;
      quarantine_->hold(holdKey(input), input, clock_.now(), mapped.error().message);
    } else {
      dead_letters.push_back({&input, mapped.error().message});
    }
  }
  if (quarantined() > held_before) {
    log::notice("mapping " + mapping_->label(), "{} record(s) quarantined waiting for attribution ({} held): first: {}",
                quarantined() - held_before, quarantined(), first_reason);
  }
  if (stage_ || quarantine_) tick(outputs, dead_letters);
}

uint64_t MappingTransform::tableGenerations() const {
  uint64_t sum = 0;
  for (const auto& [name, handle] : mapping_->env.tables) sum += handle->generation();
  return sum;
}

void MappingTransform::tick(std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters) {
  const core::Timestamp now = clock_.now();
  for (const auto& refresher : mapping_->table_refreshers) refresher->maybeRefresh(now);
  if (quarantine_ && !quarantine_->empty()) {
    uint64_t generations = tableGenerations();
    bool refreshed = generations != seen_generations_;
    seen_generations_ = generations;
    quarantine_->retry(
        now, refreshed, [&](const core::Record& held) { return map(held, outputs); }, dead_letters);
  }
  if (stage_) stage_->tick(clock_, outputs, dead_letters);
}

void MappingTransform::takeStateChanges(std::vector<StateEntry>& changes) {
  // Rewrites first: a row changed in this batch then overwrites its rewritten entry.
  for (auto& entry : resealed_) changes.push_back(std::move(entry));
  resealed_.clear();
  const size_t fresh = changes.size();
  if (quarantine_) quarantine_->takeStateChanges(changes);
  if (stage_) stage_->takeStateChanges(changes);
  if (!seal_) return;
  for (size_t i = fresh; i < changes.size(); ++i) changes[i] = seal_->seal(changes[i]);
}

core::Status MappingTransform::restore(const std::vector<StateEntry>& stored) {
  std::vector<StateEntry> opened;
  opened.reserve(stored.size());
  size_t clear_entries = 0;
  for (const auto& entry : stored) {
    if (StateSeal::isSealed(entry.key)) {
      if (!seal_) {
        return core::fail(core::Error::fatal(fmt::format(
            "mapping {}: this pipeline's state is sealed (its entries were stored with kafka.state_key), but no "
            "kafka.state_key is configured: configure the key it was stored with, or reset this pipeline's state",
            mapping_->label())));
      }
      if (entry.value.empty()) continue;
      auto clear = seal_->open(entry);
      if (!clear) return core::fail(clear.error());
      opened.push_back(std::move(*clear));
      continue;
    }
    if (seal_ && StateSeal::sealable(entry.key) && !entry.value.empty()) {
      // Stored before the key was configured: delete the clear entry, store it sealed.
      ++clear_entries;
      resealed_.push_back({entry.key, std::string()});
      resealed_.push_back(seal_->seal(entry));
    }
    opened.push_back(entry);
  }
  if (clear_entries > 0) {
    log::notice("mapping " + mapping_->label(),
                "{} state entr(ies) were stored in clear before kafka.state_key was configured: they are restored "
                "and stored again sealed with the next commit",
                clear_entries);
  }
  const std::vector<StateEntry>& entries = opened;
  std::vector<StateEntry> staged;
  staged.reserve(entries.size());
  size_t orphaned = 0;
  for (const auto& entry : entries) {
    if (!Quarantine::owns(entry.key)) {
      staged.push_back(entry);
    } else if (quarantine_) {
      if (auto restored = quarantine_->restore(entry); !restored) return restored;
    } else {
      ++orphaned;
    }
  }
  if (orphaned > 0) {
    log::warning("mapping " + mapping_->label(),
                 "{} quarantined record(s) are stored for this pipeline, but the mapping has no 'quarantine:' any "
                 "more: they stay stored and are not tried again until it has one",
                 orphaned);
  }
  if (!stage_) return {};
  return stage_->restore(staged);
}

std::vector<std::string> MappingTransform::outputTopics() const {
  std::vector<std::string> topics;
  for (const auto& emit : mapping_->emits) {
    std::string topic = !emit.topic.empty() ? emit.topic : emit.contract ? emit.contract->contract->default_topic : "";
    if (!topic.empty() && std::find(topics.begin(), topics.end(), topic) == topics.end()) topics.push_back(topic);
  }
  return topics;
}

void MappingTransform::metrics(std::vector<core::MetricSample>& out) const {
  if (!stage_) return;
  const auto& aggregator = stage_->aggregator();
  out.push_back({"dutybridge_pipeline_revisions_emitted_total",
                 {},
                 core::MetricKind::Counter,
                 static_cast<double>(aggregator.revisionsEmitted()),
                 {}});
  out.push_back({"dutybridge_pipeline_corrections_after_close_total",
                 {},
                 core::MetricKind::Counter,
                 static_cast<double>(aggregator.correctionsAfterClose()),
                 {}});
  if (aggregator.options().rolling_days > 0) {
    // Rows of a ROLLING aggregate too old for its window: filtered, not dead letters (a source read
    // from its beginning offers years of them).
    out.push_back({"dutybridge_pipeline_rows_before_window_total",
                   {},
                   core::MetricKind::Counter,
                   static_cast<double>(aggregator.rowsBeforeWindow()),
                   {}});
  }
}

std::vector<std::pair<std::string, int64_t>> MappingTransform::gauges() const {
  std::vector<std::pair<std::string, int64_t>> out;
  if (quarantine_) out.emplace_back("quarantined", static_cast<int64_t>(quarantine_->size()));
  if (stage_) {
    auto stats = stage_->aggregator().stats();
    out.emplace_back("open_windows", static_cast<int64_t>(stats.open_windows));
    out.emplace_back("windows", static_cast<int64_t>(stats.windows));
    out.emplace_back("window_rows", static_cast<int64_t>(stats.rows));
    out.emplace_back("state_bytes", static_cast<int64_t>(stats.approx_bytes));
  }
  return out;
}

}  // namespace dutybridge::mapping
