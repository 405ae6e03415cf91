#include "src/expr/compiler.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "src/diagnostics/diagnostics.h"

namespace dutybridge::expr::detail {
namespace {

using Kind = Type::Kind;
using core::Decimal;
using core::ErrorKind;

constexpr int64_t kMicrosPerDay = 86'400'000'000;

core::Error permanent(const std::string& where, std::string_view message) {
  return core::Error::permanent(where + std::string(message));
}

std::string prefix(const core::SourceLocation& loc) {
  if (loc.file.empty()) return fmt::format("{}:{}: ", loc.line, loc.column);
  return fmt::format("{}:{}:{}: ", loc.file, loc.line, loc.column);
}

// Static kind of a runtime value, for operators over Any. Durations travel as Int.
Kind kindOf(const Value& v) {
  switch (v.type()) {
    case ValueType::Null: return Kind::Null;
    case ValueType::Bool: return Kind::Bool;
    case ValueType::Int: return Kind::Int;
    case ValueType::Decimal: return Kind::Decimal;
    case ValueType::Double: return Kind::Double;
    case ValueType::String: return Kind::String;
    case ValueType::Timestamp: return Kind::Timestamp;
    case ValueType::Date: return Kind::Date;
    case ValueType::List: return Kind::List;
    case ValueType::Map: return Kind::Map;
  }
  return Kind::Any;
}

std::string_view opVerb(Op op) {
  switch (op) {
    case Op::Add: return "add";
    case Op::Sub: return "subtract";
    case Op::Mul: return "multiply";
    case Op::Div: return "divide";
    case Op::Mod: return "take the remainder of";
    default: return "combine";
  }
}

std::string_view opSymbol(Op op) {
  switch (op) {
    case Op::Add: return "+";
    case Op::Sub: return "-";
    case Op::Mul: return "*";
    case Op::Div: return "/";
    case Op::Mod: return "%";
    case Op::Eq: return "==";
    case Op::Ne: return "!=";
    case Op::Lt: return "<";
    case Op::Le: return "<=";
    case Op::Gt: return ">";
    case Op::Ge: return ">=";
    case Op::And: return "and";
    case Op::Or: return "or";
    case Op::Coalesce: return "?\?";
    case Op::Neg: return "-";
    case Op::Not: return "not";
    case Op::Assert: return "!";
  }
  return "?";
}

std::string arithMessage(Op op, Kind a, Kind b) {
  switch (op) {
    case Op::Sub: return fmt::format("cannot subtract {} from {}", kindName(b), kindName(a));
    case Op::Div: return fmt::format("cannot divide {} by {}", kindName(a), kindName(b));
    case Op::Mod: return fmt::format("cannot take the remainder of {} by {}", kindName(a), kindName(b));
    default: return fmt::format("cannot {} {} and {}", opVerb(op), kindName(a), kindName(b));
  }
}

enum class Mode { Int, Decimal, Double, Concat, TsDur, DurTs, TsTs, DateDur, DurDate, DateDate };

struct Plan {
  Mode mode;
  Kind result;
};

std::optional<Plan> plan(Op op, Kind a, Kind b) {
  bool na = isNumeric(a), nb = isNumeric(b);
  if (na && nb) {
    if (a == Kind::Int && b == Kind::Int) return Plan{Mode::Int, Kind::Int};
    if (a == Kind::Double || b == Kind::Double) return Plan{Mode::Double, Kind::Double};
    return Plan{Mode::Decimal, Kind::Decimal};
  }
  switch (op) {
    case Op::Add:
      if (a == Kind::String && b == Kind::String) return Plan{Mode::Concat, Kind::String};
      if (a == Kind::Timestamp && b == Kind::Duration) return Plan{Mode::TsDur, Kind::Timestamp};
      if (a == Kind::Duration && b == Kind::Timestamp) return Plan{Mode::DurTs, Kind::Timestamp};
      if (a == Kind::Date && b == Kind::Duration) return Plan{Mode::DateDur, Kind::Date};
      if (a == Kind::Duration && b == Kind::Date) return Plan{Mode::DurDate, Kind::Date};
      if (a == Kind::Duration && b == Kind::Duration) return Plan{Mode::Int, Kind::Duration};
      break;
    case Op::Sub:
      if (a == Kind::Timestamp && b == Kind::Duration) return Plan{Mode::TsDur, Kind::Timestamp};
      if (a == Kind::Timestamp && b == Kind::Timestamp) return Plan{Mode::TsTs, Kind::Duration};
      if (a == Kind::Date && b == Kind::Duration) return Plan{Mode::DateDur, Kind::Date};
      if (a == Kind::Date && b == Kind::Date) return Plan{Mode::DateDate, Kind::Duration};
      if (a == Kind::Duration && b == Kind::Duration) return Plan{Mode::Int, Kind::Duration};
      break;
    case Op::Mul:
      if ((a == Kind::Duration && b == Kind::Int) || (a == Kind::Int && b == Kind::Duration)) {
        return Plan{Mode::Int, Kind::Duration};
      }
      break;
    case Op::Div:
      if (a == Kind::Duration && b == Kind::Int) return Plan{Mode::Int, Kind::Duration};
      if (a == Kind::Duration && b == Kind::Duration) return Plan{Mode::Int, Kind::Int};
      break;
    case Op::Mod:
      if (a == Kind::Duration && b == Kind::Duration) return Plan{Mode::Int, Kind::Duration};
      break;
    default: break;
  }
  return std::nullopt;
}

Result<Value> decimalRemainder(const Decimal& a, const Decimal& b) {
  int scale = std::max(a.scale(), b.scale());
  auto ra = a.rescale(scale);
  auto rb = b.rescale(scale);
  if (!ra) return std::unexpected(ra.error());
  if (!rb) return std::unexpected(rb.error());
  auto rem = Decimal::fromParts(ra->coefficient() % rb->coefficient(), scale);
  if (!rem) return std::unexpected(rem.error());
  return Value(*rem);
}

class ArithNode final : public Node {
 public:
  ArithNode(Op op, std::optional<Mode> mode, NodePtr lhs, NodePtr rhs, std::string where)
      : op_(op), mode_(mode), lhs_(std::move(lhs)), rhs_(std::move(rhs)), where_(std::move(where)) {}

  Result<Value> eval(const EvalContext& context) const override {
    auto a = lhs_->eval(context);
    if (!a) return a;
    if (a->isNull()) return Value();
    auto b = rhs_->eval(context);
    if (!b) return b;
    if (b->isNull()) return Value();
    Mode mode;
    if (mode_) {
      mode = *mode_;
    } else {
      Kind ka = kindOf(*a), kb = kindOf(*b);
      bool time_a = ka == Kind::Timestamp || ka == Kind::Date;
      bool time_b = kb == Kind::Timestamp || kb == Kind::Date;
      if (ka == Kind::Int && time_b) ka = Kind::Duration;
      if (kb == Kind::Int && time_a) kb = Kind::Duration;
      auto p = plan(op_, ka, kb);
      if (!p) return std::unexpected(permanent(where_, arithMessage(op_, ka, kb)));
      mode = p->mode;
    }
    return apply(mode, *a, *b);
  }

 private:
  std::unexpected<core::Error> overflow() const {
    return std::unexpected(permanent(where_, fmt::format("integer overflow in '{}'", opSymbol(op_))));
  }
  std::unexpected<core::Error> located(const core::Error& e) const {
    return std::unexpected(permanent(where_, e.message));
  }

  Result<Value> applyInt(int64_t x, int64_t y) const {
    int64_t r = 0;
    switch (op_) {
      case Op::Add:
        if (__builtin_add_overflow(x, y, &r)) return overflow();
        return Value(r);
      case Op::Sub:
        if (__builtin_sub_overflow(x, y, &r)) return overflow();
        return Value(r);
      case Op::Mul:
        if (__builtin_mul_overflow(x, y, &r)) return overflow();
        return Value(r);
      case Op::Div:
        if (y == 0) return Value();
        if (x == std::numeric_limits<int64_t>::min() && y == -1) return overflow();
        return Value(x / y);
      case Op::Mod:
        if (y == 0) return Value();
        if (y == -1) return Value(int64_t{0});
        return Value(x % y);
      default: return overflow();
    }
  }

  Result<Value> applyDecimal(const Decimal& x, const Decimal& y) const {
    auto result = [this](Result<Decimal> r) -> Result<Value> {
      if (!r) return located(r.error());
      return Value(*r);
    };
    switch (op_) {
      case Op::Add: return result(x.add(y));
      case Op::Sub: return result(x.subtract(y));
      case Op::Mul: return result(x.multiply(y));
      case Op::Div:
        if (y.sign() == 0) return Value();
        return result(x.divide(y, std::max(6, x.scale())));
      case Op::Mod:
        if (y.sign() == 0) return Value();
        return decimalRemainder(x, y);
      default: return Value(Decimal());  // not an arithmetic operator; unreachable
    }
  }

  Result<Value> apply(Mode mode, const Value& a, const Value& b) const {
    switch (mode) {
      case Mode::Int: {
        if (a.type() == ValueType::Int && b.type() == ValueType::Int) return applyInt(a.asInt(), b.asInt());
        auto x = a.toInt();
        if (!x) return located(x.error());
        auto y = b.toInt();
        if (!y) return located(y.error());
        return applyInt(*x, *y);
      }
      case Mode::Decimal: {
        // Decimal fields and literals already hold decimals: no conversion (and no copy).
        if (a.type() == ValueType::Decimal && b.type() == ValueType::Decimal) {
          return applyDecimal(a.asDecimal(), b.asDecimal());
        }
        auto x = a.toDecimal();
        if (!x) return located(x.error());
        auto y = b.toDecimal();
        if (!y) return located(y.error());
        return applyDecimal(*x, *y);
      }
      case Mode::Double: {
        auto x = a.toDouble();
        if (!x) return located(x.error());
        auto y = b.toDouble();
        if (!y) return located(y.error());
        switch (op_) {
          case Op::Add: return Value(*x + *y);
          case Op::Sub: return Value(*x - *y);
          case Op::Mul: return Value(*x * *y);
          case Op::Div: return *y == 0 ? Value() : Value(*x / *y);
          case Op::Mod: return *y == 0 ? Value() : Value(std::fmod(*x, *y));
          default: return overflow();
        }
      }
      case Mode::Concat:
        if (a.type() != ValueType::String || b.type() != ValueType::String) {
          return std::unexpected(permanent(where_, arithMessage(op_, kindOf(a), kindOf(b))));
        }
        return Value(a.asString() + b.asString());
      case Mode::TsDur:
      case Mode::DurTs: {
        const Value& ts = mode == Mode::TsDur ? a : b;
        const Value& dur = mode == Mode::TsDur ? b : a;
        if (ts.type() != ValueType::Timestamp || dur.type() != ValueType::Int) return typeMismatch(a, b);
        int64_t r;
        bool over = op_ == Op::Sub ? __builtin_sub_overflow(ts.asTimestamp().micros, dur.asInt(), &r)
                                   : __builtin_add_overflow(ts.asTimestamp().micros, dur.asInt(), &r);
        if (over) return overflow();
        return Value(core::Timestamp{r});
      }
      case Mode::TsTs: {
        if (a.type() != ValueType::Timestamp || b.type() != ValueType::Timestamp) return typeMismatch(a, b);
        int64_t r;
        if (__builtin_sub_overflow(a.asTimestamp().micros, b.asTimestamp().micros, &r)) return overflow();
        return Value(r);
      }
      case Mode::DateDur:
      case Mode::DurDate: {
        const Value& d = mode == Mode::DateDur ? a : b;
        const Value& dur = mode == Mode::DateDur ? b : a;
        if (d.type() != ValueType::Date || dur.type() != ValueType::Int) return typeMismatch(a, b);
        if (dur.asInt() % kMicrosPerDay != 0) {
          return std::unexpected(permanent(where_, "a date moves only by whole days"));
        }
        int64_t days = dur.asInt() / kMicrosPerDay;
        int64_t r = op_ == Op::Sub ? int64_t{d.asDate().days} - days : int64_t{d.asDate().days} + days;
        if (r < std::numeric_limits<int32_t>::min() || r > std::numeric_limits<int32_t>::max()) return overflow();
        return Value(core::Date{static_cast<int32_t>(r)});
      }
      case Mode::DateDate:
        if (a.type() != ValueType::Date || b.type() != ValueType::Date) return typeMismatch(a, b);
        return Value((int64_t{a.asDate().days} - int64_t{b.asDate().days}) * kMicrosPerDay);
    }
    return overflow();
  }

  std::unexpected<core::Error> typeMismatch(const Value& a, const Value& b) const {
    return std::unexpected(permanent(where_, arithMessage(op_, kindOf(a), kindOf(b))));
  }

  Op op_;
  std::optional<Mode> mode_;  // nullopt: decided per value (an operand is Any)
  NodePtr lhs_, rhs_;
  std::string where_;
};

class NegateNode final : public Node {
 public:
  NegateNode(NodePtr operand, std::string where) : operand_(std::move(operand)), where_(std::move(where)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto v = operand_->eval(context);
    if (!v || v->isNull()) return v;
    switch (v->type()) {
      case ValueType::Int:
        if (v->asInt() == std::numeric_limits<int64_t>::min()) {
          return std::unexpected(permanent(where_, "integer overflow in '-'"));
        }
        return Value(-v->asInt());
      case ValueType::Decimal: return Value(v->asDecimal().negate());
      case ValueType::Double: return Value(-v->asDouble());
      default:
        return std::unexpected(permanent(where_, fmt::format("cannot negate {}", core::toString(v->type()))));
    }
  }

 private:
  NodePtr operand_;
  std::string where_;
};

class SlotNode final : public Node {
 public:
  explicit SlotNode(size_t slot) : slot_(slot) {}
  Result<Value> eval(const EvalContext& context) const override {
    if (slot_ >= context.slots.size()) [[unlikely]] {
      return std::unexpected(core::Error::permanent(fmt::format("field slot {} is not bound", slot_)));
    }
    return context.slots[slot_];
  }

 private:
  size_t slot_;
};

class MemberNode final : public Node {
 public:
  MemberNode(NodePtr base, std::string name, std::string where)
      : base_(std::move(base)), name_(std::move(name)), where_(std::move(where)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto v = base_->eval(context);
    if (!v || v->isNull()) return v;
    if (v->type() != ValueType::Map) {
      return std::unexpected(
          permanent(where_, fmt::format("cannot read field '{}' of {}", name_, core::toString(v->type()))));
    }
    const Value* member = v->find(name_);
    return member ? *member : Value();
  }

 private:
  NodePtr base_;
  std::string name_;
  std::string where_;
};

class ListNode final : public Node {
 public:
  explicit ListNode(std::vector<NodePtr> items) : items_(std::move(items)) {}
  Result<Value> eval(const EvalContext& context) const override {
    core::ValueList out;
    out.reserve(items_.size());
    for (const auto& item : items_) {
      auto v = item->eval(context);
      if (!v) return v;
      out.push_back(std::move(*v));
    }
    return Value(std::move(out));
  }

 private:
  std::vector<NodePtr> items_;
};

class CompareNode final : public Node {
 public:
  CompareNode(Op op, NodePtr lhs, NodePtr rhs, std::string where)
      : op_(op), lhs_(std::move(lhs)), rhs_(std::move(rhs)), where_(std::move(where)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto a = lhs_->eval(context);
    if (!a || a->isNull()) return a;
    auto b = rhs_->eval(context);
    if (!b || b->isNull()) return b;
    auto order = compareValues(*a, *b);
    if (!order) {
      return std::unexpected(permanent(
          where_, fmt::format("cannot compare {} with {}", core::toString(a->type()), core::toString(b->type()))));
    }
    switch (op_) {
      case Op::Eq: return Value(*order == 0);
      case Op::Ne: return Value(*order != 0);
      case Op::Lt: return Value(*order < 0);
      case Op::Le: return Value(*order <= 0);
      case Op::Gt: return Value(*order > 0);
      default: return Value(*order >= 0);
    }
  }

 private:
  Op op_;
  NodePtr lhs_, rhs_;
  std::string where_;
};

class InNode final : public Node {
 public:
  InNode(NodePtr needle, std::vector<NodePtr> items, NodePtr list, bool negated, std::string where)
      : needle_(std::move(needle)), items_(std::move(items)), list_(std::move(list)), negated_(negated),
        where_(std::move(where)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto a = needle_->eval(context);
    if (!a || a->isNull()) return a;
    bool found = false;
    if (list_) {
      auto l = list_->eval(context);
      if (!l || l->isNull()) return l;
      if (l->type() != ValueType::List) {
        return std::unexpected(permanent(where_, fmt::format("'in' needs a list, not {}", core::toString(l->type()))));
      }
      for (const auto& item : l->asList()) {
        auto order = compareValues(*a, item);
        if (order && *order == 0) {
          found = true;
          break;
        }
      }
    } else {
      for (const auto& item : items_) {
        auto v = item->eval(context);
        if (!v) return v;
        auto order = compareValues(*a, *v);
        if (order && *order == 0) {
          found = true;
          break;
        }
      }
    }
    return Value(found != negated_);
  }

 private:
  NodePtr needle_;
  std::vector<NodePtr> items_;  // a literal list, evaluated lazily
  NodePtr list_;                // or a list-valued expression
  bool negated_;
  std::string where_;
};

Result<bool> truth(const Result<Value>& v, const std::string& where) {
  if (v->type() == ValueType::Bool) return v->asBool();
  if (v->isNull()) return std::unexpected(permanent(where, "condition is null"));
  return std::unexpected(permanent(where, fmt::format("condition must be bool, not {}", core::toString(v->type()))));
}

class LogicNode final : public Node {
 public:
  LogicNode(Op op, NodePtr lhs, NodePtr rhs, std::string where)
      : op_(op), lhs_(std::move(lhs)), rhs_(std::move(rhs)), where_(std::move(where)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto a = lhs_->eval(context);
    if (!a) return a;
    auto ta = truth(a, where_);
    if (!ta) return std::unexpected(ta.error());
    if (op_ == Op::And && !*ta) return Value(false);
    if (op_ == Op::Or && *ta) return Value(true);
    auto b = rhs_->eval(context);
    if (!b) return b;
    auto tb = truth(b, where_);
    if (!tb) return std::unexpected(tb.error());
    return Value(*tb);
  }

 private:
  Op op_;
  NodePtr lhs_, rhs_;
  std::string where_;
};

class NotNode final : public Node {
 public:
  NotNode(NodePtr operand, std::string where) : operand_(std::move(operand)), where_(std::move(where)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto v = operand_->eval(context);
    if (!v) return v;
    auto t = truth(v, where_);
    if (!t) return std::unexpected(t.error());
    return Value(!*t);
  }

 private:
  NodePtr operand_;
  std::string where_;
};

class ConditionalNode final : public Node {
 public:
  ConditionalNode(NodePtr cond, NodePtr a, NodePtr b, std::string where)
      : cond_(std::move(cond)), a_(std::move(a)), b_(std::move(b)), where_(std::move(where)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto c = cond_->eval(context);
    if (!c) return c;
    auto t = truth(c, where_);
    if (!t) return std::unexpected(t.error());
    return *t ? a_->eval(context) : b_->eval(context);
  }

 private:
  NodePtr cond_, a_, b_;
  std::string where_;
};

class CoalesceNode final : public Node {
 public:
  CoalesceNode(NodePtr a, NodePtr b) : a_(std::move(a)), b_(std::move(b)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto v = a_->eval(context);
    if (!v || !v->isNull()) return v;
    return b_->eval(context);
  }

 private:
  NodePtr a_, b_;
};

class AssertNode final : public Node {
 public:
  // `retryable`: the null means reference data is missing (`lookup(...)!`, an attribution that
  // may appear when the table refreshes), so the error is Retryable and a mapping with
  // `quarantine:` holds the record instead of dead-lettering it at once.
  AssertNode(NodePtr operand, std::string message, bool retryable)
      : operand_(std::move(operand)), message_(std::move(message)), retryable_(retryable) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto v = operand_->eval(context);
    if (v && v->isNull()) {
      return std::unexpected(retryable_ ? core::Error{core::ErrorKind::Retryable, message_} : core::Error::permanent(message_));
    }
    return v;
  }

 private:
  NodePtr operand_;
  std::string message_;
  bool retryable_;
};

class ConvertNode final : public Node {
 public:
  ConvertNode(NodePtr operand, Kind kind, std::string where)
      : operand_(std::move(operand)), kind_(kind), where_(std::move(where)) {}
  Result<Value> eval(const EvalContext& context) const override {
    auto v = operand_->eval(context);
    if (!v || v->isNull()) return v;
    auto r = convertTo(kind_, std::move(*v));
    if (!r) return std::unexpected(permanent(where_, r.error().message));
    return r;
  }

 private:
  NodePtr operand_;
  Kind kind_;
  std::string where_;
};

bool isLiteralKind(NodeKind k) {
  return k == NodeKind::IntLit || k == NodeKind::DecimalLit || k == NodeKind::DurationLit;
}

bool comparable(Kind a, Kind b, bool ordering) {
  if (a == Kind::Any || b == Kind::Any) return true;
  if (isNumeric(a) && isNumeric(b)) return true;
  if (a != b) return false;
  if (ordering) return a != Kind::Bool && a != Kind::List && a != Kind::Map;
  return true;
}

std::string usage(std::string_view function) {
  for (const auto& f : functionTable()) {
    if (f.name == function) return fmt::format("usage: {}", f.signature);
  }
  return {};
}

}  // namespace

std::string_view kindName(Kind kind) {
  switch (kind) {
    case Kind::Null: return "null";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Decimal: return "decimal";
    case Kind::Double: return "double";
    case Kind::String: return "string";
    case Kind::Timestamp: return "timestamp";
    case Kind::Date: return "date";
    case Kind::Duration: return "duration";
    case Kind::List: return "list";
    case Kind::Map: return "map";
    case Kind::Any: return "any";
  }
  return "any";
}

bool isNumeric(Kind kind) { return kind == Kind::Int || kind == Kind::Decimal || kind == Kind::Double; }

Result<Value> convertTo(Kind kind, Value v) {
  if (kind == Kind::Decimal && v.type() != ValueType::Decimal) {
    auto d = v.toDecimal();
    if (!d) return std::unexpected(d.error());
    return Value(*d);
  }
  if (kind == Kind::Double && v.type() != ValueType::Double) {
    auto d = v.toDouble();
    if (!d) return std::unexpected(d.error());
    return Value(*d);
  }
  return v;
}

std::optional<std::partial_ordering> compareValues(const Value& a, const Value& b) {
  ValueType ta = a.type(), tb = b.type();
  if (ta == ValueType::Int && tb == ValueType::Int) return a.asInt() <=> b.asInt();
  bool na = ta == ValueType::Int || ta == ValueType::Decimal || ta == ValueType::Double;
  bool nb = tb == ValueType::Int || tb == ValueType::Decimal || tb == ValueType::Double;
  if (na && nb) {
    if (ta == ValueType::Double || tb == ValueType::Double) return *a.toDouble() <=> *b.toDouble();
    auto x = a.toDecimal();
    auto y = b.toDecimal();
    if (!x || !y) return std::nullopt;
    return *x <=> *y;
  }
  if (ta != tb) return std::nullopt;
  switch (ta) {
    case ValueType::Null: return std::partial_ordering::equivalent;
    case ValueType::Bool: return a.asBool() <=> b.asBool();
    case ValueType::String: return a.asString().compare(b.asString()) <=> 0;
    case ValueType::Timestamp: return a.asTimestamp() <=> b.asTimestamp();
    case ValueType::Date: return a.asDate() <=> b.asDate();
    case ValueType::List:
    case ValueType::Map: return a == b ? std::partial_ordering::equivalent : std::partial_ordering::unordered;
    default: return std::nullopt;
  }
}

core::SourceLocation Checker::locate(size_t offset) const {
  core::SourceLocation loc = start_;
  if (loc.line <= 0) loc.line = 1;
  if (loc.column <= 0) loc.column = 1;
  offset = std::min(offset, text_.size());
  for (size_t i = 0; i < offset; ++i) {
    if (text_[i] == '\n') {
      ++loc.line;
      loc.column = 1;
    } else {
      ++loc.column;
    }
  }
  return loc;
}

std::string Checker::where(size_t offset) const { return prefix(locate(offset)); }

void Checker::error(size_t offset, std::string message, std::string hint) {
  ++errors_;
  diagnostics_.add(locate(offset), std::move(message), std::move(hint));
}

std::string Checker::quote(const Ast& ast) const {
  std::string_view s = text_.substr(ast.begin, ast.end - ast.begin);
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  if (out.size() > 60) {
    size_t cut = 57;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out = out.substr(0, cut) + "...";
  }
  return out;
}

bool Checker::expectArg(CallSite& site, size_t i, std::initializer_list<Kind> kinds, std::string_view what) {
  Kind k = site.args[i].type.kind;
  if (k == Kind::Any) return true;
  for (Kind allowed : kinds) {
    if (k == allowed) return true;
  }
  error(site.args[i].ast->begin,
        fmt::format("argument {} of {} must be {}, not {}", i + 1, site.call.text, what, kindName(k)),
        usage(site.call.text));
  return false;
}

std::optional<Type> commonType(Type a, Type b) {
  Kind ka = a.kind, kb = b.kind;
  bool nullable = a.nullable || b.nullable;
  if (ka == Kind::Null) return Type{kb, true};
  if (kb == Kind::Null) return Type{ka, true};
  if (ka == kb) return Type{ka, nullable, a.shape == b.shape ? a.shape : nullptr};
  if (ka == Kind::Any || kb == Kind::Any) return Type{Kind::Any, nullable};
  if (isNumeric(ka) && isNumeric(kb)) {
    return Type{(ka == Kind::Double || kb == Kind::Double) ? Kind::Double : Kind::Decimal, nullable};
  }
  return std::nullopt;
}

void Checker::widen(Typed& t, Kind target) {
  if (t.type.kind == target || !isNumeric(t.type.kind) || !isNumeric(target)) return;
  t.node = std::make_unique<ConvertNode>(std::move(t.node), target, prefix(locate(t.ast->begin)));
  t.type.kind = target;
}

std::optional<Type> Checker::unify(Typed& a, Typed& b) {
  auto type = commonType(a.type, b.type);
  if (type) {
    widen(a, type->kind);
    widen(b, type->kind);
  }
  return type;
}

Typed Checker::check(const Ast& ast) {
  switch (ast.kind) {
    case NodeKind::IntLit:
    case NodeKind::DecimalLit:
    case NodeKind::StringLit:
    case NodeKind::BoolLit:
    case NodeKind::NullLit:
    case NodeKind::TimestampLit:
    case NodeKind::DateLit:
    case NodeKind::DurationLit: return literal(ast);
    case NodeKind::Name: return name(ast);
    case NodeKind::Member: return member(ast);
    case NodeKind::Call: return call(ast);
    case NodeKind::List: return list(ast);
    case NodeKind::Unary: return unary(ast);
    case NodeKind::Binary: return binary(ast);
    case NodeKind::In: return membership(ast);
    case NodeKind::Conditional: return conditional(ast);
  }
  return bad(ast);
}

Typed Checker::literal(const Ast& ast) {
  Typed t;
  t.ast = &ast;
  Value v;
  switch (ast.kind) {
    case NodeKind::IntLit: {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(ast.text.data(), ast.text.data() + ast.text.size(), n);
      if (ec != std::errc() || ptr != ast.text.data() + ast.text.size()) {
        error(ast.begin, "integer literal out of range (64-bit)", "write a decimal instead: add '.0'");
        return bad(ast);
      }
      v = Value(n);
      t.type = {Kind::Int, false};
      break;
    }
    case NodeKind::DecimalLit: {
      auto d = Decimal::parse(ast.text);
      if (!d) {
        error(ast.begin, "decimal literal has more than 38 digits");
        return bad(ast);
      }
      v = Value(*d);
      t.type = {Kind::Decimal, false};
      break;
    }
    case NodeKind::DurationLit: {
      int64_t unit = ast.unit == "ms" ? 1'000
                     : ast.unit == "s" ? 1'000'000
                     : ast.unit == "m" ? 60'000'000
                     : ast.unit == "h" ? 3'600'000'000
                                       : kMicrosPerDay;
      auto d = Decimal::parse(ast.text);
      Result<int64_t> micros = std::unexpected(core::Error{});
      if (d) {
        auto product = d->multiply(Decimal::fromInt(unit));
        if (product) micros = product->toInt64();
      }
      if (!micros) {
        error(ast.begin, "duration literal out of range or finer than a microsecond");
        return bad(ast);
      }
      v = Value(*micros);
      t.type = {Kind::Duration, false};
      break;
    }
    case NodeKind::StringLit:
      v = Value(ast.text);
      t.type = {Kind::String, false};
      break;
    case NodeKind::BoolLit:
      v = Value(ast.text == "true");
      t.type = {Kind::Bool, false};
      break;
    case NodeKind::NullLit: t.type = {Kind::Null, true}; break;
    case NodeKind::TimestampLit: {
      auto ts = core::parseTimestamp(ast.text);
      if (!ts) {
        error(ast.begin, fmt::format("invalid timestamp literal '@{}'", ast.text),
              "write @2025-03-14T08:00:00Z or with an offset: @2025-03-14T08:00:00+08:00");
        return bad(ast);
      }
      v = Value(*ts);
      t.type = {Kind::Timestamp, false};
      break;
    }
    case NodeKind::DateLit: {
      auto d = core::parseDate(ast.text);
      if (!d) {
        error(ast.begin, fmt::format("invalid date literal '@{}'", ast.text), "write @2025-03-14");
        return bad(ast);
      }
      v = Value(*d);
      t.type = {Kind::Date, false};
      break;
    }
    default: return bad(ast);
  }
  t.node = std::make_unique<ConstNode>(std::move(v));
  return t;
}

Typed Checker::name(const Ast& ast) {
  auto entry = scope_.find(ast.text);
  if (!entry) entry = scope_.openField(ast.text);
  if (entry) {
    Typed t;
    t.ast = &ast;
    t.type = entry->type;
    t.node = std::make_unique<SlotNode>(entry->slot);
    return t;
  }
  if (scope_.isDropped(ast.text)) {
    error(ast.begin, fmt::format("input field '{}' is classed pii: drop, so the mapping cannot read it", ast.text),
          "class it pii: mask to use it (it stays personal), or pii: hmac(KEY) to use a pseudonym");
    return bad(ast);
  }
  std::string hint;
  for (const auto& f : functionTable()) {
    if (f.name == ast.text) hint = fmt::format("'{}' is a function: call it as {}", f.name, f.signature);
  }
  if (hint.empty()) {
    std::string best = diag::suggest(ast.text, scope_.names());
    if (!best.empty()) hint = fmt::format("did you mean '{}'?", best);
  }
  error(ast.begin, fmt::format("unknown field '{}'", ast.text), std::move(hint));
  return bad(ast);
}

Typed Checker::member(const Ast& ast) {
  // `a.b.c` names a scope entry when one is called that (longest match first); the rest are
  // map members.
  std::vector<const Ast*> chain;
  const Ast* root = &ast;
  while (root->kind == NodeKind::Member) {
    chain.push_back(root);
    root = root->children[0].get();
  }
  std::reverse(chain.begin(), chain.end());
  Typed base;
  size_t consumed = 0;
  if (root->kind == NodeKind::Name) {
    std::string dotted = root->text;
    std::vector<std::string> prefixes;
    for (const Ast* m : chain) {
      dotted += "." + m->text;
      prefixes.push_back(dotted);
    }
    for (size_t k = prefixes.size(); k > 0; --k) {
      if (auto entry = scope_.find(prefixes[k - 1])) {
        base.ast = chain[k - 1];
        base.type = entry->type;
        base.node = std::make_unique<SlotNode>(entry->slot);
        consumed = k;
        break;
      }
    }
    if (consumed == 0 && (scope_.find(root->text) || scope_.isOpen() || scope_.isDropped(root->text))) {
      base = check(*root);
    } else if (consumed == 0) {
      std::string best = diag::suggest(prefixes.back(), scope_.names());
      if (best.empty()) best = diag::suggest(root->text, scope_.names());
      error(root->begin, fmt::format("unknown field '{}'", root->text),
            best.empty() ? std::string() : fmt::format("did you mean '{}'?", best));
      return bad(ast);
    }
  } else {
    base = check(*root);
    if (!base.ok) return bad(ast);
  }
  for (size_t i = consumed; i < chain.size(); ++i) {
    const Ast* m = chain[i];
    Kind k = base.type.kind;
    if (k != Kind::Map && k != Kind::Any) {
      error(m->name_offset, fmt::format("cannot read field '{}' of {}", m->text, kindName(k)),
            "only map values have fields");
      return bad(ast);
    }
    Type member_type{Kind::Any, true};
    if (const RecordShape* shape = base.type.shape) {
      const Type* known = shape->find(m->text);
      if (!known) {
        std::vector<std::string> names;
        for (const auto& [field, type] : shape->fields) names.emplace_back(field);
        std::string best = diag::suggest(m->text, names);
        error(m->name_offset, fmt::format("{} has no field '{}'", shape->what, m->text),
              best.empty() ? fmt::format("fields: {}", fmt::join(names, ", ")) : fmt::format("did you mean '{}'?", best));
        return bad(ast);
      }
      member_type = *known;
      member_type.nullable = known->nullable || base.type.nullable;
    }
    base.node = std::make_unique<MemberNode>(std::move(base.node), m->text, prefix(locate(m->name_offset)));
    base.type = member_type;
    base.ast = m;
  }
  base.ast = &ast;
  return base;
}

Typed Checker::call(const Ast& ast) {
  const FunctionSpec* spec = nullptr;
  for (const auto& f : functionTable()) {
    if (f.name == ast.text) spec = &f;
  }
  std::vector<Typed> args;
  bool ok = true;
  for (const auto& child : ast.children) {
    args.push_back(check(*child));
    ok = ok && args.back().ok;
  }
  if (!spec) {
    std::vector<std::string> names = functionNames();
    std::string best = diag::suggest(ast.text, names);
    error(ast.name_offset, fmt::format("unknown function '{}'", ast.text),
          best.empty() ? std::string() : fmt::format("did you mean '{}'?", best));
    return bad(ast);
  }
  // Named arguments (`at: ts`) come after the positional ones (the parser sees to that) and are
  // checked here against the function's list; its compile() finds them by label.
  size_t n = 0;
  std::vector<std::string_view> seen;
  for (const auto& child : ast.children) {
    if (child->label.empty()) {
      ++n;
      continue;
    }
    auto allowed = namedParameters(spec->name);
    if (std::find(allowed.begin(), allowed.end(), child->label) == allowed.end()) {
      error(child->label_offset, fmt::format("{} has no parameter '{}'", spec->name, child->label),
            allowed.empty() ? fmt::format("usage: {}", spec->signature)
                            : fmt::format("named parameters: {}", fmt::join(allowed, ", ")));
      return bad(ast);
    }
    if (std::find(seen.begin(), seen.end(), child->label) != seen.end()) {
      error(child->label_offset, fmt::format("parameter '{}' is given twice", child->label));
      return bad(ast);
    }
    seen.push_back(child->label);
  }
  if (n < spec->min_args || n > spec->max_args) {
    std::string expected = spec->min_args == spec->max_args ? std::to_string(spec->min_args)
                           : spec->max_args == SIZE_MAX    ? fmt::format("at least {}", spec->min_args)
                                                           : fmt::format("{} to {}", spec->min_args, spec->max_args);
    error(ast.name_offset,
          fmt::format("{} takes {} argument{}, not {}", spec->name, expected,
                      expected == "1" ? "" : "s", n),
          fmt::format("usage: {}", spec->signature));
    return bad(ast);
  }
  if (!ok) return bad(ast);
  CallSite site{ast, args, *this};
  auto result = spec->compile(site);
  if (!result) return bad(ast);
  result->ast = &ast;
  return std::move(*result);
}

Typed Checker::list(const Ast& ast) {
  std::vector<NodePtr> items;
  bool ok = true;
  for (const auto& child : ast.children) {
    Typed t = check(*child);
    if (!t.ok) {
      ok = false;
      continue;
    }
    items.push_back(std::move(t.node));
  }
  if (!ok) return bad(ast);
  Typed t;
  t.ast = &ast;
  t.type = {Kind::List, false};
  t.node = std::make_unique<ListNode>(std::move(items));
  return t;
}

bool Checker::checkCondition(const Typed& t, std::string_view role) {
  Kind k = t.type.kind;
  if (k != Kind::Bool && k != Kind::Any) {
    error(t.ast->begin, fmt::format("{} must be bool, not {}", role, kindName(k)));
    return false;
  }
  if (k == Kind::Bool && t.type.nullable) {
    error(t.ast->begin, fmt::format("{} is bool? (it can be null)", role),
          fmt::format("decide what null means: ({}) ?? false, or ({})! to reject the record", quote(*t.ast),
                      quote(*t.ast)));
    return false;
  }
  return true;
}

Typed Checker::unary(const Ast& ast) {
  Typed operand = check(*ast.children[0]);
  if (!operand.ok) return bad(ast);
  Typed t;
  t.ast = &ast;
  switch (ast.op) {
    case Op::Neg: {
      Kind k = operand.type.kind;
      if (!isNumeric(k) && k != Kind::Duration && k != Kind::Any) {
        error(ast.op_offset, fmt::format("cannot negate {}", kindName(k)));
        return bad(ast);
      }
      t.type = operand.type;
      t.node = std::make_unique<NegateNode>(std::move(operand.node), prefix(locate(ast.op_offset)));
      return t;
    }
    case Op::Not:
      if (!checkCondition(operand, "operand of 'not'")) return bad(ast);
      t.type = {Kind::Bool, false};
      t.node = std::make_unique<NotNode>(std::move(operand.node), prefix(locate(ast.op_offset)));
      return t;
    default: {
      t.type = operand.type;
      t.type.nullable = false;
      if (t.type.kind == Kind::Null) t.type.kind = Kind::Any;
      std::string message = located(locate(ast.op_offset), fmt::format("value of {} is null", quote(*ast.children[0])));
      const Ast& checked = *ast.children[0];
      bool attribution = checked.kind == NodeKind::Call && checked.text == "lookup";
      t.node = std::make_unique<AssertNode>(std::move(operand.node), std::move(message), attribution);
      return t;
    }
  }
}

Typed Checker::binary(const Ast& ast) {
  Typed lhs = check(*ast.children[0]);
  Typed rhs = check(*ast.children[1]);
  if (!lhs.ok || !rhs.ok) return bad(ast);
  switch (ast.op) {
    case Op::Add:
    case Op::Sub:
    case Op::Mul:
    case Op::Div:
    case Op::Mod: return arithmetic(ast, std::move(lhs), std::move(rhs));
    case Op::And:
    case Op::Or: return logical(ast, std::move(lhs), std::move(rhs));
    case Op::Coalesce: return coalesce(ast, std::move(lhs), std::move(rhs));
    default: return comparison(ast, std::move(lhs), std::move(rhs));
  }
}

Typed Checker::arithmetic(const Ast& ast, Typed lhs, Typed rhs) {
  Kind ka = lhs.type.kind, kb = rhs.type.kind;
  bool dynamic = ka == Kind::Any || kb == Kind::Any;
  Typed t;
  t.ast = &ast;
  std::optional<Plan> p;
  if (!dynamic) {
    if (ka == Kind::Null || kb == Kind::Null) {
      error(ast.op_offset, fmt::format("cannot {} null", opVerb(ast.op)), "the result would always be null");
      return bad(ast);
    }
    p = plan(ast.op, ka, kb);
    if (!p) {
      error(ast.op_offset, arithMessage(ast.op, ka, kb));
      return bad(ast);
    }
  }
  bool can_fail = false;
  if (ast.op == Op::Div || ast.op == Op::Mod) {
    const Ast& divisor = *ast.children[1];
    auto* constant = dynamic_cast<const ConstNode*>(rhs.node.get());
    if (isLiteralKind(divisor.kind) && constant) {
      auto zero = compareValues(constant->value(), Value(int64_t{0}));
      if (zero && *zero == 0) {
        error(divisor.begin, "division by zero");
        return bad(ast);
      }
    } else {
      can_fail = true;
    }
  }
  // Widen int operands only now, so the divisor check above still sees a literal zero.
  if (p && p->mode == Mode::Decimal) {
    for (Typed* side : {&lhs, &rhs}) {
      if (side->type.kind == Kind::Int) {
        side->node = std::make_unique<ConvertNode>(std::move(side->node), Kind::Decimal, prefix(locate(side->ast->begin)));
      }
    }
  }
  t.type = Type{dynamic ? Kind::Any : p->result, lhs.type.nullable || rhs.type.nullable || can_fail};
  std::optional<Mode> mode;
  if (p) mode = p->mode;
  t.node = std::make_unique<ArithNode>(ast.op, mode, std::move(lhs.node), std::move(rhs.node),
                                       prefix(locate(ast.op_offset)));
  return t;
}

Typed Checker::comparison(const Ast& ast, Typed lhs, Typed rhs) {
  Kind ka = lhs.type.kind, kb = rhs.type.kind;
  if (ka == Kind::Null || kb == Kind::Null) {
    const Typed& other = ka == Kind::Null ? rhs : lhs;
    error(ast.op_offset, "comparison with null is always null",
          fmt::format("test for null with is_null({})", quote(*other.ast)));
    return bad(ast);
  }
  bool ordering = ast.op != Op::Eq && ast.op != Op::Ne;
  if (!comparable(ka, kb, ordering)) {
    if (ka == kb) {
      error(ast.op_offset, fmt::format("cannot order {} values with '{}'", kindName(ka), opSymbol(ast.op)),
            "only '==' and '!=' apply");
    } else {
      error(ast.op_offset, fmt::format("cannot compare {} with {}", kindName(ka), kindName(kb)),
            ka == Kind::String || kb == Kind::String ? "convert first, e.g. to_int(x) or to_string(x)" : "");
    }
    return bad(ast);
  }
  Typed t;
  t.ast = &ast;
  t.type = Type{Kind::Bool, lhs.type.nullable || rhs.type.nullable};
  t.node = std::make_unique<CompareNode>(ast.op, std::move(lhs.node), std::move(rhs.node),
                                         prefix(locate(ast.op_offset)));
  return t;
}

Typed Checker::logical(const Ast& ast, Typed lhs, Typed rhs) {
  std::string role = fmt::format("operand of '{}'", opSymbol(ast.op));
  bool ok = checkCondition(lhs, role);
  ok = checkCondition(rhs, role) && ok;
  if (!ok) return bad(ast);
  Typed t;
  t.ast = &ast;
  t.type = {Kind::Bool, false};
  t.node = std::make_unique<LogicNode>(ast.op, std::move(lhs.node), std::move(rhs.node),
                                       prefix(locate(ast.op_offset)));
  return t;
}

Typed Checker::coalesce(const Ast& ast, Typed lhs, Typed rhs) {
  auto type = unify(lhs, rhs);
  if (!type) {
    error(ast.op_offset,
          fmt::format("both sides of '?\?' must have the same type, not {} and {}", kindName(lhs.type.kind),
                      kindName(rhs.type.kind)));
    return bad(ast);
  }
  Typed t;
  t.ast = &ast;
  t.type = Type{type->kind, rhs.type.nullable};
  t.node = std::make_unique<CoalesceNode>(std::move(lhs.node), std::move(rhs.node));
  return t;
}

Typed Checker::membership(const Ast& ast) {
  Typed needle = check(*ast.children[0]);
  const Ast& haystack = *ast.children[1];
  std::vector<NodePtr> items;
  NodePtr list;
  bool ok = needle.ok;
  if (haystack.kind == NodeKind::List) {
    for (const auto& child : haystack.children) {
      Typed item = check(*child);
      if (!item.ok) {
        ok = false;
        continue;
      }
      if (needle.ok && !comparable(needle.type.kind, item.type.kind, false) && item.type.kind != Kind::Null) {
        error(child->begin,
              fmt::format("cannot compare {} with {}", kindName(needle.type.kind), kindName(item.type.kind)),
              "every element of the list must have the type of the left side");
        ok = false;
        continue;
      }
      items.push_back(std::move(item.node));
    }
  } else {
    Typed l = check(haystack);
    if (l.ok && l.type.kind != Kind::List && l.type.kind != Kind::Any) {
      error(haystack.begin, fmt::format("'in' needs a list, not {}", kindName(l.type.kind)),
            "write the values in brackets: x in [1, 2, 3]");
      ok = false;
    }
    ok = ok && l.ok;
    if (ok) list = std::move(l.node);
  }
  if (!ok) return bad(ast);
  Typed t;
  t.ast = &ast;
  t.type = Type{Kind::Bool, needle.type.nullable};
  t.node = std::make_unique<InNode>(std::move(needle.node), std::move(items), std::move(list), ast.negated,
                                    prefix(locate(ast.op_offset)));
  return t;
}

Typed Checker::conditional(const Ast& ast) {
  Typed cond = check(*ast.children[0]);
  Typed a = check(*ast.children[1]);
  Typed b = check(*ast.children[2]);
  bool ok = cond.ok && checkCondition(cond, "condition");
  if (!ok || !a.ok || !b.ok) return bad(ast);
  auto type = unify(a, b);
  if (!type) {
    error(ast.children[2]->begin,
          fmt::format("both branches must have the same type, not {} and {}", kindName(a.type.kind),
                      kindName(b.type.kind)));
    return bad(ast);
  }
  Typed t;
  t.ast = &ast;
  t.type = *type;
  t.node = std::make_unique<ConditionalNode>(std::move(cond.node), std::move(a.node), std::move(b.node),
                                             prefix(locate(ast.op_offset)));
  return t;
}

}  // namespace dutybridge::expr::detail
