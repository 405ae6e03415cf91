#include "src/sim/sql_session.h"

#include <fmt/format.h>

namespace dutybridge::sim {

core::Status Prepared::run(const Row& params) {
  SQLHSTMT h = statement_.get();
  indicators_.assign(params.size(), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    const Cell& cell = params[i];
    indicators_[i] = cell ? static_cast<SQLLEN>(cell->size()) : SQL_NULL_DATA;
    SQLULEN size = cell ? std::max<SQLULEN>(1, cell->size()) : 1;
    SQLPOINTER data = cell ? const_cast<char*>(cell->data()) : nullptr;
    SQLRETURN rc = SQLBindParameter(h, static_cast<SQLUSMALLINT>(i + 1), SQL_PARAM_INPUT, SQL_C_CHAR, SQL_VARCHAR,
                                    size, 0, data, cell ? static_cast<SQLLEN>(cell->size()) : 0, &indicators_[i]);
    if (!odbc::succeeded(rc)) return core::fail(odbc::makeError("binding a parameter", SQL_HANDLE_STMT, h));
  }
  SQLRETURN rc = SQLExecute(h);
  if (!odbc::succeeded(rc) && rc != SQL_NO_DATA) return core::fail(odbc::makeError("executing", SQL_HANDLE_STMT, h));
  return {};
}

core::Result<SqlSession> SqlSession::open(const odbc::Environment& env, const std::string& connection_string,
                                          Dialect dialect, std::string schema) {
  auto connection = odbc::Connection::connect(env, connection_string);
  if (!connection) return core::fail(connection.error());
  if (!odbc::succeeded(SQLSetConnectAttr(connection->get(), SQL_ATTR_AUTOCOMMIT,
                                         reinterpret_cast<SQLPOINTER>(SQL_AUTOCOMMIT_OFF), SQL_IS_UINTEGER))) {
    return core::fail(odbc::makeError("turning autocommit off", SQL_HANDLE_DBC, connection->get()));
  }
  return SqlSession(std::move(*connection), dialect, std::move(schema));
}

std::string SqlSession::table(const std::string& name) const {
  return dialect_ == Dialect::Postgresql ? schema_ + "." + name : name;
}

core::Status SqlSession::exec(const std::string& sql) {
  auto statement = connection_.statement();
  if (!statement) return core::fail(statement.error());
  auto status = statement->execute(sql);
  if (!status) {
    core::Error error = status.error();
    error.message = fmt::format("{} (in: {})", error.message, sql.substr(0, 120));
    return core::fail(std::move(error));
  }
  return {};
}

core::Result<Prepared> SqlSession::prepare(const std::string& sql) {
  auto statement = connection_.statement();
  if (!statement) return core::fail(statement.error());
  if (!odbc::succeeded(SQLPrepare(statement->get(), reinterpret_cast<SQLCHAR*>(const_cast<char*>(sql.c_str())),
                                  static_cast<SQLINTEGER>(sql.size())))) {
    core::Error error = odbc::makeError("preparing", SQL_HANDLE_STMT, statement->get());
    error.message = fmt::format("{} (in: {})", error.message, sql.substr(0, 120));
    return core::fail(std::move(error));
  }
  return Prepared(std::move(*statement));
}

core::Result<std::vector<Row>> SqlSession::query(const std::string& sql) {
  auto statement = connection_.statement();
  if (!statement) return core::fail(statement.error());
  if (auto status = statement->execute(sql); !status) return core::fail(status.error());
  SQLSMALLINT columns = 0;
  if (!odbc::succeeded(SQLNumResultCols(statement->get(), &columns))) {
    return core::fail(odbc::makeError("counting result columns", SQL_HANDLE_STMT, statement->get()));
  }
  std::vector<Row> rows;
  while (true) {
    auto more = statement->fetch();
    if (!more) return core::fail(more.error());
    if (!*more) break;
    Row row;
    row.reserve(static_cast<size_t>(columns));
    for (SQLSMALLINT c = 1; c <= columns; ++c) {
      auto text = statement->getText(static_cast<SQLUSMALLINT>(c));
      if (!text) return core::fail(text.error());
      row.push_back(std::move(*text));
    }
    rows.push_back(std::move(row));
  }
  return rows;
}

core::Status SqlSession::commit() {
  if (!odbc::succeeded(SQLEndTran(SQL_HANDLE_DBC, connection_.get(), SQL_COMMIT))) {
    return core::fail(odbc::makeError("committing", SQL_HANDLE_DBC, connection_.get()));
  }
  return {};
}

core::Status SqlSession::rollback() {
  if (!odbc::succeeded(SQLEndTran(SQL_HANDLE_DBC, connection_.get(), SQL_ROLLBACK))) {
    return core::fail(odbc::makeError("rolling back", SQL_HANDLE_DBC, connection_.get()));
  }
  return {};
}

}  // namespace dutybridge::sim
