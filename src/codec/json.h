#pragma once
// Record <-> JSON. Text is written by the one JSON writer (json_writer.h); toJson builds an
// nlohmann tree for callers that want one (the same text when dumped). Exact decimals
// travel as JSON strings ("12.345"): a JSON number would be read back as binary floating point
// by most consumers, and quantities and money must stay exact. Timestamps are RFC 3339 UTC
// strings, dates "YYYY-MM-DD".

#include <nlohmann/json.hpp>

#include <string>

#include "src/core/record.h"

namespace dutybridge::codec {

nlohmann::ordered_json toJson(const core::Value& value);
nlohmann::ordered_json toJson(const core::Record& record);

// Appends the record's JSON object (no newline) to `out`: toJson(record).dump() with invalid
// UTF-8 replaced, written by codec::appendJsonValue without a tree.
void appendJson(const core::Record& record, std::string& out);

// The record with its destination, as `dutybridge map` prints it and the golden mapping
// tests expect it: {"topic":...,"key":...,"value":{...}} (no newline).
std::string envelopeJson(const core::Record& record);

}  // namespace dutybridge::codec
