#pragma once
// JSON text -> core::Value, keeping numbers exact: integers become Int (or Decimal when they
// do not fit), numbers with a fraction or exponent become Decimal from their own text, never
// through a double. Used for JSON-lines input (`dutybridge map`, mapping tests) and later by
// the Kafka source.

#include <string_view>

#include "src/core/value.h"

namespace dutybridge::codec {

// Parses one JSON document; Permanent error with the parser's message (no input text).
core::Result<core::Value> parseJsonValue(std::string_view text);

}  // namespace dutybridge::codec
