#pragma once
// SQL text for the odbc source: identifiers from the configuration, the small per-database
// dialect (row limits, identifier quotes, how timestamps compare) and the keyset queries.
//
// Only identifiers that passed parseIdentifier() and integers ever reach the SQL text; cursor
// values are always bound as parameters. Pure functions, no ODBC calls: safe from any thread.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/error.h"

namespace dutybridge::odbc {

enum class DialectKind { PostgreSQL, SQLite, MySQL, SqlServer, Other };

struct Dialect {
  DialectKind kind = DialectKind::Other;
  std::string dbms;  // as the driver reports SQL_DBMS_NAME
  // `LIMIT n` after ORDER BY; otherwise `OFFSET 0 ROWS FETCH NEXT n ROWS ONLY` (SQL:2008).
  bool limit_keyword = false;
  std::string quote_open = "\"";
  std::string quote_close = "\"";
  // SQLite keeps timestamps as text and compares them as text: the cursor is bound as the text
  // read from the row, and the lag guard is applied by the source, not in SQL.
  bool text_timestamps = false;
  // SQLite: a column's declared type does not constrain what a row stores ('abc' fits an INTEGER
  // column), and the driver converts such a value to 0 when it is fetched as a number. Numbers
  // and booleans are fetched as the stored text and parsed strictly instead.
  bool typeless_storage = false;
  // PostgreSQL: `SET TIME ZONE` after connecting, so timestamptz values arrive in timestamp_zone.
  bool set_time_zone = false;
};

std::string_view toString(DialectKind kind);

// From SQL_DBMS_NAME and SQL_IDENTIFIER_QUOTE_CHAR.
Dialect detectDialect(std::string_view dbms_name, std::string_view identifier_quote);

// A table or column name from the configuration: dot-separated parts, each bare
// (letters, digits, '_', '$', UTF-8; not starting with a digit) or quoted with "...", `...`
// or [...] (any printable text without quote characters). Bare parts keep the database's case
// folding; quoted parts are re-quoted with the dialect's quote characters.
struct Identifier {
  struct Part {
    std::string name;
    bool quoted = false;
  };
  std::vector<Part> parts;

  const Part& last() const { return parts.back(); }
  std::string render(const Dialect& dialect) const;
  // True when a result column reported by the driver is this identifier's last part: exact
  // for quoted parts, ASCII case-insensitive for bare ones.
  bool matchesColumn(std::string_view column_name, bool exact) const;
};

// InvalidConfig with a message saying what is wrong.
core::Result<Identifier> parseIdentifier(std::string_view text);

enum class Mode { Incrementing, Timestamp, TimestampIncrementing };

std::string_view toString(Mode mode);
std::optional<Mode> parseMode(std::string_view text);
inline bool usesTimestamp(Mode mode) {
  return mode != Mode::Incrementing;
}
inline bool usesIncrementing(Mode mode) {
  return mode != Mode::Timestamp;
}

// What the source reads: a table or a custom query (wrapped as a subquery), its cursor columns
// and the page size.
struct QueryShape {
  Mode mode = Mode::TimestampIncrementing;
  std::optional<Identifier> table;
  std::string query;  // used when table is empty; no trailing ';'
  std::optional<Identifier> timestamp_column;
  std::optional<Identifier> incrementing_column;
  int64_t limit = 0;  // rows per page (the source's batch_rows)
};

enum class QueryKind {
  First,           // no cursor yet: everything below the lag bound
  Next,            // strictly after the cursor
  TimestampGroup,  // every row whose timestamp equals the cursor's (pure timestamp mode)
};

// A parameter marker's meaning, in the order the markers appear.
enum class Param { CursorTimestamp, CursorId, UpperTimestamp };

struct BuiltQuery {
  std::string sql;
  std::vector<Param> params;
};

BuiltQuery buildQuery(const QueryShape& shape, const Dialect& dialect, QueryKind kind);

}  // namespace dutybridge::odbc
