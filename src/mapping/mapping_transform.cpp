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

MappingTransform::MappingTransform(std::shared_ptr<const Mapping> mapping, const core::Clock& clock)
    : mapping_(std::move(mapping)), clock_(clock) {
  if (mapping_->aggregate) aggregator_ = std::make_unique<aggregate::Aggregator>(mapping_->aggregatorOptions());
  seen_generations_ = tableGenerations();
}

core::Status MappingTransform::map(const core::Record& input, std::vector<core::Record>& outputs,
                                   std::string* identity) {
  if (binding_.schema != input.schema()) binding_ = mapping_->bind(input.schema());
  return aggregator_ ? mapping_->contribute(input, binding_, clock_, *aggregator_, identity)
                     : mapping_->applyInto(input, binding_, clock_, outputs);
}

std::string MappingTransform::holdKey(const core::Record& input) {
  // An aggregate row is held under its identity, so a newer version of it replaces (or, once it
  // maps, releases) the held one; other records under their source position.
  if (mapping_->aggregate) {
    if (binding_.schema != input.schema()) binding_ = mapping_->bind(input.schema());
    if (auto id = mapping_->identity(input, binding_, clock_)) return "q/id/" + *id;
  }
  return "q/" + (input.meta.source_position.empty() ? fmt::format("#{}", ++hold_counter_) : input.meta.source_position);
}

void MappingTransform::hold(const core::Record& input, std::string reason) {
  std::string key = holdKey(input);
  held_.insert_or_assign(key, Held{input, clock_.now(), std::move(reason)});
  held_changes_.push_back(std::move(key));
}

void MappingTransform::apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
                             std::vector<core::DeadLetter>& dead_letters) {
  size_t held_before = held_.size();
  std::string identity;
  for (const auto& input : inputs) {
    // The row's identity comes out of contribute(), so releasing a held version costs no second
    // evaluation per record.
    auto mapped = map(input, outputs, held_.empty() ? nullptr : &identity);
    if (mapped) {
      // A newer version of a held row was mapped: the held version is obsolete.
      if (mapping_->aggregate && !held_.empty()) {
        std::string key = "q/id/" + identity;
        if (held_.erase(key) > 0) held_changes_.push_back(std::move(key));
      }
      continue;
    }
    if (mapped.error().kind == core::ErrorKind::Retryable && mapping_->quarantine) {
      hold(input, mapped.error().message);
    } else {
      dead_letters.push_back({&input, mapped.error().message});
    }
  }
  if (held_.size() > held_before) {
    log::notice("mapping " + mapping_->label(), "{} record(s) quarantined waiting for attribution ({} held): first: {}",
                held_.size() - held_before, held_.size(), held_.rbegin()->second.reason);
  }
  if (aggregator_ || mapping_->quarantine) tick(outputs, dead_letters);
}

uint64_t MappingTransform::tableGenerations() const {
  uint64_t sum = 0;
  for (const auto& [name, handle] : mapping_->env.tables) sum += handle->generation();
  return sum;
}

void MappingTransform::retryHeld(std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters) {
  const core::Timestamp now = clock_.now();
  uint64_t generations = tableGenerations();
  bool refreshed = generations != seen_generations_;
  bool due = !last_retry_ || now.micros - last_retry_->micros >= mapping_->quarantine->retry_micros;
  bool expiring = false;
  for (const auto& [key, held] : held_) {
    if (now.micros - held.since.micros >= mapping_->quarantine->max_age_micros) expiring = true;
  }
  if (!refreshed && !due && !expiring) return;
  seen_generations_ = generations;
  last_retry_ = now;
  released_.clear();
  size_t released = 0;
  for (auto it = held_.begin(); it != held_.end();) {
    Held& held = it->second;
    bool try_now = refreshed || due;
    core::Status mapped = try_now ? map(held.record, outputs) : core::Status(core::fail(core::Error::retryable(held.reason)));
    if (mapped || mapped.error().kind != core::ErrorKind::Retryable ||
        now.micros - held.since.micros >= mapping_->quarantine->max_age_micros) {
      if (!mapped) {
        std::string reason = mapped.error().kind == core::ErrorKind::Retryable
                                 ? fmt::format("attribution still missing after quarantine.max_age: {}", mapped.error().message)
                                 : mapped.error().message;
        released_.push_back(std::move(held.record));
        dead_letters.push_back({nullptr, std::move(reason)});
      } else {
        ++released;
      }
      held_changes_.push_back(it->first);
      it = held_.erase(it);
      continue;
    }
    held.reason = mapped.error().message;
    ++it;
  }
  // Pointers only once released_ stops growing.
  for (size_t i = 0, d = dead_letters.size() - released_.size(); i < released_.size(); ++i) {
    dead_letters[d + i].input = &released_[i];
  }
  if (released > 0) {
    log::notice("mapping " + mapping_->label(), "{} quarantined record(s) attributed and mapped ({} still held)", released,
                held_.size());
  }
}

void MappingTransform::tick(std::vector<core::Record>& outputs, std::vector<core::DeadLetter>& dead_letters) {
  const core::Timestamp now = clock_.now();
  for (const auto& refresher : mapping_->table_refreshers) refresher->maybeRefresh(now);
  if (mapping_->quarantine && !held_.empty()) retryHeld(outputs, dead_letters);
  if (!aggregator_) return;
  if (!mapping_->aggregate->expect_table.empty()) {
    auto through = mapping_->expectWindows(*aggregator_, expected_through_, now);
    if (through != expected_through_) {
      expected_through_ = through;
      expected_changed_ = true;
    }
  }
  revisions_.clear();
  aggregator_->collect(now, revisions_);
  failed_revisions_.clear();
  failed_revisions_.reserve(revisions_.size());
  for (const auto& revision : revisions_) {
    auto emitted = mapping_->emitRevision(revision, clock_, outputs);
    if (!emitted) {
      // The dead letter cites the window, never the group values (they may be personal data).
      core::Record stand_in;
      stand_in.meta.source_position =
          fmt::format("{} {} revision {}", revision.window->ref.period_type, revision.window->ref.period_id, revision.revision);
      failed_revisions_.push_back(std::move(stand_in));
      dead_letters.push_back({&failed_revisions_.back(), emitted.error().message});
    }
  }
}

void MappingTransform::takeStateChanges(std::vector<StateEntry>& changes) {
  for (auto& key : held_changes_) {
    auto it = held_.find(key);
    if (it == held_.end()) {
      changes.push_back({std::move(key), std::string()});
      continue;
    }
    nlohmann::json held{{"since", it->second.since.micros},
                        {"reason", it->second.reason},
                        {"record", codec::encodeTypedRecord(it->second.record)}};
    changes.push_back({std::move(key), held.dump()});
  }
  held_changes_.clear();
  if (expected_changed_ && expected_through_) {
    changes.push_back({"x/through", core::formatDate(*expected_through_)});
    expected_changed_ = false;
  }
  if (!aggregator_) return;
  std::vector<aggregate::StateChange> taken;
  aggregator_->takeStateChanges(taken);
  for (auto& change : taken) changes.push_back({std::move(change.key), std::move(change.value)});
}

core::Status MappingTransform::restore(const std::vector<StateEntry>& entries) {
  std::vector<aggregate::StateChange> converted;
  converted.reserve(entries.size());
  for (const auto& entry : entries) {
    if (entry.key.starts_with("q/")) {
      try {
        auto held = nlohmann::json::parse(entry.value);
        auto record = codec::decodeTypedRecord(held.at("record").get<std::string>());
        if (!record) return core::fail(record.error());
        held_.insert_or_assign(entry.key, Held{std::move(*record), core::Timestamp{codec::storedInt(held.at("since"))},
                                               held.at("reason").get<std::string>()});
      } catch (const std::exception& e) {
        return core::fail(core::ErrorKind::Fatal, fmt::format("quarantine entry {} cannot be read: {}", entry.key, e.what()));
      }
      continue;
    }
    if (entry.key == "x/through") {
      auto through = core::parseDate(entry.value);
      if (!through) return core::fail(core::ErrorKind::Fatal, "state entry x/through cannot be read: " + entry.value);
      expected_through_ = *through;
      continue;
    }
    converted.push_back({entry.key, entry.value});
  }
  if (!aggregator_) return {};
  return aggregator_->restore(converted);
}

std::vector<std::string> MappingTransform::outputTopics() const {
  std::vector<std::string> topics;
  for (const auto& emit : mapping_->emits) {
    std::string topic = !emit.topic.empty() ? emit.topic : emit.contract ? emit.contract->contract->default_topic : "";
    if (!topic.empty() && std::find(topics.begin(), topics.end(), topic) == topics.end()) topics.push_back(topic);
  }
  return topics;
}

std::vector<std::pair<std::string, int64_t>> MappingTransform::gauges() const {
  std::vector<std::pair<std::string, int64_t>> out;
  if (mapping_->quarantine) out.emplace_back("quarantined", static_cast<int64_t>(held_.size()));
  if (aggregator_) {
    auto stats = aggregator_->stats();
    out.emplace_back("open_windows", static_cast<int64_t>(stats.open_windows));
    out.emplace_back("windows", static_cast<int64_t>(stats.windows));
    out.emplace_back("window_rows", static_cast<int64_t>(stats.rows));
    out.emplace_back("state_bytes", static_cast<int64_t>(stats.approx_bytes));
  }
  return out;
}

}  // namespace dutybridge::mapping
