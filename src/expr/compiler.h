#pragma once
// Type checker and code generator in one pass over the syntax tree: every node comes back with
// its static type and its compiled runtime node. Errors are reported to Diagnostics and the
// node is marked bad, so its parents stay silent (one message per problem) while siblings are
// still checked.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/expr/ast.h"
#include "src/expr/expr.h"
#include "src/expr/nodes.h"

namespace dutybridge::expr::detail {

struct Typed {
  NodePtr node;
  Type type;
  const Ast* ast = nullptr;
  bool ok = true;
};

class Checker;

struct CallSite {
  const Ast& call;
  std::vector<Typed>& args;
  Checker& checker;
};

struct FunctionSpec {
  std::string_view name;
  size_t min_args;
  size_t max_args;  // SIZE_MAX: variadic
  std::string_view signature;  // "substr(s, start, len?)"
  // Checks the argument types (all arguments are well-typed) and builds the node; reports and
  // returns nullopt on error.
  std::optional<Typed> (*compile)(CallSite& site);
};

const std::vector<FunctionSpec>& functionTable();
// The named parameters a function accepts (`lookup(..., at: ts)`); empty for most.
std::vector<std::string_view> namedParameters(std::string_view function);
// shift_of, period_id, ... (calendar_functions.cpp); part of functionTable().
const std::vector<FunctionSpec>& calendarFunctionTable();

class Checker {
 public:
  Checker(std::string_view text, const core::SourceLocation& start, const Scope& scope, const FunctionEnv& env,
          diag::Diagnostics& diagnostics)
      : text_(text), start_(start), scope_(scope), env_(env), diagnostics_(diagnostics) {}

  Typed check(const Ast& ast);

  void error(size_t offset, std::string message, std::string hint = {});
  core::SourceLocation locate(size_t offset) const;
  // "file:line:column: " for runtime error messages about the text at offset.
  std::string where(size_t offset) const;
  // The source text of a node, shortened for messages.
  std::string quote(const Ast& ast) const;
  const FunctionEnv& env() const { return env_; }
  bool failed() const { return errors_ > 0; }

  // Argument i has one of the kinds (Any always passes); reports "argument N of f must be ...".
  bool expectArg(CallSite& site, size_t i, std::initializer_list<Type::Kind> kinds, std::string_view what);
  // Common type of two branches; converts int to decimal/double where needed.
  std::optional<Type> unify(Typed& a, Typed& b);
  // Wraps t in a conversion to a wider numeric kind (int -> decimal -> double).
  void widen(Typed& t, Type::Kind target);

 private:
  Typed bad(const Ast& ast) {
    Typed t;
    t.ast = &ast;
    t.ok = false;
    return t;
  }
  Typed literal(const Ast& ast);
  Typed name(const Ast& ast);
  Typed member(const Ast& ast);
  Typed call(const Ast& ast);
  Typed list(const Ast& ast);
  Typed unary(const Ast& ast);
  Typed binary(const Ast& ast);
  Typed arithmetic(const Ast& ast, Typed lhs, Typed rhs);
  Typed comparison(const Ast& ast, Typed lhs, Typed rhs);
  Typed logical(const Ast& ast, Typed lhs, Typed rhs);
  Typed coalesce(const Ast& ast, Typed lhs, Typed rhs);
  Typed membership(const Ast& ast);
  Typed conditional(const Ast& ast);
  bool checkCondition(const Typed& t, std::string_view role);

  std::string_view text_;
  const core::SourceLocation& start_;
  const Scope& scope_;
  const FunctionEnv& env_;
  diag::Diagnostics& diagnostics_;
  size_t errors_ = 0;
};

// Common type of two types, or nullopt: null joins anything, int/decimal/double widen, any
// absorbs everything.
std::optional<Type> commonType(Type a, Type b);

// Runtime comparison shared by operators and min/max: nullopt when the values cannot be
// compared (different kinds).
std::optional<std::partial_ordering> compareValues(const Value& a, const Value& b);
std::string_view kindName(Type::Kind kind);
bool isNumeric(Type::Kind kind);
// Converts a value to the static kind of its node (int -> decimal/double).
Result<Value> convertTo(Type::Kind kind, Value v);

}  // namespace dutybridge::expr::detail
