#include "connectors/odbc/odbc_rowset.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>

#include "src/odbc/odbc_handles.h"

namespace dutybridge::odbc {
namespace {

constexpr size_t kDecimalTextBytes = 66;  // 38 digits, sign, point, exponent: generous
constexpr size_t kBoolTextBytes = 16;
constexpr size_t kTimestampTextBytes = 64;
constexpr size_t kNumberTextBytes = 64;  // an int64 or a double as SQLite writes it (%!.15g), and room to refuse more

std::string upperAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool isTextType(SQLSMALLINT t) {
  return t == SQL_CHAR || t == SQL_VARCHAR || t == SQL_LONGVARCHAR || t == SQL_WCHAR || t == SQL_WVARCHAR ||
         t == SQL_WLONGVARCHAR;
}

// The whole text as an integer ("12", "-7"); nothing else: no spaces, no fraction, no "12abc".
std::optional<int64_t> parseInt64(std::string_view text) {
  int64_t v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return v;
}

// The whole text as a finite double ("12", "0.25", "1e-07").
std::optional<double> parseDouble(std::string_view text) {
  double v = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || ptr != text.data() + text.size() || text.empty() || !std::isfinite(v)) return std::nullopt;
  return v;
}

bool boundAsText(ColumnKind kind) {
  return kind == ColumnKind::Decimal || kind == ColumnKind::Text || kind == ColumnKind::BoolText ||
         kind == ColumnKind::TimestampText || kind == ColumnKind::IntText || kind == ColumnKind::DoubleText;
}

}  // namespace

std::string_view sqlTypeName(SQLSMALLINT sql_type) {
  switch (sql_type) {
    case SQL_CHAR:
      return "CHAR";
    case SQL_VARCHAR:
      return "VARCHAR";
    case SQL_LONGVARCHAR:
      return "LONGVARCHAR";
    case SQL_WCHAR:
      return "WCHAR";
    case SQL_WVARCHAR:
      return "WVARCHAR";
    case SQL_WLONGVARCHAR:
      return "WLONGVARCHAR";
    case SQL_DECIMAL:
      return "DECIMAL";
    case SQL_NUMERIC:
      return "NUMERIC";
    case SQL_SMALLINT:
      return "SMALLINT";
    case SQL_INTEGER:
      return "INTEGER";
    case SQL_REAL:
      return "REAL";
    case SQL_FLOAT:
      return "FLOAT";
    case SQL_DOUBLE:
      return "DOUBLE";
    case SQL_BIT:
      return "BIT";
    case SQL_TINYINT:
      return "TINYINT";
    case SQL_BIGINT:
      return "BIGINT";
    case SQL_BINARY:
      return "BINARY";
    case SQL_VARBINARY:
      return "VARBINARY";
    case SQL_LONGVARBINARY:
      return "LONGVARBINARY";
    case SQL_TYPE_DATE:
      return "DATE";
    case SQL_TYPE_TIME:
      return "TIME";
    case SQL_TYPE_TIMESTAMP:
      return "TIMESTAMP";
    case SQL_DATE:
      return "DATE (ODBC 2)";
    case SQL_TIME:
      return "TIME (ODBC 2)";
    case SQL_TIMESTAMP:
      return "TIMESTAMP (ODBC 2)";
    case SQL_GUID:
      return "GUID";
    default:
      break;
  }
  if (sql_type >= SQL_INTERVAL_YEAR && sql_type <= SQL_INTERVAL_MINUTE_TO_SECOND) return "INTERVAL";
  return "unknown";
}

std::string Rowset::describeColumn(size_t column) const {
  const auto& d = columns_[column].desc;
  std::string type = std::string(sqlTypeName(d.sql_type));
  if (type == "unknown") type = fmt::format("SQL type {}", d.sql_type);
  if (!d.type_name.empty() && upperAscii(d.type_name) != type) type += ", " + d.type_name;
  return fmt::format("'{}' ({})", d.name, type);
}

core::ValueType valueType(ColumnKind kind) {
  switch (kind) {
    case ColumnKind::Int:
    case ColumnKind::IntText:
      return core::ValueType::Int;
    case ColumnKind::Double:
    case ColumnKind::DoubleText:
      return core::ValueType::Double;
    case ColumnKind::Decimal: return core::ValueType::Decimal;
    case ColumnKind::Text: return core::ValueType::String;
    case ColumnKind::Bool:
    case ColumnKind::BoolText: return core::ValueType::Bool;
    case ColumnKind::Date: return core::ValueType::Date;
    case ColumnKind::Timestamp:
    case ColumnKind::TimestampText: return core::ValueType::Timestamp;
  }
  return core::ValueType::String;
}

core::Status Rowset::describe(SQLHSTMT stmt, const Dialect& dialect, const Options& options) {
  options_ = options;
  columns_.clear();
  SQLSMALLINT count = 0;
  if (!succeeded(SQLNumResultCols(stmt, &count)))
    return core::fail(makeError("counting result columns", SQL_HANDLE_STMT, stmt));
  if (count <= 0) return {};
  std::vector<std::string> names;
  for (SQLUSMALLINT i = 1; i <= static_cast<SQLUSMALLINT>(count); ++i) {
    Column column;
    SQLCHAR name[512] = {};
    SQLSMALLINT name_length = 0, nullable = 0;
    SQLRETURN rc = SQLDescribeCol(stmt, i, name, sizeof name, &name_length, &column.desc.sql_type, &column.desc.size,
                                  &column.desc.digits, &nullable);
    if (!succeeded(rc)) return core::fail(makeError("describing a result column", SQL_HANDLE_STMT, stmt));
    column.desc.name = reinterpret_cast<const char*>(name);
    column.desc.nullable = nullable != SQL_NO_NULLS;
    SQLCHAR type_name[128] = {};
    SQLSMALLINT type_length = 0;
    if (succeeded(SQLColAttribute(stmt, i, SQL_DESC_TYPE_NAME, type_name, sizeof type_name, &type_length, nullptr))) {
      column.desc.type_name = reinterpret_cast<const char*>(type_name);
    }
    const std::string upper = upperAscii(column.desc.type_name);
    const bool decimal_name = upper.starts_with("NUMERIC") || upper.starts_with("DECIMAL") || upper == "NUMBER";
    const SQLSMALLINT t = column.desc.sql_type;
    bool supported = true;
    if (t == SQL_BIGINT || t == SQL_INTEGER || t == SQL_SMALLINT || t == SQL_TINYINT) {
      column.kind = ColumnKind::Int;
    } else if (t == SQL_NUMERIC || t == SQL_DECIMAL) {
      column.kind = ColumnKind::Decimal;
    } else if (t == SQL_DOUBLE || t == SQL_FLOAT || t == SQL_REAL) {
      column.kind = decimal_name ? ColumnKind::Decimal : ColumnKind::Double;
    } else if (isTextType(t)) {
      // psqlODBC reports boolean as VARCHAR unless BoolsAsChar=0.
      column.kind = decimal_name                              ? ColumnKind::Decimal
                    : (upper == "BOOL" || upper == "BOOLEAN") ? ColumnKind::BoolText
                                                              : ColumnKind::Text;
    } else if (t == SQL_BIT) {
      column.kind = ColumnKind::Bool;
    } else if (t == SQL_TYPE_DATE || t == SQL_DATE) {
      column.kind = ColumnKind::Date;
    } else if (t == SQL_TYPE_TIMESTAMP || t == SQL_TIMESTAMP) {
      column.kind = dialect.text_timestamps ? ColumnKind::TimestampText : ColumnKind::Timestamp;
    } else {
      supported = false;
    }
    if (dialect.typeless_storage) {
      if (column.kind == ColumnKind::Int)
        column.kind = ColumnKind::IntText;
      else if (column.kind == ColumnKind::Double)
        column.kind = ColumnKind::DoubleText;
      else if (column.kind == ColumnKind::Bool)
        column.kind = ColumnKind::BoolText;
    }
    columns_.push_back(std::move(column));
    if (!supported) {
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("result column {} has a type the odbc source cannot map to a value; convert it "
                                    "in a custom query, e.g. CAST({} AS VARCHAR(64))",
                                    describeColumn(columns_.size() - 1), columns_.back().desc.name));
    }
    const std::string& column_name = columns_.back().desc.name;
    if (std::find(names.begin(), names.end(), column_name) != names.end()) {
      // Two fields of one record with one name: JSON readers (the kafka source among them) refuse
      // such an object, and a mapping would see only one of them.
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("the result has two columns named '{}'; give each a name of its own in a custom "
                                    "query, e.g. SELECT a.id AS order_id, b.id AS line_id",
                                    column_name));
    }
    names.push_back(column_name);
  }
  schema_ = std::make_shared<const core::RecordSchema>(std::move(names));
  allocate();
  return {};
}

bool Rowset::sameShape(const Rowset& other) const {
  if (columns_.size() != other.columns_.size()) return false;
  for (size_t i = 0; i < columns_.size(); ++i) {
    if (columns_[i].desc.name != other.columns_[i].desc.name || columns_[i].kind != other.columns_[i].kind)
      return false;
  }
  return true;
}

void Rowset::setKind(size_t column, ColumnKind kind) {
  columns_[column].kind = kind;
  allocate();
}

size_t Rowset::textBytes(const Column& column) const {
  switch (column.kind) {
    case ColumnKind::Decimal:
      return kDecimalTextBytes;
    case ColumnKind::BoolText:
      return kBoolTextBytes;
    case ColumnKind::IntText:
    case ColumnKind::DoubleText:
      return kNumberTextBytes;
    case ColumnKind::TimestampText:
      return std::max(column.element_bytes, kTimestampTextBytes);
    default:
      break;
  }
  // Sizes are in characters for the Unicode drivers; UTF-8 needs up to 4 bytes each. An unknown
  // size (0) or one beyond the cap gets the cap. widen() fixes drivers that under-report.
  size_t max = options_.max_text_bytes;
  size_t size = column.desc.size;
  size_t bytes = (size == 0 || size > max / 4) ? max : size * 4;
  return std::max(bytes, column.element_bytes > 0 ? column.element_bytes - 1 : 0) + 1;
}

void Rowset::allocate() {
  size_t row_bytes = 0;
  for (auto& column : columns_) {
    switch (column.kind) {
      case ColumnKind::Int:
        column.c_type = SQL_C_SBIGINT;
        column.element_bytes = sizeof(int64_t);
        break;
      case ColumnKind::Double:
        column.c_type = SQL_C_DOUBLE;
        column.element_bytes = sizeof(double);
        break;
      case ColumnKind::Bool:
        column.c_type = SQL_C_BIT;
        column.element_bytes = sizeof(SQLCHAR);
        break;
      case ColumnKind::Date:
        column.c_type = SQL_C_TYPE_DATE;
        column.element_bytes = sizeof(SQL_DATE_STRUCT);
        break;
      case ColumnKind::Timestamp:
        column.c_type = SQL_C_TYPE_TIMESTAMP;
        column.element_bytes = sizeof(SQL_TIMESTAMP_STRUCT);
        break;
      case ColumnKind::Decimal:
      case ColumnKind::Text:
      case ColumnKind::BoolText:
      case ColumnKind::TimestampText:
      case ColumnKind::IntText:
      case ColumnKind::DoubleText:
        column.c_type = SQL_C_CHAR;
        column.element_bytes = textBytes(column);
        break;
    }
    row_bytes += column.element_bytes + sizeof(SQLLEN);
  }
  rows_ = std::clamp<size_t>(options_.max_buffer_bytes / std::max<size_t>(row_bytes, 1), 1, options_.max_rows);
  for (auto& column : columns_) {
    size_t words = (column.element_bytes * rows_ + sizeof(uint64_t) - 1) / sizeof(uint64_t);
    column.storage.assign(words, 0);
    column.indicators.assign(rows_, 0);
  }
  // Drivers fill one status per fetched row; a driver that ignored the array must not make the
  // source skip rows, so the default is success.
  status_.assign(rows_, SQL_ROW_SUCCESS);
}

bool Rowset::widen(size_t column) {
  Column& c = columns_[column];
  if (!boundAsText(c.kind) || c.kind == ColumnKind::Decimal || c.kind == ColumnKind::BoolText ||
      c.kind == ColumnKind::IntText || c.kind == ColumnKind::DoubleText) {
    return false;
  }
  if (c.element_bytes >= options_.max_text_bytes + 1) return false;
  c.element_bytes = options_.max_text_bytes + 1;
  // textBytes() keeps the widened size: it never shrinks an existing column.
  allocate();
  return true;
}

core::Status Rowset::bind(SQLHSTMT stmt) {
  auto attr = [&](SQLINTEGER attribute, SQLPOINTER value, const char* what) -> core::Status {
    if (!succeeded(SQLSetStmtAttr(stmt, attribute, value, 0))) {
      return core::fail(makeError(fmt::format("setting {}", what), SQL_HANDLE_STMT, stmt));
    }
    return {};
  };
  if (auto s = attr(SQL_ATTR_ROW_BIND_TYPE, reinterpret_cast<SQLPOINTER>(SQL_BIND_BY_COLUMN), "column-wise binding");
      !s) {
    return s;
  }
  if (auto s = attr(SQL_ATTR_ROW_ARRAY_SIZE, reinterpret_cast<SQLPOINTER>(rows_), "the row array size"); !s) return s;
  // A driver may lower the array size (01S02); use what it took.
  SQLULEN effective = rows_;
  if (succeeded(SQLGetStmtAttr(stmt, SQL_ATTR_ROW_ARRAY_SIZE, &effective, 0, nullptr)) && effective >= 1 &&
      effective < rows_) {
    rows_ = effective;
  }
  if (auto s = attr(SQL_ATTR_ROWS_FETCHED_PTR, &fetched_, "the fetched-rows pointer"); !s) return s;
  if (auto s = attr(SQL_ATTR_ROW_STATUS_PTR, status_.data(), "the row status array"); !s) return s;
  for (size_t i = 0; i < columns_.size(); ++i) {
    Column& c = columns_[i];
    SQLRETURN rc = SQLBindCol(stmt, static_cast<SQLUSMALLINT>(i + 1), c.c_type, c.data(),
                              static_cast<SQLLEN>(c.element_bytes), c.indicators.data());
    if (!succeeded(rc))
      return core::fail(makeError(fmt::format("binding column {}", describeColumn(i)), SQL_HANDLE_STMT, stmt));
  }
  return {};
}

core::Result<core::Timestamp> Rowset::timestamp(size_t column, size_t row, ZoneConverter& zone) const {
  const Column& c = columns_[column];
  if (c.kind == ColumnKind::TimestampText) {
    auto parsed = parseTimestampText(text(column, row));
    if (!parsed) {
      return core::fail(
          core::ErrorKind::Permanent,
          fmt::format("column {} holds text that is not a timestamp (expected YYYY-MM-DD HH:MM:SS[.ffffff] "
                      "with an optional offset)",
                      describeColumn(column)));
    }
    if (parsed->has_offset) return core::Timestamp{parsed->micros};
    return zone.toUtc(parsed->micros);
  }
  SQL_TIMESTAMP_STRUCT ts;
  std::memcpy(&ts, c.cell(row), sizeof ts);
  if (ts.month < 1 || ts.month > 12 || ts.day < 1 || ts.day > 31 || ts.hour > 23 || ts.minute > 59 || ts.second > 60) {
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("column {} returned an invalid timestamp", describeColumn(column)));
  }
  CivilTime t;
  t.year = ts.year;
  t.month = ts.month;
  t.day = ts.day;
  t.hour = ts.hour;
  t.minute = ts.minute;
  t.second = ts.second;
  t.micros = ts.fraction / 1000;
  return zone.toUtc(microsFromCivil(t));
}

core::Result<int64_t> Rowset::integer(size_t column, size_t row) const {
  const Column& c = columns_[column];
  if (c.kind == ColumnKind::Int) {
    int64_t v;
    std::memcpy(&v, c.cell(row), sizeof v);
    return v;
  }
  if (c.kind == ColumnKind::IntText && !truncated(column, row)) {
    if (auto v = parseInt64(text(column, row))) return *v;
  }
  if (c.kind == ColumnKind::Decimal || c.kind == ColumnKind::Text) {
    // NUMERIC(18,0) keys (SQL Server identities) and untyped SQLite expressions.
    if (!truncated(column, row)) {
      auto d = core::Decimal::parse(text(column, row));
      if (d) {
        if (auto v = d->toInt64()) return *v;
      }
    }
  }
  return core::fail(core::ErrorKind::Permanent,
                    fmt::format("incrementing column {} does not hold a 64-bit integer", describeColumn(column)));
}

std::unexpected<core::Error> Rowset::truncatedError(size_t column) const {
  const Column& c = columns_[column];
  if (c.kind == ColumnKind::IntText || c.kind == ColumnKind::DoubleText) {
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("column {} holds a value that is not {}", describeColumn(column),
                                  c.kind == ColumnKind::IntText ? "a 64-bit integer" : "a number"));
  }
  if (c.kind == ColumnKind::Decimal) {
    return core::fail(core::ErrorKind::Permanent,
                      fmt::format("column {} holds a number longer than {} characters; a Decimal has at most 38 "
                                  "digits",
                                  describeColumn(column), c.element_bytes - 1));
  }
  return core::fail(core::ErrorKind::Permanent,
                    fmt::format("a value of column {} is longer than {} bytes (raise max_text_bytes, or shorten it in "
                                "a custom query)",
                                describeColumn(column), c.element_bytes - 1));
}

core::Status Rowset::appendValue(size_t column, size_t row, ZoneConverter& zone,
                                 std::vector<core::Value>& out) const {
  const Column& c = columns_[column];
  if (c.indicators[row] == SQL_NULL_DATA) {
    out.emplace_back();
    return {};
  }
  if (truncated(column, row)) return truncatedError(column);
  switch (c.kind) {
    case ColumnKind::Int: {
      int64_t v;
      std::memcpy(&v, c.cell(row), sizeof v);
      out.emplace_back(v);
      return {};
    }
    case ColumnKind::IntText: {
      auto v = parseInt64(text(column, row));
      if (!v) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("column {} holds a value that is not a 64-bit integer", describeColumn(column)));
      }
      out.emplace_back(*v);
      return {};
    }
    case ColumnKind::Double: {
      double v;
      std::memcpy(&v, c.cell(row), sizeof v);
      out.emplace_back(v);
      return {};
    }
    case ColumnKind::DoubleText: {
      auto v = parseDouble(text(column, row));
      if (!v) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("column {} holds a value that is not a number", describeColumn(column)));
      }
      out.emplace_back(*v);
      return {};
    }
    case ColumnKind::Bool:
      out.emplace_back(*reinterpret_cast<const unsigned char*>(c.cell(row)) != 0);
      return {};
    case ColumnKind::Decimal: {
      auto d = core::Decimal::parse(text(column, row));
      if (!d) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("column {} holds a value that is not an exact decimal of at most 38 digits",
                                      describeColumn(column)));
      }
      out.emplace_back(*d);
      return {};
    }
    case ColumnKind::Text:
      out.emplace_back(text(column, row));
      return {};
    case ColumnKind::BoolText: {
      std::string_view raw = text(column, row);
      if (raw == "1" || raw == "0") {
        out.emplace_back(raw == "1");
        return {};
      }
      std::string v = upperAscii(raw);
      if (v == "1" || v == "T" || v == "TRUE" || v == "Y" || v == "YES") {
        out.emplace_back(true);
        return {};
      }
      if (v == "0" || v == "F" || v == "FALSE" || v == "N" || v == "NO") {
        out.emplace_back(false);
        return {};
      }
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("column {} holds a value that is not a boolean", describeColumn(column)));
    }
    case ColumnKind::Date: {
      SQL_DATE_STRUCT d;
      std::memcpy(&d, c.cell(row), sizeof d);
      if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > 31) {
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("column {} returned an invalid date", describeColumn(column)));
      }
      out.emplace_back(core::Date{static_cast<int32_t>(daysFromCivil(d.year, d.month, d.day))});
      return {};
    }
    case ColumnKind::Timestamp:
    case ColumnKind::TimestampText: {
      auto ts = timestamp(column, row, zone);
      if (!ts) return core::fail(ts.error());
      out.emplace_back(*ts);
      return {};
    }
  }
  out.emplace_back();
  return {};
}

}  // namespace dutybridge::odbc
