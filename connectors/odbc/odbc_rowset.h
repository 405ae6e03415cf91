#pragma once
// Column-wise bound fetch buffers for the odbc source: one array per result column
// (SQL_ATTR_ROW_BIND_TYPE = SQL_BIND_BY_COLUMN), filled by SQLFetch a rowset at a time, and the
// conversion of each cell into a core::Value.
//
// How SQL types map (and why):
//   BIGINT, INTEGER, SMALLINT, TINYINT        -> Int      (SQL_C_SBIGINT)
//   NUMERIC, DECIMAL (also by type name)      -> Decimal  (fetched as text, Decimal::parse: exact)
//   DOUBLE, FLOAT, REAL                       -> Double
//   [W][LONG]VARCHAR, [W]CHAR                 -> String   (SQL_C_CHAR: UTF-8 from both drivers)
//   BIT; PostgreSQL "bool" reported as VARCHAR -> Bool
//   DATE                                      -> Date
//   TIMESTAMP (timestamptz too)               -> Timestamp (wall-clock in timestamp_zone -> UTC)
//   everything else (binary, GUID, TIME, intervals...) -> a Permanent error naming the column.
// SQLite reports NUMERIC as DOUBLE and DECIMAL as VARCHAR; the declared type name wins, so both
// become exact Decimals. SQLite timestamps are fetched as the stored text and parsed here, and so
// are its integers, doubles and booleans (IntText, DoubleText, BoolText): a SQLite column holds
// whatever a row put there, and 'abc' in an INTEGER column must be an error, not a silent 0.
//
// Threading: owned by one source, used from its pipeline thread. The arrays' addresses are
// handed to the driver, so a Rowset must stay where it is while a statement is bound to it.

#include <sql.h>
#include <sqlext.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/odbc/odbc_cursor.h"
#include "connectors/odbc/odbc_dialect.h"
#include "src/core/error.h"
#include "src/core/record.h"
#include "src/core/value.h"

namespace dutybridge::odbc {

enum class ColumnKind {
  Int,
  IntText,
  Double,
  DoubleText,
  Decimal,
  Text,
  Bool,
  BoolText,
  Date,
  Timestamp,
  TimestampText
};

std::string_view sqlTypeName(SQLSMALLINT sql_type);
// The type of the values appendValue() makes of a column of this kind (Source::describe()).
core::ValueType valueType(ColumnKind kind);

struct ColumnDescription {
  std::string name;
  SQLSMALLINT sql_type = 0;
  std::string type_name;  // the database's own name (SQL_DESC_TYPE_NAME): "numeric", "timestamptz"
  SQLULEN size = 0;
  SQLSMALLINT digits = 0;
  bool nullable = true;  // false only for SQL_NO_NULLS; SQL_NULLABLE_UNKNOWN counts as nullable
};

class Rowset {
 public:
  struct Options {
    size_t max_rows = 1000;               // rows per SQLFetch
    size_t max_text_bytes = 8192;         // per text cell, without the terminating NUL
    size_t max_buffer_bytes = 16u << 20;  // all arrays together; fewer rows per fetch when wide
  };

  Rowset() = default;
  Rowset(const Rowset&) = delete;
  Rowset& operator=(const Rowset&) = delete;

  // Reads the result columns of a prepared or executed statement and sizes the arrays.
  // Permanent when a column's type cannot be mapped; 0 columns is an error too.
  core::Status describe(SQLHSTMT stmt, const Dialect& dialect, const Options& options);
  bool described() const { return !columns_.empty(); }
  // Same column names and kinds as another description of the same query.
  bool sameShape(const Rowset& other) const;

  // Binds the arrays to `stmt` (row array size, fetched-count and status pointers, SQLBindCol).
  core::Status bind(SQLHSTMT stmt);

  // A text cell of `column` did not fit: widen that column to max_text_bytes. False when it
  // already was that wide (the value is genuinely too long).
  bool widen(size_t column);

  size_t size() const { return columns_.size(); }
  size_t rowsPerFetch() const { return rows_; }
  const ColumnDescription& description(size_t column) const { return columns_[column].desc; }
  ColumnKind kind(size_t column) const { return columns_[column].kind; }
  void setKind(size_t column, ColumnKind kind);
  const std::shared_ptr<const core::RecordSchema>& schema() const { return schema_; }

  // After SQLFetch: rows in this rowset and their status (SQL_ROW_*).
  size_t fetched() const { return static_cast<size_t>(fetched_); }
  SQLUSMALLINT rowStatus(size_t row) const { return status_[row]; }

  bool isNull(size_t column, size_t row) const { return columns_[column].indicators[row] == SQL_NULL_DATA; }
  // A text-bound cell longer than its buffer.
  bool truncated(size_t column, size_t row) const {
    const Column& c = columns_[column];
    if (c.c_type != SQL_C_CHAR) return false;
    SQLLEN indicator = c.indicators[row];
    return indicator == SQL_NO_TOTAL || (indicator >= 0 && static_cast<size_t>(indicator) >= c.element_bytes);
  }
  // The bytes of a text-bound cell (check isNull and truncated first).
  std::string_view text(size_t column, size_t row) const {
    const Column& c = columns_[column];
    return std::string_view(c.cell(row), static_cast<size_t>(c.indicators[row]));
  }

  // Converts a cell and appends it to `out` (in place: this runs once per cell). Permanent
  // errors name the column and its type, never the value.
  core::Status appendValue(size_t column, size_t row, ZoneConverter& zone, std::vector<core::Value>& out) const;
  // The instant of a Timestamp/TimestampText cell (for the cursor and event time).
  core::Result<core::Timestamp> timestamp(size_t column, size_t row, ZoneConverter& zone) const;
  // An Int or integral Decimal cell as int64 (the incrementing cursor).
  core::Result<int64_t> integer(size_t column, size_t row) const;

  // "'good_qty' (NUMERIC, numeric)" for messages.
  std::string describeColumn(size_t column) const;

 private:
  struct Column {
    ColumnDescription desc;
    ColumnKind kind = ColumnKind::Text;
    SQLSMALLINT c_type = SQL_C_CHAR;
    size_t element_bytes = 0;
    std::vector<uint64_t> storage;  // 8-byte aligned cells
    std::vector<SQLLEN> indicators;

    char* data() { return reinterpret_cast<char*>(storage.data()); }
    const char* cell(size_t row) const { return reinterpret_cast<const char*>(storage.data()) + row * element_bytes; }
  };

  void allocate();
  size_t textBytes(const Column& column) const;
  std::unexpected<core::Error> truncatedError(size_t column) const;

  Options options_;
  std::vector<Column> columns_;
  std::shared_ptr<const core::RecordSchema> schema_;
  size_t rows_ = 0;
  SQLULEN fetched_ = 0;
  std::vector<SQLUSMALLINT> status_;
};

}  // namespace dutybridge::odbc
