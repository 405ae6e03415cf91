#include "src/mapping/quarantine.h"

#include <algorithm>
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "src/codec/typed_json.h"
#include "src/common/log.h"

namespace dutybridge::mapping {

void Quarantine::hold(std::string key, const core::Record& record, core::Timestamp now, std::string reason) {
  held_.insert_or_assign(key, Held{record, now, std::move(reason)});
  changed_.push_back(std::move(key));
}

void Quarantine::drop(const std::string& key) {
  if (held_.erase(key) > 0) changed_.push_back(key);
}

std::vector<core::Transform::HeldRecord> Quarantine::list(size_t max) const {
  std::vector<core::Transform::HeldRecord> out;
  out.reserve(std::min(max, held_.size()));
  for (const auto& [key, held] : held_) out.push_back({held.record.meta.source_position, held.reason, held.since});
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.since < b.since; });
  if (out.size() > max) out.resize(max);
  return out;
}

void Quarantine::retry(core::Timestamp now, bool tables_refreshed, const MapFn& map,
                       std::vector<core::DeadLetter>& dead_letters) {
  bool due = !last_retry_ || now.micros - last_retry_->micros >= policy_.retry_micros;
  bool expiring = false;
  for (const auto& [key, held] : held_) expiring = expiring || expired(held, now);
  if (!tables_refreshed && !due && !expiring) return;
  last_retry_ = now;
  released_.clear();
  size_t attributed = 0;
  const bool try_now = tables_refreshed || due;
  for (auto it = held_.begin(); it != held_.end();) {
    Held& held = it->second;
    core::Status mapped = try_now ? map(held.record) : core::Status(core::fail(core::Error::retryable(held.reason)));
    bool stays = !mapped && mapped.error().kind == core::ErrorKind::Retryable && !expired(held, now);
    if (stays) {
      held.reason = mapped.error().message;
      ++it;
      continue;
    }
    if (mapped) {
      ++attributed;
    } else {
      std::string reason =
          mapped.error().kind == core::ErrorKind::Retryable
              ? fmt::format("attribution still missing after quarantine.max_age: {}", mapped.error().message)
              : mapped.error().message;
      released_.push_back(std::move(held.record));
      dead_letters.push_back({nullptr, std::move(reason)});
    }
    changed_.push_back(it->first);
    it = held_.erase(it);
  }
  // Pointers only once released_ stops growing.
  for (size_t i = 0, d = dead_letters.size() - released_.size(); i < released_.size(); ++i) {
    dead_letters[d + i].input = &released_[i];
  }
  if (attributed > 0) {
    log::notice("mapping " + label_, "{} quarantined record(s) attributed and mapped ({} still held)", attributed,
                held_.size());
  }
}

void Quarantine::takeStateChanges(std::vector<core::StateEntry>& changes) {
  for (auto& key : changed_) {
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
  changed_.clear();
}

core::Status Quarantine::restore(const core::StateEntry& entry) {
  try {
    auto held = nlohmann::json::parse(entry.value);
    auto record = codec::decodeTypedRecord(held.at("record").get<std::string>());
    if (!record) return core::fail(record.error());
    held_.insert_or_assign(entry.key, Held{std::move(*record), core::Timestamp{codec::storedInt(held.at("since"))},
                                           held.at("reason").get<std::string>()});
  } catch (const std::exception& e) {
    return core::fail(core::ErrorKind::Fatal,
                      fmt::format("quarantine entry {} cannot be read: {}", entry.key, e.what()));
  }
  return {};
}

}  // namespace dutybridge::mapping
