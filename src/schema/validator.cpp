#include "src/schema/validator.h"

#include <fmt/format.h>

#include <charconv>
#include <set>

namespace dutybridge::schema {
namespace {

using core::ConfigObject;
using core::ConfigSchema;
using core::FieldSpec;
using core::FieldType;
using core::Value;
using core::ValueList;
using core::ValueMap;

std::string childPath(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string nodeKind(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    default: return "an undefined node";
  }
}

std::string rangeText(const FieldSpec& spec) {
  auto show = [&](int64_t v) {
    if (spec.type == FieldType::Duration) return core::formatDuration(v);
    return std::to_string(v);
  };
  if (spec.min != std::numeric_limits<int64_t>::min() && spec.max != std::numeric_limits<int64_t>::max()) {
    return fmt::format("between {} and {}", show(spec.min), show(spec.max));
  }
  if (spec.min != std::numeric_limits<int64_t>::min()) return fmt::format("at least {}", show(spec.min));
  return fmt::format("at most {}", show(spec.max));
}

class Validator {
 public:
  explicit Validator(ValidationContext& context) : ctx_(context) {}

  ConfigObject object(const YAML::Node& node, const ConfigSchema& schema, const std::string& path,
                      const std::set<std::string>& extra_keys = {}) {
    ConfigObject out;
    out.location = where(node, path);
    if (!node.IsMap()) {
      error(node, path, fmt::format("expected a mapping, found {}", nodeKind(node)));
      return out;
    }
    std::vector<std::string> known;
    for (const auto& field : schema.fields()) known.push_back(field.name);
    std::set<std::string> seen;
    std::set<std::string> emptied;  // written without a value (`key:` or `~`): the default applies
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.Scalar();
      std::string key_path = childPath(path, key);
      if (!seen.insert(key).second) {
        error(it->first, key_path, fmt::format("duplicate key '{}'", key));
        continue;
      }
      if (extra_keys.contains(key)) continue;
      const FieldSpec* spec = schema.find(key);
      if (!spec) {
        if (const FieldSpec* renamed = schema.findFormer(key)) {
          error(it->first, key_path, fmt::format("'{}' is now called '{}'", key, renamed->name),
                fmt::format("rename the key; {}", renamed->description));
          continue;
        }
        std::string near = diag::suggest(key, known);
        error(it->first, key_path, fmt::format("unknown key '{}'", key),
              near.empty() ? fmt::format("known keys: {}", fmt::join(known, ", "))
                           : fmt::format("did you mean '{}'?", near));
        continue;
      }
      if (it->second.IsNull() && !spec->required && spec->default_value) {
        emptied.insert(key);
        continue;
      }
      out.entries.push_back(field(it->second, *spec, key_path));
      out.entries.back().location = where(it->first, key_path);
    }
    for (const auto& spec : schema.fields()) {
      if (seen.contains(spec.name) && !emptied.contains(spec.name)) {
        if (spec.required && node[spec.name].IsNull()) {
          error(node[spec.name], childPath(path, spec.name), fmt::format("'{}' is required but empty", spec.name));
        }
        continue;
      }
      if (spec.required) {
        error(node, path,
              fmt::format("missing required key '{}' ({})", spec.name,
                          spec.shown_type.empty() ? core::toString(spec.type) : std::string_view(spec.shown_type)),
              spec.description);
        continue;
      }
      if (spec.default_value) {
        // Scalar defaults are taken verbatim ("-" must stay a string, not become a YAML list).
        bool structured = spec.type == FieldType::StringMap || spec.type == FieldType::StringList;
        YAML::Node def = structured ? YAML::Load(*spec.default_value) : YAML::Node(*spec.default_value);
        ConfigObject::Entry entry = field(def, spec, childPath(path, spec.name));
        entry.defaulted = true;
        entry.location = out.location;
        out.entries.push_back(std::move(entry));
      } else if (spec.type == FieldType::Object && spec.nested &&
                 std::none_of(spec.nested->fields().begin(), spec.nested->fields().end(),
                              [](const FieldSpec& f) { return f.required; })) {
        // Absent optional sections still get their defaults filled in.
        ConfigObject::Entry entry;
        entry.name = spec.name;
        entry.type = spec.type;
        entry.defaulted = true;
        entry.objects.push_back(object(YAML::Node(YAML::NodeType::Map), *spec.nested, childPath(path, spec.name)));
        out.entries.push_back(std::move(entry));
      }
    }
    // Cross-field rules see only the fields that validated; they skip absent ones.
    if (node.IsMap()) {
      for (const auto& problem : schema.crossCheck(out)) {
        const auto* entry = problem.field.empty() ? nullptr : out.find(problem.field);
        core::SourceLocation loc = entry ? entry->location : out.location;
        ctx_.diagnostics->add(loc, problem.message);
      }
    }
    return out;
  }

  ConfigObject connector(const YAML::Node& node, core::Direction direction, const std::string& path) {
    ConfigObject out;
    out.location = where(node, path);
    if (!node.IsMap()) {
      error(node, path, fmt::format("expected a connector mapping with a 'type' key, found {}", nodeKind(node)));
      return out;
    }
    std::vector<std::string> names =
        direction == core::Direction::Source ? ctx_.registry->sourceNames() : ctx_.registry->sinkNames();
    YAML::Node type_node = node["type"];
    if (!type_node || !type_node.IsScalar()) {
      error(node, path, fmt::format("missing required key 'type' ({} connector)", core::toString(direction)),
            fmt::format("available: {}", fmt::join(names, ", ")));
      return out;
    }
    std::string type = type_node.Scalar();
    const core::ConnectorFactory* factory = nullptr;
    if (direction == core::Direction::Source) factory = ctx_.registry->findSource(type);
    else factory = ctx_.registry->findSink(type);
    if (!factory) {
      std::string near = diag::suggest(type, names);
      error(type_node, childPath(path, "type"), fmt::format("unknown {} connector '{}'", core::toString(direction), type),
            near.empty() ? fmt::format("available: {}", fmt::join(names, ", ")) : fmt::format("did you mean '{}'?", near));
      return out;
    }
    out = object(node, factory->configSchema(), path, {"type"});
    ConfigObject::Entry type_entry;
    type_entry.name = "type";
    type_entry.value = Value(type);
    type_entry.location = where(type_node, childPath(path, "type"));
    out.entries.insert(out.entries.begin(), std::move(type_entry));
    return out;
  }

 private:
  core::SourceLocation where(const YAML::Node& node, const std::string& path) const {
    return ctx_.locator ? ctx_.locator(node, path) : locate(node, ctx_.file, path);
  }

  void error(const YAML::Node& node, const std::string& path, std::string message, std::string hint = {}) {
    ctx_.diagnostics->add(where(node, path), std::move(message), std::move(hint));
  }

  // Resolves secrets in a scalar; reports failures at the node.
  std::optional<std::string> text(const YAML::Node& node, const std::string& path, bool& secret) {
    auto resolved = ctx_.secrets->resolve(node.Scalar());
    if (!resolved) {
      error(node, path, resolved.error().message);
      return std::nullopt;
    }
    secret = secret || resolved->secret;
    return std::move(resolved->text);
  }

  std::optional<int64_t> integer(const YAML::Node& node, const std::string& path, const FieldSpec& spec) {
    const std::string& s = node.Scalar();
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
    if (ec != std::errc() || ptr != s.data() + s.size()) {
      error(node, path, fmt::format("'{}' must be an integer, found '{}'", spec.name, s));
      return std::nullopt;
    }
    return value;
  }

  bool inRange(const YAML::Node& node, const std::string& path, const FieldSpec& spec, int64_t value) {
    if (value < spec.min || value > spec.max) {
      error(node, path, fmt::format("'{}' must be {}, found '{}'", spec.name, rangeText(spec), node.Scalar()));
      return false;
    }
    return true;
  }

  // A StringMap (values may hold secret references) or an ExpressionMap (values verbatim).
  ValueMap names(const YAML::Node& node, const FieldSpec& spec, const std::string& path, bool& secret) {
    ValueMap items;
    const bool expressions = spec.type == FieldType::ExpressionMap;
    if (!node.IsMap()) {
      error(node, path,
            expressions
                ? fmt::format("'{}' must map names to expressions, found {}", spec.name, nodeKind(node))
                : fmt::format("'{}' must be a mapping of names to values, found {}", spec.name, nodeKind(node)));
      return items;
    }
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string item_path = childPath(path, it->first.Scalar());
      if (!it->second.IsScalar()) {
        error(it->second, item_path,
              fmt::format("'{}' values must be {}, found {}", spec.name,
                          expressions ? "expressions (strings)" : "scalars", nodeKind(it->second)));
      } else if (expressions) {
        items.emplace_back(it->first.Scalar(), Value(it->second.Scalar()));
      } else if (auto s = text(it->second, item_path, secret)) {
        items.emplace_back(it->first.Scalar(), Value(std::move(*s)));
      }
    }
    return items;
  }

  // One case per FieldType, each a few lines; kept as one switch (about 130 lines) so that every
  // type's conversion and refusal reads side by side.
  ConfigObject::Entry field(const YAML::Node& node, const FieldSpec& spec, const std::string& path) {
    ConfigObject::Entry entry;
    entry.name = spec.name;
    entry.type = spec.type;
    entry.secret = spec.sensitive;
    entry.location = where(node, path);
    if (node.IsNull()) return entry;

    auto needScalar = [&] {
      if (node.IsScalar()) return true;
      const std::string_view type = core::toString(spec.type);
      const bool vowel = std::string_view("aeiou").find(type.front()) != std::string_view::npos;
      error(node, path,
            fmt::format("'{}' must be {} {}, found {}", spec.name, vowel ? "an" : "a", type, nodeKind(node)));
      return false;
    };

    switch (spec.type) {
      case FieldType::String: {
        if (!needScalar()) break;
        if (auto s = text(node, path, entry.secret)) entry.value = Value(std::move(*s));
        break;
      }
      case FieldType::Int: {
        if (!needScalar()) break;
        if (auto v = integer(node, path, spec); v && inRange(node, path, spec, *v)) entry.value = Value(*v);
        break;
      }
      case FieldType::Bool: {
        if (!needScalar()) break;
        const std::string& s = node.Scalar();
        if (s == "true") entry.value = Value(true);
        else if (s == "false") entry.value = Value(false);
        else error(node, path, fmt::format("'{}' must be true or false, found '{}'", spec.name, s));
        break;
      }
      case FieldType::Duration: {
        if (!needScalar()) break;
        auto v = core::parseDuration(node.Scalar());
        if (!v) {
          error(node, path, fmt::format("'{}' must be a duration like 250ms, 5s, 2m or 1h, found '{}'", spec.name, node.Scalar()));
        } else if (inRange(node, path, spec, *v)) {
          entry.value = Value(*v);
        }
        break;
      }
      case FieldType::Size: {
        if (!needScalar()) break;
        auto v = core::parseSize(node.Scalar());
        if (!v) {
          error(node, path, fmt::format("'{}' must be a size like 512KiB, 64MiB or a byte count, found '{}'", spec.name, node.Scalar()));
        } else if (inRange(node, path, spec, *v)) {
          entry.value = Value(*v);
        }
        break;
      }
      case FieldType::Enum: {
        if (!needScalar()) break;
        const std::string& s = node.Scalar();
        if (std::find(spec.choices.begin(), spec.choices.end(), s) == spec.choices.end()) {
          std::string near = diag::suggest(s, spec.choices);
          error(node, path, fmt::format("'{}' must be one of {}, found '{}'", spec.name, fmt::join(spec.choices, ", "), s),
                near.empty() ? "" : fmt::format("did you mean '{}'?", near));
        } else {
          entry.value = Value(s);
        }
        break;
      }
      case FieldType::StringList: {
        ValueList items;
        if (node.IsScalar()) {
          if (auto s = text(node, path, entry.secret)) items.emplace_back(std::move(*s));
        } else if (node.IsSequence()) {
          for (size_t i = 0; i < node.size(); ++i) {
            std::string item_path = fmt::format("{}[{}]", path, i);
            if (!node[i].IsScalar()) {
              error(node[i], item_path, fmt::format("'{}' items must be strings, found {}", spec.name, nodeKind(node[i])));
            } else if (auto s = text(node[i], item_path, entry.secret)) {
              items.emplace_back(std::move(*s));
            }
          }
        } else {
          error(node, path, fmt::format("'{}' must be a string or a list of strings, found {}", spec.name, nodeKind(node)));
        }
        entry.value = Value(std::move(items));
        break;
      }
      case FieldType::StringMap:
      case FieldType::ExpressionMap: {
        entry.value = Value(names(node, spec, path, entry.secret));
        break;
      }
      case FieldType::Object: {
        entry.objects.push_back(object(node, *spec.nested, path));
        break;
      }
      case FieldType::ObjectList: {
        if (!node.IsSequence()) {
          error(node, path, fmt::format("'{}' must be a list, found {}", spec.name, nodeKind(node)));
          break;
        }
        for (size_t i = 0; i < node.size(); ++i) {
          entry.objects.push_back(object(node[i], *spec.nested, fmt::format("{}[{}]", path, i)));
        }
        break;
      }
      case FieldType::Expression: {
        if (needScalar()) entry.value = Value(node.Scalar());
        break;
      }
      case FieldType::Any:
        break;  // its own loader reads and checks it
      case FieldType::ObjectMap: {
        if (!node.IsMap()) {
          error(node, path, fmt::format("'{}' must map names to their settings, found {}", spec.name, nodeKind(node)));
          break;
        }
        for (auto it = node.begin(); it != node.end(); ++it) {
          entry.objects.push_back(object(it->second, *spec.nested, childPath(path, it->first.Scalar())));
          entry.objects.back().map_key = it->first.Scalar();
        }
        break;
      }
      case FieldType::Source:
      case FieldType::Sink: {
        entry.objects.push_back(connector(
            node, spec.type == FieldType::Source ? core::Direction::Source : core::Direction::Sink, path));
        break;
      }
    }
    return entry;
  }

  ValidationContext& ctx_;
};

}  // namespace

core::SourceLocation locate(const YAML::Node& node, const std::string& file, std::string path) {
  core::SourceLocation loc;
  loc.file = file;
  loc.path = std::move(path);
  if (node.IsDefined()) {
    YAML::Mark mark = node.Mark();
    if (mark.line >= 0) {
      loc.line = mark.line + 1;
      loc.column = mark.column + 1;
    }
  }
  return loc;
}

core::ConfigObject validateObject(const YAML::Node& node, const core::ConfigSchema& schema, const std::string& path,
                                  ValidationContext& context) {
  return Validator(context).object(node, schema, path);
}

void reportDuplicateKeys(const YAML::Node& root, const std::string& file, diag::Diagnostics& diagnostics) {
  // Iterative: a document nested deep must not exhaust the stack here.
  std::vector<std::pair<YAML::Node, std::string>> pending{{root, ""}};
  while (!pending.empty()) {
    auto [node, path] = std::move(pending.back());
    pending.pop_back();
    if (node.IsMap()) {
      std::set<std::string> seen;
      for (auto it = node.begin(); it != node.end(); ++it) {
        const std::string key = it->first.IsScalar() ? it->first.Scalar() : std::string();
        const std::string key_path = childPath(path, key);
        if (it->first.IsScalar() && !seen.insert(key).second) {
          diagnostics.add(locate(it->first, file, key_path), fmt::format("duplicate key '{}'", key),
                          "YAML keeps only one of the two values; remove or rename one");
        }
        pending.emplace_back(it->second, key_path);
      }
    } else if (node.IsSequence()) {
      for (size_t i = 0; i < node.size(); ++i) pending.emplace_back(node[i], fmt::format("{}[{}]", path, i));
    }
  }
}

core::ConfigObject validateConnector(const YAML::Node& node, core::Direction direction, const std::string& path,
                                     ValidationContext& context) {
  return Validator(context).connector(node, direction, path);
}

}  // namespace dutybridge::schema
