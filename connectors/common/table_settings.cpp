#include "connectors/common/table_settings.h"

#include <fmt/format.h>

#include <vector>

#include "src/core/config_schema.h"
#include "src/diagnostics/diagnostics.h"

namespace dutybridge::connectors {

core::Status checkTableSettings(const expr::TableSourceConfig& config, std::initializer_list<std::string_view> known,
                                std::initializer_list<std::string_view> known_prefixes) {
  std::vector<std::string> candidates(known.begin(), known.end());
  std::vector<std::string> problems;
  for (const auto& [key, value] : config.settings) {
    bool ok = false;
    for (auto name : known) ok = ok || key == name;
    for (auto prefix : known_prefixes) ok = ok || key.starts_with(prefix);
    if (ok) continue;
    std::string suggestion = diag::suggest(key, candidates);
    problems.push_back(suggestion.empty() ? fmt::format("unknown key '{}'", key)
                                          : fmt::format("unknown key '{}' (did you mean '{}'?)", key, suggestion));
  }
  if (problems.empty()) return {};
  return core::fail(core::ErrorKind::InvalidConfig,
                    fmt::format("{} table source: {}; known keys: {}", config.kind, fmt::join(problems, ", "),
                                fmt::join(known, ", ")));
}

core::Result<std::string> requiredTableSetting(const expr::TableSourceConfig& config, const std::string& key) {
  auto it = config.settings.find(key);
  if (it == config.settings.end() || it->second.empty()) {
    return core::fail(core::ErrorKind::InvalidConfig, fmt::format("{} table source needs '{}'", config.kind, key));
  }
  return it->second;
}

std::string tableSetting(const expr::TableSourceConfig& config, const std::string& key, std::string fallback) {
  auto it = config.settings.find(key);
  return it == config.settings.end() ? fallback : it->second;
}

core::Result<std::chrono::milliseconds> tableDuration(const expr::TableSourceConfig& config, const std::string& key,
                                                      std::chrono::milliseconds fallback, std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max) {
  auto it = config.settings.find(key);
  if (it == config.settings.end()) return fallback;
  auto micros = core::parseDuration(it->second);
  if (!micros || *micros < min.count() * 1000 || *micros > max.count() * 1000) {
    return core::fail(core::ErrorKind::InvalidConfig,
                      fmt::format("{} table source: '{}' must be a duration from {}s to {}s, e.g. 30s", config.kind,
                                  key, min.count() / 1000, max.count() / 1000));
  }
  return std::chrono::milliseconds(*micros / 1000);
}

}  // namespace dutybridge::connectors
