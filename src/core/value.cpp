#include "src/core/value.h"

#include <charconv>
#include <cmath>

namespace dutybridge::core {
namespace {

std::unexpected<Error> cannotConvert(ValueType from, std::string_view to) {
  return fail(ErrorKind::Permanent, "cannot convert " + std::string(toString(from)) + " to " + std::string(to));
}

void appendQuoted(std::string& out, std::string_view text) {
  out += '"';
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

}  // namespace

std::string_view toString(ValueType type) {
  switch (type) {
    case ValueType::Null: return "null";
    case ValueType::Bool: return "bool";
    case ValueType::Int: return "int";
    case ValueType::Decimal: return "decimal";
    case ValueType::Double: return "double";
    case ValueType::String: return "string";
    case ValueType::Timestamp: return "timestamp";
    case ValueType::Date: return "date";
    case ValueType::List: return "list";
    case ValueType::Map: return "map";
  }
  return "unknown";
}

Result<int64_t> Value::toInt() const {
  switch (type()) {
    case ValueType::Int: return asInt();
    case ValueType::Bool: return asBool() ? 1 : 0;
    case ValueType::Decimal: return asDecimal().toInt64();
    case ValueType::Double: {
      double d = asDouble();
      if (std::trunc(d) != d || d < -9.2e18 || d > 9.2e18) return cannotConvert(type(), "int exactly");
      return static_cast<int64_t>(d);
    }
    case ValueType::String: {
      const std::string& s = asString();
      int64_t out = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      if (ec != std::errc() || ptr != s.data() + s.size()) {
        return fail(ErrorKind::Permanent, "not an integer: \"" + s.substr(0, 64) + "\"");
      }
      return out;
    }
    default: return cannotConvert(type(), "int");
  }
}

Result<Decimal> Value::toDecimal() const {
  switch (type()) {
    case ValueType::Decimal: return asDecimal();
    case ValueType::Int: return Decimal::fromInt(asInt());
    case ValueType::Double: return Decimal::fromDouble(asDouble());
    case ValueType::String: return Decimal::parse(asString());
    default: return cannotConvert(type(), "decimal");
  }
}

Result<double> Value::toDouble() const {
  switch (type()) {
    case ValueType::Double:
      if (!std::isfinite(asDouble())) return fail(ErrorKind::Permanent, "not a finite number (NaN or infinity)");
      return asDouble();
    case ValueType::Int: return static_cast<double>(asInt());
    case ValueType::Decimal: return asDecimal().toDouble();
    case ValueType::String: {
      const std::string& s = asString();
      double out = 0;
      auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
      if (ec == std::errc::result_out_of_range) {
        return fail(ErrorKind::Permanent, "number out of the range of a double: \"" + s.substr(0, 64) + "\"");
      }
      if (ec != std::errc() || ptr != s.data() + s.size()) {
        return fail(ErrorKind::Permanent, "not a number: \"" + s.substr(0, 64) + "\"");
      }
      // "NaN" and "Infinity" parse, but no KPI input is either; JSON could not carry them anyway
      // (they would become null downstream).
      if (!std::isfinite(out)) return fail(ErrorKind::Permanent, "not a finite number: \"" + s.substr(0, 64) + "\"");
      return out;
    }
    default: return cannotConvert(type(), "double");
  }
}

Result<Timestamp> Value::toTimestamp() const {
  switch (type()) {
    case ValueType::Timestamp: return asTimestamp();
    case ValueType::String: return parseTimestamp(asString());
    case ValueType::Date: return Timestamp{int64_t{asDate().days} * 86'400'000'000};
    default: return cannotConvert(type(), "timestamp");
  }
}

Result<Date> Value::toDate() const {
  switch (type()) {
    case ValueType::Date: return asDate();
    case ValueType::String: return parseDate(asString());
    default: return cannotConvert(type(), "date");
  }
}

std::string Value::toText() const {
  switch (type()) {
    case ValueType::Null: return "null";
    case ValueType::Bool: return asBool() ? "true" : "false";
    case ValueType::Int: return std::to_string(asInt());
    case ValueType::Decimal: return asDecimal().toString();
    case ValueType::Double: {
      char buffer[32];
      auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, asDouble());
      return std::string(buffer, static_cast<size_t>(ptr - buffer));
    }
    case ValueType::String: return asString();
    case ValueType::Timestamp: return formatTimestamp(asTimestamp());
    case ValueType::Date: return formatDate(asDate());
    case ValueType::List: {
      std::string out = "[";
      for (const auto& item : asList()) {
        if (out.size() > 1) out += ',';
        if (item.type() == ValueType::String) appendQuoted(out, item.asString());
        else out += item.toText();
      }
      return out + "]";
    }
    case ValueType::Map: {
      std::string out = "{";
      for (const auto& [key, item] : asMap()) {
        if (out.size() > 1) out += ',';
        appendQuoted(out, key);
        out += ':';
        if (item.type() == ValueType::String) appendQuoted(out, item.asString());
        else out += item.toText();
      }
      return out + "}";
    }
  }
  return {};
}

const Value* Value::find(std::string_view key) const {
  if (type() != ValueType::Map) return nullptr;
  for (const auto& [name, item] : asMap()) {
    if (name == key) return &item;
  }
  return nullptr;
}

bool Value::operator==(const Value& other) const {
  ValueType a = type();
  ValueType b = other.type();
  bool a_exact = a == ValueType::Int || a == ValueType::Decimal;
  bool b_exact = b == ValueType::Int || b == ValueType::Decimal;
  if (a_exact && b_exact && a != b) return *toDecimal() == *other.toDecimal();
  if (a != b) return false;
  switch (a) {
    case ValueType::List: return asList() == other.asList();
    case ValueType::Map: return asMap() == other.asMap();
    default: return data_ == other.data_;
  }
}

Value& Value::operator=(const Value& other) {
  if (this == &other) return *this;
  if (data_.index() >= kFirstContainer) {
    // `old` keeps the tree alive until `other` (which may live inside it) is copied, then
    // releases it without recursion.
    Value old(std::move(*this));
    data_ = other.data_;
    return *this;
  }
  data_ = other.data_;  // a string reuses its buffer
  return *this;
}

Value& Value::operator=(Value&& other) noexcept {
  if (this == &other) return *this;
  if (data_.index() >= kFirstContainer) {
    Value old(std::move(*this));  // released by its destructor, without recursion
  }
  data_ = std::move(other.data_);
  return *this;
}

void Value::releaseTree() noexcept {
  // Children this value alone owns are moved onto a stack and released one at a time, each
  // after its own children were moved out, so the depth of the tree never becomes the depth of
  // the call stack. A container shared with another Value is left to its last owner.
  std::vector<Value> pending;
  auto takeChildren = [&pending](Value& v) {
    auto take = [&pending](auto& container_ptr, auto&& child_of) {
      if (!container_ptr || container_ptr.use_count() != 1) return;
      for (auto& item : *container_ptr) {
        Value& child = child_of(item);
        if (child.data_.index() >= kFirstContainer) pending.push_back(std::move(child));
      }
    };
    if (auto* list = std::get_if<std::shared_ptr<ValueList>>(&v.data_)) {
      take(*list, [](Value& item) -> Value& { return item; });
    } else if (auto* map = std::get_if<std::shared_ptr<ValueMap>>(&v.data_)) {
      take(*map, [](std::pair<std::string, Value>& item) -> Value& { return item.second; });
    }
  };
  takeChildren(*this);
  while (!pending.empty()) {
    Value next = std::move(pending.back());
    pending.pop_back();
    takeChildren(next);
  }
}

}  // namespace dutybridge::core
