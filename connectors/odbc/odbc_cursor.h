#pragma once
// The odbc source's cursor (where the next query starts) and the calendar arithmetic it needs.
//
// A cursor is stored as JSON, e.g. {"ts":"2025-03-14T04:00:00.123456Z","id":123}: "ts" is the
// timestamp column of the last row as an RFC 3339 UTC instant, "id" its incrementing column;
// only the fields the mode uses are present. For SQLite, which compares timestamps as text,
// "ts_text" holds the column's text exactly as stored, so the next query compares like for like.
//
// Pure values and functions; ZoneConverter keeps a small cache and belongs to one thread.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "connectors/odbc/odbc_dialect.h"
#include "src/core/error.h"
#include "src/core/time.h"

namespace dutybridge::odbc {

struct Cursor {
  std::optional<core::Timestamp> ts;
  std::optional<int64_t> id;
  std::string ts_text;  // SQLite only; empty otherwise
};

// Appends the JSON form of the cursor (hand-written: it runs once per row).
void appendCursorJson(std::string& out, const Cursor& cursor);
std::string encodeCursor(const Cursor& cursor);
// Fatal when the text is not a cursor this mode can resume from (it would mean the stored state
// belongs to another configuration or is corrupt: guessing would skip or repeat rows).
core::Result<Cursor> decodeCursor(std::string_view json, Mode mode);

// Proleptic Gregorian calendar <-> days since 1970-01-01 (H. Hinnant's algorithms).
constexpr int64_t daysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct CivilTime {
  int64_t year = 1970;
  unsigned month = 1, day = 1, hour = 0, minute = 0, second = 0;
  int64_t micros = 0;
};
CivilTime civilFromMicros(int64_t micros);
int64_t microsFromCivil(const CivilTime& t);

// The same text as core::formatTimestamp, without the temporary allocations.
void appendTimestamp(std::string& out, core::Timestamp ts);
// "YYYY-MM-DD HH:MM:SS[.ffffff]" (fraction only when non-zero) of a wall-clock time.
std::string formatLocalText(int64_t local_micros);

// A timestamp as databases print it: "YYYY-MM-DD", "YYYY-MM-DD HH:MM", "YYYY-MM-DD[ T]HH:MM:SS",
// optional fraction (up to 9 digits; beyond microseconds truncated), optional "Z", "+HH",
// "+HHMM" or "+HH:MM". Without an offset, `micros` is wall-clock time (as if UTC).
struct TimestampText {
  int64_t micros = 0;
  bool has_offset = false;
};
std::optional<TimestampText> parseTimestampText(std::string_view text);

// Wall-clock time in one IANA zone <-> UTC, through core::localToUtc/utcToLocal, remembering
// the offset of whole local hours that contain no transition (rows arrive roughly in time
// order, so almost every conversion is a cache hit).
class ZoneConverter {
 public:
  explicit ZoneConverter(std::string zone);
  const std::string& zone() const { return zone_; }
  core::Result<core::Timestamp> toUtc(int64_t local_micros);
  core::Result<int64_t> toLocal(core::Timestamp ts) const;

 private:
  struct Entry {
    int64_t hour = INT64_MIN;
    int64_t offset = 0;
  };
  std::string zone_;
  bool utc_ = false;
  std::array<Entry, 64> cache_{};
};

}  // namespace dutybridge::odbc
