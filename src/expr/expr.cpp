#include "src/expr/expr.h"

#include <algorithm>

#include "src/expr/compiler.h"
#include "src/expr/parser.h"

namespace dutybridge::expr {
namespace {

class CompiledExpr final : public Expr {
 public:
  CompiledExpr(detail::NodePtr root, Type type, core::SourceLocation location, bool personal)
      : root_(std::move(root)), type_(type), location_(std::move(location)), personal_(personal) {}
  Type type() const override { return type_; }
  core::Result<core::Value> eval(const EvalContext& context) const override { return root_->eval(context); }
  const core::SourceLocation& location() const override { return location_; }
  bool personal() const override { return personal_; }

 private:
  detail::NodePtr root_;
  Type type_;
  core::SourceLocation location_;
  bool personal_;
};

// Taint over the syntax tree, after it type-checked: names resolve as the checker resolved them.
// A value derived from a personal one is personal (comparisons and conditions included: `badge ==
// "B1"` tells something about the badge); hmac_sha256 is the one way out.
bool personalOf(const detail::Ast& ast, const Scope& scope) {
  using detail::NodeKind;
  switch (ast.kind) {
    case NodeKind::Name: {
      auto entry = scope.find(ast.text);
      if (!entry) entry = scope.openField(ast.text);
      return entry && entry->personal;
    }
    case NodeKind::Member: {
      // `a.b.c` may name a scope entry (longest match first), like the checker resolves it.
      std::vector<const detail::Ast*> chain;
      const detail::Ast* root = &ast;
      while (root->kind == NodeKind::Member) {
        chain.push_back(root);
        root = root->children[0].get();
      }
      if (root->kind == NodeKind::Name) {
        std::string dotted = root->text;
        std::vector<std::string> prefixes;
        for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
          dotted += "." + (*it)->text;
          prefixes.push_back(dotted);
        }
        for (size_t k = prefixes.size(); k > 0; --k) {
          if (auto entry = scope.find(prefixes[k - 1])) return entry->personal;
        }
      }
      return personalOf(*root, scope);
    }
    case NodeKind::Call:
      // is_null says whether there is a value, not which: a mask keeps nulls too.
      if (ast.text == "hmac_sha256" || ast.text == "is_null") return false;
      [[fallthrough]];
    default:
      return std::any_of(ast.children.begin(), ast.children.end(),
                         [&](const detail::AstPtr& child) { return personalOf(*child, scope); });
  }
}

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

size_t Scope::add(const std::string& name, Type type, bool personal) {
  for (auto& [existing, entry] : entries_) {
    if (existing == name) {
      entry.type = type;
      entry.personal = personal;
      return entry.slot;
    }
  }
  size_t slot = entries_.size();
  entries_.push_back({name, Entry{slot, type, personal}});
  return slot;
}

bool Scope::isDropped(std::string_view name) const {
  return std::find(dropped_.begin(), dropped_.end(), name) != dropped_.end();
}

std::optional<Scope::Entry> Scope::find(std::string_view name) const {
  for (const auto& [existing, entry] : entries_) {
    if (existing == name) return entry;
  }
  return std::nullopt;
}

std::optional<Scope::Entry> Scope::openField(std::string_view name) const {
  if (!open_) return std::nullopt;
  if (isDropped(name)) return std::nullopt;
  if (std::find(opened_.begin(), opened_.end(), name) == opened_.end()) opened_.emplace_back(name);
  bool personal = std::find(personal_open_.begin(), personal_open_.end(), name) != personal_open_.end();
  return Entry{kNoSlot, Type{Type::Kind::Any, false}, personal};
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
  return std::make_unique<CompiledExpr>(std::move(typed.node), typed.type, checker.locate(0),
                                        personalOf(*parsed.root, scope));
}

std::vector<std::string> functionNames() {
  std::vector<std::string> names;
  for (const auto& f : detail::functionTable()) names.emplace_back(f.name);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace dutybridge::expr
