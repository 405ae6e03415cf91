#include "connectors/odbc/odbc_table_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <climits>

#include "connectors/odbc/odbc_settings.h"
#include "src/core/settings.h"
#include "src/odbc/odbc_handles.h"

namespace dutybridge::connectors {
namespace {

using core::FieldSpec;
using core::FieldType;

// What an `odbc:` table block says (tableSettings() binds every field).
struct TableSettings {
  odbc::ConnectionSettings link;
  std::string query;
  std::chrono::seconds timeout{};
};

const core::SettingsSchema<TableSettings>& tableSettings() {
  static const core::SettingsSchema<TableSettings> settings = [] {
    core::SettingsSchema<TableSettings> s;
    s.group(odbc::connectionSettings(), &TableSettings::link);
    s.field(FieldSpec::make("query", FieldType::String)
                .req()
                .doc("The SELECT whose rows are the table; the table's key, value, valid_from and valid_to name "
                     "its columns (default: the first two). Every column is read as text."),
            &TableSettings::query);
    s.field(FieldSpec::make("timeout", FieldType::Duration)
                .def("30s")
                .range(1'000'000, 600'000'000)
                .doc("Query timeout of each load (drivers without query timeouts ignore it)."),
            &TableSettings::timeout);
    s.check([](const core::ConfigObject& config) {
      std::vector<core::ConfigProblem> problems;
      if (config.has("query") && config.getString("query").find_first_not_of(" \t\r\n") == std::string::npos) {
        problems.push_back({"query", "'query' is empty"});
      }
      return problems;
    });
    return s;
  }();
  return settings;
}

int wholeSeconds(std::chrono::microseconds duration) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(duration).count());
}

class OdbcTableLoader final : public core::TableLoader {
 public:
  OdbcTableLoader(std::string table, TableSettings settings)
      : table_(std::move(table)),
        connection_(std::move(settings.link.connection)),
        query_(std::move(settings.query)),
        connect_timeout_seconds_(wholeSeconds(settings.link.connect_timeout)),
        timeout_seconds_(static_cast<int>(settings.timeout.count())) {}

  core::Result<core::RawTable> load() override {
    auto env = odbc::Environment::create();
    if (!env) return fail(env.error());
    auto connection = odbc::Connection::connect(*env, connection_, connect_timeout_seconds_);
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

    core::RawTable table;
    table.columns = std::move(*names);
    const std::string file = "odbc:" + table_;
    while (true) {
      auto more = statement->fetch();
      if (!more) return fail(more.error());
      if (!*more) break;
      if (table.rows.size() >= core::kMaxTableRows) {
        return fail(core::Error::permanent(fmt::format("the query returns more than {} rows", core::kMaxTableRows)));
      }
      core::RawTable::Row row;
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
      if (!space)
        text += c;
      else if (text.back() != ' ')
        text += ' ';
    }
    while (text.back() == ' ') text.pop_back();
    error.message = std::move(text);
    return core::fail(std::move(error));
  }

  std::string table_;
  std::string connection_;
  std::string query_;
  int connect_timeout_seconds_;
  int timeout_seconds_;
};

class OdbcTableSourceFactory final : public core::TableSourceFactory {
 public:
  std::string_view name() const override { return "odbc"; }
  std::string_view description() const override {
    return "A mapping's reference table from one SELECT over ODBC, run at start-up and on every refresh (a fresh "
           "connection each time); every column read as text.";
  }
  const core::ConfigSchema& configSchema() const override { return tableSettings().schema(); }

  core::Result<std::unique_ptr<core::TableLoader>> create(const core::ConfigObject& config,
                                                          const core::TableSourceContext& context) const override {
    auto settings = tableSettings().read(config);
    if (!settings) return core::fail(settings.error());
    return std::make_unique<OdbcTableLoader>(context.table, std::move(*settings));
  }
};

}  // namespace

void registerOdbcTableSource(core::Registry& registry) {
  registry.add(std::make_unique<OdbcTableSourceFactory>());
}

}  // namespace dutybridge::connectors
