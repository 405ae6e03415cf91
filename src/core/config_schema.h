#pragma once
// Declarative configuration schemas and the validated configuration they produce. Every
// connector and every section of the daemon config declares its fields here; one validator
// (src/config) checks YAML against them, and the same table prints `list-connectors` and
// docs/connectors/*.md. Validated objects are plain data: safe to read from any thread.

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/value.h"

namespace dutybridge::core {

enum class FieldType {
  String,
  Int,
  Bool,
  Duration,       // "250ms", "5s", "2m", "1h"; stored as microseconds
  Size,           // "512KiB", "64MiB", "1GiB" or a plain byte count; stored as bytes
  Enum,           // one of FieldSpec::choices
  StringList,     // a string or a list of strings
  StringMap,      // free-form string keys to scalar values, e.g. librdkafka properties
  Object,         // nested fields per FieldSpec::nested
  ObjectList,     // a list of nested objects
  ObjectMap,      // names (free-form keys) to nested objects, e.g. calendars by name
  Expression,     // an expression of the mapping language: a scalar taken verbatim (no ${...})
  ExpressionMap,  // names to expressions, in order (`let:`, an emit block's `fields:`)
  Any,            // any YAML; its own loader checks it (FieldSpec::shown says what it holds)
  Source,         // a connector: `type` picks the source factory, the rest is its schema
  Sink,           // same, for sinks
};

std::string_view toString(FieldType type);

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown (defaults)
  int column = 0;  // 1-based
  std::string path;  // YAML path, e.g. pipelines[0].source.batch_rows
};

class ConfigSchema;

struct FieldSpec {
  std::string name;
  FieldType type = FieldType::String;
  bool required = false;
  std::optional<std::string> default_value;  // as it would be written in YAML
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();
  std::vector<std::string> choices;
  std::string description;
  std::shared_ptr<const ConfigSchema> nested;
  // The value is never echoed (it may carry a password even without a ${...} reference).
  bool sensitive = false;
  // Names this field had before a rename: a config still using one gets an error that says the
  // new name (never silently ignored, never silently accepted).
  std::vector<std::string> former_names;
  // For docs: what an Any field holds ("field -> type, or from_source"); empty: the type's name.
  std::string shown_type;

  static FieldSpec make(std::string name, FieldType type) {
    FieldSpec f;
    f.name = std::move(name);
    f.type = type;
    return f;
  }
  FieldSpec&& req() && { required = true; return std::move(*this); }
  FieldSpec&& def(std::string value) && { default_value = std::move(value); return std::move(*this); }
  FieldSpec&& range(int64_t lo, int64_t hi) && { min = lo; max = hi; return std::move(*this); }
  // Allowed values are enforced for Enum fields only; on any other type they would be a
  // silent no-op (`delivery: twice` once passed), so that is refused where the schema is built.
  FieldSpec&& oneOf(std::vector<std::string> values) && {
    if (type != FieldType::Enum) throw std::logic_error("config field '" + name + "': oneOf() needs FieldType::Enum");
    choices = std::move(values);
    return std::move(*this);
  }
  FieldSpec&& doc(std::string text) && { description = std::move(text); return std::move(*this); }
  FieldSpec&& fields(std::shared_ptr<const ConfigSchema> schema) && { nested = std::move(schema); return std::move(*this); }
  FieldSpec&& secret() && { sensitive = true; return std::move(*this); }
  FieldSpec&& shown(std::string text) && {
    shown_type = std::move(text);
    return std::move(*this);
  }
  FieldSpec&& formerly(std::string old_name) && {
    former_names.push_back(std::move(old_name));
    return std::move(*this);
  }
};

class ConfigObject;

// A problem found by a schema's cross-field check; `field` names the offending key (or is
// empty for the object itself).
struct ConfigProblem {
  std::string field;
  std::string message;
};

class ConfigSchema {
 public:
  using CrossCheck = std::function<std::vector<ConfigProblem>(const ConfigObject&)>;

  ConfigSchema(std::vector<FieldSpec> fields, CrossCheck check = {})
      : fields_(std::move(fields)), check_(std::move(check)) {}

  const std::vector<FieldSpec>& fields() const { return fields_; }
  const FieldSpec* find(std::string_view name) const;
  // The field that was called `name` before a rename, or nullptr.
  const FieldSpec* findFormer(std::string_view name) const;
  std::vector<ConfigProblem> crossCheck(const ConfigObject& object) const;

 private:
  std::vector<FieldSpec> fields_;
  CrossCheck check_;
};

// A configuration object after validation: every declared field with a default is present,
// types are converted, secrets resolved. Getters assume the schema guaranteed presence and
// type; asking for an undeclared field returns an empty value.
class ConfigObject {
 public:
  struct Entry {
    std::string name;
    FieldType type = FieldType::String;
    Value value;                        // scalar, list of strings or map of strings
    std::vector<ConfigObject> objects;  // Object/Source/Sink: one; ObjectList, ObjectMap: any number
    SourceLocation location;
    bool secret = false;     // came through ${...} or the field is sensitive: never echoed
    bool defaulted = false;  // not written in the file
  };

  SourceLocation location;  // of the mapping node itself
  std::string map_key;      // an entry of an ObjectMap: its key
  std::vector<Entry> entries;

  const Entry* find(std::string_view name) const;
  bool has(std::string_view name) const;  // present, written or defaulted, and not null

  std::string getString(std::string_view name) const;
  int64_t getInt(std::string_view name) const;
  bool getBool(std::string_view name) const;
  std::chrono::microseconds getDuration(std::string_view name) const;
  int64_t getSize(std::string_view name) const;
  std::vector<std::string> getStringList(std::string_view name) const;
  std::vector<std::pair<std::string, std::string>> getStringMap(std::string_view name) const;
  const ConfigObject* getObject(std::string_view name) const;
  const std::vector<ConfigObject>& getObjects(std::string_view name) const;
};

// Parse "5s", "250ms", "1h30m" into microseconds; nullopt if malformed.
std::optional<int64_t> parseDuration(std::string_view text);
// Parse "64MiB", "512KiB", "1GiB", "10MB", "4096" into bytes; nullopt if malformed.
std::optional<int64_t> parseSize(std::string_view text);
std::string formatDuration(int64_t micros);

}  // namespace dutybridge::core
