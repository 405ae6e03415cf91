#pragma once
// The one JSON writer: every JSON text dutybridge writes (records to Kafka, stdout and `map`,
// maps and lists in database columns, stored state and cursors) goes through these functions.
// The text is byte for byte what nlohmann::json::dump(-1, ' ', false, error_handler_t::replace)
// writes for the same value (a unit test compares them on random bytes), so a reader never sees
// two spellings, but nothing here builds a JSON tree or allocates for the common types:
//
//   strings   "..." with \" \\ \b \f \n \r \t and \u00XX for the other control characters; UTF-8
//             as it is; invalid UTF-8 replaced by U+FFFD (a bad byte in one column must not stop a
//             pipeline, and the replacement is visible to whoever reads the record)
//   integers  decimal digits
//   doubles   the shortest text that reads back the same (nlohmann's), null for NaN and infinities
//   decimals, timestamps, dates   strings: "12.345", RFC 3339 UTC, "YYYY-MM-DD"
//
// Threading: free functions; RecordJsonWriter is one per user (one per sink, one per thread).

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/record.h"
#include "src/core/time.h"
#include "src/core/value.h"

namespace dutybridge::codec {

// Appends `text` as a JSON string literal.
void appendJsonString(std::string& out, std::string_view text);

// Appends a double as nlohmann writes it (the shortest round-trip text; null when not finite).
void appendJsonDouble(std::string& out, double value);

// Appends the value's JSON text (lists and maps included; a map that repeats a key keeps the
// first position with the last value, as nlohmann's object does).
void appendJsonValue(std::string& out, const core::Value& value);

// formatTimestamp() without the allocation; writes into `out` (at least 40 bytes) and returns
// the length.
size_t formatTimestampTo(core::Timestamp ts, char* out);

// Appends the value's text as a key part shows it: strings raw, numbers and times in their
// canonical text (Value::toText, without allocating for the common types).
void appendKeyText(std::string& out, const core::Value& value);

// Records as JSON objects with the field names escaped once per schema, into a reused buffer:
// the kafka sink writes every record through one.
class RecordJsonWriter {
 public:
  RecordJsonWriter() { out_.reserve(1024); }

  // The record as one JSON object; valid until the next call.
  std::string_view write(const core::Record& record);

 private:
  struct SchemaPrefixes {
    std::shared_ptr<const core::RecordSchema> schema;
    std::vector<std::string> prefixes;  // `{"name":` for the first field, `,"name":` after
  };
  const std::vector<std::string>& prefixesFor(const std::shared_ptr<const core::RecordSchema>& schema);

  std::string out_;
  std::vector<SchemaPrefixes> schemas_;
};

}  // namespace dutybridge::codec
