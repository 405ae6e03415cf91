#pragma once
// JSON text -> core::Value, keeping numbers exact: integers become Int (or Decimal when they
// do not fit), numbers with a fraction or exponent become Decimal from their own text, never
// through a double. Used for JSON-lines input (`dutybridge map`, mapping tests) and later by
// the Kafka source.

#include <optional>
#include <string_view>

#include "src/core/value.h"

namespace dutybridge::codec {

// Parses one JSON document; Permanent error with the parser's message (no input text).
core::Result<core::Value> parseJsonValue(std::string_view text);

// The same for a document that should be an object: its members come back owned (moved out of
// the parser, not behind a shared pointer), so a caller building a record from them copies no
// value. A valid document that is not an object gives nullopt and its type in `*other_type`.
core::Result<std::optional<core::ValueMap>> parseJsonObject(std::string_view text,
                                                            core::ValueType* other_type = nullptr);

}  // namespace dutybridge::codec
