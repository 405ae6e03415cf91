#pragma once
// The typed value every record field holds. Cheap to copy: lists and maps are shared and
// immutable once built, strings are owned UTF-8.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "src/core/decimal.h"
#include "src/core/error.h"
#include "src/core/time.h"

namespace dutybridge::core {

enum class ValueType { Null, Bool, Int, Decimal, Double, String, Timestamp, Date, List, Map };

std::string_view toString(ValueType type);

class Value;
using ValueList = std::vector<Value>;
// Ordered by insertion, so output keeps the order the source or mapping gave.
using ValueMap = std::vector<std::pair<std::string, Value>>;

class Value {
 public:
  Value() = default;  // null
  Value(std::nullptr_t) {}
  Value(bool v) : data_(v) {}
  Value(int v) : data_(static_cast<int64_t>(v)) {}
  Value(int64_t v) : data_(v) {}
  Value(Decimal v) : data_(v) {}
  Value(double v) : data_(v) {}
  Value(std::string v) : data_(std::move(v)) {}
  Value(std::string_view v) : data_(std::string(v)) {}
  Value(const char* v) : data_(std::string(v)) {}
  Value(Timestamp v) : data_(v) {}
  Value(Date v) : data_(v) {}
  Value(ValueList v) : data_(std::make_shared<ValueList>(std::move(v))) {}
  Value(ValueMap v) : data_(std::make_shared<ValueMap>(std::move(v))) {}

  Value(const Value&) = default;
  Value(Value&&) noexcept = default;
  Value& operator=(const Value& other);
  Value& operator=(Value&& other) noexcept;
  // Lists and maps are released without recursion (releaseTree), so a deeply nested value (a
  // hostile JSON document) cannot overflow the stack when it is freed.
  ~Value() {
    if (data_.index() >= kFirstContainer) releaseTree();
  }

  ValueType type() const { return static_cast<ValueType>(data_.index()); }
  bool isNull() const { return type() == ValueType::Null; }

  // Unchecked accessors: call only after checking type().
  bool asBool() const { return std::get<bool>(data_); }
  int64_t asInt() const { return std::get<int64_t>(data_); }
  const Decimal& asDecimal() const { return std::get<Decimal>(data_); }
  double asDouble() const { return std::get<double>(data_); }
  const std::string& asString() const { return std::get<std::string>(data_); }
  Timestamp asTimestamp() const { return std::get<Timestamp>(data_); }
  Date asDate() const { return std::get<Date>(data_); }
  const ValueList& asList() const { return *std::get<std::shared_ptr<ValueList>>(data_); }
  const ValueMap& asMap() const { return *std::get<std::shared_ptr<ValueMap>>(data_); }

  // Checked conversions. Numbers convert exactly or fail; strings parse.
  Result<int64_t> toInt() const;
  Result<Decimal> toDecimal() const;
  Result<double> toDouble() const;
  Result<Timestamp> toTimestamp() const;
  Result<Date> toDate() const;
  // Canonical text: decimals in plain notation, timestamps RFC 3339 UTC, dates YYYY-MM-DD,
  // lists and maps as JSON-like text. Null becomes "null".
  std::string toText() const;

  // Map member lookup; nullptr when absent or not a map.
  const Value* find(std::string_view key) const;

  // Structural equality; Int and Decimal compare by numeric value (1 == 1.0).
  bool operator==(const Value& other) const;

 private:
  static constexpr size_t kFirstContainer = 8;  // index of the list alternative
  void releaseTree() noexcept;

  // Lists and maps are immutable once built (only const access is given out); they are held
  // mutable so that releaseTree can move the children out of a container it alone owns.
  std::variant<std::monostate, bool, int64_t, Decimal, double, std::string, Timestamp, Date,
               std::shared_ptr<ValueList>, std::shared_ptr<ValueMap>>
      data_;
};

}  // namespace dutybridge::core
