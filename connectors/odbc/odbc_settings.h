#pragma once
// Settings the odbc source and sink share, declared once (core::SettingsSchema groups): the
// connection string and the login timeout.

#include <chrono>
#include <string>

#include "src/core/settings.h"

namespace dutybridge::odbc {

struct ConnectionSettings {
  std::string connection;  // secret: never logged (it may hold Pwd=)
  std::chrono::microseconds connect_timeout{};
};

// `connection` (required, secret) and `connect_timeout`.
const core::SettingsSchema<ConnectionSettings>& connectionSettings();

}  // namespace dutybridge::odbc
