#include "src/core/time.h"

#include <date/date.h>
#include <date/tz.h>

#include <chrono>
#include <sstream>
#include <stdexcept>

namespace dutybridge::core {
namespace {

using Micros = std::chrono::duration<int64_t, std::micro>;
using SysMicros = std::chrono::time_point<std::chrono::system_clock, Micros>;

std::unexpected<Error> badTimestamp(std::string_view text) {
  return fail(ErrorKind::Permanent, "not an RFC 3339 timestamp: \"" + std::string(text.substr(0, 64)) + "\"");
}

Result<const date::time_zone*> findZone(std::string_view zone) {
  try {
    return date::locate_zone(std::string(zone));
  } catch (const std::runtime_error& e) {
    return fail(ErrorKind::InvalidConfig, "unknown time zone \"" + std::string(zone) + "\"");
  }
}

}  // namespace

Result<Timestamp> parseTimestamp(std::string_view text) {
  // Parsed by hand for speed and strictness: YYYY-MM-DD[T ]HH:MM:SS[.f{1,9}](Z|±HH:MM)
  auto digit = [&](size_t i) { return i < text.size() && text[i] >= '0' && text[i] <= '9'; };
  auto number = [&](size_t pos, size_t len, int& out) {
    out = 0;
    for (size_t i = pos; i < pos + len; ++i) {
      if (!digit(i)) return false;
      out = out * 10 + (text[i] - '0');
    }
    return true;
  };
  int year, month, day, hour, minute, second;
  if (text.size() < 20 || !number(0, 4, year) || text[4] != '-' || !number(5, 2, month) || text[7] != '-' ||
      !number(8, 2, day) || (text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !number(11, 2, hour) ||
      text[13] != ':' || !number(14, 2, minute) || text[16] != ':' || !number(17, 2, second)) {
    return badTimestamp(text);
  }
  date::year_month_day ymd{date::year{year}, date::month{static_cast<unsigned>(month)},
                           date::day{static_cast<unsigned>(day)}};
  if (!ymd.ok() || hour > 23 || minute > 59 || second > 60) return badTimestamp(text);
  if (second == 60) {
    // Folding it into the next minute would move the event (and maybe its shift) silently.
    return fail(ErrorKind::Permanent,
                "a leap second (:60) cannot be represented: \"" + std::string(text.substr(0, 64)) + "\"");
  }
  size_t i = 19;
  int64_t fraction = 0;
  if (i < text.size() && text[i] == '.') {
    ++i;
    int count = 0;
    // Digits beyond microseconds are dropped (truncated toward the earlier instant, never into
    // the next microsecond): documented in docs/mapping-language.md, "Types".
    while (digit(i)) {
      if (count < 6) fraction = fraction * 10 + (text[i] - '0');
      ++count;
      ++i;
    }
    if (count == 0) return badTimestamp(text);
    for (int k = count; k < 6; ++k) fraction *= 10;
  }
  int64_t offset_seconds = 0;
  if (i < text.size() && (text[i] == 'Z' || text[i] == 'z')) {
    ++i;
  } else if (i < text.size() && (text[i] == '+' || text[i] == '-')) {
    int oh, om;
    if (!number(i + 1, 2, oh) || i + 3 >= text.size() || text[i + 3] != ':' || !number(i + 4, 2, om)) {
      return badTimestamp(text);
    }
    if (oh > 23 || om > 59) {
      return fail(ErrorKind::Permanent, "UTC offset out of range (at most ±23:59): \"" + std::string(text.substr(0, 64)) + "\"");
    }
    offset_seconds = (oh * 3600 + om * 60) * (text[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return badTimestamp(text);
  }
  if (i != text.size()) return badTimestamp(text);
  int64_t days = date::sys_days(ymd).time_since_epoch().count();
  int64_t seconds = days * 86400 + hour * 3600 + minute * 60 + second - offset_seconds;
  return Timestamp{seconds * 1'000'000 + fraction};
}

std::string formatTimestamp(Timestamp ts) {
  SysMicros tp{Micros{ts.micros}};
  auto day_point = date::floor<date::days>(tp);
  date::year_month_day ymd{day_point};
  date::hh_mm_ss<Micros> tod{tp - day_point};
  char buffer[40];
  int64_t micros = tod.subseconds().count();
  int n = std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02uT%02d:%02d:%02d", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                        static_cast<int>(tod.hours().count()), static_cast<int>(tod.minutes().count()),
                        static_cast<int>(tod.seconds().count()));
  std::string out(buffer, static_cast<size_t>(n));
  if (micros != 0) {
    std::snprintf(buffer, sizeof buffer, ".%06lld", static_cast<long long>(micros));
    out += buffer;
  }
  out += 'Z';
  return out;
}

Date dateFromYmd(int year, unsigned month, unsigned day) {
  date::year_month_day ymd{date::year{year}, date::month{month}, date::day{day}};
  return Date{static_cast<int32_t>(date::sys_days(ymd).time_since_epoch().count())};
}

Result<Date> parseDate(std::string_view text) {
  int year = 0;
  unsigned month = 0, day = 0;
  auto bad = [&] { return fail(ErrorKind::Permanent, "not a date (YYYY-MM-DD): \"" + std::string(text.substr(0, 32)) + "\""); };
  if (text.size() != 10 || text[4] != '-' || text[7] != '-') return bad();
  for (size_t i : {0u, 1u, 2u, 3u, 5u, 6u, 8u, 9u}) {
    if (text[i] < '0' || text[i] > '9') return bad();
  }
  year = (text[0] - '0') * 1000 + (text[1] - '0') * 100 + (text[2] - '0') * 10 + (text[3] - '0');
  month = static_cast<unsigned>((text[5] - '0') * 10 + (text[6] - '0'));
  day = static_cast<unsigned>((text[8] - '0') * 10 + (text[9] - '0'));
  date::year_month_day ymd{date::year{year}, date::month{month}, date::day{day}};
  if (!ymd.ok()) return bad();
  return dateFromYmd(year, month, day);
}

std::string formatDate(Date d) {
  date::year_month_day ymd{date::sys_days{date::days{d.days}}};
  char buffer[16];
  int n = std::snprintf(buffer, sizeof buffer, "%04d-%02u-%02u", static_cast<int>(ymd.year()),
                        static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()));
  return std::string(buffer, static_cast<size_t>(n));
}

Result<Timestamp> localToUtc(int64_t local_micros, std::string_view zone) {
  auto tz = findZone(zone);
  if (!tz) return fail(tz.error());
  date::local_time<Micros> local{Micros{local_micros}};
  auto info = (*tz)->get_info(local);
  int64_t offset = 0;
  switch (info.result) {
    case date::local_info::unique:
    case date::local_info::ambiguous:  // earlier instant = the first offset
      offset = std::chrono::duration_cast<Micros>(info.first.offset).count();
      return Timestamp{local_micros - offset};
    case date::local_info::nonexistent:
      // Inside a DST gap: interpret with the offset before the gap, which lands after it.
      offset = std::chrono::duration_cast<Micros>(info.first.offset).count();
      return Timestamp{local_micros - offset};
  }
  return Timestamp{local_micros};
}

Result<int64_t> utcToLocal(Timestamp ts, std::string_view zone) {
  auto tz = findZone(zone);
  if (!tz) return fail(tz.error());
  SysMicros tp{Micros{ts.micros}};
  auto info = (*tz)->get_info(tp);
  int64_t local = 0;
  if (__builtin_add_overflow(ts.micros, std::chrono::duration_cast<Micros>(info.offset).count(), &local)) {
    return fail(ErrorKind::Permanent, "timestamp out of range for a time zone");
  }
  return local;
}

bool isKnownTimeZone(std::string_view zone) { return findZone(zone).has_value(); }

}  // namespace dutybridge::core
