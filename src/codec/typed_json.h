#pragma once
// Values and records as *typed* JSON, for internal state (aggregation rows, quarantined records)
// that must read back exactly: decimals stay decimals, dates stay dates. Not a public format:
// outputs use codec/json.h.
//
// Encoding: null, bools and strings as themselves; {"i": int}, {"d": "decimal text"},
// {"f": double}, {"t": micros}, {"D": days}, {"l": [...]}, {"m": [[name, value], ...]}.
// A record is {"names": [...], "values": [...], "pos": source position, "et": event micros}.

#include <nlohmann/json.hpp>

#include "src/core/error.h"
#include "src/core/record.h"

namespace dutybridge::codec {

nlohmann::json encodeTyped(const core::Value& value);
// Throws nlohmann::json::exception or std::runtime_error on malformed input; callers catch at
// their boundary and report what they were reading.
core::Value decodeTyped(const nlohmann::json& json);

// The scalars of stored state, read exactly (nlohmann's get<int64_t> would cast a fraction or a
// larger unsigned silently, and a huge double is undefined behaviour): an integer must be a JSON
// integer within int64; a date (days since 1970-01-01) within core::kMaxDateDays, the dates of
// representable timestamps, so date arithmetic downstream cannot overflow. Both throw
// std::runtime_error otherwise, like decodeTyped.
int64_t storedInt(const nlohmann::json& json);
core::Date storedDate(const nlohmann::json& json);

// The same encoding appended to `out` without building a JSON tree (the one JSON writer,
// json_writer.h: invalid UTF-8 in a string becomes U+FFFD, never invalid JSON): the aggregation
// writes one entry per changed row, so this is on the per-record path.
void appendTyped(std::string& out, const core::Value& value);

// The record's typed JSON, written the same way.
std::string encodeTypedRecord(const core::Record& record);
core::Result<core::Record> decodeTypedRecord(std::string_view text);

}  // namespace dutybridge::codec
