#include "src/mapping/mapping.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <set>
#include <span>
#include <sstream>

#include "src/calendar/calendar.h"
#include "src/codec/json.h"
#include "src/common/file_read.h"
#include "src/common/redact.h"
#include "src/contract/contract_spec.h"
#include "src/mapping/aggregate_stage.h"
#include "src/mapping/mapping_schema.h"
#include "src/schema/secrets.h"
#include "src/schema/validator.h"

namespace dutybridge::mapping {
namespace {

using core::SourceLocation;
using core::Value;

constexpr size_t kMaxFileBytes = 4 << 20;

// The top-level keys of a mapping file (an overlay also has `extends`).
// The top-level keys, from the schema (an overlay may replace any of them).
std::vector<std::string> mappingKeys() {
  std::vector<std::string> keys;
  for (const auto& field : mappingFileSchema().fields()) keys.push_back(field.name);
  return keys;
}

struct Loader {
  std::filesystem::path file;
  std::string file_name;
  std::vector<std::string> lines;
  diag::Diagnostics diagnostics;

  // Subtrees that came from another file than `file`: an overlay's (`extends:`) replacements
  // grafted into its base. Their diagnostics and relative paths refer to their own file.
  struct Graft {
    YAML::Node node;
    std::filesystem::path file;
    std::string file_name;
    std::vector<std::string> lines;
  };
  std::vector<Graft> grafts;

  static bool contains(const YAML::Node& tree, const YAML::Node& node) {
    if (tree.is(node)) return true;
    if (tree.IsMap()) {
      for (auto it = tree.begin(); it != tree.end(); ++it) {
        if (it->first.is(node) || contains(it->second, node)) return true;
      }
    } else if (tree.IsSequence()) {
      for (const auto& item : tree) {
        if (contains(item, node)) return true;
      }
    }
    return false;
  }

  const Graft* graftOf(const YAML::Node& node) const {
    if (!node.IsDefined()) return nullptr;
    for (const auto& graft : grafts) {
      if (contains(graft.node, node)) return &graft;
    }
    return nullptr;
  }

  // The directory a relative path written in `node` is relative to.
  std::filesystem::path dirOf(const YAML::Node& node) const {
    const Graft* graft = graftOf(node);
    return (graft ? graft->file : file).parent_path();
  }

  SourceLocation at(const YAML::Node& node, const std::string& path) const {
    const Graft* graft = graftOf(node);
    SourceLocation loc{graft ? graft->file_name : file_name, 0, 0, path};
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
    const Graft* graft = graftOf(node);
    const std::vector<std::string>& text_lines = graft ? graft->lines : lines;
    if (loc.line < 1 || static_cast<size_t>(loc.line) > text_lines.size()) return loc;
    const std::string& line = text_lines[static_cast<size_t>(loc.line - 1)];
    size_t col = static_cast<size_t>(loc.column - 1);
    if (col < line.size() && (line[col] == '"' || line[col] == '\'')) {
      ++loc.column;
    } else if (col < line.size() && (line[col] == '|' || line[col] == '>') &&
               static_cast<size_t>(loc.line) < text_lines.size()) {
      const std::string& next = text_lines[static_cast<size_t>(loc.line)];
      ++loc.line;
      loc.column = static_cast<int>(next.find_first_not_of(' ') == std::string::npos ? 1 : next.find_first_not_of(' ') + 1);
    }
    return loc;
  }

  void error(const YAML::Node& node, const std::string& path, std::string message, std::string hint = {}) {
    diagnostics.add(at(node, path), std::move(message), std::move(hint));
  }

  // Every key that holds an expression is one in the schema, which reports a value that is not
  // a string (an emit block's key parts are checked where they are read).
  std::unique_ptr<expr::Expr> expression(const YAML::Node& node, const std::string& path, const expr::Scope& scope,
                                         const expr::FunctionEnv& env) {
    if (!node.IsScalar()) return nullptr;
    return expr::compileExpression(node.Scalar(), textStart(node, path), scope, env, diagnostics);
  }

  void checkKeys(const YAML::Node& node, const std::string& path, const std::vector<std::string>& allowed) {
    if (!node.IsMap()) return;
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.Scalar();
      if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
      std::string near = diag::suggest(key, allowed);
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
    if (field.type.nullable || field.type.kind == expr::Type::Kind::Any) return Value();
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
    case expr::Type::Kind::Any:
      return value;
    case expr::Type::Kind::Bool:
      if (value.type() == core::ValueType::Bool) return value;
      // Databases without a boolean type (SQLite, MySQL tinyint(1), SQL Server bit read as a
      // number) store 0 and 1.
      if (value.type() == core::ValueType::String) {
        const std::string& text = value.asString();
        if (text == "true" || text == "1") return Value(true);
        if (text == "false" || text == "0") return Value(false);
      }
      if (value.type() == core::ValueType::Int && (value.asInt() == 0 || value.asInt() == 1)) {
        return Value(value.asInt() == 1);
      }
      return wrap(core::Result<bool>(core::fail(core::ErrorKind::Permanent, "")), "bool");
    case expr::Type::Kind::Int:
      return wrap(value.toInt(), "int");
    case expr::Type::Kind::Decimal:
      return wrap(value.toDecimal(), "decimal");
    case expr::Type::Kind::Double:
      return wrap(value.toDouble(), "double");
    case expr::Type::Kind::String:
      if (value.type() == core::ValueType::String) return value;
      return Value(value.toText());
    case expr::Type::Kind::Timestamp:
      return wrap(value.toTimestamp(), "timestamp");
    case expr::Type::Kind::Date:
      return wrap(value.toDate(), "date");
    case expr::Type::Kind::Duration:
      return wrap(value.toInt(), "duration (microseconds)");
    case expr::Type::Kind::List:
      if (value.type() == core::ValueType::List) return value;
      return wrap(core::Result<int>(core::fail(core::ErrorKind::Permanent, "")), "list");
    case expr::Type::Kind::Map:
      if (value.type() == core::ValueType::Map) return value;
      return wrap(core::Result<int>(core::fail(core::ErrorKind::Permanent, "")), "map");
    case expr::Type::Kind::Null:
      return Value();
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

// CSV problems are cited by file:line:column and column name only: the rows hold badge and
// employee numbers, so no excerpt of the CSV is registered (and none is printed).
void reportTableProblems(Loader& loader, const std::vector<expr::TableProblem>& problems, const std::string& path) {
  for (const auto& problem : problems) {
    core::SourceLocation where = problem.where;
    if (where.path.empty()) where.path = path;
    loader.diagnostics.add(std::move(where), problem.message, problem.hint);
  }
}

// Inline rows: a map {key: value} (undated), or a list of {key, value, valid_from?, valid_to?}.
std::optional<std::vector<expr::TableRow>> inlineRows(Loader& loader, const YAML::Node& node, const std::string& path,
                                                      bool& dated) {
  std::vector<expr::TableRow> rows;
  if (node.IsMap()) {
    for (auto row = node.begin(); row != node.end(); ++row) {
      expr::TableRow r;
      r.key = row->first.Scalar();
      r.value = yamlToValue(row->second);
      r.where = r.validity_where = loader.at(row->first, path + "." + r.key);
      rows.push_back(std::move(r));
    }
    return rows;
  }
  if (!node.IsSequence()) {
    loader.error(node, path, "'rows' must be a mapping {key: value} or a list of {key, value, valid_from, valid_to}");
    return std::nullopt;
  }
  bool ok = true;
  for (size_t i = 0; i < node.size(); ++i) {
    const YAML::Node item = node[i];
    std::string item_path = fmt::format("{}[{}]", path, i);
    if (!item.IsMap() || !item["key"] || !item["key"].IsScalar()) {
      loader.error(item, item_path, "a row needs 'key' and 'value'", "e.g. {key: B1, value: E1, valid_from: 2025-01-01}");
      ok = false;
      continue;
    }
    loader.checkKeys(item, item_path, {"key", "value", "valid_from", "valid_to"});
    expr::TableRow r;
    r.key = item["key"].Scalar();
    r.value = yamlToValue(item["value"]);
    r.where = loader.at(item, item_path);
    r.validity_where = r.where;
    if (const YAML::Node from = item["valid_from"]; from) {
      dated = true;
      r.valid_from = scalarText(from).value_or("");
      r.validity_where = loader.at(from, item_path + ".valid_from");
    }
    if (const YAML::Node to = item["valid_to"]; to) {
      dated = true;
      r.valid_to = scalarText(to).value_or("");
      if (!item["valid_from"]) r.validity_where = loader.at(to, item_path + ".valid_to");
    }
    rows.push_back(std::move(r));
  }
  if (!ok) return std::nullopt;
  return rows;
}

// The loader of a table whose rows come through a connector (`odbc:`, `kafka:`): the block is
// validated against the table source's schema by the one validator (unknown keys, types, bounds,
// secret references, each located with its YAML path), then created through the registry the
// CLI filled. nullptr after a reported error.
std::unique_ptr<expr::TableLoader> connectorTableLoader(Loader& loader, const std::string& table,
                                                        const std::string& kind, const std::string& path,
                                                        const YAML::Node& block, const expr::TableColumns& columns,
                                                        const MappingLoadOptions& options) {
  const std::string block_path = path + "." + kind;
  const core::TableSourceFactory* factory =
      options.table_sources ? options.table_sources->findTableSource(kind) : nullptr;
  if (!factory) {
    loader.error(block, block_path, fmt::format("no loader for '{}' table sources here", kind),
                 "the dutybridge commands register them (connectors::registerBuiltinConnectors)");
    return nullptr;
  }
  schema::SecretResolver secrets;
  schema::ValidationContext context{loader.at(block, block_path).file, options.table_sources, &secrets,
                                    &loader.diagnostics};
  const size_t problems = loader.diagnostics.size();
  core::ConfigObject settings = schema::validateObject(block, factory->configSchema(), block_path, context);
  if (loader.diagnostics.size() > problems) return nullptr;
  auto created = factory->create(settings, core::TableSourceContext{table, columns, options.kafka});
  if (!created) {
    loader.error(block, block_path, fmt::format("{} table source: {}", kind, created.error().message));
    return nullptr;
  }
  return std::move(*created);
}

// One entry of `tables:`: its source (rows, csv, odbc, kafka), columns, validity and refresh.
void loadTable(Loader& loader, Mapping& mapping, const std::string& table, const YAML::Node& spec,
               const MappingLoadOptions& options) {
  std::string path = "tables." + table;
  // Known but empty until it loads: lookups of a table that failed report nothing more.
  mapping.env.tables[table] = std::make_shared<expr::TableHandle>(table, nullptr);
  if (!spec.IsMap()) return;  // the schema has reported it (and any unknown key)
  std::vector<std::string> sources;
  for (const char* kind : {"rows", "csv", "odbc", "kafka"}) {
    if (spec[kind]) sources.push_back(kind);
  }
  if (sources.size() != 1) {
    loader.error(spec, path,
                 sources.empty() ? "table '" + table + "' needs 'rows' (inline) or a source: csv, odbc or kafka"
                                 : fmt::format("table '{}' has several sources ({}); keep one", table,
                                               fmt::join(sources, ", ")));
    return;
  }
  const std::string& kind = sources.front();
  auto text = [&](const char* key) { return spec[key] && spec[key].IsScalar() ? spec[key].Scalar() : std::string(); };
  expr::TableColumns columns{text("key"), text("value"), text("valid_from"), text("valid_to")};
  std::string zone = spec["time_zone"] ? text("time_zone") : "UTC";
  if (zone != "UTC" && !core::isKnownTimeZone(zone)) {
    loader.error(spec["time_zone"], path + ".time_zone", fmt::format("unknown time zone '{}'", zone),
                 "use an IANA name such as Asia/Shanghai");
    return;
  }
  std::optional<std::chrono::microseconds> refresh;
  if (spec["refresh"]) {
    auto micros = core::parseDuration(text("refresh"));
    if (!micros || *micros < 1'000'000) return;  // the schema has reported it
    if (kind == "rows") {
      loader.error(spec["refresh"], path + ".refresh", "inline rows cannot be refreshed",
                   "move the rows to a csv file, or remove 'refresh'");
      return;
    }
    refresh = std::chrono::microseconds(*micros);
  }

  std::vector<expr::TableRow> rows;
  bool dated = columns.dated();
  std::unique_ptr<expr::TableLoader> source;
  if (kind == "rows") {
    for (const char* key : {"key", "value", "valid_from", "valid_to"}) {
      if (spec[key]) {
        loader.error(spec[key], path + "." + key, fmt::format("'{}' names a column of a csv, odbc or kafka source", key),
                     "inline rows say key, value, valid_from and valid_to in each row");
      }
    }
    auto inline_rows = inlineRows(loader, spec["rows"], path + ".rows", dated);
    if (!inline_rows) return;
    rows = std::move(*inline_rows);
  } else {
    if (kind == "csv") {
      if (!spec["csv"].IsScalar()) {
        loader.error(spec["csv"], path + ".csv", "'csv' must be a file name (relative to the mapping file)");
        return;
      }
      std::filesystem::path csv = spec["csv"].Scalar();
      if (csv.is_relative()) csv = loader.dirOf(spec["csv"]) / csv;
      source = std::make_unique<expr::CsvTableLoader>(csv);
    } else {
      source = connectorTableLoader(loader, table, kind, path, spec[kind], columns, options);
      if (!source) return;
    }
    auto raw = source->load();
    if (!raw) {
      bool unreachable = raw.error().kind == core::ErrorKind::Retryable;
      loader.error(spec[kind], path + "." + kind,
                   fmt::format("table '{}' could not be loaded ({}): {}", table, source->describe(),
                               raw.error().message),
                   unreachable ? "its source did not answer; `dutybridge run` keeps retrying with backoff" : "");
      if (unreachable && options.unreachable_tables) ++*options.unreachable_tables;
      return;
    }
    auto picked = expr::ReferenceTable::rowsFrom(std::move(*raw), columns, loader.at(spec[kind], path + "." + kind));
    if (!picked) {
      reportTableProblems(loader, picked.error(), path);
      return;
    }
    rows = std::move(*picked);
  }
  auto built = expr::ReferenceTable::build(std::move(rows), dated, zone);
  if (!built) {
    reportTableProblems(loader, built.error(), path);
    return;
  }
  auto handle = std::make_shared<expr::TableHandle>(table, std::move(*built));
  mapping.env.tables[table] = handle;
  if (refresh) {
    mapping.table_refreshers.push_back(std::make_shared<expr::TableRefresher>(handle, std::move(source), columns, zone,
                                                                              *refresh, loader.at(spec, path)));
  }
}

// Splits "sum(a + b, c)" into the function name and its top-level argument texts with their
// offsets in `text`. nullopt when the text is not a single call.
struct MeasureCall {
  std::string function;
  std::vector<std::pair<std::string, size_t>> args;  // text, offset
};

std::optional<MeasureCall> splitMeasureCall(const std::string& text) {
  size_t open = text.find('(');
  size_t close = text.find_last_not_of(" \t\r\n");
  if (open == std::string::npos || close == std::string::npos || text[close] != ')') return std::nullopt;
  MeasureCall call;
  size_t a = text.find_first_not_of(" \t");
  size_t b = text.find_last_not_of(" \t", open - 1);
  if (a == std::string::npos || a >= open) return std::nullopt;
  call.function = text.substr(a, b - a + 1);
  int depth = 0;
  char quote = 0;
  size_t start = open + 1;
  for (size_t i = open + 1; i < close; ++i) {
    char c = text[i];
    if (quote) {
      if (c == '\\') ++i;
      else if (c == quote) quote = 0;
      continue;
    }
    if (c == '"' || c == '\'') quote = c;
    else if (c == '(' || c == '[') ++depth;
    else if (c == ')' || c == ']') --depth;
    else if (c == ',' && depth == 0) {
      call.args.emplace_back(text.substr(start, i - start), start);
      start = i + 1;
    }
  }
  if (depth != 0 || quote) return std::nullopt;
  std::string last = text.substr(start, close - start);
  if (last.find_first_not_of(" \t") != std::string::npos || !call.args.empty()) call.args.emplace_back(last, start);
  return call;
}

// The first shift date of the period that contains `day`: a WEEK fact is dated by its Monday, a
// MONTH fact by its first, whichever row opened the window.
core::Date periodFirstDate(calendar::PeriodType period, core::Date day) {
  switch (period) {
    case calendar::PeriodType::Week: return core::Date{day.days - (day.days + 3) % 7};  // 1970-01-01 was a Thursday
    case calendar::PeriodType::Month: {
      std::string text = core::formatDate(day);
      return core::dateFromYmd(std::stoi(text.substr(0, 4)), static_cast<unsigned>(std::stoi(text.substr(5, 2))), 1);
    }
    default: return day;
  }
}

// A duration key's value; its default when absent or empty (`key:`), and after a value the
// schema refused (it has reported it).
int64_t durationOr(const YAML::Node& node, int64_t fallback) {
  if (!node || !node.IsScalar()) return fallback;
  auto micros = core::parseDuration(node.Scalar());
  return micros && *micros >= 0 ? *micros : fallback;
}

void loadAggregateIdentity(Loader& loader, Mapping& mapping, const YAML::Node& node) {
  AggregateBlock& block = *mapping.aggregate;
  if (!node.IsMap()) return;  // the schema has reported it, and a missing id
  if (node["id"]) block.id = loader.expression(node["id"], "aggregate.id", mapping.scope, mapping.env);
  if (node["part"]) block.part = loader.expression(node["part"], "aggregate.part", mapping.scope, mapping.env);
  if (node["version"]) block.version = loader.expression(node["version"], "aggregate.version", mapping.scope, mapping.env);
}

using Kind = expr::Type::Kind;

// Reports an aggregate expression whose type is not `kind`.
void requireKind(Loader& loader, const std::unique_ptr<expr::Expr>& expr, Kind kind, const std::string& what) {
  if (expr && expr->type().kind != kind && expr->type().kind != Kind::Any) {
    loader.diagnostics.add(expr->location(), fmt::format("aggregate.{} must be {}, not {}", what,
                                                         expr::Type{kind, false}.toString(), expr->type().toString()));
  }
}

// period: HOUR: `time` picks the hour slot; the shift is the one containing it, or the row's own
// `shift_date` and `shift_code` when given (an MES report booked on its shift, stamped with the
// end of the work it reports).
void loadHourPeriod(Loader& loader, Mapping& mapping, const YAML::Node& node) {
  AggregateBlock& block = *mapping.aggregate;
  if (!node["time"]) {
    loader.error(node["period"], "aggregate.period",
                 "'period: HOUR' needs 'time': the instant that picks the hour of the shift",
                 "e.g. time: time_to (the end of the work reported), with shift_date and shift_code to name the "
                 "shift, or without them to take the shift that contains the time");
  } else {
    block.time = loader.expression(node["time"], "aggregate.time", mapping.scope, mapping.env);
    requireKind(loader, block.time, Kind::Timestamp, "time");
  }
  if (node["shift_date"] && node["shift_code"]) {
    block.shift_date = loader.expression(node["shift_date"], "aggregate.shift_date", mapping.scope, mapping.env);
    block.shift_code = loader.expression(node["shift_code"], "aggregate.shift_code", mapping.scope, mapping.env);
    requireKind(loader, block.shift_date, Kind::Date, "shift_date");
  } else if (node["shift_date"] || node["shift_code"]) {
    loader.error(node["shift_date"] ? node["shift_date"] : node["shift_code"],
                 node["shift_date"] ? "aggregate.shift_date" : "aggregate.shift_code",
                 "an HOUR period's shift needs both 'shift_date' and 'shift_code'",
                 "or neither: the calendar then takes the shift that contains 'time'");
  }
}

// period: ROLLING: `window` (whole days) and the row's day, from `shift_date` or the shift of
// `time`; the calendar gives the time zone of the plant days. The keys of closing windows do not
// apply: a rolling record never closes or goes.
void loadRollingPeriod(Loader& loader, Mapping& mapping, const YAML::Node& node) {
  AggregateBlock& block = *mapping.aggregate;
  constexpr int64_t kDay = 86'400'000'000;
  block.rolling = true;
  block.period = calendar::PeriodType::Day;
  if (block.calendar) block.options.time_zone = block.calendar->timeZone();
  const YAML::Node window = node["window"];
  const int64_t micros = durationOr(window, 0);
  if (!window) {
    loader.error(node["period"], "aggregate.period",
                 "'period: ROLLING' needs 'window': how many plant days a record covers", "e.g. window: 90d");
  } else if (micros >= kDay && micros % kDay != 0) {
    loader.error(window, "aggregate.window", "a ROLLING window is a whole number of days", "e.g. window: 90d");
  } else if (micros >= kDay) {  // a shorter one the schema has reported
    block.options.rolling_days = micros / kDay;
  }
  const std::pair<const char*, const char*> refused[] = {
      {"grace", "a rolling record never closes: it is revised when rows come in and when they age out"},
      {"retain", "a rolling record is kept for good (so its revisions keep increasing); its rows age out"},
      {"expect", "a roster owes a fact per SHIFT, DAY, WEEK or MONTH"},
  };
  for (const auto& [key, hint] : refused) {
    if (node[key]) {
      loader.error(node[key], fmt::format("aggregate.{}", key),
                   fmt::format("'{}' does not apply to period ROLLING", key), hint);
    }
  }
  if (node["shift_code"]) {
    loader.error(node["shift_code"], "aggregate.shift_code", "'shift_code' does not apply to period ROLLING",
                 "a rolling record counts each row on its day: give 'shift_date' or 'time'");
  }
  if (node["time"] && node["shift_date"]) {
    loader.error(node["shift_date"], "aggregate", "give either 'time' or 'shift_date', not both");
  } else if (node["time"]) {
    block.time = loader.expression(node["time"], "aggregate.time", mapping.scope, mapping.env);
    requireKind(loader, block.time, Kind::Timestamp, "time");
  } else if (node["shift_date"]) {
    block.shift_date = loader.expression(node["shift_date"], "aggregate.shift_date", mapping.scope, mapping.env);
    requireKind(loader, block.shift_date, Kind::Date, "shift_date");
  } else {
    loader.error(node, "aggregate",
                 "'aggregate' needs the row's day: 'shift_date' (a date) or 'time' (a timestamp, "
                 "counted on the shift date the calendar gives it)");
  }
}

// aggregate: calendar, period and the row's time (or shift date and code).
void loadAggregatePeriod(Loader& loader, Mapping& mapping, const YAML::Node& node) {
  AggregateBlock& block = *mapping.aggregate;
  std::string calendar_name = node["calendar"] && node["calendar"].IsScalar() ? node["calendar"].Scalar() : "";
  if (calendar_name.empty()) {
    loader.error(node, "aggregate.calendar", "'aggregate' needs 'calendar': the plant calendar of its periods",
                 "name one of the calendars file given by 'calendars:'");
  } else if (!mapping.env.calendars) {
    loader.error(node["calendar"], "aggregate.calendar", "no calendars are loaded",
                 "add calendars: ../config/calendars.yaml to the mapping");
  } else if (const calendar::Calendar* cal = mapping.env.calendars->find(calendar_name); !cal) {
    std::string near = diag::suggest(calendar_name, mapping.env.calendars->names());
    loader.error(node["calendar"], "aggregate.calendar", fmt::format("unknown calendar '{}'", calendar_name),
                 near.empty() ? fmt::format("calendars: {}", fmt::join(mapping.env.calendars->names(), ", "))
                              : fmt::format("did you mean '{}'?", near));
  } else {
    block.calendar_name = calendar_name;
    block.calendar = cal;
  }
  std::string period = node["period"] && node["period"].IsScalar() ? node["period"].Scalar() : "";
  if (period == "ROLLING") {
    loadRollingPeriod(loader, mapping, node);
    return;
  }
  if (node["window"]) {
    loader.error(node["window"], "aggregate.window", "'window' is for period ROLLING",
                 "calendar periods (SHIFT, DAY, WEEK, MONTH, HOUR) are given by the calendar");
  }
  // A missing or unknown period the schema has reported.
  if (auto type = calendar::parsePeriodType(period)) block.period = *type;
  if (block.period == calendar::PeriodType::Hour) {
    loadHourPeriod(loader, mapping, node);
  } else if (node["time"]) {
    block.time = loader.expression(node["time"], "aggregate.time", mapping.scope, mapping.env);
    requireKind(loader, block.time, Kind::Timestamp, "time");
    if (node["shift_date"] || node["shift_code"]) {
      loader.error(node["shift_date"] ? node["shift_date"] : node["shift_code"], "aggregate",
                   "give either 'time' or 'shift_date' and 'shift_code', not both");
    }
  } else if (node["shift_date"] && (node["shift_code"] || block.period != calendar::PeriodType::Shift)) {
    // DAY/WEEK/MONTH periods need only the date (purchase receipts, won opportunities).
    block.shift_date = loader.expression(node["shift_date"], "aggregate.shift_date", mapping.scope, mapping.env);
    if (node["shift_code"]) {
      block.shift_code = loader.expression(node["shift_code"], "aggregate.shift_code", mapping.scope, mapping.env);
    }
    requireKind(loader, block.shift_date, Kind::Date, "shift_date");
  } else {
    loader.error(node, "aggregate", "'aggregate' needs the row's period: 'time' (an event timestamp, placed in its "
                                    "shift by the calendar) or 'shift_date' (and 'shift_code' for SHIFT periods)");
  }
}

// One of aggregate.measures: `name: function(args)`. Returns the measure's type for the emit
// blocks (unknown after an error, which is reported).
expr::Type loadMeasure(Loader& loader, Mapping& mapping, const std::string& name, const std::string& path,
                       const YAML::Node& value) {
  AggregateBlock& block = *mapping.aggregate;
  std::optional<MeasureCall> call = value.IsScalar() ? splitMeasureCall(value.Scalar()) : std::nullopt;
  auto kind = call ? aggregate::parseMeasureKind(call->function) : std::nullopt;
  if (!kind) {
    loader.error(value, path,
                 "a measure is one of sum(x), count(), count(condition), count_distinct(x), min(x), "
                 "max(x), ratio(numerator, denominator), weighted_avg(x, weight)");
    return expr::Type{};
  }
  size_t arity = aggregate::measureArity(*kind);
  bool count = *kind == aggregate::MeasureKind::Count;
  if (count ? call->args.size() > 1 : call->args.size() != arity) {
    loader.error(value, path,
                 fmt::format("{} takes {}", call->function,
                             count        ? "no argument or a condition"
                             : arity == 1 ? "one argument"
                                          : "two arguments"));
    return expr::Type{};
  }
  AggregateMeasure measure;
  measure.name = name;
  measure.kind = *kind;
  core::SourceLocation start = loader.textStart(value, path);
  std::vector<std::unique_ptr<expr::Expr>> args;
  for (const auto& [arg_text, offset] : call->args) {
    core::SourceLocation at = start;
    at.column += static_cast<int>(offset);
    args.push_back(expr::compileExpression(arg_text, at, mapping.scope, mapping.env, loader.diagnostics));
  }
  expr::Type result{Kind::Decimal, false};
  switch (*kind) {
    case aggregate::MeasureKind::Count:
    case aggregate::MeasureKind::CountDistinct:
      result = expr::Type{Kind::Int, false};
      break;
    case aggregate::MeasureKind::Min:
    case aggregate::MeasureKind::Max:
      result = args[0] ? expr::Type{args[0]->type().kind == Kind::Int ? Kind::Decimal : args[0]->type().kind, true}
                       : expr::Type{};
      break;
    case aggregate::MeasureKind::RatioOfSums:
    case aggregate::MeasureKind::WeightedAvg:
      result = expr::Type{Kind::Decimal, true};
      break;
    case aggregate::MeasureKind::Sum:
      break;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    if (!args[i]) continue;
    Kind k = args[i]->type().kind;
    bool numeric = k == Kind::Int || k == Kind::Decimal || k == Kind::Double || k == Kind::Any;
    bool needs_number = *kind == aggregate::MeasureKind::Sum || *kind == aggregate::MeasureKind::RatioOfSums ||
                        *kind == aggregate::MeasureKind::WeightedAvg;
    if (needs_number && !numeric) {
      loader.diagnostics.add(args[i]->location(),
                             fmt::format("{} needs a number, not {}", call->function, args[i]->type().toString()));
    }
    if (count && k != Kind::Bool && k != Kind::Any) {
      loader.diagnostics.add(args[i]->location(),
                             fmt::format("count(condition) needs a bool, not {}", args[i]->type().toString()));
    }
  }
  if (!args.empty()) measure.first = std::move(args[0]);
  if (args.size() > 1) measure.second = std::move(args[1]);
  block.options.measures.push_back({name, *kind, 6});
  block.measures.push_back(std::move(measure));
  return result;
}

// aggregate.expect: the roster of groups that owe a fact every period.
void loadAggregateExpect(Loader& loader, Mapping& mapping, const YAML::Node& expect) {
  AggregateBlock& block = *mapping.aggregate;
  std::string table = expect.IsMap() && expect["table"] && expect["table"].IsScalar() ? expect["table"].Scalar() : "";
  if (table.empty()) {
    return;  // the schema has reported it
  } else if (!mapping.env.tables.contains(table)) {
    std::vector<std::string> tables;
    for (const auto& [name, handle] : mapping.env.tables) tables.push_back(name);
    std::string near = diag::suggest(table, tables);
    loader.error(expect["table"], "aggregate.expect.table", fmt::format("unknown table '{}'", table),
                 near.empty() ? "declare it under tables:" : fmt::format("did you mean '{}'?", near));
  } else if (block.group_by.size() != 1) {
    loader.error(expect, "aggregate.expect", "'expect' needs exactly one group_by entry: the roster's keys fill it");
  } else if (block.period == calendar::PeriodType::Hour) {
    loader.error(expect, "aggregate.expect", "'expect' is not available with period HOUR",
                 "a roster owes a fact per SHIFT, DAY, WEEK or MONTH; expect the shift's fact in a SHIFT mapping");
  } else {
    block.expect_table = table;
  }
}

void loadAggregate(Loader& loader, Mapping& mapping, const YAML::Node& node) {
  AggregateBlock& block = *mapping.aggregate;
  if (!node.IsMap()) return;
  if (block.version && (block.version->type().kind == Kind::List || block.version->type().kind == Kind::Map)) {
    loader.diagnostics.add(block.version->location(), "aggregate.version must be a scalar (timestamp, date or number)");
  }

  loadAggregatePeriod(loader, mapping, node);

  // Group and measures: their names are what the emit blocks see.
  std::set<std::string> names;
  const std::span<const std::string_view> period_fields =
      block.rolling ? std::span<const std::string_view>(AggregateBlock::kRollingFields)
                    : std::span<const std::string_view>(AggregateBlock::kPeriodFields);
  auto addName = [&](const YAML::Node& key, const std::string& name, const std::string& path, expr::Type type,
                     bool personal) {
    if (!names.insert(name).second ||
        std::find(period_fields.begin(), period_fields.end(), name) != period_fields.end()) {
      loader.error(key, path, fmt::format("'{}' is already a name of the aggregate's output", name),
                   fmt::format("period fields: {}", fmt::join(period_fields, ", ")));
    }
    block.scope.add(name, type, personal);
  };
  const YAML::Node group = node["group_by"];
  if (group && group.IsMap() && group.size() == 0) {
    loader.error(group, "aggregate.group_by", "'group_by' must map output names to expressions",
                 "e.g. group_by: {employee_no: lookup(\"badge_employee\", operator_badge, at: time_from)!}");
  }
  for (auto it = group.begin(); group.IsMap() && it != group.end(); ++it) {
    std::string name = it->first.Scalar();
    auto expr = loader.expression(it->second, "aggregate.group_by." + name, mapping.scope, mapping.env);
    expr::Type type = expr ? expr->type() : expr::Type{};
    addName(it->first, name, "aggregate.group_by." + name, type, expr && expr->personal());
    if (expr) block.group_by.emplace_back(name, std::move(expr));
  }
  const YAML::Node measures = node["measures"];
  if (measures && measures.IsMap() && measures.size() == 0) {
    loader.error(measures, "aggregate.measures", "'measures' must map names to aggregations",
                 "e.g. measures: {good: sum(good_qty), reports: count(), yield: ratio(good, good + scrap)}");
  }
  for (auto it = measures.begin(); measures.IsMap() && it != measures.end(); ++it) {
    std::string name = it->first.Scalar();
    std::string path = "aggregate.measures." + name;
    const size_t before = block.measures.size();
    expr::Type type = loadMeasure(loader, mapping, name, path, it->second);
    // A count says how many, not who: count() and count_distinct(badge) are not personal; a
    // sum, min or max of personal values is.
    bool personal = false;
    if (block.measures.size() > before) {
      const AggregateMeasure& m = block.measures.back();
      personal = m.kind != aggregate::MeasureKind::Count && m.kind != aggregate::MeasureKind::CountDistinct &&
                 ((m.first && m.first->personal()) || (m.second && m.second->personal()));
    }
    addName(it->first, name, path, type, personal);
  }
  const expr::Type period_types[] = {{Kind::String, false}, {Kind::String, false},    {Kind::Date, false},
                                     {Kind::String, true},  {Kind::Timestamp, false}, {Kind::Timestamp, false},
                                     {Kind::Bool, false},   {Kind::Int, false},       {Kind::Int, false}};
  const expr::Type rolling_types[] = {{Kind::String, false}, {Kind::Date, false}, {Kind::Date, false},
                                      {Kind::Int, false},    {Kind::Int, false},  {Kind::Bool, false}};
  for (size_t i = 0; i < period_fields.size(); ++i) {
    block.scope.add(std::string(period_fields[i]), block.rolling ? rolling_types[i] : period_types[i]);
  }
  if (block.rolling) {
    // grace, retain and expect are refused (loadRollingPeriod); min_interval applies.
    block.options.min_interval_micros = durationOr(node["min_interval"], 0);
    return;
  }
  if (const YAML::Node expect = node["expect"]; expect) loadAggregateExpect(loader, mapping, expect);
  constexpr int64_t kDay = 86'400'000'000;
  block.options.grace_micros = durationOr(node["grace"], 0);
  block.options.retain_micros = durationOr(node["retain"], 7 * kDay);
  // retain's lower bound (1h: corrections of a closed window arrive after it closes) is the
  // schema's (mapping_schema.cpp).
  block.options.min_interval_micros = durationOr(node["min_interval"], 0);
}

// An aggregate mapping's contract emit gets the period fields from the window revision unless
// it sets them itself: a duty_kpi.v1 fact of a calendar period all of them, any other record
// (an employee_record.v1 of a ROLLING aggregate) the revision.
void addPeriodFields(Loader& loader, Emit& emit, const YAML::Node& fields, const expr::Scope& scope,
                     const expr::FunctionEnv& env, bool period_fields) {
  core::SourceLocation at = loader.at(fields, "fields");
  static constexpr std::string_view kAll[] = {"period_id",  "shift_date", "shift_code", "period_start",
                                              "period_end", "closed",     "revision"};
  const std::span<const std::string_view> names =
      period_fields ? std::span<const std::string_view>(kAll) : std::span<const std::string_view>(kAll).last(1);
  for (std::string_view name : names) {
    bool given = std::any_of(emit.fields.begin(), emit.fields.end(), [&](const auto& f) { return f.first == name; });
    if (given) continue;
    if (auto expr = expr::compileExpression(name, at, scope, env, loader.diagnostics))
      emit.fields.emplace_back(name, std::move(expr));
  }
}

// Resolves `contract:` for an emit block and checks its fields against the contract (and the
// duty catalog for duty_kpi.v1).
void bindContract(Loader& loader, Mapping& mapping, Emit& emit, const YAML::Node& contract_node,
                  const YAML::Node& fields, const std::string& path) {
  const Contract* contract = findContract(contract_node.Scalar());
  if (!contract) {
    std::string near = diag::suggest(contract_node.Scalar(), contractNames());
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
    const expr::Expr& expr = *emit.fields[i].second;
    if (!contract->free_prefix.empty() && name.starts_with(contract->free_prefix)) {
      binding.free_fields.emplace_back(name.substr(contract->free_prefix.size()), i);
      continue;
    }
    auto it = std::find(known.begin(), known.end(), name);
    if (it == known.end()) {
      std::string near = diag::suggest(name, known);
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
    expr::Type type = expr.type();
    bool kind_ok = type.kind == spec.type.kind || type.kind == expr::Type::Kind::Any ||
                   (spec.type.kind == expr::Type::Kind::Decimal && type.kind == expr::Type::Kind::Int);
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
          std::string near = diag::suggest(value, codes);
          loader.diagnostics.add(expr.location(), fmt::format("KPI '{}' is not in the duty catalog", value),
                                 near.empty() ? "" : fmt::format("did you mean '{}'?", near));
          continue;
        }
        binding.kpi = &kpi->second;
      } else if (name == "record_type") {
        // The record types src/contract defines for employee_record.v1.
        const auto& types = contract::employeeRecord().find("record_type")->choices;
        if (std::find(types.begin(), types.end(), value) == types.end()) {
          std::string near = diag::suggest(value, types);
          loader.diagnostics.add(expr.location(),
                                 fmt::format("record_type '{}' is not {}", value, fmt::join(types, ", ")),
                                 near.empty() ? "" : fmt::format("did you mean '{}'?", near));
        } else {
          binding.record_type = value;
        }
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
  // The record's fields as src/contract defines them (buildContractRecord fills them in order).
  binding.schema = std::make_shared<core::RecordSchema>(contract::find(contract->name)->topLevelNames());
  if (contract->name == "duty_kpi.v1") {
    if (mapping.catalog) {
      binding.time_zone = mapping.catalog->time_zone;
      binding.plant = mapping.catalog->plant;
    }
  }
  emit.contract = std::move(binding);
}

// The mapping type of a described source field.
expr::Type typeOf(const core::FieldDescription& field) {
  expr::Type::Kind kind = expr::Type::Kind::Any;
  switch (field.type) {
    case core::ValueType::Null:
      return expr::Type{expr::Type::Kind::Any, true};
    case core::ValueType::Bool:
      kind = expr::Type::Kind::Bool;
      break;
    case core::ValueType::Int:
      kind = expr::Type::Kind::Int;
      break;
    case core::ValueType::Decimal:
      kind = expr::Type::Kind::Decimal;
      break;
    case core::ValueType::Double:
      kind = expr::Type::Kind::Double;
      break;
    case core::ValueType::String:
      kind = expr::Type::Kind::String;
      break;
    case core::ValueType::Timestamp:
      kind = expr::Type::Kind::Timestamp;
      break;
    case core::ValueType::Date:
      kind = expr::Type::Kind::Date;
      break;
    case core::ValueType::List:
      kind = expr::Type::Kind::List;
      break;
    case core::ValueType::Map:
      kind = expr::Type::Kind::Map;
      break;
  }
  return expr::Type{kind, field.nullable};
}

// A `pii:` class: drop, mask or hmac(KEY) with KEY one of `hmac_keys:`.
std::optional<PiiField> parsePii(Loader& loader, const Mapping& mapping, const std::string& name,
                                 const YAML::Node& node, const std::string& path) {
  constexpr std::string_view kClasses = "pii classes: drop, mask, hmac(KEY) with KEY one of hmac_keys:";
  std::string text = node.IsScalar() ? node.Scalar() : "";
  text.erase(std::remove(text.begin(), text.end(), ' '), text.end());
  if (text == "drop") return PiiField{name, PiiClass::Drop, {}};
  if (text == "mask") return PiiField{name, PiiClass::Mask, {}};
  if (text.starts_with("hmac(") && text.ends_with(")") && text.size() > 6) {
    std::string key = text.substr(5, text.size() - 6);
    if (!mapping.env.hmac_keys.contains(key)) {
      std::vector<std::string> keys;
      for (const auto& [known, bytes] : mapping.env.hmac_keys) keys.push_back(known);
      std::string near = diag::suggest(key, keys);
      loader.error(node, path, fmt::format("unknown HMAC key '{}'", key),
                   !near.empty()  ? fmt::format("did you mean '{}'?", near)
                   : keys.empty() ? std::string("declare it: hmac_keys: {NAME: ${cred:NAME}}")
                                  : fmt::format("hmac_keys: {}", fmt::join(keys, ", ")));
      return std::nullopt;
    }
    return PiiField{name, PiiClass::Hmac, key};
  }
  loader.error(node, path, fmt::format("unknown pii class '{}'", node.IsScalar() ? node.Scalar() : "(not a string)"),
               std::string(kClasses));
  return std::nullopt;
}

// `name: type` entries of a declared input, `input.overrides` or `test_input`; in a declared
// input (`with_pii`) also `name: {type: T, pii: CLASS}`.
struct DeclaredField {
  std::string name;
  expr::Type type;
  YAML::Node key;
  std::optional<PiiField> pii;
};

std::vector<DeclaredField> declaredFields(Loader& loader, const Mapping& mapping, const YAML::Node& node,
                                          const std::string& path, bool with_pii = false) {
  std::vector<DeclaredField> fields;
  for (auto it = node.begin(); node.IsMap() && it != node.end(); ++it) {
    std::string name = it->first.Scalar();
    YAML::Node type_node = it->second;
    std::optional<PiiField> pii;
    if (with_pii && it->second.IsMap()) {
      loader.checkKeys(it->second, path + "." + name, {"type", "pii"});
      type_node.reset(it->second["type"]);  // not operator=: that would overwrite the field's own node
      if (!type_node) {
        loader.error(it->second, path + "." + name, fmt::format("input field '{}' needs a type", name),
                     "e.g. {type: string, pii: mask}");
        continue;
      }
      if (const YAML::Node class_node = it->second["pii"]; class_node) {
        // Reported when it fails; the field stays declared so its uses do not cascade.
        pii = parsePii(loader, mapping, name, class_node, path + "." + name + ".pii");
      }
    }
    auto type = expr::Type::parse(type_node.IsScalar() ? type_node.Scalar() : "");
    if (!type) {
      loader.error(type_node, path + "." + name,
                   fmt::format("unknown type '{}'", type_node.IsScalar() ? type_node.Scalar() : "(not a string)"),
                   with_pii
                       ? "types: bool, int, decimal, double, string, timestamp, date, duration, list, map, any; add "
                         "? for nullable; or {type: T, pii: drop|mask|hmac(KEY)}"
                       : "types: bool, int, decimal, double, string, timestamp, date, duration, list, map, any; "
                         "add ? for nullable");
      continue;
    }
    fields.push_back({name, *type, it->first, std::move(pii)});
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
diag::Diagnostics explainTypeOrigin(const Loader& loader, const std::string& text,
                                    const std::vector<InputField>& inputs, std::string_view origin) {
  diag::Diagnostics out;
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

std::vector<std::string> Mapping::personalInputFields() const {
  std::vector<std::string> names;
  names.reserve(pii.size());
  for (const auto& p : pii) names.push_back(p.name);
  return names;
}

namespace {

void maskFields(core::Record& record, const std::vector<std::string>& names) {
  if (!record.schema()) return;
  for (const auto& name : names) {
    auto index = record.schema()->indexOf(name);
    if (index && !record.value(*index).isNull()) record.value(*index) = Value(std::string(redact::kMask));
  }
}

}  // namespace

void Mapping::maskInput(core::Record& record) const {
  maskFields(record, personalInputFields());
}

void Mapping::maskOutput(core::Record& record, size_t emit) const {
  if (emit >= emits.size()) return;
  maskFields(record, emits[emit].personal_fields);
  if (emits[emit].personal_key && record.meta.key) record.meta.key = std::string(redact::kMask);
}

void Mapping::maskOutput(core::Record& record) const {
  const std::string topic = record.meta.topic.value_or("");
  for (size_t e = 0; e < emits.size(); ++e) {
    const Emit& emit = emits[e];
    const std::string& own = emit.topic.empty() && emit.contract && emit.contract->contract
                                 ? emit.contract->contract->default_topic
                                 : emit.topic;
    if (own == topic) maskOutput(record, e);
  }
}

Binding Mapping::bind(const std::shared_ptr<const core::RecordSchema>& schema) const {
  Binding binding;
  binding.schema = schema;
  binding.index.reserve(inputs.size());
  for (const auto& input : inputs) binding.index.push_back(schema ? schema->indexOf(input.name) : std::nullopt);
  return binding;
}

core::Status Mapping::bindInputs(const core::Record& input, const Binding& binding, std::vector<Value>& slots) const {
  if (!runnable) {
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("mapping {} (input: from_source) was not compiled against its source", label()));
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const InputField& field = inputs[i];
    const auto& index = binding.index[i];
    if (!index) {
      if (field.type.nullable || field.type.kind == expr::Type::Kind::Any) {
        slots[field.slot] = Value();
        continue;
      }
      return core::fail(core::ErrorKind::Permanent, fmt::format("{}: input field '{}' is missing", field.where, field.name));
    }
    const Value& value = input.value(*index);
    if (value.isNull() || field.type.kind == expr::Type::Kind::Any ||
        (field.type.kind == expr::Type::Kind::String && value.type() == core::ValueType::String)) {
      if (value.isNull() && !field.type.nullable && field.type.kind != expr::Type::Kind::Any) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("{}: input field '{}' is null but {}", field.where, field.name, typeOrigin(field)));
      }
      slots[field.slot] = value;
    } else {
      auto converted = convertInput(value, field);
      if (!converted) return core::fail(converted.error());
      slots[field.slot] = std::move(*converted);
    }
    if (field.hmac_key && !slots[field.slot].isNull()) {
      std::string digest = expr::hmacSha256Hex(*field.hmac_key, slots[field.slot].toText());
      if (digest.empty()) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("{}: input field '{}': HMAC-SHA256 failed", field.where, field.name));
      }
      slots[field.slot] = Value(std::move(digest));
    }
  }
  return {};
}

core::Result<bool> Mapping::prepare(const core::Record& input, const Binding& binding, const expr::EvalContext& context,
                                    std::vector<Value>& slots) const {
  if (auto bound = bindInputs(input, binding, slots); !bound) return core::fail(bound.error());
  if (where) {
    auto keep = where->eval(context);
    if (!keep) return core::fail(keep.error());
    if (keep->type() != core::ValueType::Bool || !keep->asBool()) return false;
  }
  for (const auto& let : lets) {
    auto value = let.expr->eval(context);
    if (!value) return core::fail(value.error());
    slots[let.slot] = std::move(*value);
  }
  return true;
}

core::Status Mapping::applyInto(const core::Record& input, const Binding& binding, const core::Clock& clock,
                                std::vector<core::Record>& out, std::vector<size_t>* emit_indices) const {
  // One slot buffer per thread, reused across records: every input and let slot is written
  // before it is read, so no per-record allocation is needed for it.
  thread_local std::vector<Value> slots;
  slots.resize(scope.size());
  expr::EvalContext context{slots, &clock, &env};
  auto keep = prepare(input, binding, context, slots);
  if (!keep) return core::fail(keep.error());
  if (!*keep) return {};
  return runEmits(context, input, clock, out, emit_indices);
}

core::Status Mapping::runEmits(const expr::EvalContext& context, const core::Record& input, const core::Clock& clock,
                               std::vector<core::Record>& out, std::vector<size_t>* emit_indices) const {
  const size_t first_output = out.size();
  // A record that fails part-way leaves none of its outputs behind: it is one dead letter.
  auto rollback = [&](core::Error error) -> core::Status {
    out.resize(first_output);
    if (emit_indices) emit_indices->resize(first_output);
    return core::fail(std::move(error));
  };
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

aggregate::AggregatorOptions Mapping::aggregatorOptions() const {
  return aggregate ? aggregate->options : aggregate::AggregatorOptions{};
}

core::Result<std::string> Mapping::identity(const core::Record& input, const Binding& binding,
                                           const core::Clock& clock) const {
  if (!aggregate || !aggregate->id) return core::fail(core::ErrorKind::Permanent, "not an aggregate mapping");
  std::vector<Value> slots(scope.size());
  if (auto bound = bindInputs(input, binding, slots); !bound) return core::fail(bound.error());
  expr::EvalContext context{slots, &clock, &env};
  std::string out;
  for (const auto* expr : {&aggregate->id, &aggregate->part}) {
    if (!*expr) continue;
    auto value = (*expr)->eval(context);
    if (!value) return core::fail(value.error());
    if (!out.empty()) out += '|';
    out += value->isNull() ? std::string() : value->toText();
  }
  return out;
}

namespace {

// An HOUR window: the row's shift (its own shift_date and shift_code, else the one containing
// `time`) and the slot of it that contains `time`, clamped into the shift, so a report stamped
// exactly at the shift end counts in the shift's last hour.
core::Status placeHour(const AggregateBlock& block, expr::EvalContext& context, aggregate::WindowRef& window) {
  auto located = [](const std::unique_ptr<expr::Expr>& expr, std::string_view what) {
    const auto& at = expr->location();
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("{}:{}:{}: aggregate {}", at.file, at.line, at.column, what));
  };
  auto t = block.time->eval(context);
  if (!t) return core::fail(t.error());
  if (t->type() != core::ValueType::Timestamp) return located(block.time, "time is null");
  auto shift = [&]() -> core::Result<calendar::ShiftInstance> {
    if (!block.shift_date) return block.calendar->shiftOf(t->asTimestamp());
    auto d = block.shift_date->eval(context);
    if (!d) return core::fail(d.error());
    if (d->type() != core::ValueType::Date) return located(block.shift_date, "shift_date is null");
    auto code = block.shift_code->eval(context);
    if (!code) return core::fail(code.error());
    if (code->isNull()) return located(block.shift_code, "shift_code is null");
    return block.calendar->shift(d->asDate(), code->toText());
  }();
  if (!shift) return core::fail(shift.error());
  const std::vector<calendar::PeriodBounds> slots = calendar::hourSlots(*shift);
  if (slots.empty()) {  // a shift that lies wholly inside a DST gap
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("shift {}/{} of calendar '{}' has no hours (it lies inside a DST gap)",
                                  core::formatDate(shift->shift_date), shift->shift_code, block.calendar->name()));
  }
  int hour = calendar::hourOf(*shift, t->asTimestamp());
  const calendar::PeriodBounds& slot = slots[static_cast<size_t>(hour - 1)];
  window.shift_date = shift->shift_date;
  window.shift_code = shift->shift_code;
  window.start = slot.start;
  window.end = slot.end;
  window.period_id = calendar::periodId(calendar::PeriodType::Hour, shift->shift_date, shift->shift_code, hour);
  return {};
}

}  // namespace

core::Result<aggregate::Contribution> Mapping::contribution(const core::Record& input, const Binding& binding,
                                                            const core::Clock& clock) const {
  const AggregateBlock& block = *aggregate;
  thread_local std::vector<Value> slots;
  slots.resize(scope.size());
  expr::EvalContext context{slots, &clock, &env};
  auto keep = prepare(input, binding, context, slots);
  if (!keep) return core::fail(keep.error());
  auto textOf = [&](const std::unique_ptr<expr::Expr>& expr, std::string_view what) -> core::Result<std::string> {
    if (!expr) return std::string();
    auto value = expr->eval(context);
    if (!value) return core::fail(value.error());
    if (value->isNull()) {
      const auto& at = expr->location();
      return core::fail(core::ErrorKind::Permanent, fmt::format("{}:{}:{}: aggregate {} is null", at.file, at.line, at.column, what));
    }
    return value->toText();
  };
  // The row's identity is needed even when `where` rejects it: a rejected row retracts what an
  // earlier version of it contributed (a declined report).
  aggregate::Contribution out;
  auto id = textOf(block.id, "id");
  if (!id) return core::fail(id.error());
  out.source_id = std::move(*id);
  auto part = textOf(block.part, "part");
  if (!part) return core::fail(part.error());
  out.part = std::move(*part);
  out.has_part = block.part != nullptr;
  if (block.version) {
    auto v = block.version->eval(context);
    if (!v) return core::fail(v.error());
    out.version = std::move(*v);
  }
  if (!*keep) return out;

  aggregate::WindowRef& window = out.window.emplace();
  window.period_type = block.rolling ? std::string("ROLLING") : std::string(calendar::toString(block.period));
  if (block.period == calendar::PeriodType::Hour) {
    if (auto placed = placeHour(block, context, window); !placed) return core::fail(placed.error());
  } else if (block.time) {
    auto t = block.time->eval(context);
    if (!t) return core::fail(t.error());
    if (t->type() != core::ValueType::Timestamp) {
      const auto& at = block.time->location();
      return core::fail(core::ErrorKind::Permanent, fmt::format("{}:{}:{}: aggregate time is null", at.file, at.line, at.column));
    }
    auto shift = block.calendar->shiftOf(t->asTimestamp());
    if (!shift) return core::fail(shift.error());
    window.shift_date = shift->shift_date;
    window.shift_code = shift->shift_code;
  } else {
    auto d = block.shift_date->eval(context);
    if (!d) return core::fail(d.error());
    if (d->type() != core::ValueType::Date) {
      const auto& at = block.shift_date->location();
      return core::fail(core::ErrorKind::Permanent, fmt::format("{}:{}:{}: aggregate shift_date is null", at.file, at.line, at.column));
    }
    window.shift_date = d->asDate();
    auto code = textOf(block.shift_code, "shift_code");
    if (!code) return core::fail(code.error());
    window.shift_code = std::move(*code);
  }
  if (block.rolling) {
    // The row's day stays in shift_date (the engine keeps it per row); the window is the group's,
    // its key without the window's length, so a record changed to another window keeps its
    // revisions.
    window.period_id.clear();
    window.shift_code.clear();
  } else if (block.period != calendar::PeriodType::Hour) {
    auto bounds = block.calendar->periodBounds(block.period, window.shift_date, window.shift_code);
    if (!bounds) return core::fail(bounds.error());
    window.start = bounds->start;
    window.end = bounds->end;
    window.period_id = calendar::periodId(block.period, window.shift_date, window.shift_code);
  }
  if (!block.rolling && block.period != calendar::PeriodType::Shift && block.period != calendar::PeriodType::Hour) {
    window.shift_code.clear();
    window.shift_date = periodFirstDate(block.period, window.shift_date);
  }
  window.group.reserve(block.group_by.size());
  for (const auto& [group_name, expr] : block.group_by) {
    auto v = expr->eval(context);
    if (!v) return core::fail(v.error());
    window.group.push_back(std::move(*v));
  }
  std::vector<aggregate::MeasureInput>& measures = out.inputs;
  measures.resize(block.measures.size());
  for (size_t m = 0; m < block.measures.size(); ++m) {
    const AggregateMeasure& measure = block.measures[m];
    if (!measure.first) {
      measures[m][0] = Value(true);
      continue;
    }
    auto first = measure.first->eval(context);
    if (!first) return core::fail(first.error());
    measures[m][0] = std::move(*first);
    if (measure.second) {
      auto second = measure.second->eval(context);
      if (!second) return core::fail(second.error());
      measures[m][1] = std::move(*second);
    }
  }
  return out;
}

std::optional<core::Date> Mapping::expectedWindows(std::optional<core::Date> through, core::Timestamp now,
                                                   std::vector<aggregate::WindowRef>& out) const {
  const AggregateBlock& block = *aggregate;
  if (block.expect_table.empty() || !block.calendar) return through;
  auto today = block.calendar->shiftOf(now);
  if (!today) return through;
  auto table = env.tables.find(block.expect_table)->second->current();
  core::Date from = through ? core::Date{through->days + 1} : today->shift_date;
  std::vector<std::string> codes;
  if (block.period == calendar::PeriodType::Shift) {
    for (const auto& shift : block.calendar->shifts()) codes.push_back(shift.code);
  } else {
    codes.emplace_back();
  }
  std::optional<core::Date> complete = through;
  for (core::Date day = from; day <= today->shift_date; day.days += 1) {
    bool all_started = true;
    for (const auto& code : codes) {
      auto bounds = block.calendar->periodBounds(block.period, day, code);
      if (!bounds) continue;
      if (bounds->start > now) {
        all_started = false;
        continue;
      }
      aggregate::WindowRef window;
      window.period_type = std::string(calendar::toString(block.period));
      window.period_id = calendar::periodId(block.period, day, code);
      window.shift_date = periodFirstDate(block.period, day);
      window.shift_code = code;
      window.start = bounds->start;
      window.end = bounds->end;
      for (const auto& key : table->keysAt(bounds->start.micros)) {
        window.group = {Value(key)};
        out.push_back(window);
      }
    }
    // WEEK/MONTH periods start before most of their days: re-checking later days costs only
    // lookups of windows that exist.
    if (all_started && (!complete || day > *complete)) complete = day;
  }
  return complete;
}

core::Status Mapping::emitRevision(const aggregate::Revision& revision, const core::Clock& clock,
                                   std::vector<core::Record>& out, std::vector<size_t>* emit_indices) const {
  const AggregateBlock& block = *aggregate;
  const aggregate::Window& w = *revision.window;
  std::vector<Value> slots;
  slots.reserve(block.scope.size());
  for (const auto& v : w.ref.group) slots.push_back(v);
  for (const auto& v : revision.values) slots.push_back(v);
  if (block.rolling) {  // kRollingFields
    slots.emplace_back(w.ref.period_type);
    slots.emplace_back(revision.window_first);
    slots.emplace_back(revision.window_last);
    slots.emplace_back(revision.rows);
    slots.emplace_back(revision.revision);
    slots.emplace_back(revision.rows == 0);
  } else {
    slots.emplace_back(w.ref.period_type);
    slots.emplace_back(w.ref.period_id);
    slots.emplace_back(w.ref.shift_date);
    slots.push_back(w.ref.shift_code.empty() ? Value() : Value(w.ref.shift_code));
    slots.emplace_back(w.ref.start);
    slots.emplace_back(w.ref.end);
    slots.emplace_back(revision.closed);
    slots.emplace_back(revision.revision);
    slots.emplace_back(revision.rows);
  }
  expr::EvalContext context{slots, &clock, &env};
  // Lineage of a revision: the source position of the last row that changed the window, and
  // the engine clock as the watermark.
  core::Record lineage;
  lineage.meta.source_position = w.last_position;
  lineage.meta.event_time = clock.now();
  const size_t first = out.size();
  std::vector<size_t> local_indices;
  std::vector<size_t>* indices = emit_indices ? emit_indices : &local_indices;
  const size_t first_index = indices->size();
  if (auto emitted = runEmits(context, lineage, clock, out, indices); !emitted) return emitted;
  // A window whose every row was retracted (its only accepted report declined, its rows moved
  // to another employee) no longer makes a fact: its contract records say WITHDRAWN. Not a
  // roster's window (an expected fact without rows is a duty not fulfilled), and not a ROLLING
  // one (rows ageing out make a lapsed record, a fact of its own).
  bool withdrawn = revision.rows == 0 && !block.rolling;
  if (withdrawn && !block.expect_table.empty() && !w.ref.group.empty()) {
    auto table = env.tables.find(block.expect_table);
    withdrawn = table == env.tables.end() ||
                table->second->current()->find(w.ref.group[0].toText(), w.ref.start.micros) == nullptr;
  }
  for (size_t i = first; i < out.size(); ++i) {
    // Each revision is its own event: the position the sink derives ce_id from names the window
    // and the revision, so a re-sent revision keeps its id and two revisions never share one.
    out[i].meta.source_position = fmt::format("{}#{}", w.key, revision.revision);
    if (!emits[(*indices)[first_index + (i - first)]].contract) continue;
    if (withdrawn) {
      if (auto at = out[i].schema()->indexOf("status")) out[i].value(*at) = Value("WITHDRAWN");
    }
    // The period is the aggregate's calendar's: its zone, not the catalog's (one catalog may
    // serve plants in several zones).
    if (auto at = out[i].schema()->indexOf("period"); at && block.calendar && !block.rolling) {
      Value& period = out[i].value(*at);
      if (period.type() == core::ValueType::Map) {
        core::ValueMap fields = period.asMap();
        for (auto& [member, value] : fields) {
          if (member == "tz") value = Value(block.calendar->timeZone());
        }
        period = Value(std::move(fields));
      }
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

// `extends: BASE` (an overlay, docs/mapping-language.md "Overlays"): the base mapping with the
// overlay's keys put over it. `tables:` entries replace the base's table of the same name
// whole (a misspelt name is an error, not a new unused table); the entries of `aggregate:`,
// `quarantine:` and `hmac_keys:` replace the base's one by one; any other key replaces the
// base's. The base's tests are not inherited (they test the base's tables). Afterwards the
// loader's primary file is the base, and the overlay's nodes are a graft that keeps its own
// file name and directory. A base may itself be an overlay (a plant's overlay of a region's
// overlay of the shipped mapping): it is merged over its own base first, up to
// kMaxOverlayDepth levels (deeper is taken for a cycle).
constexpr int kMaxOverlayDepth = 8;

std::optional<YAML::Node> applyOverlay(Loader& loader, const YAML::Node& overlay, const YAML::Node& extends,
                                       std::string& primary_text, int depth = 1) {
  if (!extends.IsScalar() || extends.Scalar().empty()) {
    loader.error(extends, "extends", "'extends' is the path of the base mapping file",
                 "e.g. extends: ../../mappings/tl_daily_good_output.yaml");
    return std::nullopt;
  }
  std::filesystem::path base_file = extends.Scalar();
  if (base_file.is_relative()) base_file = loader.file.parent_path() / base_file;
  auto read = files::readRegularFile(base_file, kMaxFileBytes, fmt::format("the base mapping '{}'", base_file.string()));
  if (!read) {
    loader.error(extends, "extends", read.error().message);
    return std::nullopt;
  }
  std::string base_text = std::move(*read);
  YAML::Node base;
  try {
    base = YAML::Load(base_text);
  } catch (const YAML::Exception& e) {
    loader.diagnostics.addSource(base_file.string(), base_text);
    loader.diagnostics.add(SourceLocation{base_file.string(), e.mark.line + 1, e.mark.column + 1, ""},
                           "YAML syntax: " + e.msg);
    return std::nullopt;
  }
  if (!base.IsMap()) {
    loader.error(extends, "extends", "the base is not a mapping file (a YAML mapping with name, input and emit)");
    return std::nullopt;
  }
  const size_t problems = loader.diagnostics.size();
  schema::reportDuplicateKeys(base, base_file.string(), loader.diagnostics);
  if (loader.diagnostics.size() != problems) {
    loader.diagnostics.addSource(base_file.string(), base_text);
    return std::nullopt;
  }
  if (base["extends"] && depth >= kMaxOverlayDepth) {
    loader.error(extends, "extends",
                 fmt::format("overlays extend each other more than {} levels deep", kMaxOverlayDepth),
                 "does a mapping extend itself through the others?");
    return std::nullopt;
  }

  // From here on the base is the primary file; the overlay's own nodes keep their location.
  loader.grafts.push_back({overlay, loader.file, loader.file_name, loader.lines});
  loader.file = base_file;
  loader.file_name = base_file.string();
  loader.lines.clear();
  {
    std::istringstream lines(base_text);
    std::string line;
    while (std::getline(lines, line)) loader.lines.push_back(line);
  }
  loader.diagnostics.addSource(loader.file_name, base_text);
  primary_text = std::move(base_text);
  if (const YAML::Node base_extends = base["extends"]; base_extends) {
    auto merged = applyOverlay(loader, base, base_extends, primary_text, depth + 1);
    if (!merged) return std::nullopt;
    base.reset(*merged);  // not operator=: that would rebind the base's own nodes (its graft)
  }

  base.remove("tests");
  const std::vector<std::string> overlay_keys = mappingKeys();
  loader.checkKeys(overlay, "", overlay_keys);  // here, while the keys still have their place in the overlay
  for (auto it = overlay.begin(); it != overlay.end(); ++it) {
    const std::string key = it->first.Scalar();
    const YAML::Node value = it->second;
    if (std::find(overlay_keys.begin(), overlay_keys.end(), key) == overlay_keys.end() || key == "extends") continue;
    if (key == "tables") {
      const YAML::Node base_tables = base["tables"];
      if (!value.IsMap()) {
        loader.error(value, "tables", "'tables' must map table names of the base mapping to their new definition");
        continue;
      }
      for (auto table = value.begin(); table != value.end(); ++table) {
        const std::string name = table->first.Scalar();
        if (!base_tables.IsMap() || !base_tables[name]) {
          std::vector<std::string> known;
          for (auto b = base_tables.begin(); base_tables.IsMap() && b != base_tables.end(); ++b) {
            known.push_back(b->first.Scalar());
          }
          std::string near = diag::suggest(name, known);
          loader.error(table->first, "tables." + name, fmt::format("the base mapping has no table '{}' to replace", name),
                       !near.empty()      ? fmt::format("did you mean '{}'?", near)
                       : known.empty()    ? std::string("the base mapping has no tables")
                                          : fmt::format("its tables: {}", fmt::join(known, ", ")));
          continue;
        }
        base["tables"][name] = table->second;
      }
    } else if ((key == "aggregate" || key == "quarantine" || key == "hmac_keys") && value.IsMap() && base[key] &&
               base[key].IsMap()) {
      for (auto entry = value.begin(); entry != value.end(); ++entry) base[key][entry->first.Scalar()] = entry->second;
    } else {
      base[key] = value;
    }
  }
  return base;  // problems found above are in the diagnostics: the load goes on to find the rest
}

// The sections of a mapping file, loaded in this order by loadText (each reports its problems
// to the loader's diagnostics and goes on, so one load lists them all).

// name, version, source_system, catalog, calendars.
void loadHeader(Loader& loader, Mapping* mapping, const YAML::Node& root) {
  if (root["source_system"] && root["source_system"].IsScalar())
    mapping->source_system = root["source_system"].Scalar();
  if (const YAML::Node catalog = root["catalog"]; catalog && catalog.IsScalar()) {
    std::filesystem::path path = catalog.Scalar();
    if (path.is_relative()) path = loader.dirOf(catalog) / path;
    auto loaded = loadDutyCatalog(path);
    if (!loaded) {
      loader.error(catalog, "catalog", "the duty catalog has errors:\n" + loaded.error().format());
    } else {
      mapping->catalog = std::move(*loaded);
    }
  }
  if (const YAML::Node calendars = root["calendars"]; calendars) {
    if (!calendars.IsScalar()) {
      loader.error(calendars, "calendars", "'calendars' is the path of a calendars file",
                   "e.g. calendars: ../config/calendars.yaml");
    } else {
      std::filesystem::path path = calendars.Scalar();
      if (path.is_relative()) path = loader.dirOf(calendars) / path;
      auto loaded = calendar::loadCalendars(path);
      if (!loaded) {
        loader.error(calendars, "calendars", "the calendars file has errors", "they are listed with their locations");
        loader.diagnostics.merge(std::move(loaded.error()));
        // Calendar names are still checked, against no calendars; the hint then points here.
        mapping->env.calendars = std::make_shared<const calendar::Calendars>();
      } else {
        mapping->env.calendars = std::move(*loaded);
      }
    }
  }
  // A missing name or a version that is not an integer the schema has reported.
  if (root["name"] && root["name"].IsScalar()) mapping->name = root["name"].Scalar();
  if (root["version"]) {
    try {
      mapping->version = root["version"].as<int64_t>();
    } catch (const YAML::Exception&) {
    }
  }
}

// tables: and hmac_keys: (before any expression: lookups and hmac key names are checked at load).
void loadTablesAndKeys(Loader& loader, Mapping* mapping, const YAML::Node& root, const MappingLoadOptions& options) {
  if (const YAML::Node tables = root["tables"]; tables) {
    for (auto it = tables.begin(); tables.IsMap() && it != tables.end(); ++it) {
      loadTable(loader, *mapping, it->first.Scalar(), it->second, options);
    }
  }
  if (const YAML::Node keys = root["hmac_keys"]; keys) {
    schema::SecretResolver secrets;
    for (auto it = keys.begin(); keys.IsMap() && it != keys.end(); ++it) {
      if (options.test_hmac_keys) {
        mapping->env.hmac_keys.emplace(it->first.Scalar(), std::string(kTestHmacKeyPrefix) + it->first.Scalar());
        continue;
      }
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
}

// input: (declared, or from_source with overrides, typed by the source's description or test_input).
void loadInput(Loader& loader, Mapping* mapping, const YAML::Node& root, const core::SourceDescription* description,
               bool use_test_input) {
  const YAML::Node input = root["input"];
  const YAML::Node test_input = root["test_input"];
  auto piiOf = [&](const std::string& name) -> const PiiField* {
    for (const auto& p : mapping->pii) {
      if (p.name == name) return &p;
    }
    return nullptr;
  };
  auto addInput = [&](const std::string& name, expr::Type type, const SourceLocation& at, bool described) {
    const PiiField* pii = piiOf(name);
    if (pii && pii->pii == PiiClass::Drop) {
      mapping->scope.addDropped(name);
      return;
    }
    std::shared_ptr<const std::string> key;
    if (pii && pii->pii == PiiClass::Hmac)
      key = std::make_shared<const std::string>(mapping->env.hmac_keys.at(pii->key));
    // Expressions see the pseudonym: a string, not personal.
    expr::Type seen = key ? expr::Type{Kind::String, type.nullable || type.kind == Kind::Any} : type;
    size_t slot = mapping->scope.add(name, seen, pii && pii->pii == PiiClass::Mask);
    mapping->inputs.push_back(
        {name, type, slot, fmt::format("{}:{}:{}", at.file, at.line, at.column), described, std::move(key)});
  };
  mapping->from_source = isFromSource(input);
  if (!mapping->from_source) {
    if (!input) {
      // the schema has reported it
    } else if (!input.IsMap() || input.size() == 0) {
      loader.error(input, "input", "'input' must declare the source fields and their types",
                   "e.g. input: {report_no: string, good_qty: decimal, scrap_qty: decimal?}, or input: from_source "
                   "to take them from the source");
    } else {
      auto fields = declaredFields(loader, *mapping, input, "input", true);
      for (const auto& field : fields) {
        if (field.pii) mapping->pii.push_back(*field.pii);
      }
      for (const auto& field : fields) {
        addInput(field.name, field.type, loader.at(field.key, "input." + field.name), false);
      }
    }
    if (test_input) {
      loader.error(test_input, "test_input", "'test_input' is only for input: from_source",
                   "a declared input already types the tests' inputs");
    }
  } else {
    std::vector<DeclaredField> overrides;
    std::vector<YAML::Node> pii_keys;  // where each of mapping->pii is named
    if (input.IsMap()) {
      loader.checkKeys(input, "input", {"from_source", "overrides", "pii"});
      if (const YAML::Node node = input["overrides"]; node) {
        if (!node.IsMap()) loader.error(node, "input.overrides", "'overrides' must map source fields to types");
        overrides = declaredFields(loader, *mapping, node, "input.overrides");
      }
      if (const YAML::Node node = input["pii"]; node) {
        if (!node.IsMap()) loader.error(node, "input.pii", "'pii' must map source fields to pii classes");
        for (auto it = node.begin(); node.IsMap() && it != node.end(); ++it) {
          std::string name = it->first.Scalar();
          if (auto pii = parsePii(loader, *mapping, name, it->second, "input.pii." + name)) {
            mapping->pii.push_back(std::move(*pii));
            pii_keys.push_back(it->first);
          }
        }
      }
    }
    std::vector<DeclaredField> test_types;
    if (test_input) {
      mapping->has_test_input = true;
      if (!test_input.IsMap() || test_input.size() == 0) {
        loader.error(test_input, "test_input", "'test_input' must map field names to types, like a declared input");
      }
      test_types = declaredFields(loader, *mapping, test_input, "test_input");
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
      for (size_t p = 0; p < mapping->pii.size(); ++p) {
        const std::string& name = mapping->pii[p].name;
        if (std::find(described_names.begin(), described_names.end(), name) != described_names.end()) continue;
        std::string near = diag::suggest(name, described_names);
        loader.error(pii_keys[p], "input.pii." + name,
                     fmt::format("the source's description has no field '{}' to class", name),
                     near.empty() ? fmt::format("its fields: {}", fmt::join(described_names, ", "))
                                  : fmt::format("did you mean '{}'?", near));
      }
      for (const auto& o : overrides) {
        if (std::find(described_names.begin(), described_names.end(), o.name) != described_names.end()) continue;
        std::string near = diag::suggest(o.name, described_names);
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
      for (const auto& p : mapping->pii) {
        if (p.pii == PiiClass::Drop) mapping->scope.addDropped(p.name);
        if (p.pii == PiiClass::Mask) mapping->scope.addPersonalOpenField(p.name);
      }
      mapping->scope.setOpen(true);
      mapping->runnable = false;
    }
  }
}

// Offline, fields read from the source are `any`: a condition made of one is checked later.
bool notBool(const Mapping& mapping, expr::Type type) {
  return type.nullable ||
         (type.kind != expr::Type::Kind::Bool && !(mapping.scope.isOpen() && type.kind == expr::Type::Kind::Any));
}

// aggregate: identity, where:, let:, then the rest of aggregate: and quarantine:.
void loadRowLogic(Loader& loader, Mapping* mapping, const YAML::Node& root) {
  // A row's identity is compiled over the inputs alone: it is evaluated even for rows that
  // `where` rejects (to retract them), when the `let`s have not run.
  const YAML::Node aggregate_node = root["aggregate"];
  if (aggregate_node) {
    mapping->aggregate = std::make_unique<AggregateBlock>();
    loadAggregateIdentity(loader, *mapping, aggregate_node);
  }
  if (const YAML::Node where = root["where"]; where) {
    mapping->where = loader.expression(where, "where", mapping->scope, mapping->env);
    if (mapping->where && notBool(*mapping, mapping->where->type())) {
      loader.diagnostics.add(
          mapping->where->location(),
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
        mapping->scope.add(name, expr::Type{expr::Type::Kind::Any, false});
        continue;
      }
      size_t slot = mapping->scope.add(name, expr->type(), expr->personal());
      mapping->lets.push_back({name, slot, std::move(expr)});
    }
  }
  if (aggregate_node) loadAggregate(loader, *mapping, aggregate_node);
  if (const YAML::Node quarantine = root["quarantine"]; quarantine) {
    if (quarantine.IsMap() && quarantine["max_age"]) {  // else the schema has reported it
      constexpr int64_t kMinute = 60'000'000;
      mapping->quarantine =
          QuarantinePolicy{durationOr(quarantine["max_age"], 0), durationOr(quarantine["retry"], 10 * kMinute)};
    }
  }
}

// Personal values go only where the contract (or, without one, `allow_personal:`) lets them;
// fills emit.personal_fields and personal_key for the masking of views.
void checkPersonal(Loader& loader, const Mapping& mapping, Emit& emit, const YAML::Node& block,
                   const std::string& path) {
  std::vector<std::string> allowed;
  const YAML::Node allow = block["allow_personal"];
  std::vector<std::string> classed;
  for (const auto& p : mapping.pii) {
    if (p.pii == PiiClass::Mask) classed.push_back(p.name);
  }
  const std::string why = classed.empty()
                              ? std::string(
                                    "a value derived from a personal field is personal unless it passes through "
                                    "hmac_sha256(value, \"KEY\")")
                              : fmt::format(
                                    "it derives from a field classed pii: mask ({}); a derived value is personal "
                                    "unless it passes through hmac_sha256(value, \"KEY\")",
                                    fmt::join(classed, ", "));
  const bool contract = emit.contract && emit.contract->contract;
  if (allow && contract) {
    loader.error(allow, path + ".allow_personal",
                 fmt::format("'allow_personal' is for blocks without a contract: {} decides which of its fields may "
                             "be personal",
                             emit.contract->contract->name));
  } else if (allow) {
    for (size_t i = 0; allow.IsSequence() && i < allow.size(); ++i) allowed.push_back(allow[i].Scalar());
    if (allow.IsScalar()) allowed.push_back(allow.Scalar());
    std::vector<std::string> names{"_key"};
    for (const auto& [name, expr] : emit.fields) names.push_back(name);
    for (size_t i = 0; i < allowed.size(); ++i) {
      if (std::find(names.begin(), names.end(), allowed[i]) != names.end()) continue;
      std::string near = diag::suggest(allowed[i], names);
      loader.error(
          allow.IsSequence() ? allow[i] : allow, fmt::format("{}.allow_personal", path),
          fmt::format("'{}' is not a field of this block", allowed[i]),
          near.empty() ? fmt::format("fields: {}", fmt::join(names, ", ")) : fmt::format("did you mean '{}'?", near));
    }
  }
  auto contractAllows = [&](const std::string& name) {
    for (const auto& f : emit.contract->contract->fields) {
      if (f.name == name) return f.personal;
    }
    return false;
  };
  bool derived = false;  // a personal field that a contract's derived fields (fact_key) hold
  for (const auto& [name, expr] : emit.fields) {
    if (!expr->personal()) continue;
    bool ok = contract ? contractAllows(name) : std::find(allowed.begin(), allowed.end(), name) != allowed.end();
    if (!ok) {
      std::string where = contract ? fmt::format("{} field '{}'", emit.contract->contract->name, name)
                                   : fmt::format("field '{}'", name);
      std::string allows;
      if (contract) {
        std::vector<std::string> personal;
        for (const auto& f : emit.contract->contract->fields) {
          if (f.personal) personal.push_back(f.name);
        }
        allows = fmt::format("; {} allows personal values only in {}", emit.contract->contract->name,
                             fmt::join(personal, ", "));
      } else {
        allows = fmt::format("; if topic {} may carry it, list it: allow_personal: [{}]",
                             emit.topic.empty() ? "(the sink's)" : emit.topic, name);
      }
      loader.diagnostics.add(expr->location(), fmt::format("a personal value cannot go into {}", where), why + allows);
      continue;
    }
    emit.personal_fields.push_back(name);
    if (contract) derived = true;
  }
  for (const auto& part : emit.key) {
    if (!part->personal()) continue;
    if (!contract && std::find(allowed.begin(), allowed.end(), "_key") != allowed.end()) {
      emit.personal_key = true;
      continue;
    }
    loader.diagnostics.add(part->location(), "a personal value cannot go into the record key",
                           contract ? why +
                                          "; a contract block's own key (the fact or record key) carries the "
                                          "employee number already"
                                    : why + "; if the topic's keys may carry it, list it: allow_personal: [_key]");
  }
  if (derived) {
    for (const auto& name : emit.contract->contract->personal_derived) emit.personal_fields.push_back(name);
    // The key defaults to the fact (or record) key, which holds the employee number.
    if (emit.key.empty()) emit.personal_key = true;
  }
}

// emit: the output blocks (over the input scope, or the window revision of an aggregate mapping).
void loadEmits(Loader& loader, Mapping* mapping, const YAML::Node& root) {
  const expr::Scope& emit_scope = mapping->aggregate ? mapping->aggregate->scope : mapping->scope;
  const YAML::Node emits = root["emit"];
  if (emits && emits.IsSequence() && emits.size() == 0) {
    loader.error(emits, "emit", "'emit' must be a list of at least one output block");
  } else if (emits && emits.IsSequence()) {  // a missing or mistyped one the schema has reported
    for (size_t e = 0; e < emits.size(); ++e) {
      const YAML::Node block = emits[e];
      std::string path = fmt::format("emit[{}]", e);
      if (!block.IsMap()) continue;  // the schema has reported it
      Emit emit;
      emit.location = loader.at(block, path);
      if (block["to"] && block["to"].IsScalar()) emit.topic = block["to"].Scalar();
      if (const YAML::Node key = block["key"]; key) {
        std::vector<YAML::Node> parts;
        if (key.IsSequence())
          for (const auto& part : key) parts.push_back(part);
        else
          parts.push_back(key);
        for (size_t k = 0; k < parts.size(); ++k) {
          if (!parts[k].IsScalar()) {
            loader.error(parts[k], fmt::format("{}.key[{}]", path, k), "expected an expression (a string)");
            continue;
          }
          if (auto expr = loader.expression(parts[k], fmt::format("{}.key[{}]", path, k), emit_scope, mapping->env)) {
            emit.key.push_back(std::move(expr));
          }
        }
      }
      if (const YAML::Node when = block["when"]; when) {
        emit.when = loader.expression(when, path + ".when", emit_scope, mapping->env);
        if (emit.when && notBool(*mapping, emit.when->type())) {
          loader.diagnostics.add(emit.when->location(), "'when' must be a non-null bool");
        }
      }
      const YAML::Node fields = block["fields"];
      if (fields && fields.IsMap() && fields.size() == 0) {
        loader.error(fields, path + ".fields", "'fields' must map output field names to expressions");
      } else if (fields && fields.IsMap()) {  // a missing or mistyped one the schema has reported
        std::vector<std::string> names;
        for (auto it = fields.begin(); it != fields.end(); ++it) {
          std::string name = it->first.Scalar();
          auto expr = loader.expression(it->second, path + ".fields." + name, emit_scope, mapping->env);
          if (!expr) continue;
          names.push_back(name);
          emit.fields.emplace_back(name, std::move(expr));
        }
        emit.schema = std::make_shared<core::RecordSchema>(std::move(names));
      }
      if (const YAML::Node contract = block["contract"]; contract) {
        if (mapping->aggregate) {
          const bool fact = contract.IsScalar() && contract.Scalar() == "duty_kpi.v1";
          if (fact && mapping->aggregate->rolling) {
            loader.error(contract, path + ".contract", "a ROLLING aggregate cannot emit duty_kpi.v1 facts",
                         "facts have calendar periods (SHIFT, DAY, WEEK, MONTH, HOUR); a rolling record is an "
                         "employee_record.v1 or a plain record");
          }
          addPeriodFields(loader, emit, fields, emit_scope, mapping->env, fact && !mapping->aggregate->rolling);
        }
        bindContract(loader, *mapping, emit, contract, fields, path);
      }
      checkPersonal(loader, *mapping, emit, block, path);
      mapping->emits.push_back(std::move(emit));
    }
  }
}

// tests: the embedded examples `dutybridge test` runs.
void loadTests(Loader& loader, Mapping* mapping, const YAML::Node& root) {
  const YAML::Node test_input = root["test_input"];
  if (const YAML::Node tests = root["tests"]; tests) {
    for (size_t t = 0; tests.IsSequence() && t < tests.size(); ++t) {
      const YAML::Node test = tests[t];
      std::string path = fmt::format("tests[{}]", t);
      if (!test.IsMap()) continue;  // the schema has reported it
      MappingTest mt;
      mt.location = loader.at(test, path);
      mt.name = test["name"] ? test["name"].Scalar() : fmt::format("test {}", t + 1);
      if (test["now"]) {
        auto now = core::parseTimestamp(test["now"].Scalar());
        if (!now)
          loader.error(test["now"], path + ".now", "'now' must be an RFC 3339 timestamp");
        else
          mt.now = *now;
      }
      mt.input = recordFromMap(yamlToValue(test["input"]));
      if (const YAML::Node steps = test["steps"]; steps) {
        if (!mapping->aggregate)
          loader.error(steps, path + ".steps", "'steps' are for aggregate mappings; use 'input'");
        for (size_t i = 0; steps.IsSequence() && i < steps.size(); ++i) {
          const YAML::Node step = steps[i];
          std::string step_path = fmt::format("{}.steps[{}]", path, i);
          if (!step.IsMap()) continue;  // the schema has reported it
          MappingTest::Step st;
          if (step["now"]) {
            auto now = core::parseTimestamp(step["now"].Scalar());
            if (!now)
              loader.error(step["now"], step_path + ".now", "'now' must be an RFC 3339 timestamp");
            else
              st.now = *now;
          }
          if (step["input"]) st.input = recordFromMap(yamlToValue(step["input"]));
          mt.steps.push_back(std::move(st));
        }
      }
      if (test["expect_error"]) mt.expect_error = test["expect_error"].Scalar();
      if (const YAML::Node expect = test["expect"]; expect) {
        for (const auto& item : expect) {
          MappingTest::Expected expected;
          for (auto it = item.begin(); item.IsMap() && it != item.end(); ++it) {
            std::string name = it->first.Scalar();
            if (name == "_topic")
              expected.topic = scalarText(it->second);
            else if (name == "_key")
              expected.key = scalarText(it->second);
            else
              expected.fields.emplace_back(name, scalarText(it->second));
          }
          mt.expect.push_back(std::move(expected));
        }
      }
      mapping->tests.push_back(std::move(mt));
    }
    if (mapping->from_source && !mapping->tests.empty() && !test_input) {
      loader.error(tests, "tests",
                   "the tests of a mapping with input: from_source need test_input: to type their inputs",
                   "e.g. test_input: {report_no: string, good_qty: decimal, updated_at: timestamp}");
    }
  }
}

// The one code path for every way a mapping gets its input types: declared in the file,
// described by the source (`description`), its `test_input:` (`use_test_input`), or none yet
// (offline from_source: checked with an open scope, not runnable).
std::expected<std::unique_ptr<Mapping>, diag::Diagnostics> loadText(const std::filesystem::path& file,
                                                                    const std::string& text,
                                                                    const core::SourceDescription* description,
                                                                    bool use_test_input,
                                                                    const MappingLoadOptions& options) {
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
    // `lookup("t", k, at: ts)` in a plain YAML value: ": " starts a mapping there.
    bool named_argument = e.msg == "illegal map value" && e.mark.line >= 0 &&
                          static_cast<size_t>(e.mark.line) < loader.lines.size() &&
                          loader.lines[static_cast<size_t>(e.mark.line)].find('(') != std::string::npos;
    loader.diagnostics.add(SourceLocation{loader.file_name, e.mark.line + 1, e.mark.column + 1, ""}, "YAML syntax: " + e.msg,
                           named_argument ? "an expression with a named argument (at: ts) needs quotes in YAML: "
                                            "'lookup(\"t\", key, at: ts)', or write lookup(\"t\", key, ts)"
                                          : "");
    return std::unexpected(std::move(loader.diagnostics));
  }
  if (!root.IsMap()) {
    loader.diagnostics.add(SourceLocation{loader.file_name, 1, 1, ""}, "a mapping file is a YAML mapping with name, input and emit");
    return std::unexpected(std::move(loader.diagnostics));
  }
  schema::reportDuplicateKeys(root, loader.file_name, loader.diagnostics);
  if (!loader.diagnostics.empty()) return std::unexpected(std::move(loader.diagnostics));
  std::string primary_text = text;  // the text loader.lines holds: the base's, for an overlay
  if (const YAML::Node extends = root["extends"]; extends) {
    auto merged = applyOverlay(loader, root, extends, primary_text);
    if (!merged) return std::unexpected(std::move(loader.diagnostics));
    root.reset(*merged);  // not operator=: that would rebind the overlay's own nodes (the graft)
  }

  auto mapping = std::make_unique<Mapping>();
  mapping->file = file;
  mapping->text = text;
  mapping->table_sources = options.table_sources;
  mapping->kafka = options.kafka;
  try {
    // The structure by the schema (unknown, missing and mistyped keys, bounds); then the loader
    // compiles and checks what the values mean, passing over what the schema reported.
    schema::SecretResolver secrets;
    schema::ValidationContext context{
        loader.file_name, nullptr, &secrets, &loader.diagnostics,
        [&loader](const YAML::Node& node, const std::string& path) { return loader.at(node, path); }};
    schema::validateObject(root, mappingFileSchema(), "", context);
    loadHeader(loader, mapping.get(), root);
    loadTablesAndKeys(loader, mapping.get(), root, options);
    loadInput(loader, mapping.get(), root, description, use_test_input);
    loadRowLogic(loader, mapping.get(), root);
    loadEmits(loader, mapping.get(), root);
    loadTests(loader, mapping.get(), root);
  } catch (const YAML::Exception& e) {
    loader.diagnostics.add(SourceLocation{loader.file_name, e.mark.line + 1, e.mark.column + 1, ""}, "YAML: " + e.msg);
  }
  if (mapping->scope.isOpen()) mapping->source_fields = mapping->scope.openedFields();
  if (!loader.diagnostics.empty()) {
    if (mapping->from_source && (description || use_test_input)) {
      return std::unexpected(explainTypeOrigin(loader, primary_text, mapping->inputs,
                                               description ? "from the source's description" : "from test_input"));
    }
    return std::unexpected(std::move(loader.diagnostics));
  }
  return mapping;
}

}  // namespace

std::expected<std::unique_ptr<Mapping>, diag::Diagnostics> loadMapping(const std::filesystem::path& file,
                                                                       const MappingLoadOptions& options) {
  diag::Diagnostics diagnostics;
  auto text = files::readRegularFile(file, kMaxFileBytes, "the mapping file");
  if (!text) {
    diagnostics.add(SourceLocation{file.string(), 0, 0, ""}, text.error().message);
    return std::unexpected(std::move(diagnostics));
  }
  return loadText(file, *text, options.description, false, options);
}

std::expected<std::unique_ptr<Mapping>, diag::Diagnostics> Mapping::compileFor(
    const core::SourceDescription& description) const {
  return loadText(file, text, &description, false, MappingLoadOptions{table_sources, kafka, nullptr});
}

std::expected<std::unique_ptr<Mapping>, diag::Diagnostics> Mapping::compileWithTestInput() const {
  return loadText(file, text, nullptr, true, MappingLoadOptions{table_sources, kafka, nullptr});
}

namespace {

// Runs one test's records through the mapping: outputs in order, and the dead-letter reasons.
void runTest(const Mapping& mapping, const MappingTest& test, std::vector<Output>& outputs,
             std::vector<std::string>& errors) {
  core::ManualClock clock(test.now.value_or(core::Timestamp{0}));
  if (!mapping.aggregate) {
    auto binding = mapping.bind(test.input.schema());
    auto result = mapping.apply(test.input, binding, clock);
    if (result) outputs = std::move(*result);
    else errors.push_back(result.error().message);
    return;
  }
  AggregateStage stage(mapping);
  std::vector<MappingTest::Step> steps = test.steps;
  if (steps.empty()) steps.push_back({test.now, test.input});
  std::vector<core::Record> records;
  std::vector<size_t> indices;
  std::vector<core::DeadLetter> dead_letters;
  for (const auto& step : steps) {
    if (step.now) clock.set(*step.now);
    if (step.input) {
      auto binding = mapping.bind(step.input->schema());
      if (auto s = stage.add(*step.input, binding, clock); !s) errors.push_back(s.error().message);
    }
    records.clear();
    indices.clear();
    dead_letters.clear();
    stage.tick(clock, records, dead_letters, &indices);
    for (const auto& dead : dead_letters) errors.push_back(dead.reason);
    for (size_t i = 0; i < records.size(); ++i) outputs.push_back(Output{indices[i], std::move(records[i])});
  }
}

}  // namespace

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
    std::vector<Output> outputs;
    std::vector<std::string> errors;
    runTest(mapping, test, outputs, errors);
    const std::vector<Output>* result = &outputs;
    std::string header = fmt::format("{}:{}: test '{}'", test.location.file, test.location.line, test.name);
    if (test.expect_error) {
      bool found = std::any_of(errors.begin(), errors.end(),
                               [&](const std::string& e) { return e.find(*test.expect_error) != std::string::npos; });
      if (errors.empty()) {
        failures.push_back(fmt::format("{}: expected a dead letter containing \"{}\", got {} output(s)", header,
                                       *test.expect_error, outputs.size()));
      } else if (!found) {
        failures.push_back(fmt::format("{}: expected a dead letter containing \"{}\"\n  - got: {}", header,
                                       *test.expect_error, fmt::join(errors, "\n  - got: ")));
      }
      continue;
    }
    if (!errors.empty()) {
      failures.push_back(fmt::format("{}: unexpected dead letter: {}", header, fmt::join(errors, "; ")));
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
        // "period.closed" reaches into nested objects of contract records.
        const Value* have = actual.find(name.substr(0, name.find('.')));
        for (size_t dot = name.find('.'); have && dot != std::string::npos; dot = name.find('.', dot + 1)) {
          size_t next = name.find('.', dot + 1);
          have = have->find(name.substr(dot + 1, next == std::string::npos ? std::string::npos : next - dot - 1));
        }
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
