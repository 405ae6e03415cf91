#pragma once
// A record: named, typed fields plus the metadata that lets anyone trace it back to its source.
// Field names live in a shared RecordSchema, so a batch of rows from one query shares one
// schema and each record is just a vector of values (no per-record name strings).

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "src/core/value.h"

namespace dutybridge::core {

class RecordSchema {
 public:
  explicit RecordSchema(std::vector<std::string> names);

  const std::vector<std::string>& names() const { return names_; }
  size_t size() const { return names_.size(); }
  std::optional<size_t> indexOf(std::string_view name) const;
  // Some name stands twice (a JSON object of such a record keeps it once: first position, last value).
  bool repeatsNames() const { return index_.size() != names_.size(); }

 private:
  std::vector<std::string> names_;
  std::unordered_map<std::string, size_t> index_;
};

struct RecordMeta {
  // Opaque, source-defined position of this record (ODBC cursor, Kafka partition/offset). It is
  // what lineage and dead letters cite and what the pipeline stores once the record is durable.
  std::string source_position;
  std::optional<Timestamp> event_time;
  // Message key, when the source has one (Kafka) or a mapping computed it.
  std::optional<std::string> key;
  // Destination topic chosen by a mapping's emit block; topic sinks use it instead of their
  // configured topic.
  std::optional<std::string> topic;
  std::vector<std::pair<std::string, std::string>> headers;
};

class Record {
 public:
  Record() = default;
  Record(std::shared_ptr<const RecordSchema> schema, std::vector<Value> values)
      : schema_(std::move(schema)), values_(std::move(values)) {}

  const std::shared_ptr<const RecordSchema>& schema() const { return schema_; }
  size_t size() const { return values_.size(); }
  const std::string& name(size_t i) const { return schema_->names()[i]; }
  const Value& value(size_t i) const { return values_[i]; }
  Value& value(size_t i) { return values_[i]; }
  const std::vector<Value>& values() const { return values_; }
  // nullptr when the schema has no such field.
  const Value* find(std::string_view name) const;

  RecordMeta meta;

 private:
  std::shared_ptr<const RecordSchema> schema_;
  std::vector<Value> values_;
};

}  // namespace dutybridge::core
