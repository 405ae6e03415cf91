#include "src/odbc/odbc_handles.h"

#include <fmt/format.h>

#include <algorithm>
#include <optional>
#include <regex>

namespace dutybridge::odbc {

std::string diagnosticText(SQLSMALLINT handle_type, SQLHANDLE handle) {
  std::string out;
  for (SQLSMALLINT record = 1;; ++record) {
    SQLCHAR state[6] = {};
    SQLINTEGER native = 0;
    SQLCHAR message[1024] = {};
    SQLSMALLINT length = 0;
    SQLRETURN rc = SQLGetDiagRec(handle_type, handle, record, state, &native, message, sizeof message, &length);
    if (!succeeded(rc)) break;
    if (!out.empty()) out += "; ";
    out += fmt::format("[SQLSTATE {}] (native {}) {}", reinterpret_cast<const char*>(state), native,
                       reinterpret_cast<const char*>(message));
  }
  return out.empty() ? "no diagnostic available" : withoutDataValues(out);
}

std::string withoutDataValues(std::string_view text) {
  // Errors are rare, so regular expressions cost nothing that matters here.
  static const std::regex kDetail(R"(DETAIL:[^\n]*)");
  static const std::regex kKeyValues(R"(=\((?:[^()]|\([^()]*\))*\))");
  static const std::regex kInputSyntax(R"((invalid input syntax for[^:"]*): "(?:[^"]|"")*")");
  static const std::regex kOutOfRange(R"(value "(?:[^"]|"")*" is out of range)");
  std::string out(text);
  out = std::regex_replace(out, kDetail, "DETAIL: (row values withheld)");
  out = std::regex_replace(out, kKeyValues, "=(***)");
  out = std::regex_replace(out, kInputSyntax, "$1: \"***\"");
  out = std::regex_replace(out, kOutOfRange, "value \"***\" is out of range");
  return out;
}

std::vector<std::string> sqlStates(SQLSMALLINT handle_type, SQLHANDLE handle) {
  std::vector<std::string> states;
  for (SQLSMALLINT record = 1;; ++record) {
    SQLCHAR state[6] = {};
    SQLINTEGER native = 0;
    SQLCHAR message[8] = {};
    SQLSMALLINT length = 0;
    SQLRETURN rc = SQLGetDiagRec(handle_type, handle, record, state, &native, message, sizeof message, &length);
    if (rc != SQL_SUCCESS && rc != SQL_SUCCESS_WITH_INFO) break;
    states.emplace_back(reinterpret_cast<const char*>(state));
  }
  return states;
}

core::Error makeError(std::string_view what, SQLSMALLINT handle_type, SQLHANDLE handle) {
  bool transient = false;
  auto states = sqlStates(handle_type, handle);
  // No diagnostic at all: the driver lost the server mid-call (psqlODBC does when PostgreSQL is
  // stopped under a running statement). Nothing says the request itself was wrong, so it is
  // treated as an outage and retried, never as a bad record.
  if (states.empty()) transient = true;
  for (const auto& state : states) {
    // Connection exceptions, timeouts (57014: PostgreSQL cancelled the statement, which is how
    // psqlODBC enforces SQL_ATTR_QUERY_TIMEOUT), serialization failures, deadlocks, admin shutdown.
    transient = transient || state.starts_with("08") || state == "HYT00" || state == "HYT01" || state == "40001" ||
                state == "40P01" || state == "57014" || state == "57P01" || state == "57P03";
  }
  std::string text = diagnosticText(handle_type, handle);
  if (!transient) {
    // Drivers sometimes wrap a lost connection or a busy database in a general HY000: psqlODBC
    // does when a prepared statement is executed on a connection the server closed, sqliteodbc
    // for a locked database.
    // psqlODBC reports "internal SAVEPOINT failed" when the server went away between its
    // per-statement savepoint and the statement (PostgreSQL stopped under load).
    for (std::string_view phrase : {"server closed the connection", "terminating connection",
                                    "The connection has been lost", "no connection to the server",
                                    "Communication link failure", "database is locked",
                                    "internal SAVEPOINT failed"}) {
      transient = transient || text.find(phrase) != std::string::npos;
    }
  }
  return core::Error{transient ? core::ErrorKind::Retryable : core::ErrorKind::Permanent,
                     fmt::format("{}: {}", what, text)};
}

core::Result<Environment> Environment::create() {
  SQLHANDLE env = SQL_NULL_HANDLE;
  if (!succeeded(SQLAllocHandle(SQL_HANDLE_ENV, SQL_NULL_HANDLE, &env))) {
    return core::fail(core::ErrorKind::Fatal, "cannot allocate an ODBC environment");
  }
  Environment out;
  out.handle_ = Handle<SQL_HANDLE_ENV>(env);
  if (!succeeded(SQLSetEnvAttr(env, SQL_ATTR_ODBC_VERSION, reinterpret_cast<SQLPOINTER>(SQL_OV_ODBC3), 0))) {
    return core::fail(makeError("setting ODBC version 3", SQL_HANDLE_ENV, env));
  }
  return out;
}

core::Result<Connection> Connection::connect(const Environment& env, const std::string& connection_string,
                                             int login_timeout_seconds) {
  SQLHANDLE dbc = SQL_NULL_HANDLE;
  if (!succeeded(SQLAllocHandle(SQL_HANDLE_DBC, env.get(), &dbc))) {
    return core::fail(makeError("allocating an ODBC connection", SQL_HANDLE_ENV, env.get()));
  }
  Connection out;
  out.handle_ = Handle<SQL_HANDLE_DBC>(dbc);
  SQLSetConnectAttr(dbc, SQL_ATTR_LOGIN_TIMEOUT, reinterpret_cast<SQLPOINTER>(static_cast<intptr_t>(login_timeout_seconds)), 0);
  SQLCHAR out_string[1024];
  SQLSMALLINT out_length = 0;
  SQLRETURN rc = SQLDriverConnect(dbc, nullptr,
                                  reinterpret_cast<SQLCHAR*>(const_cast<char*>(connection_string.c_str())),
                                  static_cast<SQLSMALLINT>(connection_string.size()), out_string, sizeof out_string,
                                  &out_length, SQL_DRIVER_NOPROMPT);
  if (!succeeded(rc)) {
    core::Error error = makeError("connecting", SQL_HANDLE_DBC, dbc);
    // A refused or unreachable server is worth retrying; a missing driver is not. Drivers
    // disagree on SQLSTATEs for refused connections, so only driver-manager (IM) states and a
    // library that cannot be loaded are final.
    bool driver_missing = error.message.find("Can't open lib") != std::string::npos;
    for (const auto& state : sqlStates(SQL_HANDLE_DBC, dbc)) driver_missing = driver_missing || state.starts_with("IM");
    error.kind = driver_missing ? core::ErrorKind::Permanent : core::ErrorKind::Retryable;
    return core::fail(std::move(error));
  }
  out.connected_ = true;
  return out;
}

Connection::~Connection() {
  if (connected_ && handle_) SQLDisconnect(handle_.get());
}

core::Result<Statement> Connection::statement() const {
  SQLHANDLE stmt = SQL_NULL_HANDLE;
  if (!succeeded(SQLAllocHandle(SQL_HANDLE_STMT, handle_.get(), &stmt))) {
    return core::fail(makeError("allocating a statement", SQL_HANDLE_DBC, handle_.get()));
  }
  return Statement(Handle<SQL_HANDLE_STMT>(stmt));
}

std::string Connection::dbmsName() const {
  SQLCHAR name[128] = {};
  SQLSMALLINT length = 0;
  if (!succeeded(SQLGetInfo(handle_.get(), SQL_DBMS_NAME, name, sizeof name, &length))) return {};
  return reinterpret_cast<const char*>(name);
}

core::Status Statement::execute(const std::string& sql) {
  SQLRETURN rc = SQLExecDirect(handle_.get(), reinterpret_cast<SQLCHAR*>(const_cast<char*>(sql.c_str())),
                               static_cast<SQLINTEGER>(sql.size()));
  if (!succeeded(rc) && rc != SQL_NO_DATA) return core::fail(makeError("executing SQL", SQL_HANDLE_STMT, handle_.get()));
  return {};
}

core::Result<bool> Statement::fetch() {
  SQLRETURN rc = SQLFetch(handle_.get());
  if (rc == SQL_NO_DATA) return false;
  if (!succeeded(rc)) return core::fail(makeError("fetching", SQL_HANDLE_STMT, handle_.get()));
  return true;
}

core::Result<std::vector<std::string>> Statement::columnNames() {
  SQLSMALLINT count = 0;
  if (!succeeded(SQLNumResultCols(handle_.get(), &count))) {
    return core::fail(makeError("counting result columns", SQL_HANDLE_STMT, handle_.get()));
  }
  std::vector<std::string> names;
  for (SQLUSMALLINT i = 1; i <= static_cast<SQLUSMALLINT>(std::max<SQLSMALLINT>(count, 0)); ++i) {
    SQLCHAR name[512] = {};
    SQLSMALLINT name_length = 0, type = 0, digits = 0, nullable = 0;
    SQLULEN size = 0;
    SQLRETURN rc = SQLDescribeCol(handle_.get(), i, name, sizeof name, &name_length, &type, &size, &digits, &nullable);
    if (!succeeded(rc)) return core::fail(makeError("describing a result column", SQL_HANDLE_STMT, handle_.get()));
    names.emplace_back(reinterpret_cast<const char*>(name));
  }
  return names;
}

core::Result<std::optional<std::string>> Statement::getText(SQLUSMALLINT column) {
  std::string out;
  char buffer[4096];
  while (true) {
    SQLLEN indicator = 0;
    SQLRETURN rc = SQLGetData(handle_.get(), column, SQL_C_CHAR, buffer, sizeof buffer, &indicator);
    if (rc == SQL_NO_DATA) break;
    if (!succeeded(rc)) return core::fail(makeError("reading a column", SQL_HANDLE_STMT, handle_.get()));
    if (indicator == SQL_NULL_DATA) return std::optional<std::string>{};
    size_t chunk = (indicator == SQL_NO_TOTAL || indicator >= static_cast<SQLLEN>(sizeof buffer))
                       ? sizeof buffer - 1
                       : static_cast<size_t>(indicator);
    out.append(buffer, chunk);
    if (rc == SQL_SUCCESS) break;
  }
  return std::optional<std::string>{std::move(out)};
}

core::Status Statement::closeCursor() {
  SQLFreeStmt(handle_.get(), SQL_CLOSE);
  return {};
}

}  // namespace dutybridge::odbc
