#pragma once
// JSON text -> core::Value, keeping numbers exact: integers become Int (or Decimal when they
// do not fit), numbers with a fraction or exponent become Decimal from their own text, never
// through a double. Used for JSON-lines input (`dutybridge map`, mapping tests) and later by
// the Kafka source.

#include <optional>
#include <string_view>

#include "src/core/value.h"

namespace dutybridge::codec {

// Bounds on what one document may make the parser build. Objects and arrays nested deeper than
// max_depth are refused (a hostile line of brackets would otherwise build a tree as deep as the
// line is long).
struct JsonLimits {
  size_t max_depth = 128;
};

// Parses one JSON document; Permanent error with the parser's message (no input text). An
// object that repeats a key is refused, never resolved silently to one of the two values.
core::Result<core::Value> parseJsonValue(std::string_view text, const JsonLimits& limits = {});

// The same for a document that should be an object: its members come back owned (moved out of
// the parser, not behind a shared pointer), so a caller building a record from them copies no
// value. A valid document that is not an object gives nullopt and its type in `*other_type`.
core::Result<std::optional<core::ValueMap>> parseJsonObject(std::string_view text,
                                                            core::ValueType* other_type = nullptr,
                                                            const JsonLimits& limits = {});

}  // namespace dutybridge::codec
