#include "src/expr/parser.h"

#include <fmt/format.h>

#include <algorithm>

#include "src/expr/lexer.h"

namespace dutybridge::expr::detail {
namespace {

class Parser {
 public:
  Parser(std::string_view text, size_t max_depth) : tokens_(tokenize(text)), max_depth_(max_depth) {}

  ParseResult run() {
    ParseResult result;
    AstPtr root = expression();
    if (root && !error_ && peek().kind != Tok::End) {
      if (peek().kind == Tok::Error) {
        fromErrorToken();
      } else {
        fail(peek().offset, fmt::format("unexpected {} after the end of the expression", describe(peek().kind)),
             peek().kind == Tok::Ident || peek().kind == Tok::Int ? "is an operator missing?" : "");
      }
    }
    if (error_) {
      result.error = std::move(error_);
      return result;
    }
    result.root = std::move(root);
    return result;
  }

 private:
  const Token& peek(size_t ahead = 0) const { return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)]; }
  const Token& advance() { return tokens_[pos_ < tokens_.size() - 1 ? pos_++ : pos_]; }
  bool at(Tok kind) const { return peek().kind == kind; }

  std::nullptr_t fail(size_t offset, std::string message, std::string hint = {}) {
    if (!error_) error_ = ParseError{offset, std::move(message), std::move(hint)};
    return nullptr;
  }
  std::nullptr_t fromErrorToken() { return fail(peek().offset, peek().text, peek().hint); }
  std::nullptr_t unexpected(std::string_view expected) {
    if (at(Tok::Error)) return fromErrorToken();
    return fail(peek().offset, fmt::format("expected {} but found {}", expected, describe(peek().kind)));
  }
  std::nullptr_t tooDeep(size_t offset) {
    return fail(offset, fmt::format("expression is nested too deeply (more than {} levels)", max_depth_),
                "split it into several `let` bindings");
  }

  AstPtr node(NodeKind kind, size_t begin, size_t end) {
    auto n = std::make_unique<Ast>();
    n->kind = kind;
    n->begin = begin;
    n->end = end;
    return n;
  }
  // Finishes a node with children: computes its height and enforces max_depth.
  AstPtr seal(AstPtr n) {
    size_t depth = 0;
    for (const auto& c : n->children) depth = std::max(depth, c->depth);
    n->depth = depth + 1;
    if (n->depth > max_depth_) return tooDeep(n->begin);
    return n;
  }
  AstPtr binary(NodeKind kind, Op op, size_t op_offset, AstPtr lhs, AstPtr rhs) {
    auto n = node(kind, lhs->begin, rhs->end);
    n->op = op;
    n->op_offset = op_offset;
    n->children.push_back(std::move(lhs));
    n->children.push_back(std::move(rhs));
    return seal(std::move(n));
  }

  struct Guard {
    explicit Guard(size_t& d) : depth(d) { ++depth; }
    ~Guard() { --depth; }
    size_t& depth;
  };

  AstPtr expression() {
    Guard guard(recursion_);
    if (recursion_ > max_depth_) return tooDeep(peek().offset);
    return conditional();
  }

  AstPtr conditional() {
    AstPtr cond = coalesce();
    if (!cond || !at(Tok::Question)) return cond;
    size_t op = advance().offset;
    AstPtr then_branch = expression();
    if (!then_branch) return nullptr;
    if (!at(Tok::Colon)) return unexpected("':' of the conditional");
    advance();
    AstPtr else_branch = expression();
    if (!else_branch) return nullptr;
    auto n = node(NodeKind::Conditional, cond->begin, else_branch->end);
    n->op_offset = op;
    n->children.push_back(std::move(cond));
    n->children.push_back(std::move(then_branch));
    n->children.push_back(std::move(else_branch));
    return seal(std::move(n));
  }

  AstPtr coalesce() {
    AstPtr lhs = logicalOr();
    if (!lhs || !at(Tok::QuestionQuestion)) return lhs;
    size_t op = advance().offset;
    Guard guard(recursion_);
    if (recursion_ > max_depth_) return tooDeep(op);
    AstPtr rhs = coalesce();
    if (!rhs) return nullptr;
    return binary(NodeKind::Binary, Op::Coalesce, op, std::move(lhs), std::move(rhs));
  }

  AstPtr logicalOr() {
    AstPtr lhs = logicalAnd();
    while (lhs && at(Tok::KwOr)) {
      size_t op = advance().offset;
      AstPtr rhs = logicalAnd();
      if (!rhs) return nullptr;
      lhs = binary(NodeKind::Binary, Op::Or, op, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  AstPtr logicalAnd() {
    AstPtr lhs = logicalNot();
    while (lhs && at(Tok::KwAnd)) {
      size_t op = advance().offset;
      AstPtr rhs = logicalNot();
      if (!rhs) return nullptr;
      lhs = binary(NodeKind::Binary, Op::And, op, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  AstPtr logicalNot() {
    if (!at(Tok::KwNot)) return comparison();
    size_t op = advance().offset;
    Guard guard(recursion_);
    if (recursion_ > max_depth_) return tooDeep(op);
    AstPtr operand = logicalNot();
    if (!operand) return nullptr;
    auto n = node(NodeKind::Unary, op, operand->end);
    n->op = Op::Not;
    n->op_offset = op;
    n->children.push_back(std::move(operand));
    return seal(std::move(n));
  }

  static std::optional<Op> comparisonOp(Tok kind) {
    switch (kind) {
      case Tok::EqEq: return Op::Eq;
      case Tok::NotEq: return Op::Ne;
      case Tok::Less: return Op::Lt;
      case Tok::LessEq: return Op::Le;
      case Tok::Greater: return Op::Gt;
      case Tok::GreaterEq: return Op::Ge;
      default: return std::nullopt;
    }
  }

  bool atComparison() const {
    return comparisonOp(peek().kind) || at(Tok::KwIn) || (at(Tok::KwNot) && peek(1).kind == Tok::KwIn);
  }

  AstPtr comparison() {
    AstPtr lhs = additive();
    if (!lhs || !atComparison()) return lhs;
    AstPtr result;
    if (auto op = comparisonOp(peek().kind)) {
      size_t offset = advance().offset;
      AstPtr rhs = additive();
      if (!rhs) return nullptr;
      result = binary(NodeKind::Binary, *op, offset, std::move(lhs), std::move(rhs));
    } else {
      bool negated = at(Tok::KwNot);
      size_t offset = advance().offset;
      if (negated) advance();
      AstPtr rhs = additive();
      if (!rhs) return nullptr;
      result = binary(NodeKind::In, Op::Eq, offset, std::move(lhs), std::move(rhs));
      if (result) result->negated = negated;
    }
    if (result && atComparison()) {
      return fail(peek().offset, "comparison operators do not chain", "combine comparisons with 'and'");
    }
    return result;
  }

  AstPtr additive() {
    AstPtr lhs = multiplicative();
    while (lhs && (at(Tok::Plus) || at(Tok::Minus))) {
      Op op = at(Tok::Plus) ? Op::Add : Op::Sub;
      size_t offset = advance().offset;
      AstPtr rhs = multiplicative();
      if (!rhs) return nullptr;
      lhs = binary(NodeKind::Binary, op, offset, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  AstPtr multiplicative() {
    AstPtr lhs = unary();
    while (lhs && (at(Tok::Star) || at(Tok::Slash) || at(Tok::Percent))) {
      Op op = at(Tok::Star) ? Op::Mul : at(Tok::Slash) ? Op::Div : Op::Mod;
      size_t offset = advance().offset;
      AstPtr rhs = unary();
      if (!rhs) return nullptr;
      lhs = binary(NodeKind::Binary, op, offset, std::move(lhs), std::move(rhs));
    }
    return lhs;
  }

  AstPtr unary() {
    if (!at(Tok::Minus)) return postfix();
    size_t op = advance().offset;
    // A minus directly before a number literal is part of the literal, so the most negative
    // int64 can be written.
    if ((at(Tok::Int) || at(Tok::Decimal) || at(Tok::Duration)) && !isPostfix(peek(1).kind)) {
      const Token& t = advance();
      auto n = node(t.kind == Tok::Int ? NodeKind::IntLit
                    : t.kind == Tok::Decimal ? NodeKind::DecimalLit
                                             : NodeKind::DurationLit,
                    op, t.offset + t.length);
      n->text = "-" + t.text;
      n->unit = t.unit;
      return n;
    }
    Guard guard(recursion_);
    if (recursion_ > max_depth_) return tooDeep(op);
    AstPtr operand = unary();
    if (!operand) return nullptr;
    auto n = node(NodeKind::Unary, op, operand->end);
    n->op = Op::Neg;
    n->op_offset = op;
    n->children.push_back(std::move(operand));
    return seal(std::move(n));
  }

  static bool isPostfix(Tok kind) { return kind == Tok::Bang || kind == Tok::Dot; }

  AstPtr postfix() {
    AstPtr operand = primary();
    while (operand) {
      if (at(Tok::Bang)) {
        const Token& t = advance();
        auto n = node(NodeKind::Unary, operand->begin, t.offset + 1);
        n->op = Op::Assert;
        n->op_offset = t.offset;
        n->children.push_back(std::move(operand));
        operand = seal(std::move(n));
      } else if (at(Tok::Dot)) {
        size_t dot = advance().offset;
        if (!at(Tok::Ident)) return unexpected("a field name after '.'");
        const Token& name = advance();
        auto n = node(NodeKind::Member, operand->begin, name.offset + name.length);
        n->text = name.text;
        n->quoted = name.quoted;
        n->op_offset = dot;
        n->name_offset = name.offset;
        n->children.push_back(std::move(operand));
        operand = seal(std::move(n));
      } else {
        break;
      }
    }
    return operand;
  }

  AstPtr literal(NodeKind kind) {
    const Token& t = advance();
    auto n = node(kind, t.offset, t.offset + t.length);
    n->text = t.text;
    n->unit = t.unit;
    return n;
  }

  AstPtr primary() {
    switch (peek().kind) {
      case Tok::Int: return literal(NodeKind::IntLit);
      case Tok::Decimal: return literal(NodeKind::DecimalLit);
      case Tok::Duration: return literal(NodeKind::DurationLit);
      case Tok::String: return literal(NodeKind::StringLit);
      case Tok::Timestamp: return literal(NodeKind::TimestampLit);
      case Tok::Date: return literal(NodeKind::DateLit);
      case Tok::KwTrue:
      case Tok::KwFalse: return literal(NodeKind::BoolLit);
      case Tok::KwNull: return literal(NodeKind::NullLit);
      case Tok::Ident: return nameOrCall();
      case Tok::LParen: {
        size_t open = advance().offset;
        AstPtr inner = expression();
        if (!inner) return nullptr;
        if (!at(Tok::RParen)) {
          if (at(Tok::Error)) return fromErrorToken();
          return fail(peek().offset, fmt::format("expected ')' but found {}", describe(peek().kind)),
                      "every '(' needs a matching ')'");
        }
        const Token& close = advance();
        // Parentheses widen the source range so messages quote "(a + b)".
        inner->begin = open;
        inner->end = close.offset + 1;
        return inner;
      }
      case Tok::LBracket: return list();
      case Tok::KwIf: return ifThenElse();
      default: return unexpected("an operand");
    }
  }

  AstPtr nameOrCall() {
    const Token& name = advance();
    if (!at(Tok::LParen) || name.quoted) {
      auto n = node(NodeKind::Name, name.offset, name.offset + name.length);
      n->text = name.text;
      n->quoted = name.quoted;
      return n;
    }
    auto n = node(NodeKind::Call, name.offset, name.offset);
    n->text = name.text;
    n->name_offset = name.offset;
    advance();
    if (!elements(*n, Tok::RParen, "')'", true)) return nullptr;
    return seal(std::move(n));
  }

  AstPtr list() {
    size_t open = peek().offset;
    advance();
    auto n = node(NodeKind::List, open, open);
    if (!elements(*n, Tok::RBracket, "']'")) return nullptr;
    return seal(std::move(n));
  }

  // Comma-separated expressions up to the closing token; sets n.end. Call arguments may be
  // named (`at: ts`): an identifier directly followed by ':' can start no other argument.
  bool elements(Ast& n, Tok close, std::string_view close_text, bool named = false) {
    if (!at(close)) {
      while (true) {
        std::string label;
        size_t label_offset = 0;
        if (named && at(Tok::Ident) && !peek().quoted && peek(1).kind == Tok::Colon) {
          label = peek().text;
          label_offset = peek().offset;
          advance();
          advance();
        } else if (named && !n.children.empty() && !n.children.back()->label.empty()) {
          fail(peek().offset, "a positional argument cannot follow a named one",
               "write the positional arguments first, e.g. lookup(\"table\", key, at: ts)");
          return false;
        }
        AstPtr item = expression();
        if (!item) return false;
        item->label = std::move(label);
        item->label_offset = label_offset;
        n.children.push_back(std::move(item));
        if (at(Tok::Comma)) {
          advance();
          continue;
        }
        if (at(close)) break;
        unexpected(fmt::format("',' or {}", close_text));
        return false;
      }
    }
    n.end = advance().offset + 1;
    return true;
  }

  AstPtr ifThenElse() {
    size_t begin = advance().offset;
    Guard guard(recursion_);
    if (recursion_ > max_depth_) return tooDeep(begin);
    AstPtr cond = expression();
    if (!cond) return nullptr;
    if (!at(Tok::KwThen)) return unexpected("'then'");
    advance();
    AstPtr then_branch = expression();
    if (!then_branch) return nullptr;
    if (!at(Tok::KwElse)) return unexpected("'else'");
    advance();
    AstPtr else_branch = expression();
    if (!else_branch) return nullptr;
    auto n = node(NodeKind::Conditional, begin, else_branch->end);
    n->op_offset = begin;
    n->children.push_back(std::move(cond));
    n->children.push_back(std::move(then_branch));
    n->children.push_back(std::move(else_branch));
    return seal(std::move(n));
  }

  std::vector<Token> tokens_;
  size_t pos_ = 0;
  size_t max_depth_;
  size_t recursion_ = 0;
  std::optional<ParseError> error_;
};

}  // namespace

ParseResult parse(std::string_view text, size_t max_depth) { return Parser(text, max_depth).run(); }

}  // namespace dutybridge::expr::detail
