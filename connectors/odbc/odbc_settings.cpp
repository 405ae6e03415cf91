#include "connectors/odbc/odbc_settings.h"

#include <vector>

namespace dutybridge::odbc {

using core::FieldSpec;
using core::FieldType;

const core::SettingsSchema<ConnectionSettings>& connectionSettings() {
  static const core::SettingsSchema<ConnectionSettings> settings = [] {
    core::SettingsSchema<ConnectionSettings> s;
    s.field(FieldSpec::make("connection", FieldType::String)
                .req()
                .secret()
                .doc("DSN-less ODBC connection string, e.g. \"Driver={PostgreSQL Unicode};Server=mes-db;Port=5432;"
                     "Database=mes;Uid=dutybridge;Pwd=${env:MES_DB_PASSWORD}\" or \"Driver=SQLite3;Database=/var/lib/"
                     "mes/mes.db\". Keep the password in a secret reference."),
            &ConnectionSettings::connection);
    s.field(FieldSpec::make("connect_timeout", FieldType::Duration)
                .def("10s")
                .range(1'000'000, 300'000'000)
                .doc("Login timeout for each (re)connection."),
            &ConnectionSettings::connect_timeout);
    s.check([](const core::ConfigObject& config) {
      std::vector<core::ConfigProblem> problems;
      if (config.has("connection") && config.getString("connection").find_first_not_of(" \t") == std::string::npos) {
        problems.push_back({"connection", "'connection' is empty"});
      }
      return problems;
    });
    return s;
  }();
  return settings;
}

}  // namespace dutybridge::odbc
