#include "src/runtime/service_notify.h"

#include <systemd/sd-daemon.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "src/common/log.h"

namespace dutybridge::runtime {

ServiceNotifier::ServiceNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  active_ = socket != nullptr && *socket != '\0';
  uint64_t usec = 0;
  // > 0: on, and meant for this process (WATCHDOG_PID, when set, is ours).
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) watchdog_ = std::chrono::microseconds(usec);
}

void ServiceNotifier::send(std::string_view message) const {
  if (!active_) return;
  const std::string text(message);
  if (int rc = sd_notify(0, text.c_str()); rc < 0) {
    log::warning("daemon", "telling the service manager '{}' failed: {}", text.substr(0, text.find('=')),
                 std::strerror(-rc));
  }
}

void ServiceNotifier::ready() const {
  send("READY=1");
}

void ServiceNotifier::reloading() const {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const uint64_t usec = static_cast<uint64_t>(now.tv_sec) * 1'000'000u + static_cast<uint64_t>(now.tv_nsec) / 1000u;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void ServiceNotifier::stopping() const {
  send("STOPPING=1");
}

void ServiceNotifier::status(std::string_view line) const {
  // One line: a newline would start another assignment.
  std::string text = "STATUS=";
  for (char c : line) text.push_back(c == '\n' ? ' ' : c);
  send(text);
}

void ServiceNotifier::watchdog() const {
  send("WATCHDOG=1");
}

}  // namespace dutybridge::runtime
