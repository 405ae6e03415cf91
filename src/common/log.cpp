#include "src/common/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>
#include <string>

#include "src/common/redact.h"

namespace dutybridge::log {
namespace {

std::atomic<int> g_level{static_cast<int>(Level::Info)};
std::mutex g_write_mutex;

}  // namespace

void setLevel(Level l) { g_level.store(static_cast<int>(l)); }

Level level() { return static_cast<Level>(g_level.load()); }

bool parseLevel(std::string_view text, Level& out) {
  if (text == "error") out = Level::Error;
  else if (text == "warning") out = Level::Warning;
  else if (text == "notice") out = Level::Notice;
  else if (text == "info") out = Level::Info;
  else if (text == "debug") out = Level::Debug;
  else return false;
  return true;
}

void write(Level l, std::string_view component, std::string_view message) {
  // Whatever the message quotes (a librdkafka error echoing a property, an ODBC driver echoing
  // a connection string), a resolved secret never reaches the log.
  std::string line = redact::maskSecrets(fmt::format("<{}>{}: {}\n", static_cast<int>(l), component, message));
  std::lock_guard lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace dutybridge::log
