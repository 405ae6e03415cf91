#include "src/codec/json_value.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <vector>

// GCC 12 at -O2 reports -Wmaybe-uninitialized inside std::variant's move constructor when a
// temporary core::Value is passed on (a known false positive, GCC bug 80635); the values
// here are always initialised.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace dutybridge::codec {
namespace {

// Builds Values directly from nlohmann's SAX events; number_float hands us the number's text.
class ValueBuilder final : public nlohmann::json_sax<nlohmann::json> {
 public:
  explicit ValueBuilder(const JsonLimits& limits) : limits_(limits) {}

  bool null() override { return put(core::Value()); }
  bool boolean(bool v) override { return put(core::Value(v)); }
  bool number_integer(number_integer_t v) override { return put(core::Value(static_cast<int64_t>(v))); }
  bool number_unsigned(number_unsigned_t v) override {
    if (v <= static_cast<number_unsigned_t>(INT64_MAX)) return put(core::Value(static_cast<int64_t>(v)));
    return number_text(std::to_string(v));
  }
  bool number_float(number_float_t, const string_t& text) override { return number_text(text); }
  bool string(string_t& v) override { return put(core::Value(std::move(v))); }
  bool binary(binary_t&) override { return false; }
  bool start_object(std::size_t) override {
    if (!enter()) return false;
    stack_.push_back(Frame{true, {}, {}, {}});
    return true;
  }
  bool key(string_t& v) override {
    // A repeated member would make one of the two values win silently; refuse the document.
    // The key itself is not quoted: it may be personal data.
    for (const auto& member : stack_.back().map) {
      if (member.first.size() == v.size() && member.first == v) {
        error_ = fmt::format("duplicate object key (member {} repeats an earlier one) at nesting level {}",
                             stack_.back().map.size() + 1, stack_.size());
        return false;
      }
    }
    stack_.back().pending_key = std::move(v);
    return true;
  }
  bool end_object() override {
    core::ValueMap map = std::move(stack_.back().map);
    stack_.pop_back();
    if (stack_.empty() && keep_top_object_) {
      top_object_ = std::move(map);
      return true;
    }
    return put(core::Value(std::move(map)));
  }
  bool start_array(std::size_t) override {
    if (!enter()) return false;
    stack_.push_back(Frame{false, {}, {}, {}});
    return true;
  }
  bool end_array() override {
    core::ValueList list = std::move(stack_.back().list);
    stack_.pop_back();
    return put(core::Value(std::move(list)));
  }
  bool parse_error(std::size_t position, const std::string&, const nlohmann::detail::exception& e) override {
    // nlohmann ends its message with "; last read: '<the bytes it read>'": message content, which
    // may be personal data, and the reason reaches dead letters and logs. The byte offset finds it.
    std::string what = e.what();
    if (size_t at = what.find("; last read:"); at != std::string::npos) what.resize(at);
    error_ = "invalid JSON at byte " + std::to_string(position) + ": " + what;
    return false;
  }

  core::Result<core::Value> result() {
    if (!error_.empty()) return core::fail(core::ErrorKind::Permanent, error_);
    return std::move(root_);
  }

  // A top-level object is kept as its members (topObject()) instead of becoming the root Value.
  void keepTopObject() { keep_top_object_ = true; }
  std::optional<core::ValueMap>& topObject() { return top_object_; }

 private:
  struct Frame {
    bool is_object;
    std::string pending_key;
    core::ValueMap map;
    core::ValueList list;
  };

  bool enter() {
    if (stack_.size() < limits_.max_depth) return true;
    error_ = fmt::format("JSON nested deeper than {} levels", limits_.max_depth);
    return false;
  }

  bool number_text(const std::string& text) {
    auto decimal = core::Decimal::parse(text);
    if (!decimal) {
      error_ = "number out of range for an exact decimal";
      return false;
    }
    return put(core::Value(*decimal));
  }

  bool put(core::Value value) {
    if (stack_.empty()) {
      root_ = std::move(value);
    } else if (stack_.back().is_object) {
      stack_.back().map.emplace_back(std::move(stack_.back().pending_key), std::move(value));
    } else {
      stack_.back().list.push_back(std::move(value));
    }
    return true;
  }

  const JsonLimits& limits_;
  std::vector<Frame> stack_;
  core::Value root_;
  std::string error_;
  bool keep_top_object_ = false;
  std::optional<core::ValueMap> top_object_;
};

}  // namespace

core::Result<core::Value> parseJsonValue(std::string_view text, const JsonLimits& limits) {
  ValueBuilder builder(limits);
  bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json, true);
  auto result = builder.result();
  if (!ok && result) return core::fail(core::ErrorKind::Permanent, "invalid JSON");
  return result;
}

core::Result<std::optional<core::ValueMap>> parseJsonObject(std::string_view text, core::ValueType* other_type,
                                                            const JsonLimits& limits) {
  ValueBuilder builder(limits);
  builder.keepTopObject();
  bool ok = nlohmann::json::sax_parse(text.begin(), text.end(), &builder, nlohmann::json::input_format_t::json, true);
  auto result = builder.result();
  if (!result) return core::fail(result.error());
  if (!ok) return core::fail(core::ErrorKind::Permanent, "invalid JSON");
  if (builder.topObject()) return std::move(builder.topObject());
  if (other_type) *other_type = result->type();
  return std::optional<core::ValueMap>();
}

}  // namespace dutybridge::codec
