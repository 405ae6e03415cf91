#pragma once
// Instants and calendar dates. Timestamps are microseconds since the Unix epoch in UTC; a
// local wall-clock time only exists together with a named IANA time zone (system tz database).

#include <cstdint>
#include <string>
#include <string_view>

#include "src/core/error.h"

namespace dutybridge::core {

struct Timestamp {
  int64_t micros = 0;  // since 1970-01-01T00:00:00Z
  auto operator<=>(const Timestamp&) const = default;
};

struct Date {
  int32_t days = 0;  // since 1970-01-01
  auto operator<=>(const Date&) const = default;
};

// The days a Timestamp can reach either side of 1970-01-01 (INT64_MAX microseconds): no date the
// daemon makes lies beyond, and stored state claiming one is refused.
inline constexpr int64_t kMaxDateDays = 106'751'991;

// RFC 3339 / ISO 8601 with an offset or Z, up to microseconds: "2025-03-14T20:00:00.5+08:00".
Result<Timestamp> parseTimestamp(std::string_view text);
// "2025-03-14T12:00:00Z", with ".ffffff" only when there are fractional microseconds.
std::string formatTimestamp(Timestamp ts);

Result<Date> parseDate(std::string_view text);  // "2025-03-14"
std::string formatDate(Date date);
Date dateFromYmd(int year, unsigned month, unsigned day);

// Local wall-clock microseconds (as if UTC) in zone -> instant. Nonexistent local times (DST
// gap) move forward by the gap; ambiguous ones (DST fold) take the earlier instant.
Result<Timestamp> localToUtc(int64_t local_micros, std::string_view zone);
// Instant -> local wall-clock microseconds in zone.
Result<int64_t> utcToLocal(Timestamp ts, std::string_view zone);
// True when the system tz database knows the zone.
bool isKnownTimeZone(std::string_view zone);

}  // namespace dutybridge::core
