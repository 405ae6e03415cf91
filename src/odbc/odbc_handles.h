#pragma once
// RAII owners for unixODBC handles. Every failing call becomes a core::Error carrying the
// driver's diagnostic records (SQLGetDiagRec: SQLSTATE, native code, text). Connection-class
// SQLSTATEs (08xxx), timeouts and serialization failures are Retryable; the rest Permanent.
// Connection strings are never put into errors or logs (they may hold a password).
//
// Threading: a handle is used by one thread at a time (the owning pipeline's).

#include <sql.h>
#include <sqlext.h>

#include <string>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/error.h"

namespace dutybridge::odbc {

// "[SQLSTATE 08001] (native 101) could not connect to server; ..." for every record.
std::string diagnosticText(SQLSMALLINT handle_type, SQLHANDLE handle);

// A driver's message without the data values databases quote in it (they may be personal data,
// and the text reaches logs, dead-letter reasons and the admin API): PostgreSQL's DETAIL lines
// ("Key (employee_no)=(E10023) already exists", "Failing row contains (...)"), any
// "=(values)", and the value in "invalid input syntax for type T: \"v\"" and "value \"v\" is
// out of range". Constraint, table and column names stay. diagnosticText() applies it.
std::string withoutDataValues(std::string_view text);
// Every SQLSTATE of the handle's diagnostic records, in order ("01000" warnings included).
std::vector<std::string> sqlStates(SQLSMALLINT handle_type, SQLHANDLE handle);
core::Error makeError(std::string_view what, SQLSMALLINT handle_type, SQLHANDLE handle);
inline bool succeeded(SQLRETURN rc) { return rc == SQL_SUCCESS || rc == SQL_SUCCESS_WITH_INFO; }

template <SQLSMALLINT kType>
class Handle {
 public:
  Handle() = default;
  explicit Handle(SQLHANDLE handle) : handle_(handle) {}
  Handle(Handle&& other) noexcept : handle_(std::exchange(other.handle_, SQLHANDLE{})) {}
  Handle& operator=(Handle&& other) noexcept {
    if (this != &other) {
      reset();
      handle_ = std::exchange(other.handle_, SQLHANDLE{});
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() { reset(); }

  SQLHANDLE get() const { return handle_; }
  explicit operator bool() const { return handle_ != SQL_NULL_HANDLE; }
  void reset() {
    if (handle_ != SQL_NULL_HANDLE) SQLFreeHandle(kType, handle_);
    handle_ = SQL_NULL_HANDLE;
  }

 private:
  SQLHANDLE handle_ = SQL_NULL_HANDLE;
};

class Environment {
 public:
  static core::Result<Environment> create();
  SQLHENV get() const { return handle_.get(); }

 private:
  Handle<SQL_HANDLE_ENV> handle_;
};

class Statement;

class Connection {
 public:
  // Connects with a DSN-less connection string ("Driver={PostgreSQL Unicode};Server=...").
  static core::Result<Connection> connect(const Environment& env, const std::string& connection_string,
                                          int login_timeout_seconds = 10);
  Connection() = default;
  Connection(Connection&&) noexcept = default;
  Connection& operator=(Connection&&) noexcept = default;
  ~Connection();

  SQLHDBC get() const { return handle_.get(); }
  core::Result<Statement> statement() const;
  // The DBMS name the driver reports ("PostgreSQL", "SQLite").
  std::string dbmsName() const;

 private:
  Handle<SQL_HANDLE_DBC> handle_;
  bool connected_ = false;
};

class Statement {
 public:
  explicit Statement(Handle<SQL_HANDLE_STMT> handle) : handle_(std::move(handle)) {}
  SQLHSTMT get() const { return handle_.get(); }

  core::Status execute(const std::string& sql);
  // Fetches the next row; false at the end.
  core::Result<bool> fetch();
  // The result set's column names, in order (as the driver reports them).
  core::Result<std::vector<std::string>> columnNames();
  // Column `column` (1-based) of the current row as UTF-8 text, or nullopt for NULL.
  core::Result<std::optional<std::string>> getText(SQLUSMALLINT column);
  core::Status closeCursor();

 private:
  Handle<SQL_HANDLE_STMT> handle_;
};

}  // namespace dutybridge::odbc
