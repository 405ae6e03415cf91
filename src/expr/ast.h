#pragma once
// Syntax tree produced by the parser and consumed by the checker. Each node keeps the byte
// range of its source text, so diagnostics and runtime errors can point at it.

#include <memory>
#include <string>
#include <vector>

namespace dutybridge::expr::detail {

enum class NodeKind {
  IntLit,
  DecimalLit,
  StringLit,
  BoolLit,
  NullLit,
  TimestampLit,
  DateLit,
  DurationLit,
  Name,     // text = name; `a.b` parses as Member(Name a, b), resolved by the checker
  Member,   // children[0] . text
  Call,     // text = function name, children = arguments (a named one, `at: ts`, has a label)
  List,     // [children...]
  Unary,    // op = Minus | KwNot | Bang, children[0]
  Binary,   // op, children[0], children[1]
  In,       // children[0] in children[1]; negated for `not in`
  Conditional,  // children[0] ? children[1] : children[2]
};

enum class Op { Add, Sub, Mul, Div, Mod, Eq, Ne, Lt, Le, Gt, Ge, And, Or, Coalesce, Neg, Not, Assert };

struct Ast {
  NodeKind kind;
  Op op = Op::Add;
  std::string text;  // literal payload, name, member or function name
  std::string unit;  // duration unit
  size_t begin = 0;  // byte range in the expression text
  size_t end = 0;
  size_t op_offset = 0;  // operator position (binary, unary, member '.')
  size_t name_offset = 0;  // Call: the function name; Member: the member name
  std::string label;        // call argument written `label: expr` (named argument)
  size_t label_offset = 0;
  bool negated = false;  // `not in`
  bool quoted = false;   // Name/Member written in backticks
  size_t depth = 1;      // height of this subtree
  std::vector<std::unique_ptr<Ast>> children;
};

using AstPtr = std::unique_ptr<Ast>;

}  // namespace dutybridge::expr::detail
