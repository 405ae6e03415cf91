#pragma once
// Logging to stderr, one line per event, with a syslog priority prefix ("<6>") so journald
// keeps the level when the daemon runs under systemd. Never log personal data: no names, no
// badge numbers, no field values from records; cite source positions and counts instead.

#include <fmt/format.h>

#include <string_view>

namespace dutybridge::log {

enum class Level { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

void setLevel(Level level);
Level level();
// "error", "warning", "notice", "info", "debug"; nullopt-like false when unknown.
bool parseLevel(std::string_view text, Level& out);
inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }

void write(Level level, std::string_view component, std::string_view message);

template <class... Args>
void error(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::Error)) write(Level::Error, component, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void warning(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::Warning)) write(Level::Warning, component, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void notice(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::Notice)) write(Level::Notice, component, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void info(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::Info)) write(Level::Info, component, fmt::format(format, std::forward<Args>(args)...));
}
template <class... Args>
void debug(std::string_view component, fmt::format_string<Args...> format, Args&&... args) {
  if (enabled(Level::Debug)) write(Level::Debug, component, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace dutybridge::log
