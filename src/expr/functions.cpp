// The built-in functions. Each entry checks its argument types at compile time (literal
// arguments such as regex patterns, key and table names are resolved here, once) and returns a
// CallNode whose body works on already-evaluated arguments.

#include <date/date.h>
#include <date/tz.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <re2/re2.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <limits>
#include <sstream>
#include <string_view>
#include <unordered_map>

#include "src/diagnostics/diagnostics.h"
#include "src/expr/compiler.h"
#include "src/expr/lexer.h"

namespace dutybridge::expr::detail {
namespace {

using Kind = Type::Kind;
using core::Decimal;
using Args = std::span<const Value>;

constexpr int64_t kMicrosPerDay = 86'400'000'000;
constexpr size_t kMaxRegexSubject = 16 * 1024;
// Memory RE2 may use for one compiled pattern (its default is 8 MiB); a pattern that needs more is refused.
constexpr int64_t kMaxRegexMemory = 8 << 20;


std::unexpected<core::Error> runtimeError(const std::string& where, std::string_view message) {
  return std::unexpected(core::Error::permanent(where + std::string(message)));
}

std::unexpected<core::Error> wrongType(const std::string& where, std::string_view function, size_t index,
                                       std::string_view expected, const Value& got) {
  return runtimeError(where, fmt::format("argument {} of {} must be {}, not {}", index + 1, function, expected,
                                         core::toString(got.type())));
}

bool anyNullable(const std::vector<Typed>& args) {
  return std::any_of(args.begin(), args.end(), [](const Typed& t) { return t.type.nullable; });
}

std::vector<NodePtr> nodes(std::vector<Typed>& args) {
  std::vector<NodePtr> out;
  for (auto& a : args) out.push_back(std::move(a.node));
  return out;
}

template <class F>
std::optional<Typed> build(CallSite& site, Type type, bool propagate_null, F f) {
  Typed t;
  t.type = type;
  t.node = makeCall(nodes(site.args), propagate_null, std::move(f));
  return t;
}

const ConstNode* literalOf(const Typed& t) { return dynamic_cast<const ConstNode*>(t.node.get()); }

// A string literal argument (patterns, key names, table names, formats).
std::optional<std::string> requireStringLiteral(CallSite& site, size_t i, std::string_view what, std::string_view why) {
  const ConstNode* c = literalOf(site.args[i]);
  if (!c || c->value().type() != ValueType::String || site.args[i].ast->kind != NodeKind::StringLit) {
    site.checker.error(site.args[i].ast->begin,
                       fmt::format("{} of {} must be a string literal", what, site.call.text), std::string(why));
    return std::nullopt;
  }
  return c->value().asString();
}

std::string formatDuration(int64_t micros) {
  bool negative = micros < 0;
  uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(micros) : static_cast<uint64_t>(micros);
  std::string out = negative ? "-" : "";
  out += std::to_string(magnitude / 1'000'000);
  uint64_t fraction = magnitude % 1'000'000;
  if (fraction != 0) {
    std::string digits = fmt::format("{:06}", fraction);
    while (digits.back() == '0') digits.pop_back();
    out += "." + digits;
  }
  return out + "s";
}

// Text of a value as to_string/concat/format render it; durations need their static kind.
std::string textOf(const Value& v, Kind kind) {
  if (kind == Kind::Duration && v.type() == ValueType::Int) return formatDuration(v.asInt());
  return v.toText();
}


// Decodes one code point at s[i]; invalid bytes decode as themselves (length 1) so text passes
// through unchanged.
uint32_t decode(std::string_view s, size_t i, size_t& len) {
  len = utf8SequenceLength(s, i);
  auto b = static_cast<unsigned char>(s[i]);
  if (len <= 1) {
    len = 1;
    return b;
  }
  uint32_t cp = len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
  for (size_t k = 1; k < len; ++k) cp = (cp << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
  return cp;
}

void encode(std::string& out, uint32_t cp) { appendUtf8(out, cp); }

// Byte offsets of each code point start, plus the end.
std::vector<size_t> codePointOffsets(std::string_view s) {
  std::vector<size_t> offsets;
  size_t i = 0;
  while (i < s.size()) {
    offsets.push_back(i);
    size_t len;
    decode(s, i, len);
    i += len;
  }
  offsets.push_back(s.size());
  return offsets;
}

size_t codePointCount(std::string_view s) {
  size_t n = 0;
  for (size_t i = 0; i < s.size(); ++n) {
    size_t len;
    decode(s, i, len);
    i += len;
  }
  return n;
}

// Simple one-to-one case mapping for ASCII, Latin-1, Latin Extended-A, Greek, Cyrillic and
// fullwidth Latin; everything else (CJK included) is unchanged.
uint32_t toUpper(uint32_t c) {
  if (c >= 'a' && c <= 'z') return c - 32;
  if (c < 0x80) return c;
  if ((c >= 0xE0 && c <= 0xFE && c != 0xF7)) return c - 0x20;
  if (c == 0xFF) return 0x178;
  if (c >= 0x100 && c <= 0x17F) {
    bool odd_lower = (c <= 0x137) || (c >= 0x14A && c <= 0x177);
    bool even_lower = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (odd_lower && (c % 2 == 1)) return c - 1;
    if (even_lower && (c % 2 == 0)) return c - 1;
    return c;
  }
  if (c >= 0x3B1 && c <= 0x3C9) return c == 0x3C2 ? 0x3A3 : c - 0x20;
  if (c >= 0x430 && c <= 0x44F) return c - 0x20;
  if (c >= 0x450 && c <= 0x45F) return c - 0x50;
  if (c >= 0xFF41 && c <= 0xFF5A) return c - 0x20;
  return c;
}

uint32_t toLower(uint32_t c) {
  if (c >= 'A' && c <= 'Z') return c + 32;
  if (c < 0x80) return c;
  if ((c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 0x20;
  if (c == 0x178) return 0xFF;
  if (c >= 0x100 && c <= 0x17F) {
    bool even_upper = (c <= 0x137) || (c >= 0x14A && c <= 0x177);
    bool odd_upper = (c >= 0x139 && c <= 0x148) || (c >= 0x179 && c <= 0x17E);
    if (even_upper && (c % 2 == 0)) return c + 1;
    if (odd_upper && (c % 2 == 1)) return c + 1;
    return c;
  }
  if (c >= 0x391 && c <= 0x3A9 && c != 0x3A2) return c + 0x20;
  if (c >= 0x410 && c <= 0x42F) return c + 0x20;
  if (c >= 0x400 && c <= 0x40F) return c + 0x50;
  if (c >= 0xFF21 && c <= 0xFF3A) return c + 0x20;
  return c;
}

std::string mapCase(std::string_view s, bool upper) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    size_t len;
    uint32_t cp = decode(s, i, len);
    if (len == 1 && cp >= 0x80) {
      out += s[i];  // invalid byte: unchanged
    } else {
      encode(out, upper ? toUpper(cp) : toLower(cp));
    }
    i += len;
  }
  return out;
}

bool isSpace(uint32_t c) {
  return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0xA0 || c == 0x3000 || c == 0xFEFF || c == 0x2028 ||
         c == 0x2029 || (c >= 0x2000 && c <= 0x200A);
}

std::string trim(std::string_view s) {
  auto offsets = codePointOffsets(s);
  size_t first = 0, last = offsets.size() - 1;  // code point indexes [first, last)
  auto cpAt = [&](size_t k) {
    size_t len;
    return decode(s, offsets[k], len);
  };
  while (first < last && isSpace(cpAt(first))) ++first;
  while (last > first && isSpace(cpAt(last - 1))) --last;
  return std::string(s.substr(offsets[first], offsets[last] - offsets[first]));
}


std::string hex(const unsigned char* data, size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kDigits[data[i] >> 4];
    out += kDigits[data[i] & 0xF];
  }
  return out;
}


using Micros = std::chrono::duration<int64_t, std::micro>;
using SysMicros = std::chrono::time_point<std::chrono::system_clock, Micros>;

int64_t floorDiv(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

// A zone argument: a literal is checked now (with did-you-mean over the tz database).
bool checkZone(CallSite& site, size_t i) {
  const ConstNode* c = literalOf(site.args[i]);
  if (!c || c->value().type() != ValueType::String) return true;
  const std::string& zone = c->value().asString();
  if (core::isKnownTimeZone(zone)) return true;
  std::vector<std::string> names;
  try {
    for (const auto& z : date::get_tzdb().zones) names.push_back(z.name());
  } catch (const std::exception&) {
    names.clear();
  }
  std::string best = diag::suggest(zone, names);
  site.checker.error(site.args[i].ast->begin, fmt::format("unknown time zone '{}'", zone),
                     best.empty() ? "use an IANA name such as Asia/Shanghai" : fmt::format("did you mean '{}'?", best));
  return false;
}

// GCC 12 at -O2 warns -Wmaybe-uninitialized inside date::from_stream's own parsing state (a
// false positive in the library header); silenced for this function only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
Result<Value> parseWithFormat(const std::string& text, const std::string& format, const std::string& zone,
                              const std::string& where) {
  std::istringstream in(text);
  in.imbue(std::locale::classic());
  date::local_time<Micros> local{};
  std::string abbrev;
  std::chrono::minutes offset{0};
  try {
    date::from_stream(in, format.c_str(), local, &abbrev, &offset);
  } catch (const std::exception&) {
    return Value();
  }
  if (in.fail()) return Value();
  if (in.peek() != std::char_traits<char>::eof()) return Value();
  int64_t local_micros = local.time_since_epoch().count();
  bool has_offset = format.find("%z") != std::string::npos || format.find("%Ez") != std::string::npos ||
                    format.find("%Oz") != std::string::npos;
  if (has_offset) return Value(core::Timestamp{local_micros - offset.count() * 60'000'000});
  auto ts = core::localToUtc(local_micros, zone);
  if (!ts) return runtimeError(where, ts.error().message);
  return Value(*ts);
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif


std::optional<Typed> fCase(CallSite& site, bool upper) {
  if (!site.checker.expectArg(site, 0, {Kind::String}, "a string")) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  std::string name = site.call.text;
  return build(site, Type{Kind::String, anyNullable(site.args)}, true,
               [where, name, upper](Args v, const EvalContext&) -> Result<Value> {
                 if (v[0].type() != ValueType::String) return wrongType(where, name, 0, "a string", v[0]);
                 return Value(mapCase(v[0].asString(), upper));
               });
}
std::optional<Typed> fLower(CallSite& s) { return fCase(s, false); }
std::optional<Typed> fUpper(CallSite& s) { return fCase(s, true); }

std::optional<Typed> fTrim(CallSite& site) {
  if (!site.checker.expectArg(site, 0, {Kind::String}, "a string")) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::String, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() != ValueType::String) return wrongType(where, "trim", 0, "a string", v[0]);
    return Value(trim(v[0].asString()));
  });
}

std::optional<Typed> fLength(CallSite& site) {
  if (!site.checker.expectArg(site, 0, {Kind::String, Kind::List, Kind::Map}, "a string, list or map")) {
    return std::nullopt;
  }
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::Int, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    switch (v[0].type()) {
      case ValueType::String: return Value(static_cast<int64_t>(codePointCount(v[0].asString())));
      case ValueType::List: return Value(static_cast<int64_t>(v[0].asList().size()));
      case ValueType::Map: return Value(static_cast<int64_t>(v[0].asMap().size()));
      default: return wrongType(where, "length", 0, "a string, list or map", v[0]);
    }
  });
}

std::optional<Typed> fSubstr(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::String}, "a string");
  ok = site.checker.expectArg(site, 1, {Kind::Int}, "an int") && ok;
  if (site.args.size() > 2) ok = site.checker.expectArg(site, 2, {Kind::Int}, "an int") && ok;
  if (!ok) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::String, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() != ValueType::String) return wrongType(where, "substr", 0, "a string", v[0]);
    if (v[1].type() != ValueType::Int) return wrongType(where, "substr", 1, "an int", v[1]);
    if (v.size() > 2 && v[2].type() != ValueType::Int) return wrongType(where, "substr", 2, "an int", v[2]);
    const std::string& s = v[0].asString();
    auto offsets = codePointOffsets(s);
    auto n = static_cast<int64_t>(offsets.size() - 1);
    int64_t start = v[1].asInt();
    if (start < 0) start = std::max<int64_t>(0, n + start);
    start = std::min(start, n);
    int64_t len = v.size() > 2 ? std::max<int64_t>(0, v[2].asInt()) : n - start;
    int64_t end = len > n - start ? n : start + len;
    auto b = offsets[static_cast<size_t>(start)], e = offsets[static_cast<size_t>(end)];
    return Value(s.substr(b, e - b));
  });
}

std::optional<Typed> fReplace(CallSite& site) {
  bool ok = true;
  for (size_t i = 0; i < 3; ++i) ok = site.checker.expectArg(site, i, {Kind::String}, "a string") && ok;
  if (!ok) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::String, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    for (size_t i = 0; i < 3; ++i) {
      if (v[i].type() != ValueType::String) return wrongType(where, "replace", i, "a string", v[i]);
    }
    const std::string& s = v[0].asString();
    const std::string& from = v[1].asString();
    const std::string& to = v[2].asString();
    if (from.empty()) return v[0];
    std::string out;
    size_t pos = 0;
    while (true) {
      size_t hit = s.find(from, pos);
      if (hit == std::string::npos) break;
      out.append(s, pos, hit - pos);
      out += to;
      pos = hit + from.size();
    }
    out.append(s, pos);
    return Value(std::move(out));
  });
}

// RE2: matching time is linear in the text, whatever the pattern, so a pattern like
// ^(\w+\s?)*$ cannot stall a pipeline; what RE2 cannot guarantee (backreferences, lookaround)
// it refuses when the mapping loads.
std::shared_ptr<const re2::RE2> compileRegex(CallSite& site, size_t i) {
  auto pattern = requireStringLiteral(site, i, "the pattern", "patterns are compiled once, when the mapping loads");
  if (!pattern) return nullptr;
  re2::RE2::Options options;
  options.set_log_errors(false);
  options.set_max_mem(kMaxRegexMemory);
  auto re = std::make_shared<const re2::RE2>(*pattern, options);
  if (!re->ok()) {
    site.checker.error(site.args[i].ast->begin, fmt::format("invalid regular expression: {}", re->error()),
                       "the syntax is RE2 (https://github.com/google/re2/wiki/Syntax): no backreferences or lookaround");
    return nullptr;
  }
  return re;
}

std::optional<Typed> fMatches(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::String}, "a string");
  auto re = compileRegex(site, 1);
  if (!ok || !re) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::Bool, site.args[0].type.nullable}, true,
               [where, re](Args v, const EvalContext&) -> Result<Value> {
                 if (v[0].type() != ValueType::String) return wrongType(where, "matches", 0, "a string", v[0]);
                 const std::string& s = v[0].asString();
                 if (s.size() > kMaxRegexSubject) {
                   return runtimeError(where, fmt::format("matches: text longer than {} bytes", kMaxRegexSubject));
                 }
                 return Value(re2::RE2::PartialMatch(s, *re));
               });
}

std::optional<Typed> fExtract(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::String}, "a string");
  auto re = compileRegex(site, 1);
  if (!ok || !re) return std::nullopt;
  size_t groups = static_cast<size_t>(re->NumberOfCapturingGroups());
  size_t group = groups >= 1 ? 1 : 0;
  if (site.args.size() > 2) {
    const ConstNode* c = literalOf(site.args[2]);
    if (!c || c->value().type() != ValueType::Int) {
      site.checker.error(site.args[2].ast->begin, "the group of extract must be an int literal");
      return std::nullopt;
    }
    int64_t g = c->value().asInt();
    if (g < 0 || static_cast<size_t>(g) > groups) {
      site.checker.error(site.args[2].ast->begin,
                         fmt::format("the pattern has no group {} (it has {})", g, groups),
                         "group 0 is the whole match");
      return std::nullopt;
    }
    group = static_cast<size_t>(g);
  }
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::String, true}, true, [where, re, group](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() != ValueType::String) return wrongType(where, "extract", 0, "a string", v[0]);
    const std::string& s = v[0].asString();
    if (s.size() > kMaxRegexSubject) {
      return runtimeError(where, fmt::format("extract: text longer than {} bytes", kMaxRegexSubject));
    }
    std::vector<re2::StringPiece> found(group + 1);
    if (!re->Match(s, 0, s.size(), re2::RE2::UNANCHORED, found.data(), static_cast<int>(found.size())) ||
        found[group].data() == nullptr) {
      return Value();
    }
    return Value(std::string(found[group].data(), found[group].size()));
  });
}

std::optional<Typed> fSplit(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::String}, "a string");
  ok = site.checker.expectArg(site, 1, {Kind::String}, "a string") && ok;
  if (!ok) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::List, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    for (size_t i = 0; i < 2; ++i) {
      if (v[i].type() != ValueType::String) return wrongType(where, "split", i, "a string", v[i]);
    }
    const std::string& s = v[0].asString();
    const std::string& sep = v[1].asString();
    core::ValueList parts;
    if (sep.empty()) {
      auto offsets = codePointOffsets(s);
      for (size_t k = 0; k + 1 < offsets.size(); ++k) parts.emplace_back(s.substr(offsets[k], offsets[k + 1] - offsets[k]));
      return Value(std::move(parts));
    }
    size_t pos = 0;
    while (true) {
      size_t hit = s.find(sep, pos);
      if (hit == std::string::npos) break;
      parts.emplace_back(s.substr(pos, hit - pos));
      pos = hit + sep.size();
    }
    parts.emplace_back(s.substr(pos));
    return Value(std::move(parts));
  });
}

std::vector<Kind> kindsOf(const std::vector<Typed>& args) {
  std::vector<Kind> kinds;
  for (const auto& a : args) kinds.push_back(a.type.kind);
  return kinds;
}

std::optional<Typed> fConcat(CallSite& site) {
  auto kinds = kindsOf(site.args);
  return build(site, Type{Kind::String, anyNullable(site.args)}, true, [kinds](Args v, const EvalContext&) -> Result<Value> {
    std::string out;
    for (size_t i = 0; i < v.size(); ++i) {
      if (v[i].type() == ValueType::String) out += v[i].asString();
      else out += textOf(v[i], kinds[i]);
    }
    return Value(std::move(out));
  });
}

std::optional<Typed> fFormat(CallSite& site) {
  auto pattern = requireStringLiteral(site, 0, "the format", "write the format as a string literal with {} placeholders");
  if (!pattern) return std::nullopt;
  // Literal pieces between placeholders: pieces.size() == placeholders + 1.
  std::vector<std::string> pieces(1);
  const std::string& f = *pattern;
  for (size_t i = 0; i < f.size(); ++i) {
    if (f[i] == '{' && i + 1 < f.size() && f[i + 1] == '{') {
      pieces.back() += '{';
      ++i;
    } else if (f[i] == '}' && i + 1 < f.size() && f[i + 1] == '}') {
      pieces.back() += '}';
      ++i;
    } else if (f[i] == '{' && i + 1 < f.size() && f[i + 1] == '}') {
      pieces.emplace_back();
      ++i;
    } else if (f[i] == '{' || f[i] == '}') {
      site.checker.error(site.args[0].ast->begin, "invalid format string: a lone '{' or '}'",
                         "placeholders are {}; write {{ and }} for braces");
      return std::nullopt;
    } else {
      pieces.back() += f[i];
    }
  }
  size_t placeholders = pieces.size() - 1;
  if (placeholders != site.args.size() - 1) {
    site.checker.error(site.call.name_offset,
                       fmt::format("the format has {} placeholder{} but {} {} given", placeholders,
                                   placeholders == 1 ? "" : "s", site.args.size() - 1,
                                   site.args.size() == 2 ? "value was" : "values were"));
    return std::nullopt;
  }
  auto kinds = kindsOf(site.args);
  return build(site, Type{Kind::String, anyNullable(site.args)}, true,
               [kinds, pieces](Args v, const EvalContext&) -> Result<Value> {
                 std::string out = pieces[0];
                 for (size_t i = 1; i < pieces.size(); ++i) {
                   out += v[i].type() == ValueType::String ? v[i].asString() : textOf(v[i], kinds[i]);
                   out += pieces[i];
                 }
                 return Value(std::move(out));
               });
}


std::optional<Typed> fRound(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::Int, Kind::Decimal, Kind::Double}, "a number");
  if (site.args.size() > 1) ok = site.checker.expectArg(site, 1, {Kind::Int}, "an int") && ok;
  if (!ok) return std::nullopt;
  if (site.args.size() > 1) {
    if (const ConstNode* c = literalOf(site.args[1]); c && c->value().type() == ValueType::Int) {
      if (c->value().asInt() < 0 || c->value().asInt() > 18) {
        site.checker.error(site.args[1].ast->begin, "round digits must be between 0 and 18");
        return std::nullopt;
      }
    }
  }
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{site.args[0].type.kind, anyNullable(site.args)}, true,
               [where](Args v, const EvalContext&) -> Result<Value> {
                 int64_t digits = 0;
                 if (v.size() > 1) {
                   if (v[1].type() != ValueType::Int) return wrongType(where, "round", 1, "an int", v[1]);
                   digits = v[1].asInt();
                   if (digits < 0 || digits > 18) return runtimeError(where, "round digits must be between 0 and 18");
                 }
                 switch (v[0].type()) {
                   case ValueType::Int: return v[0];
                   case ValueType::Decimal: {
                     const Decimal& d = v[0].asDecimal();
                     if (digits >= d.scale()) return v[0];
                     auto r = d.rescale(static_cast<int>(digits));
                     if (!r) return runtimeError(where, r.error().message);
                     return Value(*r);
                   }
                   case ValueType::Double: {
                     double scale = std::pow(10.0, static_cast<double>(digits));
                     return Value(std::nearbyint(v[0].asDouble() * scale) / scale);
                   }
                   default: return wrongType(where, "round", 0, "a number", v[0]);
                 }
               });
}

std::optional<Typed> fFloorCeil(CallSite& site, bool ceil) {
  if (!site.checker.expectArg(site, 0, {Kind::Int, Kind::Decimal, Kind::Double}, "a number")) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  std::string name = site.call.text;
  return build(site, site.args[0].type, true, [where, name, ceil](Args v, const EvalContext&) -> Result<Value> {
    switch (v[0].type()) {
      case ValueType::Int: return v[0];
      case ValueType::Double: return Value(ceil ? std::ceil(v[0].asDouble()) : std::floor(v[0].asDouble()));
      case ValueType::Decimal: {
        const Decimal& d = v[0].asDecimal();
        core::Int128 divisor = 1;
        for (int i = 0; i < d.scale(); ++i) divisor *= 10;
        core::Int128 q = d.coefficient() / divisor;
        core::Int128 r = d.coefficient() % divisor;
        if (r != 0 && !ceil && d.coefficient() < 0) q -= 1;
        if (r != 0 && ceil && d.coefficient() > 0) q += 1;
        auto out = Decimal::fromParts(q, 0);
        if (!out) return runtimeError(where, out.error().message);
        return Value(*out);
      }
      default: return wrongType(where, name, 0, "a number", v[0]);
    }
  });
}
std::optional<Typed> fFloor(CallSite& s) { return fFloorCeil(s, false); }
std::optional<Typed> fCeil(CallSite& s) { return fFloorCeil(s, true); }

std::optional<Typed> fAbs(CallSite& site) {
  if (!site.checker.expectArg(site, 0, {Kind::Int, Kind::Decimal, Kind::Double, Kind::Duration}, "a number or duration")) {
    return std::nullopt;
  }
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, site.args[0].type, true, [where](Args v, const EvalContext&) -> Result<Value> {
    switch (v[0].type()) {
      case ValueType::Int:
        if (v[0].asInt() == LLONG_MIN) return runtimeError(where, "integer overflow in abs");
        return Value(v[0].asInt() < 0 ? -v[0].asInt() : v[0].asInt());
      case ValueType::Double: return Value(std::fabs(v[0].asDouble()));
      case ValueType::Decimal: return Value(v[0].asDecimal().sign() < 0 ? v[0].asDecimal().negate() : v[0].asDecimal());
      default: return wrongType(where, "abs", 0, "a number", v[0]);
    }
  });
}

// Unifies all arguments to one type (int -> decimal/double conversions inserted).
std::optional<Type> unifyAll(CallSite& site, std::string_view what) {
  Type type = site.args[0].type;
  for (size_t i = 1; i < site.args.size(); ++i) {
    auto t = commonType(type, site.args[i].type);
    if (!t) {
      site.checker.error(site.args[i].ast->begin,
                         fmt::format("{} of {} must have one type, not {} and {}", what, site.call.text,
                                     kindName(type.kind), kindName(site.args[i].type.kind)));
      return std::nullopt;
    }
    type = *t;
  }
  for (auto& a : site.args) site.checker.widen(a, type.kind);
  return type;
}

std::optional<Typed> fMinMax(CallSite& site, bool max) {
  auto type = unifyAll(site, "arguments");
  if (!type) return std::nullopt;
  Kind k = type->kind;
  if (k == Kind::Bool || k == Kind::List || k == Kind::Map || k == Kind::Null) {
    site.checker.error(site.args[0].ast->begin, fmt::format("{} cannot order {} values", site.call.text, kindName(k)));
    return std::nullopt;
  }
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{k, anyNullable(site.args)}, true, [where, max](Args v, const EvalContext&) -> Result<Value> {
    size_t best = 0;
    for (size_t i = 1; i < v.size(); ++i) {
      auto order = compareValues(v[i], v[best]);
      if (!order) {
        return runtimeError(where, fmt::format("cannot compare {} with {}", core::toString(v[i].type()),
                                               core::toString(v[best].type())));
      }
      if (max ? *order > 0 : *order < 0) best = i;
    }
    return v[best];
  });
}
std::optional<Typed> fMin(CallSite& s) { return fMinMax(s, false); }
std::optional<Typed> fMax(CallSite& s) { return fMinMax(s, true); }


std::optional<Typed> fParseTimestamp(CallSite& site) {
  bool ok = true;
  for (size_t i = 0; i < 3; ++i) ok = site.checker.expectArg(site, i, {Kind::String}, "a string") && ok;
  ok = ok && checkZone(site, 2);
  if (!ok) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::Timestamp, true}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    for (size_t i = 0; i < 3; ++i) {
      if (v[i].type() != ValueType::String) return wrongType(where, "parse_timestamp", i, "a string", v[i]);
    }
    return parseWithFormat(v[0].asString(), v[1].asString(), v[2].asString(), where);
  });
}

// Local time adds the zone's offset (at most a day) to the instant; timestamps that arithmetic
// pushed to the ends of the 64-bit range would overflow there (found by fuzz/mapping_fuzz.cpp).
bool zoneConvertible(core::Timestamp ts) {
  constexpr int64_t kMargin = 2 * kMicrosPerDay;
  return ts.micros <= std::numeric_limits<int64_t>::max() - kMargin &&
         ts.micros >= std::numeric_limits<int64_t>::min() + kMargin;
}
constexpr std::string_view kZoneRange = "timestamp out of range for a time zone";

Result<int64_t> localMicros(core::Timestamp ts, const std::string& zone, const std::string& where) {
  if (!zoneConvertible(ts)) return runtimeError(where, kZoneRange);
  auto local = core::utcToLocal(ts, zone);
  if (!local) return runtimeError(where, local.error().message);
  return *local;
}

std::optional<Typed> fFormatTimestamp(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::Timestamp}, "a timestamp");
  ok = site.checker.expectArg(site, 1, {Kind::String}, "a string") && ok;
  ok = site.checker.expectArg(site, 2, {Kind::String}, "a string") && ok;
  ok = ok && checkZone(site, 2);
  if (!ok) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::String, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() != ValueType::Timestamp) return wrongType(where, "format_timestamp", 0, "a timestamp", v[0]);
    for (size_t i = 1; i < 3; ++i) {
      if (v[i].type() != ValueType::String) return wrongType(where, "format_timestamp", i, "a string", v[i]);
    }
    if (!zoneConvertible(v[0].asTimestamp())) return runtimeError(where, kZoneRange);
    try {
      const date::time_zone* tz = date::locate_zone(v[2].asString());
      int64_t micros = v[0].asTimestamp().micros;
      if (micros % 1'000'000 == 0) {
        date::sys_seconds tp{std::chrono::seconds{micros / 1'000'000}};
        return Value(date::format(std::locale::classic(), v[1].asString(), date::make_zoned(tz, tp)));
      }
      SysMicros tp{Micros{micros}};
      return Value(date::format(std::locale::classic(), v[1].asString(), date::make_zoned(tz, tp)));
    } catch (const std::exception& e) {
      return runtimeError(where, fmt::format("format_timestamp: {}", e.what()));
    }
  });
}

std::optional<Typed> fToZone(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::Timestamp}, "a timestamp");
  ok = site.checker.expectArg(site, 1, {Kind::String}, "a string") && ok;
  ok = ok && checkZone(site, 1);
  if (!ok) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::String, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() != ValueType::Timestamp) return wrongType(where, "to_zone", 0, "a timestamp", v[0]);
    if (v[1].type() != ValueType::String) return wrongType(where, "to_zone", 1, "a string", v[1]);
    auto local = localMicros(v[0].asTimestamp(), v[1].asString(), where);
    if (!local) return std::unexpected(local.error());
    std::string text = core::formatTimestamp(core::Timestamp{*local});
    text.pop_back();  // 'Z'
    int64_t offset_minutes = (*local - v[0].asTimestamp().micros) / 60'000'000;
    char sign = offset_minutes < 0 ? '-' : '+';
    int64_t m = offset_minutes < 0 ? -offset_minutes : offset_minutes;
    return Value(fmt::format("{}{}{:02}:{:02}", text, sign, m / 60, m % 60));
  });
}

std::optional<Typed> fDateOf(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::Timestamp}, "a timestamp");
  ok = site.checker.expectArg(site, 1, {Kind::String}, "a string") && ok;
  ok = ok && checkZone(site, 1);
  if (!ok) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::Date, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() != ValueType::Timestamp) return wrongType(where, "date_of", 0, "a timestamp", v[0]);
    if (v[1].type() != ValueType::String) return wrongType(where, "date_of", 1, "a string", v[1]);
    auto local = localMicros(v[0].asTimestamp(), v[1].asString(), where);
    if (!local) return std::unexpected(local.error());
    return Value(core::Date{static_cast<int32_t>(floorDiv(*local, kMicrosPerDay))});
  });
}

std::optional<Typed> fNow(CallSite& site) {
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::Timestamp, false}, false, [where](Args, const EvalContext& context) -> Result<Value> {
    if (!context.clock) return runtimeError(where, "now(): no clock in the evaluation context");
    return Value(context.clock->now());
  });
}

std::optional<Typed> fDiff(CallSite& site) {
  bool ok = site.checker.expectArg(site, 0, {Kind::Timestamp, Kind::Date}, "a timestamp or date");
  ok = site.checker.expectArg(site, 1, {Kind::Timestamp, Kind::Date}, "a timestamp or date") && ok;
  if (!ok) return std::nullopt;
  Kind a = site.args[0].type.kind, b = site.args[1].type.kind;
  if (a != Kind::Any && b != Kind::Any && a != b) {
    site.checker.error(site.args[1].ast->begin,
                       fmt::format("diff needs two timestamps or two dates, not {} and {}", kindName(a), kindName(b)));
    return std::nullopt;
  }
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::Duration, anyNullable(site.args)}, true, [where](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() == ValueType::Timestamp && v[1].type() == ValueType::Timestamp) {
      int64_t r;
      if (__builtin_sub_overflow(v[0].asTimestamp().micros, v[1].asTimestamp().micros, &r)) {
        return runtimeError(where, "integer overflow in diff");
      }
      return Value(r);
    }
    if (v[0].type() == ValueType::Date && v[1].type() == ValueType::Date) {
      return Value((int64_t{v[0].asDate().days} - int64_t{v[1].asDate().days}) * kMicrosPerDay);
    }
    return runtimeError(where, fmt::format("diff needs two timestamps or two dates, not {} and {}",
                                           core::toString(v[0].type()), core::toString(v[1].type())));
  });
}

std::optional<Typed> fUnit(CallSite& site, int64_t unit) {
  if (!site.checker.expectArg(site, 0, {Kind::Int}, "an int")) return std::nullopt;
  std::string where = site.checker.where(site.call.name_offset);
  std::string name = site.call.text;
  return build(site, Type{Kind::Duration, anyNullable(site.args)}, true,
               [where, name, unit](Args v, const EvalContext&) -> Result<Value> {
                 if (v[0].type() != ValueType::Int) return wrongType(where, name, 0, "an int", v[0]);
                 int64_t r;
                 if (__builtin_mul_overflow(v[0].asInt(), unit, &r)) {
                   return runtimeError(where, fmt::format("integer overflow in {}", name));
                 }
                 return Value(r);
               });
}
std::optional<Typed> fDays(CallSite& s) { return fUnit(s, kMicrosPerDay); }
std::optional<Typed> fHours(CallSite& s) { return fUnit(s, 3'600'000'000); }
std::optional<Typed> fMinutes(CallSite& s) { return fUnit(s, 60'000'000); }
std::optional<Typed> fSeconds(CallSite& s) { return fUnit(s, 1'000'000); }


std::optional<Typed> fToInt(CallSite& site) {
  Kind k = site.args[0].type.kind;
  bool sure = k == Kind::Int || k == Kind::Bool || k == Kind::Duration;
  return build(site, Type{Kind::Int, site.args[0].type.nullable || !sure}, true, [](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() == ValueType::String) {
      auto d = Decimal::parse(v[0].asString());
      if (!d) return Value();
      auto i = d->toInt64();
      return i ? Value(*i) : Value();
    }
    auto i = v[0].toInt();
    return i ? Value(*i) : Value();
  });
}

std::optional<Typed> fToDecimal(CallSite& site) {
  Kind k = site.args[0].type.kind;
  bool sure = k == Kind::Int || k == Kind::Decimal;
  return build(site, Type{Kind::Decimal, site.args[0].type.nullable || !sure}, true,
               [](Args v, const EvalContext&) -> Result<Value> {
                 auto d = v[0].toDecimal();
                 return d ? Value(*d) : Value();
               });
}

std::optional<Typed> fToDouble(CallSite& site) {
  Kind k = site.args[0].type.kind;
  bool sure = isNumeric(k);
  return build(site, Type{Kind::Double, site.args[0].type.nullable || !sure}, true,
               [](Args v, const EvalContext&) -> Result<Value> {
                 auto d = v[0].toDouble();
                 return d ? Value(*d) : Value();
               });
}

std::optional<Typed> fToString(CallSite& site) {
  Kind k = site.args[0].type.kind;
  return build(site, Type{Kind::String, site.args[0].type.nullable}, true, [k](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() == ValueType::String) return v[0];
    return Value(textOf(v[0], k));
  });
}

std::optional<Typed> fToDate(CallSite& site) {
  if (!site.checker.expectArg(site, 0, {Kind::String, Kind::Date, Kind::Timestamp}, "a string, date or timestamp")) {
    return std::nullopt;
  }
  Kind k = site.args[0].type.kind;
  bool sure = k == Kind::Date || k == Kind::Timestamp;
  return build(site, Type{Kind::Date, site.args[0].type.nullable || !sure}, true, [](Args v, const EvalContext&) -> Result<Value> {
    if (v[0].type() == ValueType::Timestamp) {
      return Value(core::Date{static_cast<int32_t>(floorDiv(v[0].asTimestamp().micros, kMicrosPerDay))});
    }
    auto d = v[0].toDate();
    return d ? Value(*d) : Value();
  });
}

std::optional<Typed> fToTimestamp(CallSite& site) {
  if (!site.checker.expectArg(site, 0, {Kind::String, Kind::Date, Kind::Timestamp}, "a string, date or timestamp")) {
    return std::nullopt;
  }
  Kind k = site.args[0].type.kind;
  bool sure = k == Kind::Date || k == Kind::Timestamp;
  return build(site, Type{Kind::Timestamp, site.args[0].type.nullable || !sure}, true,
               [](Args v, const EvalContext&) -> Result<Value> {
                 auto t = v[0].toTimestamp();
                 return t ? Value(*t) : Value();
               });
}

std::optional<Typed> fIsNull(CallSite& site) {
  return build(site, Type{Kind::Bool, false}, false,
               [](Args v, const EvalContext&) -> Result<Value> { return Value(v[0].isNull()); });
}

// Lazy: stops at the first non-null argument.
class CoalesceCallNode final : public Node {
 public:
  explicit CoalesceCallNode(std::vector<NodePtr> args) : args_(std::move(args)) {}
  Result<Value> eval(const EvalContext& context) const override {
    for (const auto& a : args_) {
      auto v = a->eval(context);
      if (!v || !v->isNull()) return v;
    }
    return Value();
  }

 private:
  std::vector<NodePtr> args_;
};

std::optional<Typed> fCoalesce(CallSite& site) {
  auto type = unifyAll(site, "arguments");
  if (!type) return std::nullopt;
  bool all_nullable = std::all_of(site.args.begin(), site.args.end(), [](const Typed& t) { return t.type.nullable; });
  Typed t;
  t.type = Type{type->kind == Kind::Null ? Kind::Any : type->kind, all_nullable};
  t.node = std::make_unique<CoalesceCallNode>(nodes(site.args));
  return t;
}


std::optional<Typed> fSha256(CallSite& site) {
  Kind k = site.args[0].type.kind;
  return build(site, Type{Kind::String, site.args[0].type.nullable}, true, [k](Args v, const EvalContext&) -> Result<Value> {
    std::string text = v[0].type() == ValueType::String ? v[0].asString() : textOf(v[0], k);
    unsigned char digest[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), digest);
    return Value(hex(digest, sizeof digest));
  });
}

std::optional<Typed> fHmacSha256(CallSite& site) {
  auto key_name = requireStringLiteral(site, 1, "the key name", "name a key from the mapping's hmac keys");
  if (!key_name) return std::nullopt;
  const auto& keys = site.checker.env().hmac_keys;
  auto key = keys.find(*key_name);
  if (key == keys.end()) {
    std::vector<std::string> names;
    for (const auto& [name, bytes] : keys) names.push_back(name);
    std::string best = diag::suggest(*key_name, names);
    site.checker.error(site.args[1].ast->begin, fmt::format("unknown HMAC key '{}'", *key_name),
                       !best.empty() ? fmt::format("did you mean '{}'?", best)
                       : names.empty() ? std::string("no HMAC keys are configured")
                                       : fmt::format("configured keys: {}", fmt::join(names, ", ")));
    return std::nullopt;
  }
  auto secret = std::make_shared<const std::string>(key->second);
  Kind k = site.args[0].type.kind;
  std::string where = site.checker.where(site.call.name_offset);
  return build(site, Type{Kind::String, site.args[0].type.nullable}, true,
               [k, secret, where](Args v, const EvalContext&) -> Result<Value> {
                 std::string text = v[0].type() == ValueType::String ? v[0].asString() : textOf(v[0], k);
                 std::string digest = hmacSha256Hex(*secret, text);
                 if (digest.empty()) return runtimeError(where, "hmac_sha256 failed");
                 return Value(std::move(digest));
               });
}


std::optional<Typed> fLookup(CallSite& site) {
  auto table_name = requireStringLiteral(site, 0, "the table name", "name a lookup table of the mapping");
  if (!table_name) return std::nullopt;
  const auto& tables = site.checker.env().tables;
  auto table = tables.find(*table_name);
  // A table that failed to load was reported at its declaration; stay silent here.
  if (table != tables.end() && (!table->second || !table->second->current())) return std::nullopt;
  if (table == tables.end()) {
    std::vector<std::string> names;
    for (const auto& [name, rows] : tables) names.push_back(name);
    std::string best = diag::suggest(*table_name, names);
    site.checker.error(site.args[0].ast->begin, fmt::format("unknown lookup table '{}'", *table_name),
                       !best.empty() ? fmt::format("did you mean '{}'?", best)
                       : names.empty() ? std::string("no lookup tables are configured")
                                       : fmt::format("tables: {}", fmt::join(names, ", ")));
    return std::nullopt;
  }
  Kind k = site.args[1].type.kind;
  if (k == Kind::List || k == Kind::Map) {
    site.checker.error(site.args[1].ast->begin, fmt::format("a lookup key must be a scalar, not {}", kindName(k)));
    return std::nullopt;
  }
  std::shared_ptr<TableHandle> handle = table->second;
  std::shared_ptr<const ReferenceTable> loaded = handle->current();
  // `at: ts` picks the row valid at that instant; a date means its local midnight in the
  // table's zone (reference_table.h). Undated tables ignore it.
  // Also accepted as a third positional argument, because an unquoted YAML value cannot
  // contain ": " (mapping files would need quotes around `at: ts`).
  Typed* at = nullptr;
  for (size_t i = 2; i < site.args.size(); ++i) {
    if (at) {
      site.checker.error(site.args[i].ast->begin, "lookup is given 'at' twice",
                         "write lookup(\"table\", key, at: ts) or lookup(\"table\", key, ts)");
      return std::nullopt;
    }
    at = &site.args[i];
  }
  if (loaded->dated() && !at) {
    site.checker.error(site.call.name_offset, fmt::format("lookup table '{}' is effective-dated", *table_name),
                       fmt::format("say when: lookup(\"{}\", key, at: event_time) with a timestamp or date",
                                   *table_name));
    return std::nullopt;
  }
  Kind at_kind = Kind::Any;
  if (at) {
    at_kind = at->type.kind;
    if (at_kind != Kind::Timestamp && at_kind != Kind::Date && at_kind != Kind::Any) {
      site.checker.error(at->ast->label.empty() ? at->ast->begin : at->ast->label_offset,
                         fmt::format("'at' of lookup must be a timestamp or a date, not {}",
                                                            kindName(at_kind)));
      return std::nullopt;
    }
  }
  // The result type is the values' common type when the table has one. A refresh keeps it:
  // refreshable sources deliver text.
  Kind result = Kind::Any;
  if (auto common = loaded->valueType()) {
    switch (*common) {
      case ValueType::Bool: result = Kind::Bool; break;
      case ValueType::Int: result = Kind::Int; break;
      case ValueType::Decimal: result = Kind::Decimal; break;
      case ValueType::Double: result = Kind::Double; break;
      case ValueType::String: result = Kind::String; break;
      case ValueType::Timestamp: result = Kind::Timestamp; break;
      case ValueType::Date: result = Kind::Date; break;
      case ValueType::List: result = Kind::List; break;
      case ValueType::Map: result = Kind::Map; break;
      default: break;
    }
  }
  // The table name literal is not an argument at run time.
  std::vector<NodePtr> args;
  args.push_back(std::move(site.args[1].node));
  if (at) args.push_back(std::move(at->node));
  std::string where = site.checker.where(site.call.name_offset);
  Typed t;
  t.type = Type{result, true};
  // The node reads the handle on every call: a swapped table is seen by the next lookup, and
  // the version in use stays alive while this call holds it.
  t.node = makeCall(std::move(args), true, [handle, k, where](Args v, const EvalContext&) -> Result<Value> {
    std::shared_ptr<const ReferenceTable> rows = handle->current();
    const Value& key = v[0];
    const Value* hit = nullptr;
    std::string text;
    std::string_view key_text;
    if (key.type() == ValueType::String) {
      key_text = key.asString();
    } else {
      text = textOf(key, k);
      key_text = text;
    }
    if (v.size() < 2) {
      hit = rows->find(key_text);
    } else if (v[1].type() == ValueType::Timestamp) {
      hit = rows->find(key_text, v[1].asTimestamp().micros);
    } else if (v[1].type() == ValueType::Date) {
      hit = rows->find(key_text, rows->dayStart(v[1].asDate()));
    } else {
      return runtimeError(where, fmt::format("'at' of lookup must be a timestamp or a date, not {}",
                                             core::toString(v[1].type())));
    }
    if (!hit) return Value();
    return *hit;
  });
  return t;
}

}  // namespace

const std::vector<FunctionSpec>& functionTable() {
  static const std::vector<FunctionSpec> kTable = {
      {"lower", 1, 1, "lower(s)", fLower},
      {"upper", 1, 1, "upper(s)", fUpper},
      {"trim", 1, 1, "trim(s)", fTrim},
      {"substr", 2, 3, "substr(s, start, len?)", fSubstr},
      {"replace", 3, 3, "replace(s, from, to)", fReplace},
      {"matches", 2, 2, "matches(s, \"regex\")", fMatches},
      {"extract", 2, 3, "extract(s, \"regex\", group?)", fExtract},
      {"split", 2, 2, "split(s, sep)", fSplit},
      {"concat", 1, SIZE_MAX, "concat(a, b, ...)", fConcat},
      {"format", 1, SIZE_MAX, "format(\"text {} text\", values...)", fFormat},
      {"length", 1, 1, "length(s)", fLength},
      {"round", 1, 2, "round(x, digits?)", fRound},
      {"floor", 1, 1, "floor(x)", fFloor},
      {"ceil", 1, 1, "ceil(x)", fCeil},
      {"abs", 1, 1, "abs(x)", fAbs},
      {"min", 2, SIZE_MAX, "min(a, b, ...)", fMin},
      {"max", 2, SIZE_MAX, "max(a, b, ...)", fMax},
      {"parse_timestamp", 3, 3, "parse_timestamp(s, format, zone)", fParseTimestamp},
      {"format_timestamp", 3, 3, "format_timestamp(ts, format, zone)", fFormatTimestamp},
      {"to_zone", 2, 2, "to_zone(ts, zone)", fToZone},
      {"date_of", 2, 2, "date_of(ts, zone)", fDateOf},
      {"now", 0, 0, "now()", fNow},
      {"diff", 2, 2, "diff(ts1, ts2)", fDiff},
      {"days", 1, 1, "days(n)", fDays},
      {"hours", 1, 1, "hours(n)", fHours},
      {"minutes", 1, 1, "minutes(n)", fMinutes},
      {"seconds", 1, 1, "seconds(n)", fSeconds},
      {"to_int", 1, 1, "to_int(x)", fToInt},
      {"to_decimal", 1, 1, "to_decimal(x)", fToDecimal},
      {"to_double", 1, 1, "to_double(x)", fToDouble},
      {"to_string", 1, 1, "to_string(x)", fToString},
      {"to_date", 1, 1, "to_date(x)", fToDate},
      {"to_timestamp", 1, 1, "to_timestamp(x)", fToTimestamp},
      {"is_null", 1, 1, "is_null(x)", fIsNull},
      {"coalesce", 2, SIZE_MAX, "coalesce(a, b, ...)", fCoalesce},
      {"sha256", 1, 1, "sha256(s)", fSha256},
      {"hmac_sha256", 2, 2, "hmac_sha256(s, \"key_name\")", fHmacSha256},
      {"lookup", 2, 3, "lookup(\"table\", key, at: ts?)", fLookup},
  };
  // The calendar functions live in calendar_functions.cpp.
  static const std::vector<FunctionSpec> kAll = [] {
    std::vector<FunctionSpec> all = kTable;
    all.insert(all.end(), calendarFunctionTable().begin(), calendarFunctionTable().end());
    return all;
  }();
  return kAll;
}

std::vector<std::string_view> namedParameters(std::string_view function) {
  if (function == "lookup") return {"at"};
  return {};
}

}  // namespace dutybridge::expr::detail

namespace dutybridge::expr {

std::string hmacSha256Hex(std::string_view key, std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
            text.size(), digest, &length)) {
    return {};
  }
  return detail::hex(digest, length);
}

}  // namespace dutybridge::expr
