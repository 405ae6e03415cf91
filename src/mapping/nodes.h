#pragma once
// The compiled tree: nodes with a virtual eval. Field references are slot indices, regexes and
// keys are resolved at compile time; eval allocates only for values it builds.

#include <fmt/format.h>

#include <array>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "src/mapping/expr.h"

namespace dutybridge::mapping::detail {

using core::Result;
using core::Value;
using core::ValueType;

class Node {
 public:
  virtual ~Node() = default;
  virtual Result<Value> eval(const EvalContext& context) const = 0;
};
using NodePtr = std::unique_ptr<Node>;

class ConstNode final : public Node {
 public:
  explicit ConstNode(Value value) : value_(std::move(value)) {}
  Result<Value> eval(const EvalContext&) const override { return value_; }
  const Value& value() const { return value_; }

 private:
  Value value_;
};

// "expr.txt:1:7: message": runtime errors name the place in the mapping, never field values.
inline std::string located(const core::SourceLocation& where, std::string_view message) {
  if (where.file.empty()) return fmt::format("{}:{}: {}", where.line, where.column, message);
  return fmt::format("{}:{}:{}: {}", where.file, where.line, where.column, message);
}

// A function call: evaluates its arguments into a stack buffer, optionally returns null when
// any argument is null, and hands them to F(std::span<const Value>, const EvalContext&).
template <class F>
class CallNode final : public Node {
 public:
  CallNode(std::vector<NodePtr> args, bool propagate_null, F f)
      : args_(std::move(args)), propagate_null_(propagate_null), f_(std::move(f)) {}

  Result<Value> eval(const EvalContext& context) const override {
    constexpr size_t kInline = 6;
    std::array<Value, kInline> small;
    std::vector<Value> large;
    std::span<Value> values;
    if (args_.size() <= kInline) {
      values = std::span<Value>(small.data(), args_.size());
    } else {
      large.resize(args_.size());
      values = std::span<Value>(large);
    }
    for (size_t i = 0; i < args_.size(); ++i) {
      auto v = args_[i]->eval(context);
      if (!v) return v;
      if (propagate_null_ && v->isNull()) return Value();
      values[i] = std::move(*v);
    }
    return f_(std::span<const Value>(values.data(), values.size()), context);
  }

 private:
  std::vector<NodePtr> args_;
  bool propagate_null_;
  F f_;
};

template <class F>
NodePtr makeCall(std::vector<NodePtr> args, bool propagate_null, F f) {
  return std::make_unique<CallNode<F>>(std::move(args), propagate_null, std::move(f));
}

}  // namespace dutybridge::mapping::detail
