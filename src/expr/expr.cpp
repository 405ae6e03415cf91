#include "src/expr/expr.h"

#include <algorithm>

#include "src/expr/compiler.h"
#include "src/expr/parser.h"

namespace dutybridge::expr {
namespace {

class CompiledExpr final : public Expr {
 public:
  CompiledExpr(detail::NodePtr root, Type type, core::SourceLocation location)
      : root_(std::move(root)), type_(type), location_(std::move(location)) {}
  Type type() const override { return type_; }
  core::Result<core::Value> eval(const EvalContext& context) const override { return root_->eval(context); }
  const core::SourceLocation& location() const override { return location_; }

 private:
  detail::NodePtr root_;
  Type type_;
  core::SourceLocation location_;
};

constexpr std::pair<std::string_view, Type::Kind> kKindNames[] = {
    {"null", Type::Kind::Null},         {"bool", Type::Kind::Bool},         {"int", Type::Kind::Int},
    {"decimal", Type::Kind::Decimal},   {"double", Type::Kind::Double},     {"string", Type::Kind::String},
    {"timestamp", Type::Kind::Timestamp}, {"date", Type::Kind::Date},       {"duration", Type::Kind::Duration},
    {"list", Type::Kind::List},         {"map", Type::Kind::Map},           {"any", Type::Kind::Any},
};

}  // namespace

std::string Type::toString() const {
  std::string out(detail::kindName(kind));
  if (nullable && kind != Kind::Null) out += '?';
  return out;
}

const Type* RecordShape::find(std::string_view name) const {
  for (const auto& [field, type] : fields) {
    if (field == name) return &type;
  }
  return nullptr;
}

std::optional<Type> Type::parse(std::string_view text) {
  Type t;
  if (!text.empty() && text.back() == '?') {
    t.nullable = true;
    text.remove_suffix(1);
  }
  for (const auto& [name, kind] : kKindNames) {
    if (name == text && kind != Kind::Null) {
      t.kind = kind;
      return t;
    }
  }
  return std::nullopt;
}

size_t Scope::add(const std::string& name, Type type) {
  for (auto& [existing, entry] : entries_) {
    if (existing == name) {
      entry.type = type;
      return entry.slot;
    }
  }
  size_t slot = entries_.size();
  entries_.push_back({name, Entry{slot, type}});
  return slot;
}

std::optional<Scope::Entry> Scope::find(std::string_view name) const {
  for (const auto& [existing, entry] : entries_) {
    if (existing == name) return entry;
  }
  return std::nullopt;
}

std::optional<Scope::Entry> Scope::openField(std::string_view name) const {
  if (!open_) return std::nullopt;
  if (std::find(opened_.begin(), opened_.end(), name) == opened_.end()) opened_.emplace_back(name);
  return Entry{kNoSlot, Type{Type::Kind::Any, false}};
}

std::vector<std::string> Scope::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

std::unique_ptr<Expr> compileExpression(std::string_view text, const core::SourceLocation& start, const Scope& scope,
                                        const FunctionEnv& env, diag::Diagnostics& diagnostics,
                                        const CompileOptions& options) {
  detail::Checker checker(text, start, scope, env, diagnostics);
  if (text.size() > options.max_length) {
    checker.error(0, fmt::format("expression is too long ({} bytes, at most {})", text.size(), options.max_length),
                  "split it into several `let` bindings");
    return nullptr;
  }
  auto parsed = detail::parse(text, options.max_depth);
  if (parsed.error) {
    checker.error(parsed.error->offset, parsed.error->message, parsed.error->hint);
    return nullptr;
  }
  detail::Typed typed = checker.check(*parsed.root);
  if (!typed.ok || checker.failed()) return nullptr;
  return std::make_unique<CompiledExpr>(std::move(typed.node), typed.type, checker.locate(0));
}

std::vector<std::string> functionNames() {
  std::vector<std::string> names;
  for (const auto& f : detail::functionTable()) names.emplace_back(f.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace dutybridge::expr
