#pragma once
// Record <-> JSON. Written with nlohmann::json so escaping is always correct. Exact decimals
// travel as JSON strings ("12.345"): a JSON number would be read back as binary floating point
// by most consumers, and quantities and money must stay exact. Timestamps are RFC 3339 UTC
// strings, dates "YYYY-MM-DD".

#include <nlohmann/json.hpp>

#include <string>

#include "src/core/record.h"

namespace dutybridge::codec {

nlohmann::ordered_json toJson(const core::Value& value);
nlohmann::ordered_json toJson(const core::Record& record);

// Appends toJson(value).dump() to `out` (the same text; invalid UTF-8 replaced as appendJson
// does) without building an nlohmann tree for it: plain printable ASCII strings are copied as
// they are, other strings, doubles and maps with a repeated key go through nlohmann. The odbc
// sink writes maps and lists as JSON text this way for every row.
void appendJsonText(const core::Value& value, std::string& out);

// Appends the record's JSON object (no newline) to `out`.
void appendJson(const core::Record& record, std::string& out);

// The record with its destination, as `dutybridge map` prints it and the golden mapping
// tests expect it: {"topic":...,"key":...,"value":{...}} (no newline).
std::string envelopeJson(const core::Record& record);

}  // namespace dutybridge::codec
