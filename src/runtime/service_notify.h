#pragma once
// Telling systemd how the daemon is doing (sd_notify(3), libsystemd): READY=1 once every
// pipeline is ready, STATUS= lines for `systemctl status`, RELOADING=1 and READY=1 around a
// reload, STOPPING=1 on a graceful stop, WATCHDOG=1 while healthy. Without NOTIFY_SOCKET (run
// by hand, in a container without systemd) every call does nothing.

#include <chrono>
#include <optional>
#include <string_view>

namespace dutybridge::runtime {

class ServiceNotifier {
 public:
  // Reads NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID as the service manager set them.
  ServiceNotifier();

  // NOTIFY_SOCKET is set: a service manager listens.
  bool active() const { return active_; }
  // WATCHDOG_USEC, when the watchdog is on for this process: WATCHDOG=1 is due at least this often.
  std::optional<std::chrono::microseconds> watchdogTimeout() const { return watchdog_; }

  void ready() const;
  void reloading() const;  // RELOADING=1 with MONOTONIC_USEC (systemd 253 and later use it)
  void stopping() const;
  void status(std::string_view line) const;
  void watchdog() const;

 private:
  void send(std::string_view message) const;

  bool active_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
};

}  // namespace dutybridge::runtime
