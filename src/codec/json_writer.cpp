#include "src/codec/json_writer.h"

#include <charconv>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "src/codec/json.h"

namespace dutybridge::codec {
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;

struct CivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's days_from_civil inverse (the algorithm behind date::year_month_day).
CivilDate civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<uint64_t>(z - era * 146097);
  const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint64_t mp = (5 * doy + 2) / 153;
  const auto day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const auto month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return {static_cast<int64_t>(yoe) + era * 400 + (month <= 2), month, day};
}

inline void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

inline void put4(char* p, unsigned v) {
  put2(p, v / 100);
  put2(p + 2, v % 100);
}

// "YYYY-MM-DD" for years 0..9999; 0 when the year needs the general formatter.
size_t formatDateTo(int64_t days, char* out) {
  CivilDate d = civilFromDays(days);
  if (d.year < 0 || d.year > 9999) return 0;
  put4(out, static_cast<unsigned>(d.year));
  out[4] = '-';
  put2(out + 5, d.month);
  out[7] = '-';
  put2(out + 8, d.day);
  return 10;
}

// Each writer below makes one append (std::string's members are not inlined: libstdc++
// instantiates them out of line, so every += of a quote is a call).

// The decimal's canonical text, quoted when `quoted`; one append.
void appendDecimal(const core::Decimal& value, std::string& out, bool quoted) {
  core::Int128 coefficient = value.coefficient();
  __extension__ typedef unsigned __int128 UInt128;
  auto magnitude = static_cast<UInt128>(coefficient < 0 ? -coefficient : coefficient);
  char digits[48];
  char* end = digits + sizeof digits;
  char* begin = end;
  if (magnitude <= UINT64_MAX) {
    char buffer[24];
    auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, static_cast<uint64_t>(magnitude));
    size_t n = static_cast<size_t>(ptr - buffer);
    begin -= n;
    std::memcpy(begin, buffer, n);
  } else {
    do {
      *--begin = static_cast<char>('0' + static_cast<int>(magnitude % 10));
      magnitude /= 10;
    } while (magnitude != 0);
  }
  const auto length = static_cast<size_t>(end - begin);
  const int scale = value.scale();
  char text[160];
  if (scale > 0 && static_cast<size_t>(scale) + length + 5 > sizeof text) {  // not a decimal(38) scale
    std::string general = value.toString();
    if (quoted) out += '"';
    out += general;
    if (quoted) out += '"';
    return;
  }
  size_t n = 0;
  if (quoted) text[n++] = '"';
  if (coefficient < 0) text[n++] = '-';
  if (scale <= 0) {
    std::memcpy(text + n, begin, length);
    n += length;
  } else if (length <= static_cast<size_t>(scale)) {
    text[n++] = '0';
    text[n++] = '.';
    std::memset(text + n, '0', static_cast<size_t>(scale) - length);
    n += static_cast<size_t>(scale) - length;
    std::memcpy(text + n, begin, length);
    n += length;
  } else {
    const size_t whole = length - static_cast<size_t>(scale);
    std::memcpy(text + n, begin, whole);
    n += whole;
    text[n++] = '.';
    std::memcpy(text + n, begin + whole, static_cast<size_t>(scale));
    n += static_cast<size_t>(scale);
  }
  if (quoted) text[n++] = '"';
  out.append(text, n);
}

void appendInt(int64_t value, std::string& out) {
  char buffer[24];
  auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, static_cast<size_t>(ptr - buffer));
}

void appendTimestamp(core::Timestamp ts, std::string& out, bool quoted) {
  char buffer[48];
  size_t n = quoted ? 1 : 0;
  buffer[0] = '"';
  n += formatTimestampTo(ts, buffer + n);
  if (quoted) buffer[n++] = '"';
  out.append(buffer, n);
}

void appendDate(core::Date date, std::string& out, bool quoted) {
  char buffer[16];
  size_t n = formatDateTo(date.days, buffer + 1);
  if (n == 0) {
    std::string general = core::formatDate(date);
    if (quoted) out += '"';
    out += general;
    if (quoted) out += '"';
    return;
  }
  buffer[0] = '"';
  buffer[n + 1] = '"';
  if (quoted)
    out.append(buffer, n + 2);
  else
    out.append(buffer + 1, n);
}

constexpr char kHex[] = "0123456789abcdef";

// Bytes that may be copied as they are: printable ASCII other than '"' and '\\' (0x7f included,
// as nlohmann writes it).
constexpr bool plainByte(unsigned char c) {
  return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

void appendEscaped(std::string& out, unsigned char c) {
  switch (c) {
    case '"':
      out += "\\\"";
      return;
    case '\\':
      out += "\\\\";
      return;
    case '\b':
      out += "\\b";
      return;
    case '\f':
      out += "\\f";
      return;
    case '\n':
      out += "\\n";
      return;
    case '\r':
      out += "\\r";
      return;
    case '\t':
      out += "\\t";
      return;
    default:
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 15];
      return;
  }
}

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

}  // namespace

void appendJsonString(std::string& out, std::string_view text) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const size_t size = text.size();
  size_t i = 0;
  while (i < size && plainByte(bytes[i])) ++i;
  if (i == size) {  // the common case: codes, numbers, names in ASCII
    char quoted[64];
    if (size + 2 <= sizeof quoted) {  // one call
      quoted[0] = '"';
      std::memcpy(quoted + 1, text.data(), size);
      quoted[size + 1] = '"';
      out.append(quoted, size + 2);
    } else {
      out += '"';
      out.append(text);
      out += '"';
    }
    return;
  }
  out += '"';
  size_t start = 0;  // of the bytes not yet appended, all to be copied as they are
  auto flush = [&](size_t end) { out.append(text.data() + start, end - start); };
  while (i < size) {
    const unsigned char lead = bytes[i];
    if (plainByte(lead)) {
      ++i;
      continue;
    }
    if (lead < 0x80) {
      flush(i);
      appendEscaped(out, lead);
      start = ++i;
      continue;
    }
    // A UTF-8 sequence, checked as Unicode's table of well-formed sequences (no overlong forms,
    // no surrogates, nothing above U+10FFFF). A byte that breaks a sequence ends it with one
    // U+FFFD and is read again as the start of the next; a byte that cannot start one is one
    // U+FFFD; a sequence cut off by the end of the text is one U+FFFD. This is what nlohmann's
    // serializer does with error_handler_t::replace.
    size_t need = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (lead >= 0xC2 && lead <= 0xDF) {
      need = 1;
    } else if (lead == 0xE0) {
      need = 2, lo = 0xA0;
    } else if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
      need = 2;
    } else if (lead == 0xED) {
      need = 2, hi = 0x9F;
    } else if (lead == 0xF0) {
      need = 3, lo = 0x90;
    } else if (lead >= 0xF1 && lead <= 0xF3) {
      need = 3;
    } else if (lead == 0xF4) {
      need = 3, hi = 0x8F;
    }
    size_t j = i + 1;
    bool broken = need == 0;
    for (size_t k = 0; k < need; ++k, ++j) {
      if (j == size || bytes[j] < lo || bytes[j] > hi) {
        broken = true;
        break;
      }
      lo = 0x80, hi = 0xBF;
    }
    if (!broken) {
      i = j;  // well formed: part of the run copied as it is
      continue;
    }
    flush(i);
    out += kReplacement;
    // A byte that cannot start a sequence is consumed; the byte that broke one (or the end) is
    // read again.
    i = need == 0 ? i + 1 : j;
    start = i;
  }
  flush(size);
  out += '"';
}

void appendJsonDouble(std::string& out, double value) {
  if (!std::isfinite(value)) {
    out += "null";
    return;
  }
  // nlohmann's shortest round-trip formatting (doubles are rare in records).
  out += nlohmann::json(value).dump();
}

namespace {

bool repeatsKey(const core::ValueMap& map) {
  for (size_t i = 1; i < map.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (map[i].first == map[j].first) return true;
    }
  }
  return false;
}

}  // namespace

void appendJsonValue(std::string& out, const core::Value& value) {
  using core::ValueType;
  switch (value.type()) {
    case ValueType::Null:
      out += "null";
      return;
    case ValueType::Bool:
      out += value.asBool() ? "true" : "false";
      return;
    case ValueType::Int:
      appendInt(value.asInt(), out);
      return;
    case ValueType::Double:
      appendJsonDouble(out, value.asDouble());
      return;
    case ValueType::Decimal:
      appendDecimal(value.asDecimal(), out, true);
      return;
    case ValueType::Timestamp:
      appendTimestamp(value.asTimestamp(), out, true);
      return;
    case ValueType::Date:
      appendDate(value.asDate(), out, true);
      return;
    case ValueType::String:
      appendJsonString(out, value.asString());
      return;
    case ValueType::List: {
      out += '[';
      bool first = true;
      for (const auto& item : value.asList()) {
        if (!first) out += ',';
        first = false;
        appendJsonValue(out, item);
      }
      out += ']';
      return;
    }
    case ValueType::Map: {
      const auto& map = value.asMap();
      // An object keeps the first position of a repeated key with the last value.
      const bool repeated = map.size() > 1 && repeatsKey(map);
      out += '{';
      bool first = true;
      for (size_t i = 0; i < map.size(); ++i) {
        const auto& [key, item] = map[i];
        const core::Value* shown = &item;
        if (repeated) {
          bool seen = false;
          for (size_t j = 0; j < i && !seen; ++j) seen = map[j].first == key;
          if (seen) continue;
          for (size_t j = i + 1; j < map.size(); ++j) {
            if (map[j].first == key) shown = &map[j].second;
          }
        }
        if (!first) out += ',';
        first = false;
        appendJsonString(out, key);
        out += ':';
        appendJsonValue(out, *shown);
      }
      out += '}';
      return;
    }
  }
}

size_t formatTimestampTo(core::Timestamp ts, char* out) {
  int64_t days = ts.micros / kMicrosPerDay;
  int64_t rest = ts.micros % kMicrosPerDay;
  if (rest < 0) {
    rest += kMicrosPerDay;
    --days;
  }
  size_t n = formatDateTo(days, out);
  if (n == 0) {
    std::string general = core::formatTimestamp(ts);
    std::memcpy(out, general.data(), general.size());
    return general.size();
  }
  auto seconds = static_cast<unsigned>(rest / 1'000'000);
  auto micros = static_cast<unsigned>(rest % 1'000'000);
  out[n++] = 'T';
  put2(out + n, seconds / 3600);
  out[n + 2] = ':';
  put2(out + n + 3, seconds / 60 % 60);
  out[n + 5] = ':';
  put2(out + n + 6, seconds % 60);
  n += 8;
  if (micros != 0) {
    out[n++] = '.';
    put2(out + n, micros / 10000);
    put2(out + n + 2, micros / 100 % 100);
    put2(out + n + 4, micros % 100);
    n += 6;
  }
  out[n++] = 'Z';
  return n;
}

void appendKeyText(std::string& out, const core::Value& value) {
  using core::ValueType;
  switch (value.type()) {
    case ValueType::String:
      out += value.asString();
      return;
    case ValueType::Int:
      appendInt(value.asInt(), out);
      return;
    case ValueType::Decimal:
      appendDecimal(value.asDecimal(), out, false);
      return;
    case ValueType::Timestamp:
      appendTimestamp(value.asTimestamp(), out, false);
      return;
    case ValueType::Date:
      appendDate(value.asDate(), out, false);
      return;
    default:
      out += value.toText();
      return;
  }
}

const std::vector<std::string>& RecordJsonWriter::prefixesFor(const std::shared_ptr<const core::RecordSchema>& schema) {
  for (const auto& entry : schemas_) {
    if (entry.schema == schema) return entry.prefixes;
  }
  // Holding the schema keeps its address from being reused by another schema.
  constexpr size_t kMaxSchemas = 8;
  if (schemas_.size() >= kMaxSchemas) schemas_.erase(schemas_.begin());
  SchemaPrefixes entry;
  entry.schema = schema;
  for (size_t i = 0; i < schema->size(); ++i) {
    std::string prefix = i == 0 ? "{" : ",";
    appendJsonString(prefix, schema->names()[i]);
    prefix += ':';
    entry.prefixes.push_back(std::move(prefix));
  }
  schemas_.push_back(std::move(entry));
  return schemas_.back().prefixes;
}

std::string_view RecordJsonWriter::write(const core::Record& record) {
  if (record.size() == 0 || !record.schema()) {
    out_ = "{}";
    return out_;
  }
  if (record.schema()->repeatsNames()) {  // rare: an object keeps the name once, as toJson does
    out_.clear();
    appendJson(record, out_);
    return out_;
  }
  const auto& prefixes = prefixesFor(record.schema());
  out_.clear();
  for (size_t i = 0; i < record.size(); ++i) {
    out_ += prefixes[i];
    appendJsonValue(out_, record.value(i));
  }
  out_ += '}';
  return out_;
}

}  // namespace dutybridge::codec
