#include "connectors/odbc/odbc_table_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include "connectors/common/table_settings.h"
#include "src/odbc/odbc_handles.h"

namespace dutybridge::connectors {
namespace {

using namespace std::chrono_literals;

class OdbcTableLoader final : public expr::TableLoader {
 public:
  OdbcTableLoader(std::string table, std::string connection, std::string query, std::chrono::milliseconds timeout)
      : table_(std::move(table)),
        connection_(std::move(connection)),
        query_(std::move(query)),
        timeout_seconds_(static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(timeout).count())) {}

  core::Result<expr::RawTable> load() override {
    auto env = odbc::Environment::create();
    if (!env) return fail(env.error());
    auto connection = odbc::Connection::connect(*env, connection_, timeout_seconds_);
    if (!connection) return fail(connection.error());
    auto statement = connection->statement();
    if (!statement) return fail(statement.error());
    // Best effort: drivers without query timeouts answer 01S02/HYC00, which is harmless.
    SQLSetStmtAttr(statement->get(), SQL_ATTR_QUERY_TIMEOUT,
                   reinterpret_cast<SQLPOINTER>(static_cast<SQLULEN>(timeout_seconds_)), 0);
    if (auto executed = statement->execute(query_); !executed) return fail(executed.error());
    auto names = statement->columnNames();
    if (!names) return fail(names.error());
    if (names->empty()) return fail(core::Error::permanent("the query returns no result set (is it a SELECT?)"));

    expr::RawTable table;
    table.columns = std::move(*names);
    const std::string file = "odbc:" + table_;
    while (true) {
      auto more = statement->fetch();
      if (!more) return fail(more.error());
      if (!*more) break;
      if (table.rows.size() >= expr::kMaxTableRows) {
        return fail(core::Error::permanent(fmt::format("the query returns more than {} rows", expr::kMaxTableRows)));
      }
      expr::RawTable::Row row;
      row.where = core::SourceLocation{file, static_cast<int>(std::min<size_t>(table.rows.size() + 1, INT_MAX)), 1, ""};
      row.cells.reserve(table.columns.size());
      for (size_t c = 1; c <= table.columns.size(); ++c) {
        auto cell = statement->getText(static_cast<SQLUSMALLINT>(c));
        if (!cell) return fail(cell.error());
        row.cells.push_back(std::move(*cell));
      }
      table.rows.push_back(std::move(row));
    }
    return table;
  }

  std::string describe() const override { return "odbc query of table " + table_; }

 private:
  // Drivers put line breaks into diagnostics (psqlODBC: "...failed: Connection refused\n\tIs the
  // server running..."); the message becomes one log line and one diagnostic line.
  std::unexpected<core::Error> fail(core::Error error) const {
    std::string text = "odbc: ";
    for (char c : error.message) {
      bool space = c == '\n' || c == '\r' || c == '\t';
      if (!space) text += c;
      else if (text.back() != ' ') text += ' ';
    }
    while (text.back() == ' ') text.pop_back();
    error.message = std::move(text);
    return core::fail(std::move(error));
  }

  std::string table_;
  std::string connection_;
  std::string query_;
  int timeout_seconds_;
};

}  // namespace

core::Result<std::unique_ptr<expr::TableLoader>> makeOdbcTableLoader(const expr::TableSourceConfig& config) {
  if (auto known = checkTableSettings(config, {"connection", "query", "timeout"}); !known) {
    return core::fail(known.error());
  }
  auto connection = requiredTableSetting(config, "connection");
  if (!connection) return core::fail(connection.error());
  auto query = requiredTableSetting(config, "query");
  if (!query) return core::fail(query.error());
  auto timeout = tableDuration(config, "timeout", 30s, 1s, 10min);
  if (!timeout) return core::fail(timeout.error());
  return std::unique_ptr<expr::TableLoader>(
      std::make_unique<OdbcTableLoader>(config.table, std::move(*connection), std::move(*query), *timeout));
}

void registerOdbcTableLoader(expr::TableLoaderRegistry& registry) {
  registry.add("odbc", makeOdbcTableLoader);
}

}  // namespace dutybridge::connectors
