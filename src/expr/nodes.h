#pragma once
// The compiled tree: nodes with a virtual eval. Field references are slot indices, regexes and
// keys are resolved at compile time; eval allocates only for values it builds.

#include <fmt/format.h>

#include <cstddef>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "src/expr/expr.h"

namespace dutybridge::expr::detail {

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
    if (args_.size() > kInline) return evalLarge(context);
    // Raw storage: only the arguments actually evaluated are constructed and destroyed (an
    // array of kInline Values would construct and destroy all of them on every call).
    alignas(Value) std::byte storage[kInline * sizeof(Value)];
    Value* values = reinterpret_cast<Value*>(storage);
    size_t built = 0;
    struct Destroy {
      Value* values;
      const size_t& built;
      ~Destroy() { std::destroy_n(values, built); }
    } destroy{values, built};
    for (const auto& arg : args_) {
      auto v = arg->eval(context);
      if (!v) return v;
      if (propagate_null_ && v->isNull()) return Value();
      std::construct_at(values + built, std::move(*v));
      ++built;
    }
    return f_(std::span<const Value>(values, built), context);
  }

 private:
  static constexpr size_t kInline = 6;

  Result<Value> evalLarge(const EvalContext& context) const {
    std::vector<Value> values;
    values.reserve(args_.size());
    for (const auto& arg : args_) {
      auto v = arg->eval(context);
      if (!v) return v;
      if (propagate_null_ && v->isNull()) return Value();
      values.push_back(std::move(*v));
    }
    return f_(std::span<const Value>(values), context);
  }

  std::vector<NodePtr> args_;
  bool propagate_null_;
  F f_;
};

template <class F>
NodePtr makeCall(std::vector<NodePtr> args, bool propagate_null, F f) {
  return std::make_unique<CallNode<F>>(std::move(args), propagate_null, std::move(f));
}

}  // namespace dutybridge::expr::detail
