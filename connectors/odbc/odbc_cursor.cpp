#include "connectors/odbc/odbc_cursor.h"

#include <fmt/format.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "src/codec/json_writer.h"

namespace dutybridge::odbc {
namespace {

constexpr int64_t kMicrosPerSecond = 1'000'000;
constexpr int64_t kMicrosPerHour = 3'600 * kMicrosPerSecond;
constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;

int64_t floorDiv(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

void appendDigits(std::string& out, int64_t value, int width) {
  char buffer[24];
  int n = 0;
  // Negated in unsigned arithmetic: -INT64_MIN does not fit int64_t.
  uint64_t v = value < 0 ? 0 - static_cast<uint64_t>(value) : static_cast<uint64_t>(value);
  do {
    buffer[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  if (value < 0) out += '-';
  for (int i = n; i < width; ++i) out += '0';
  while (n > 0) out += buffer[--n];
}

bool isLeap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}
unsigned daysInMonth(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && isLeap(y) ? 29 : kDays[m - 1];
}

core::Error badCursor(std::string_view why) {
  return core::Error::fatal(
      fmt::format("the stored odbc cursor is unusable ({}); it belongs to another configuration or is corrupt. "
                  "Fix or delete the pipeline's stored cursor (cursor/<pipeline>) to choose where reading resumes",
                  why));
}

}  // namespace

CivilTime civilFromMicros(int64_t micros) {
  CivilTime t;
  int64_t days = floorDiv(micros, kMicrosPerDay);
  int64_t rest = micros - days * kMicrosPerDay;
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  t.day = doy - (153 * mp + 2) / 5 + 1;
  t.month = mp < 10 ? mp + 3 : mp - 9;
  t.year = static_cast<int64_t>(yoe) + era * 400 + (t.month <= 2);
  t.hour = static_cast<unsigned>(rest / kMicrosPerHour);
  rest -= static_cast<int64_t>(t.hour) * kMicrosPerHour;
  t.minute = static_cast<unsigned>(rest / (60 * kMicrosPerSecond));
  rest -= static_cast<int64_t>(t.minute) * 60 * kMicrosPerSecond;
  t.second = static_cast<unsigned>(rest / kMicrosPerSecond);
  t.micros = rest - static_cast<int64_t>(t.second) * kMicrosPerSecond;
  return t;
}

int64_t microsFromCivil(const CivilTime& t) {
  return daysFromCivil(t.year, t.month, t.day) * kMicrosPerDay + static_cast<int64_t>(t.hour) * kMicrosPerHour +
         static_cast<int64_t>(t.minute) * 60 * kMicrosPerSecond + static_cast<int64_t>(t.second) * kMicrosPerSecond +
         t.micros;
}

void appendTimestamp(std::string& out, core::Timestamp ts) {
  // Formatted into a local buffer first: this runs once per row (source positions).
  CivilTime t = civilFromMicros(ts.micros);
  char buffer[40];
  char* p = buffer;
  auto two = [&](unsigned v) {
    *p++ = static_cast<char>('0' + v / 10);
    *p++ = static_cast<char>('0' + v % 10);
  };
  if (t.year >= 0 && t.year <= 9999) {
    auto y = static_cast<unsigned>(t.year);
    two(y / 100);
    two(y % 100);
  } else {
    std::string year;
    appendDigits(year, t.year, 4);
    std::memcpy(p, year.data(), year.size());
    p += year.size();
  }
  *p++ = '-';
  two(t.month);
  *p++ = '-';
  two(t.day);
  *p++ = 'T';
  two(t.hour);
  *p++ = ':';
  two(t.minute);
  *p++ = ':';
  two(t.second);
  if (t.micros != 0) {
    *p++ = '.';
    auto m = static_cast<unsigned>(t.micros);
    for (int i = 5; i >= 0; --i) {
      p[i] = static_cast<char>('0' + m % 10);
      m /= 10;
    }
    p += 6;
  }
  *p++ = 'Z';
  out.append(buffer, static_cast<size_t>(p - buffer));
}

std::string formatLocalText(int64_t local_micros) {
  std::string out;
  appendTimestamp(out, core::Timestamp{local_micros});
  out.pop_back();  // 'Z'
  out[10] = ' ';
  return out;
}

void appendCursorJson(std::string& out, const Cursor& cursor) {
  out += '{';
  bool first = true;
  if (cursor.ts) {
    out += "\"ts\":\"";
    appendTimestamp(out, *cursor.ts);
    out += '"';
    first = false;
  }
  if (cursor.id) {
    if (!first) out += ',';
    out += "\"id\":";
    appendDigits(out, *cursor.id, 1);
    first = false;
  }
  if (!cursor.ts_text.empty()) {
    if (!first) out += ',';
    out += "\"ts_text\":";
    codec::appendJsonString(out, cursor.ts_text);
  }
  out += '}';
}

std::string encodeCursor(const Cursor& cursor) {
  std::string out;
  appendCursorJson(out, cursor);
  return out;
}

core::Result<Cursor> decodeCursor(std::string_view json, Mode mode) {
  nlohmann::json doc = nlohmann::json::parse(json.begin(), json.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return core::fail(badCursor("not a JSON object"));
  Cursor cursor;
  if (usesTimestamp(mode)) {
    auto it = doc.find("ts");
    if (it == doc.end() || !it->is_string()) {
      return core::fail(badCursor(fmt::format("no \"ts\" string, which mode {} needs", toString(mode))));
    }
    auto ts = core::parseTimestamp(it->get_ref<const std::string&>());
    if (!ts) return core::fail(badCursor("\"ts\" is not an RFC 3339 timestamp"));
    cursor.ts = *ts;
    auto text = doc.find("ts_text");
    if (text != doc.end()) {
      if (!text->is_string() || text->get_ref<const std::string&>().empty()) {
        return core::fail(badCursor("\"ts_text\" is not a non-empty string"));
      }
      cursor.ts_text = text->get<std::string>();
    }
  }
  if (usesIncrementing(mode)) {
    auto it = doc.find("id");
    if (it == doc.end() || !(it->is_number_integer())) {
      return core::fail(badCursor(fmt::format("no integer \"id\", which mode {} needs", toString(mode))));
    }
    if (it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return core::fail(badCursor("\"id\" does not fit a signed 64-bit integer"));
    }
    cursor.id = it->get<int64_t>();
  }
  return cursor;
}

std::optional<TimestampText> parseTimestampText(std::string_view text) {
  size_t i = 0;
  auto digits = [&](size_t count, int64_t& out) {
    out = 0;
    if (i + count > text.size()) return false;
    for (size_t k = 0; k < count; ++k) {
      char c = text[i + k];
      if (c < '0' || c > '9') return false;
      out = out * 10 + (c - '0');
    }
    i += count;
    return true;
  };
  auto expect = [&](char c) {
    if (i < text.size() && text[i] == c) {
      ++i;
      return true;
    }
    return false;
  };
  int64_t year, month, day, hour = 0, minute = 0, second = 0, fraction = 0;
  if (!digits(4, year) || !expect('-') || !digits(2, month) || !expect('-') || !digits(2, day)) return std::nullopt;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, static_cast<unsigned>(month))) return std::nullopt;
  TimestampText out;
  if (i < text.size() && (text[i] == ' ' || text[i] == 'T' || text[i] == 't')) {
    ++i;
    if (!digits(2, hour) || !expect(':') || !digits(2, minute)) return std::nullopt;
    if (expect(':')) {
      if (!digits(2, second)) return std::nullopt;
      if (expect('.')) {
        int count = 0;
        while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
          if (count < 6) fraction = fraction * 10 + (text[i] - '0');
          ++count;
          ++i;
        }
        if (count == 0) return std::nullopt;
        for (int k = count; k < 6; ++k) fraction *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    if (i < text.size()) {
      int64_t offset_minutes = 0;
      if (text[i] == 'Z' || text[i] == 'z') {
        ++i;
      } else if (text[i] == '+' || text[i] == '-') {
        int sign = text[i] == '-' ? -1 : 1;
        ++i;
        int64_t oh = 0, om = 0;
        if (!digits(2, oh)) return std::nullopt;
        if (expect(':')) {
          if (!digits(2, om)) return std::nullopt;
        } else if (i < text.size() && !digits(2, om)) {
          return std::nullopt;
        }
        if (oh > 23 || om > 59) return std::nullopt;
        offset_minutes = sign * (oh * 60 + om);
      } else {
        return std::nullopt;
      }
      out.has_offset = true;
      out.micros = -offset_minutes * 60 * kMicrosPerSecond;
    }
  }
  if (i != text.size()) return std::nullopt;
  CivilTime t;
  t.year = year;
  t.month = static_cast<unsigned>(month);
  t.day = static_cast<unsigned>(day);
  t.hour = static_cast<unsigned>(hour);
  t.minute = static_cast<unsigned>(minute);
  t.second = static_cast<unsigned>(second);
  t.micros = fraction;
  out.micros += microsFromCivil(t);
  return out;
}

ZoneConverter::ZoneConverter(std::string zone) : zone_(std::move(zone)) {
  utc_ = zone_ == "UTC" || zone_ == "Etc/UTC" || zone_ == "Etc/UCT" || zone_ == "UCT" || zone_ == "Zulu" ||
         zone_ == "Etc/Zulu" || zone_ == "Universal" || zone_ == "Etc/Universal";
}

core::Result<core::Timestamp> ZoneConverter::toUtc(int64_t local_micros) {
  if (utc_) return core::Timestamp{local_micros};
  int64_t hour = floorDiv(local_micros, kMicrosPerHour);
  Entry& entry = cache_[static_cast<size_t>(hour) & (cache_.size() - 1)];
  if (entry.hour == hour) return core::Timestamp{local_micros - entry.offset};
  int64_t start = hour * kMicrosPerHour;
  int64_t end = start + kMicrosPerHour - 1;
  auto a = core::localToUtc(start, zone_);
  if (!a) return a;
  auto b = core::localToUtc(end, zone_);
  if (!b) return b;
  int64_t offset = start - a->micros;
  if (offset == end - b->micros) {
    // At most one transition per hour exists in practice, so equal ends mean none inside.
    entry = {hour, offset};
    return core::Timestamp{local_micros - offset};
  }
  return core::localToUtc(local_micros, zone_);
}

core::Result<int64_t> ZoneConverter::toLocal(core::Timestamp ts) const {
  if (utc_) return ts.micros;
  return core::utcToLocal(ts, zone_);
}

}  // namespace dutybridge::odbc
