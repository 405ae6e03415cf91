#include "src/mapping/mapping.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <sstream>

#include "src/codec/json.h"
#include "src/config/secrets.h"

namespace dutybridge::mapping {
namespace {

using core::SourceLocation;
using core::Value;

constexpr size_t kMaxFileBytes = 4 << 20;
constexpr size_t kMaxTableRows = 1'000'000;

struct Loader {
  std::filesystem::path file;
  std::string file_name;
  std::vector<std::string> lines;
  config::Diagnostics diagnostics;

  SourceLocation at(const YAML::Node& node, const std::string& path) const {
    SourceLocation loc{file_name, 0, 0, path};
    if (node.IsDefined() && node.Mark().line >= 0) {
      loc.line = node.Mark().line + 1;
      loc.column = node.Mark().column + 1;
    }
    return loc;
  }

  // Where the text of a scalar starts: after the quote of a quoted scalar, on the next line
  // for a block scalar (| or >).
  SourceLocation textStart(const YAML::Node& node, const std::string& path) const {
    SourceLocation loc = at(node, path);
    if (loc.line < 1 || static_cast<size_t>(loc.line) > lines.size()) return loc;
    const std::string& line = lines[static_cast<size_t>(loc.line - 1)];
    size_t col = static_cast<size_t>(loc.column - 1);
    if (col < line.size() && (line[col] == '"' || line[col] == '\'')) {
      ++loc.column;
    } else if (col < line.size() && (line[col] == '|' || line[col] == '>') &&
               static_cast<size_t>(loc.line) < lines.size()) {
      const std::string& next = lines[static_cast<size_t>(loc.line)];
      ++loc.line;
      loc.column = static_cast<int>(next.find_first_not_of(' ') == std::string::npos ? 1 : next.find_first_not_of(' ') + 1);
    }
    return loc;
  }

  void error(const YAML::Node& node, const std::string& path, std::string message, std::string hint = {}) {
    diagnostics.add(at(node, path), std::move(message), std::move(hint));
  }

  std::unique_ptr<Expr> expression(const YAML::Node& node, const std::string& path, const Scope& scope,
                                   const FunctionEnv& env) {
    if (!node.IsScalar()) {
      error(node, path, "expected an expression (a string)");
      return nullptr;
    }
    return compileExpression(node.Scalar(), textStart(node, path), scope, env, diagnostics);
  }

  void checkKeys(const YAML::Node& node, const std::string& path, const std::vector<std::string>& allowed) {
    if (!node.IsMap()) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string near = config::suggest(key, allowed);
      error(it->first, path.empty() ? key : path + "." + key, fmt::format("unknown key '{}'", key),
            near.empty() ? fmt::format("known keys: {}", fmt::join(allowed, ", ")) : fmt::format("did you mean '{}'?", near));
    }
  }
};

std::optional<std::string> scalarText(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return std::nullopt;
  if (node.IsScalar()) {
    // A quoted "~" or "null" is text; only a plain null is null.
    return node.Scalar();
  }
  YAML::Emitter out;
  out << YAML::Flow << node;
  return std::string(out.c_str());
}

// Converts an input value to the declared type (strings from JSON or YAML parse into
// timestamps, decimals, ...). The error names the field, never the value.
// "declared decimal", or "described by the source as decimal" for `input: from_source`.
std::string typeOrigin(const InputField& field) {
  return fmt::format("{} {}", field.described ? "described by the source as" : "declared", field.type.toString());
}

core::Result<Value> convertInput(const Value& value, const InputField& field) {
  if (value.isNull()) {
    if (field.type.nullable || field.type.kind == Type::Kind::Any) return Value();
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("{}: input field '{}' is null but {}", field.where, field.name, typeOrigin(field)));
  }
  auto wrap = [&](auto result, std::string_view what) -> core::Result<Value> {
    if (!result) {
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("{}: input field '{}' is not a valid {} ({} given)", field.where, field.name, what,
                                    core::toString(value.type())));
    }
    return Value(*result);
  };
  switch (field.type.kind) {
    case Type::Kind::Any: return value;
    case Type::Kind::Bool:
      if (value.type() == core::ValueType::Bool) return value;
      if (value.type() == core::ValueType::String) {
        if (value.asString() == "true") return Value(true);
        if (value.asString() == "false") return Value(false);
      }
      return wrap(core::Result<bool>(core::fail(core::ErrorKind::Permanent, "")), "bool");
    case Type::Kind::Int: return wrap(value.toInt(), "int");
    case Type::Kind::Decimal: return wrap(value.toDecimal(), "decimal");
    case Type::Kind::Double: return wrap(value.toDouble(), "double");
    case Type::Kind::String:
      if (value.type() == core::ValueType::String) return value;
      return Value(value.toText());
    case Type::Kind::Timestamp: return wrap(value.toTimestamp(), "timestamp");
    case Type::Kind::Date: return wrap(value.toDate(), "date");
    case Type::Kind::Duration: return wrap(value.toInt(), "duration (microseconds)");
    case Type::Kind::List:
      if (value.type() == core::ValueType::List) return value;
      return wrap(core::Result<int>(core::fail(core::ErrorKind::Permanent, "")), "list");
    case Type::Kind::Map:
      if (value.type() == core::ValueType::Map) return value;
      return wrap(core::Result<int>(core::fail(core::ErrorKind::Permanent, "")), "map");
    case Type::Kind::Null: return Value();
  }
  return value;
}

Value yamlToValue(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return Value();
  if (node.IsScalar()) return Value(node.Scalar());
  if (node.IsSequence()) {
    core::ValueList list;
    for (const auto& item : node) list.push_back(yamlToValue(item));
    return Value(std::move(list));
  }
  core::ValueMap map;
  for (auto it = node.begin(); it != node.end(); ++it) map.emplace_back(it->first.Scalar(), yamlToValue(it->second));
  return Value(std::move(map));
}

bool sameValue(const Value& actual, const std::optional<std::string>& expected) {
  if (!expected) return actual.isNull();
  if (actual.isNull()) return false;
  if (actual.type() == core::ValueType::Decimal || actual.type() == core::ValueType::Int ||
      actual.type() == core::ValueType::Double) {
    auto want = core::Decimal::parse(*expected);
    auto have = actual.toDecimal();
    if (want && have) return *want == *have;
  }
  if (actual.type() == core::ValueType::Timestamp) {
    auto want = core::parseTimestamp(*expected);
    if (want) return *want == actual.asTimestamp();
  }
  return actual.toText() == *expected;
}

std::string showValue(const Value& v) { return v.isNull() ? "null" : v.toText(); }

std::vector<std::pair<std::string, std::string>> readCsv(const std::filesystem::path& path, std::string& error) {
  std::vector<std::pair<std::string, std::string>> rows;
  std::ifstream in(path);
  if (!in) {
    error = "cannot read " + path.string();
    return rows;
  }
  std::string line;
  auto split = [](const std::string& text) {
    std::vector<std::string> cells;
    std::string cell;
    bool quoted = false;
    for (size_t i = 0; i < text.size(); ++i) {
      char c = text[i];
      if (quoted) {
        if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') { cell += '"'; ++i; }
        else if (c == '"') quoted = false;
        else cell += c;
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        cells.push_back(std::move(cell));
        cell.clear();
      } else if (c != '\r') {
        cell += c;
      }
    }
    cells.push_back(std::move(cell));
    return cells;
  };
  bool header = true;
  while (std::getline(in, line)) {
    if (header) { header = false; continue; }
    if (line.empty()) continue;
    auto cells = split(line);
    if (cells.size() < 2) {
      error = "every CSV row needs a key and a value column";
      return rows;
    }
    rows.emplace_back(cells[0], cells[1]);
    if (rows.size() > kMaxTableRows) {
      error = "more than 1,000,000 rows";
      return rows;
    }
  }
  return rows;
}

// Resolves `contract:` for an emit block and checks its fields against the contract (and the
// duty catalog for duty_kpi.v1).
void bindContract(Loader& loader, Mapping& mapping, Emit& emit, const YAML::Node& contract_node,
                  const YAML::Node& fields, const std::string& path) {
  const Contract* contract = findContract(contract_node.Scalar());
  if (!contract) {
    std::string near = config::suggest(contract_node.Scalar(), contractNames());
    loader.error(contract_node, path + ".contract", fmt::format("unknown contract '{}'", contract_node.Scalar()),
                 near.empty() ? fmt::format("contracts: {}", fmt::join(contractNames(), ", "))
                              : fmt::format("did you mean '{}'?", near));
    return;
  }
  ContractBinding binding;
  binding.contract = contract;
  binding.provided.assign(contract->fields.size(), std::nullopt);
  std::vector<std::string> known;
  for (const auto& f : contract->fields) known.push_back(f.name);
  auto node_of = [&](const std::string& name) { return fields && fields.IsMap() ? fields[name] : YAML::Node(); };
  for (size_t i = 0; i < emit.fields.size(); ++i) {
    const std::string& name = emit.fields[i].first;
    const Expr& expr = *emit.fields[i].second;
    if (!contract->free_prefix.empty() && name.starts_with(contract->free_prefix)) {
      binding.free_fields.emplace_back(name.substr(contract->free_prefix.size()), i);
      continue;
    }
    auto it = std::find(known.begin(), known.end(), name);
    if (it == known.end()) {
      std::string near = config::suggest(name, known);
      loader.diagnostics.add(loader.at(node_of(name), path + ".fields." + name),
                             fmt::format("{} has no field '{}'", contract->name, name),
                             near.empty() ? fmt::format("fields: {}; free-form values go under '{}'",
                                                        fmt::join(known, ", "), contract->free_prefix)
                                          : fmt::format("did you mean '{}'?", near));
      continue;
    }
    size_t index = static_cast<size_t>(it - known.begin());
    const ContractField& spec = contract->fields[index];
    binding.provided[index] = i;
    Type type = expr.type();
    bool kind_ok = type.kind == spec.type.kind || type.kind == Type::Kind::Any ||
                   (spec.type.kind == Type::Kind::Decimal && type.kind == Type::Kind::Int);
    if (!kind_ok) {
      loader.diagnostics.add(expr.location(), fmt::format("{} field '{}' must be {}, not {}", contract->name, name,
                                                          spec.type.toString(), type.toString()));
    } else if (type.nullable && !spec.type.nullable) {
      loader.diagnostics.add(expr.location(),
                             fmt::format("{} can be null but {} field '{}' must not be", type.toString(),
                                         contract->name, name),
                             "handle the null: (x) ?? default, or (x)! to send the record to the dead-letter topic");
    }
    if (spec.literal) {
      std::string raw = node_of(name).IsScalar() ? node_of(name).Scalar() : "";
      auto trim = [](std::string s) {
        size_t a = s.find_first_not_of(" \t\n"), b = s.find_last_not_of(" \t\n");
        return a == std::string::npos ? std::string() : s.substr(a, b - a + 1);
      };
      raw = trim(raw);
      bool literal = raw.size() >= 2 && (raw.front() == '"' || raw.front() == '\'') && raw.back() == raw.front() &&
                     raw.find(raw.front(), 1) == raw.size() - 1;
      if (!literal) {
        loader.diagnostics.add(expr.location(), fmt::format("{} field '{}' must be a string literal", contract->name, name),
                               "the loader checks it against the duty catalog, so it cannot be computed");
        continue;
      }
      std::string value = raw.substr(1, raw.size() - 2);
      if (contract->name == "duty_kpi.v1" && name == "kpi_code") {
        if (!mapping.catalog) {
          loader.diagnostics.add(expr.location(), "duty_kpi.v1 needs the duty catalog",
                                 "add catalog: ../config/duties.yaml to the mapping");
          continue;
        }
        auto kpi = mapping.catalog->kpis.find(value);
        if (kpi == mapping.catalog->kpis.end()) {
          std::vector<std::string> codes;
          for (const auto& [code, def] : mapping.catalog->kpis) codes.push_back(code);
          std::string near = config::suggest(value, codes);
          loader.diagnostics.add(expr.location(), fmt::format("KPI '{}' is not in the duty catalog", value),
                                 near.empty() ? "" : fmt::format("did you mean '{}'?", near));
          continue;
        }
        binding.kpi = &kpi->second;
      } else if (name == "record_type" && value != "SKILL_EVIDENCE" && value != "QUALIFICATION" &&
                 value != "TRAINING_COMPLETION") {
        loader.diagnostics.add(expr.location(), fmt::format("record_type '{}' is not SKILL_EVIDENCE, QUALIFICATION or "
                                                            "TRAINING_COMPLETION", value));
      } else if (name == "record_type") {
        binding.record_type = value;
      }
    }
  }
  for (size_t i = 0; i < contract->fields.size(); ++i) {
    if (contract->fields[i].required && !binding.provided[i]) {
      loader.diagnostics.add(loader.at(fields ? fields : contract_node, path + ".fields"),
                             fmt::format("{} needs field '{}' ({})", contract->name, contract->fields[i].name,
                                         contract->fields[i].description));
    }
  }
  if (contract->name == "duty_kpi.v1") {
    binding.schema = std::make_shared<core::RecordSchema>(std::vector<std::string>{
        "fact_key", "revision", "employee_no", "position_code", "org_unit", "kpi_code", "duty_code", "period", "value",
        "unit", "target", "direction", "attainment", "inputs", "lineage", "computed_at"});
    if (mapping.catalog) {
      binding.time_zone = mapping.catalog->time_zone;
      binding.plant = mapping.catalog->plant;
    }
  } else {
    binding.schema = std::make_shared<core::RecordSchema>(std::vector<std::string>{
        "record_key", "revision", "employee_no", "record_type", "code", "evidence", "valid_from", "valid_to", "lineage",
        "computed_at"});
  }
  emit.contract = std::move(binding);
}

// The mapping type of a described source field.
Type typeOf(const core::FieldDescription& field) {
  Type::Kind kind = Type::Kind::Any;
  switch (field.type) {
    case core::ValueType::Null: return Type{Type::Kind::Any, true};
    case core::ValueType::Bool: kind = Type::Kind::Bool; break;
    case core::ValueType::Int: kind = Type::Kind::Int; break;
    case core::ValueType::Decimal: kind = Type::Kind::Decimal; break;
    case core::ValueType::Double: kind = Type::Kind::Double; break;
    case core::ValueType::String: kind = Type::Kind::String; break;
    case core::ValueType::Timestamp: kind = Type::Kind::Timestamp; break;
    case core::ValueType::Date: kind = Type::Kind::Date; break;
    case core::ValueType::List: kind = Type::Kind::List; break;
    case core::ValueType::Map: kind = Type::Kind::Map; break;
  }
  return Type{kind, field.nullable};
}

// `name: type` entries of a declared input, `input.overrides` or `test_input`.
struct DeclaredField {
  std::string name;
  Type type;
  YAML::Node key;
};

std::vector<DeclaredField> declaredFields(Loader& loader, const YAML::Node& node, const std::string& path) {
  std::vector<DeclaredField> fields;
  for (auto it = node.begin(); node.IsMap() && it != node.end(); ++it) {
    std::string name = it->first.Scalar();
    auto type = Type::parse(it->second.IsScalar() ? it->second.Scalar() : "");
    if (!type) {
      loader.error(it->second, path + "." + name, fmt::format("unknown type '{}'", it->second.Scalar()),
                   "types: bool, int, decimal, double, string, timestamp, date, duration, list, map, any; add ? for nullable");
      continue;
    }
    fields.push_back({name, *type, it->first});
  }
  return fields;
}

// `input: from_source` or `input: {from_source: true, ...}` (a declared field may be called
// from_source too, but its value is then a type, never `true`).
bool isFromSource(const YAML::Node& input) {
  if (!input) return false;
  if (input.IsScalar()) return input.Scalar() == "from_source";
  return input.IsMap() && input["from_source"] && input["from_source"].IsScalar() &&
         input["from_source"].Scalar() == "true";
}

bool containsIdentifier(std::string_view line, std::string_view name) {
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  for (size_t at = line.find(name); at != std::string_view::npos; at = line.find(name, at + 1)) {
    bool starts = at == 0 || !word(line[at - 1]);
    bool ends = at + name.size() == line.size() || !word(line[at + name.size()]);
    if (starts && ends) return true;
  }
  return false;
}

// A mapping compiled against types its file does not spell out: every diagnostic says where
// the types involved came from (the fields named on its line), so a type error that appears
// only at start-up is not a mystery.
config::Diagnostics explainTypeOrigin(const Loader& loader, const std::string& text,
                                      const std::vector<InputField>& inputs, std::string_view origin) {
  config::Diagnostics out;
  out.addSource(loader.file_name, text);
  for (const auto& item : loader.diagnostics.items()) {
    std::vector<std::string> notes;
    const int line = item.location.line;
    if (item.location.file == loader.file_name && line >= 1 && static_cast<size_t>(line) <= loader.lines.size()) {
      for (const auto& input : inputs) {
        if (input.described && containsIdentifier(loader.lines[static_cast<size_t>(line - 1)], input.name)) {
          notes.push_back(fmt::format("field '{}' is {} ({})", input.name, input.type.toString(), origin));
        }
      }
    }
    std::string note = notes.empty() ? fmt::format("the input types are {} (input: from_source)", origin)
                                     : fmt::format("{}; another type: input: {{from_source: true, overrides: "
                                                   "{{FIELD: TYPE}}}}", fmt::join(notes, "; "));
    out.add(item.location, item.message, item.hint.empty() ? note : item.hint + "; " + note);
  }
  return out;
}

}  // namespace

Binding Mapping::bind(const std::shared_ptr<const core::RecordSchema>& schema) const {
  Binding binding;
  binding.schema = schema;
  binding.index.reserve(inputs.size());
  for (const auto& input : inputs) binding.index.push_back(schema ? schema->indexOf(input.name) : std::nullopt);
  return binding;
}

core::Status Mapping::applyInto(const core::Record& input, const Binding& binding, const core::Clock& clock,
                                std::vector<core::Record>& out, std::vector<size_t>* emit_indices) const {
  if (!runnable) {
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("mapping {} (input: from_source) was not compiled against its source", label()));
  }
  const size_t first_output = out.size();
  // A record that fails part-way leaves none of its outputs behind: it is one dead letter.
  auto rollback = [&](core::Error error) -> core::Status {
    out.resize(first_output);
    if (emit_indices) emit_indices->resize(first_output);
    return core::fail(std::move(error));
  };
  // One slot buffer per thread, reused across records: every input and let slot is written
  // below before it is read, so no per-record allocation is needed for it.
  thread_local std::vector<Value> slots;
  slots.resize(scope.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputField& field = inputs[i];
    const auto& index = binding.index[i];
    if (!index) {
      if (field.type.nullable || field.type.kind == Type::Kind::Any) {
        slots[field.slot] = Value();
        continue;
      }
      return core::fail(core::ErrorKind::Permanent, fmt::format("{}: input field '{}' is missing", field.where, field.name));
    }
    const Value& value = input.value(*index);
    if (value.isNull() || field.type.kind == Type::Kind::Any ||
        (field.type.kind == Type::Kind::String && value.type() == core::ValueType::String)) {
      if (value.isNull() && !field.type.nullable && field.type.kind != Type::Kind::Any) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("{}: input field '{}' is null but {}", field.where, field.name, typeOrigin(field)));
      }
      slots[field.slot] = value;
      continue;
    }
    auto converted = convertInput(value, field);
    if (!converted) return core::fail(converted.error());
    slots[field.slot] = std::move(*converted);
  }
  EvalContext context{slots, &clock, &env};
  if (where) {
    auto keep = where->eval(context);
    if (!keep) return core::fail(keep.error());
    if (keep->type() != core::ValueType::Bool || !keep->asBool()) return {};
  }
  for (const auto& let : lets) {
    auto value = let.expr->eval(context);
    if (!value) return core::fail(value.error());
    slots[let.slot] = std::move(*value);
  }
  for (size_t e = 0; e < emits.size(); ++e) {
    const Emit& emit = emits[e];
    if (emit.when) {
      auto go = emit.when->eval(context);
      if (!go) return rollback(go.error());
      if (go->type() != core::ValueType::Bool || !go->asBool()) continue;
    }
    std::vector<Value> values;
    values.reserve(emit.fields.size());
    for (const auto& [field_name, expr] : emit.fields) {
      auto value = expr->eval(context);
      if (!value) return rollback(value.error());
      values.push_back(std::move(*value));
    }
    if (emit.contract) {
      auto built = buildContractRecord(*emit.contract, values, input, label(),
                                       source_system.empty() ? name : source_system, clock.now());
      if (!built) return rollback(std::move(built.error()));
      out.push_back(std::move(*built));
      out.back().meta.topic = emit.topic.empty() ? emit.contract->contract->default_topic : emit.topic;
    } else {
      out.emplace_back(emit.schema, std::move(values));
    }
    if (emit_indices) emit_indices->push_back(e);
    core::Record& record = out.back();
    record.meta.source_position = input.meta.source_position;
    record.meta.event_time = input.meta.event_time;
    if (!emit.topic.empty()) record.meta.topic = emit.topic;
    // A contract record's key is its fact key (or record key) unless the block sets `key:`.
    if (!emit.key.empty()) {
      std::string key;
      for (size_t k = 0; k < emit.key.size(); ++k) {
        auto part = emit.key[k]->eval(context);
        if (!part) return rollback(part.error());
        if (part->isNull()) {
          return rollback(core::Error::permanent(
                            fmt::format("{}:{}:{}: key part {} is null", emit.key[k]->location().file,
                                        emit.key[k]->location().line, emit.key[k]->location().column, k + 1)));
        }
        if (k > 0) key += '|';
        key += part->toText();
      }
      record.meta.key = std::move(key);
    }
  }
  return {};
}

core::Result<std::vector<Output>> Mapping::apply(const core::Record& input, const Binding& binding,
                                                 const core::Clock& clock) const {
  std::vector<core::Record> records;
  std::vector<size_t> indices;
  if (auto status = applyInto(input, binding, clock, records, &indices); !status) return core::fail(status.error());
  std::vector<Output> outputs;
  outputs.reserve(records.size());
  for (size_t i = 0; i < records.size(); ++i) outputs.push_back(Output{indices[i], std::move(records[i])});
  return outputs;
}

core::Record recordFromMap(const Value& map) {
  std::vector<std::string> names;
  std::vector<Value> values;
  if (map.type() == core::ValueType::Map) {
    for (const auto& [name, value] : map.asMap()) {
      names.push_back(name);
      values.push_back(value);
    }
  }
  return core::Record(std::make_shared<core::RecordSchema>(std::move(names)), std::move(values));
}

namespace {

// The one code path for every way a mapping gets its input types: declared in the file,
// described by the source (`description`), its `test_input:` (`use_test_input`), or none yet
// (offline from_source: checked with an open scope, not runnable).
std::expected<std::unique_ptr<Mapping>, config::Diagnostics> loadText(const std::filesystem::path& file,
                                                                      const std::string& text,
                                                                      const core::SourceDescription* description,
                                                                      bool use_test_input) {
  Loader loader;
  loader.file = file;
  loader.file_name = file.string();
  loader.diagnostics.addSource(loader.file_name, text);
  {
    std::istringstream lines(text);
    std::string line;
    while (std::getline(lines, line)) loader.lines.push_back(line);
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    loader.diagnostics.add(SourceLocation{loader.file_name, e.mark.line + 1, e.mark.column + 1, ""}, "YAML syntax: " + e.msg);
    return std::unexpected(std::move(loader.diagnostics));
  }
  if (!root.IsMap()) {
    loader.diagnostics.add(SourceLocation{loader.file_name, 1, 1, ""}, "a mapping file is a YAML mapping with name, input and emit");
    return std::unexpected(std::move(loader.diagnostics));
  }

  auto mapping = std::make_unique<Mapping>();
  mapping->file = file;
  mapping->text = text;
  try {
    loader.checkKeys(root, "", {"name", "version", "description", "source_system", "catalog", "input", "test_input",
                                "tables", "hmac_keys", "where", "let", "emit", "tests"});
    if (root["source_system"] && root["source_system"].IsScalar()) mapping->source_system = root["source_system"].Scalar();
    if (const YAML::Node catalog = root["catalog"]; catalog && catalog.IsScalar()) {
      std::filesystem::path path = catalog.Scalar();
      if (path.is_relative()) path = file.parent_path() / path;
      auto loaded = loadDutyCatalog(path);
      if (!loaded) {
        loader.error(catalog, "catalog", "the duty catalog has errors:\n" + loaded.error().format());
      } else {
        mapping->catalog = std::move(*loaded);
      }
    }
    if (!root["name"] || !root["name"].IsScalar() || root["name"].Scalar().empty()) {
      loader.error(root, "", "missing required key 'name'");
    } else {
      mapping->name = root["name"].Scalar();
    }
    if (root["version"]) {
      try {
        mapping->version = root["version"].as<int64_t>();
      } catch (const YAML::Exception&) {
        loader.error(root["version"], "version", "'version' must be an integer");
      }
    }

    // Reference tables and keys first: expressions check lookups and hmac key names at load.
    if (const YAML::Node tables = root["tables"]; tables) {
      if (!tables.IsMap()) loader.error(tables, "tables", "'tables' must map table names to rows or a csv file");
      for (auto it = tables.begin(); tables.IsMap() && it != tables.end(); ++it) {
        std::string table = it->first.Scalar();
        std::string path = "tables." + table;
        auto& rows = mapping->env.tables[table];
        const YAML::Node spec = it->second;
        loader.checkKeys(spec, path, {"rows", "csv"});
        if (spec["rows"] && spec["rows"].IsMap()) {
          for (auto row = spec["rows"].begin(); row != spec["rows"].end(); ++row) {
            rows.emplace(row->first.Scalar(), yamlToValue(row->second));
          }
        } else if (spec["csv"] && spec["csv"].IsScalar()) {
          std::filesystem::path csv = spec["csv"].Scalar();
          if (csv.is_relative()) csv = file.parent_path() / csv;
          std::string problem;
          for (auto& [key, value] : readCsv(csv, problem)) rows.emplace(std::move(key), Value(std::move(value)));
          if (!problem.empty()) loader.error(spec["csv"], path + ".csv", "table '" + table + "': " + problem);
        } else {
          loader.error(spec, path, "table '" + table + "' needs 'rows' (a mapping) or 'csv' (a file: key,value)");
        }
      }
    }
    if (const YAML::Node keys = root["hmac_keys"]; keys) {
      config::SecretResolver secrets;
      for (auto it = keys.begin(); keys.IsMap() && it != keys.end(); ++it) {
        auto resolved = secrets.resolve(it->second.Scalar());
        if (!resolved) {
          loader.error(it->second, "hmac_keys." + it->first.Scalar(), resolved.error().message);
        } else if (!resolved->secret) {
          loader.error(it->second, "hmac_keys." + it->first.Scalar(),
                       "an hmac key must come from a secret reference (${cred:NAME}, ${env:NAME} or ${file:PATH})");
        } else {
          mapping->env.hmac_keys.emplace(it->first.Scalar(), std::move(resolved->text));
        }
      }
    }

    const YAML::Node input = root["input"];
    const YAML::Node test_input = root["test_input"];
    auto addInput = [&](const std::string& name, Type type, const SourceLocation& at, bool described) {
      size_t slot = mapping->scope.add(name, type);
      mapping->inputs.push_back({name, type, slot, fmt::format("{}:{}:{}", at.file, at.line, at.column), described});
    };
    mapping->from_source = isFromSource(input);
    if (!mapping->from_source) {
      if (!input || !input.IsMap() || input.size() == 0) {
        loader.error(input ? input : root, "input", "'input' must declare the source fields and their types",
                     "e.g. input: {report_no: string, good_qty: decimal, scrap_qty: decimal?}, or input: from_source "
                     "to take them from the source");
      } else {
        for (const auto& field : declaredFields(loader, input, "input")) {
          addInput(field.name, field.type, loader.at(field.key, "input." + field.name), false);
        }
      }
      if (test_input) {
        loader.error(test_input, "test_input", "'test_input' is only for input: from_source",
                     "a declared input already types the tests' inputs");
      }
    } else {
      std::vector<DeclaredField> overrides;
      if (input.IsMap()) {
        loader.checkKeys(input, "input", {"from_source", "overrides"});
        if (const YAML::Node node = input["overrides"]; node) {
          if (!node.IsMap()) loader.error(node, "input.overrides", "'overrides' must map source fields to types");
          overrides = declaredFields(loader, node, "input.overrides");
        }
      }
      std::vector<DeclaredField> test_types;
      if (test_input) {
        mapping->has_test_input = true;
        if (!test_input.IsMap() || test_input.size() == 0) {
          loader.error(test_input, "test_input", "'test_input' must map field names to types, like a declared input");
        }
        test_types = declaredFields(loader, test_input, "test_input");
      }
      const SourceLocation input_at = loader.at(input, "input");
      auto overrideOf = [&](const std::string& name) -> const DeclaredField* {
        for (const auto& o : overrides) {
          if (o.name == name) return &o;
        }
        return nullptr;
      };
      if (description) {
        if (description->empty()) loader.error(input, "input", "the source's description has no fields");
        std::vector<std::string> described_names;
        for (const auto& field : *description) {
          described_names.push_back(field.name);
          if (const DeclaredField* o = overrideOf(field.name)) {
            addInput(field.name, o->type, loader.at(o->key, "input.overrides." + o->name), false);
          } else {
            addInput(field.name, typeOf(field), input_at, true);
          }
        }
        for (const auto& o : overrides) {
          if (std::find(described_names.begin(), described_names.end(), o.name) != described_names.end()) continue;
          std::string near = config::suggest(o.name, described_names);
          loader.error(o.key, "input.overrides." + o.name,
                       fmt::format("the source's description has no field '{}' to override", o.name),
                       near.empty() ? fmt::format("its fields: {}", fmt::join(described_names, ", "))
                                    : fmt::format("did you mean '{}'?", near));
        }
      } else if (use_test_input) {
        if (!test_input) loader.error(input, "input", "no test_input: to type the inputs without a source");
        for (const auto& field : test_types) {
          addInput(field.name, field.type, loader.at(field.key, "test_input." + field.name), false);
        }
      } else {
        for (const auto& o : overrides) addInput(o.name, o.type, loader.at(o.key, "input.overrides." + o.name), false);
        mapping->scope.setOpen(true);
        mapping->runnable = false;
      }
    }
    // Offline, fields read from the source are `any`: a condition made of one is checked later.
    auto notBool = [&](Type type) {
      return type.nullable || (type.kind != Type::Kind::Bool && !(mapping->scope.isOpen() && type.kind == Type::Kind::Any));
    };

    if (const YAML::Node where = root["where"]; where) {
      mapping->where = loader.expression(where, "where", mapping->scope, mapping->env);
      if (mapping->where && notBool(mapping->where->type())) {
        loader.diagnostics.add(mapping->where->location(),
                               fmt::format("'where' must be a non-null bool, found {}", mapping->where->type().toString()),
                               "use ?? to decide what a null means");
      }
    }
    if (const YAML::Node lets = root["let"]; lets) {
      if (!lets.IsMap()) loader.error(lets, "let", "'let' must map names to expressions");
      for (auto it = lets.begin(); lets.IsMap() && it != lets.end(); ++it) {
        std::string name = it->first.Scalar();
        auto expr = loader.expression(it->second, "let." + name, mapping->scope, mapping->env);
        if (!expr) {
          // Already reported: keep the name known (as any) so later uses do not cascade.
          mapping->scope.add(name, Type{Type::Kind::Any, false});
          continue;
        }
        size_t slot = mapping->scope.add(name, expr->type());
        mapping->lets.push_back({name, slot, std::move(expr)});
      }
    }

    const YAML::Node emits = root["emit"];
    if (!emits || !emits.IsSequence() || emits.size() == 0) {
      loader.error(emits ? emits : root, "emit", "'emit' must be a list of at least one output block");
    } else {
      for (size_t e = 0; e < emits.size(); ++e) {
        const YAML::Node block = emits[e];
        std::string path = fmt::format("emit[{}]", e);
        loader.checkKeys(block, path, {"to", "contract", "key", "when", "fields"});
        Emit emit;
        emit.location = loader.at(block, path);
        if (block["to"] && block["to"].IsScalar()) emit.topic = block["to"].Scalar();
        if (const YAML::Node key = block["key"]; key) {
          std::vector<YAML::Node> parts;
          if (key.IsSequence()) for (const auto& part : key) parts.push_back(part);
          else parts.push_back(key);
          for (size_t k = 0; k < parts.size(); ++k) {
            if (auto expr = loader.expression(parts[k], fmt::format("{}.key[{}]", path, k), mapping->scope, mapping->env)) {
              emit.key.push_back(std::move(expr));
            }
          }
        }
        if (const YAML::Node when = block["when"]; when) {
          emit.when = loader.expression(when, path + ".when", mapping->scope, mapping->env);
          if (emit.when && notBool(emit.when->type())) {
            loader.diagnostics.add(emit.when->location(), "'when' must be a non-null bool");
          }
        }
        const YAML::Node fields = block["fields"];
        if (!fields || !fields.IsMap() || fields.size() == 0) {
          loader.error(fields ? fields : block, path + ".fields", "'fields' must map output field names to expressions");
        } else {
          std::vector<std::string> names;
          for (auto it = fields.begin(); it != fields.end(); ++it) {
            std::string name = it->first.Scalar();
            auto expr = loader.expression(it->second, path + ".fields." + name, mapping->scope, mapping->env);
            if (!expr) continue;
            names.push_back(name);
            emit.fields.emplace_back(name, std::move(expr));
          }
          emit.schema = std::make_shared<core::RecordSchema>(std::move(names));
        }
        if (const YAML::Node contract = block["contract"]; contract) {
          bindContract(loader, *mapping, emit, contract, fields, path);
        }
        mapping->emits.push_back(std::move(emit));
      }
    }

    if (const YAML::Node tests = root["tests"]; tests) {
      for (size_t t = 0; tests.IsSequence() && t < tests.size(); ++t) {
        const YAML::Node test = tests[t];
        std::string path = fmt::format("tests[{}]", t);
        loader.checkKeys(test, path, {"name", "now", "input", "expect", "expect_error"});
        MappingTest mt;
        mt.location = loader.at(test, path);
        mt.name = test["name"] ? test["name"].Scalar() : fmt::format("test {}", t + 1);
        if (test["now"]) {
          auto now = core::parseTimestamp(test["now"].Scalar());
          if (!now) loader.error(test["now"], path + ".now", "'now' must be an RFC 3339 timestamp");
          else mt.now = *now;
        }
        mt.input = recordFromMap(yamlToValue(test["input"]));
        if (test["expect_error"]) mt.expect_error = test["expect_error"].Scalar();
        if (const YAML::Node expect = test["expect"]; expect) {
          for (const auto& item : expect) {
            MappingTest::Expected expected;
            for (auto it = item.begin(); item.IsMap() && it != item.end(); ++it) {
              std::string name = it->first.Scalar();
              if (name == "_topic") expected.topic = scalarText(it->second);
              else if (name == "_key") expected.key = scalarText(it->second);
              else expected.fields.emplace_back(name, scalarText(it->second));
            }
            mt.expect.push_back(std::move(expected));
          }
        }
        mapping->tests.push_back(std::move(mt));
      }
      if (mapping->from_source && !mapping->tests.empty() && !test_input) {
        loader.error(tests, "tests", "the tests of a mapping with input: from_source need test_input: to type their inputs",
                     "e.g. test_input: {report_no: string, good_qty: decimal, updated_at: timestamp}");
      }
    }
  } catch (const YAML::Exception& e) {
    loader.diagnostics.add(SourceLocation{loader.file_name, e.mark.line + 1, e.mark.column + 1, ""}, "YAML: " + e.msg);
  }
  if (mapping->scope.isOpen()) mapping->source_fields = mapping->scope.openedFields();
  if (!loader.diagnostics.empty()) {
    if (mapping->from_source && (description || use_test_input)) {
      return std::unexpected(explainTypeOrigin(loader, text, mapping->inputs,
                                               description ? "from the source's description" : "from test_input"));
    }
    return std::unexpected(std::move(loader.diagnostics));
  }
  return mapping;
}

}  // namespace

std::expected<std::unique_ptr<Mapping>, config::Diagnostics> loadMapping(const std::filesystem::path& file,
                                                                         const core::SourceDescription* description) {
  config::Diagnostics diagnostics;
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    diagnostics.add(SourceLocation{file.string(), 0, 0, ""}, "cannot read mapping file");
    return std::unexpected(std::move(diagnostics));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  std::string text = buffer.str();
  if (text.size() > kMaxFileBytes) {
    diagnostics.add(SourceLocation{file.string(), 1, 1, ""}, "mapping file larger than 4 MiB");
    return std::unexpected(std::move(diagnostics));
  }
  return loadText(file, text, description, false);
}

std::expected<std::unique_ptr<Mapping>, config::Diagnostics> Mapping::compileFor(
    const core::SourceDescription& description) const {
  return loadText(file, text, &description, false);
}

std::expected<std::unique_ptr<Mapping>, config::Diagnostics> Mapping::compileWithTestInput() const {
  return loadText(file, text, nullptr, true);
}

std::vector<std::string> runMappingTests(const Mapping& mapping) {
  if (!mapping.runnable) {
    auto compiled = mapping.compileWithTestInput();
    if (!compiled) {
      return {fmt::format("{}: compiling with the test_input types failed:\n{}", mapping.file.string(),
                          compiled.error().format())};
    }
    return runMappingTests(**compiled);
  }
  std::vector<std::string> failures;
  for (const auto& test : mapping.tests) {
    core::ManualClock clock(test.now.value_or(core::Timestamp{0}));
    auto binding = mapping.bind(test.input.schema());
    auto result = mapping.apply(test.input, binding, clock);
    std::string header = fmt::format("{}:{}: test '{}'", test.location.file, test.location.line, test.name);
    if (test.expect_error) {
      if (result) {
        failures.push_back(fmt::format("{}: expected a dead letter containing \"{}\", got {} output(s)", header,
                                       *test.expect_error, result->size()));
      } else if (result.error().message.find(*test.expect_error) == std::string::npos) {
        failures.push_back(fmt::format("{}: expected a dead letter containing \"{}\"\n  - got: {}", header,
                                       *test.expect_error, result.error().message));
      }
      continue;
    }
    if (!result) {
      failures.push_back(fmt::format("{}: unexpected dead letter: {}", header, result.error().message));
      continue;
    }
    std::string diff;
    if (result->size() != test.expect.size()) {
      diff += fmt::format("  expected {} output(s), got {}\n", test.expect.size(), result->size());
    }
    for (size_t i = 0; i < std::min(result->size(), test.expect.size()); ++i) {
      const auto& expected = test.expect[i];
      const auto& actual = (*result)[i].record;
      if (expected.topic && actual.meta.topic.value_or("") != *expected.topic) {
        diff += fmt::format("  output {}: _topic\n  - expected: {}\n  + actual:   {}\n", i + 1, *expected.topic,
                            actual.meta.topic.value_or("(sink topic)"));
      }
      if (expected.key && actual.meta.key.value_or("") != *expected.key) {
        diff += fmt::format("  output {}: _key\n  - expected: {}\n  + actual:   {}\n", i + 1, *expected.key,
                            actual.meta.key.value_or("(none)"));
      }
      for (const auto& [name, want] : expected.fields) {
        const Value* have = actual.find(name);
        if (!have) {
          diff += fmt::format("  output {}: field '{}' expected but not emitted\n", i + 1, name);
        } else if (!sameValue(*have, want)) {
          diff += fmt::format("  output {}: {}\n  - expected: {}\n  + actual:   {}\n", i + 1, name, want.value_or("null"),
                              showValue(*have));
        }
      }
    }
    for (size_t i = test.expect.size(); i < result->size(); ++i) {
      diff += fmt::format("  + unexpected output {}: {}\n", i + 1, codec::toJson((*result)[i].record).dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
    }
    if (!diff.empty()) failures.push_back(header + "\n" + diff);
  }
  return failures;
}

}  // namespace dutybridge::mapping
