#pragma once
// Reading the settings of a mapping table's source block (`odbc: {...}`, `kafka: {...}`), shared
// by the table loaders of several connectors: unknown keys (with a did-you-mean hint), required
// keys and bounded durations. The mapping loader reports these errors at the block's location.
//
// Threading: pure functions. Errors: InvalidConfig; messages name keys, never values (a
// connection string may hold a password).

#include <chrono>
#include <initializer_list>
#include <string>
#include <string_view>

#include "src/core/error.h"
#include "src/expr/reference_table.h"

namespace dutybridge::connectors {

// Every key must be one of `known`, or start with one of `known_prefixes` (e.g. "librdkafka.").
core::Status checkTableSettings(const expr::TableSourceConfig& config, std::initializer_list<std::string_view> known,
                                std::initializer_list<std::string_view> known_prefixes = {});
// The value of a key that must be present and not empty.
core::Result<std::string> requiredTableSetting(const expr::TableSourceConfig& config, const std::string& key);
// The value of an optional key, or `fallback`.
std::string tableSetting(const expr::TableSourceConfig& config, const std::string& key, std::string fallback = {});
// A duration ("30s", "2m") within [min, max], or `fallback` when the key is absent.
core::Result<std::chrono::milliseconds> tableDuration(const expr::TableSourceConfig& config, const std::string& key,
                                                      std::chrono::milliseconds fallback, std::chrono::milliseconds min,
                                                      std::chrono::milliseconds max);

}  // namespace dutybridge::connectors
