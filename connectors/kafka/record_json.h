#pragma once
// A per-sink serializer of records as JSON objects, byte for byte what codec::appendJson
// writes (decimals as strings, timestamps RFC 3339 UTC, invalid UTF-8 replaced), but without
// building an nlohmann::ordered_json tree per record: field names are escaped once per schema,
// numbers and timestamps are formatted into a reused buffer, and strings are escaped by
// nlohmann's own serializer (plain printable ASCII is copied as is, which is what that
// serializer would write for it). Lists and maps, rare in records, go through codec::toJson.
//
// Threading: one writer per sink, used from the pipeline thread only.

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/record.h"
#include "src/core/time.h"

namespace dutybridge::kafka {

// formatTimestamp() without the allocation; writes into `out` (at least 40 bytes) and returns
// the length.
size_t formatTimestampTo(core::Timestamp ts, char* out);

class RecordJsonWriter {
 public:
  RecordJsonWriter();
  ~RecordJsonWriter();
  RecordJsonWriter(const RecordJsonWriter&) = delete;
  RecordJsonWriter& operator=(const RecordJsonWriter&) = delete;

  // The record as one JSON object; valid until the next call.
  std::string_view write(const core::Record& record);

  // Appends the value's text as a key part would show it: strings raw, numbers and times in
  // their canonical text (Value::toText without allocating for the common types).
  static void appendKeyText(const core::Value& value, std::string& out);

 private:
  using Json = nlohmann::ordered_json;
  using Serializer = nlohmann::detail::serializer<Json>;

  struct SchemaPrefixes {
    std::shared_ptr<const core::RecordSchema> schema;
    std::vector<std::string> prefixes;  // `{"name":` for the first field, `,"name":` after
  };

  const std::vector<std::string>& prefixesFor(const std::shared_ptr<const core::RecordSchema>& schema);
  void appendValue(const core::Value& value);
  void appendString(std::string_view text);

  std::string out_;
  Json scratch_string_;
  Json scratch_number_;
  std::unique_ptr<Serializer> serializer_;  // writes into out_
  std::vector<SchemaPrefixes> schemas_;
};

}  // namespace dutybridge::kafka
