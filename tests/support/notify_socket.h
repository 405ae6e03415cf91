#pragma once
// A service manager's notification socket, as systemd makes one for a Type=notify service:
// an AF_UNIX datagram socket whose path goes into NOTIFY_SOCKET. Every datagram the daemon
// sends (READY=1, STATUS=..., WATCHDOG=1, RELOADING=1, STOPPING=1) is kept with its arrival
// time, one entry per assignment line.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace dutybridge::testing {

class NotifySocket {
 public:
  struct Message {
    std::string line;  // "READY=1", "STATUS=3 pipelines running, ..."
    std::chrono::steady_clock::time_point at;
  };

  explicit NotifySocket(std::filesystem::path path) : path_(std::move(path)) {
    std::filesystem::remove(path_);
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    REQUIRE(path_.string().size() < sizeof(address.sun_path));
    std::strncpy(address.sun_path, path_.c_str(), sizeof(address.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
    reader_ = std::thread([this] { read(); });
  }
  ~NotifySocket() {
    done_ = true;
    reader_.join();
    ::close(fd_);
    std::filesystem::remove(path_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::filesystem::path& path() const { return path_; }

  std::vector<Message> messages() const {
    std::lock_guard lock(mutex_);
    return messages_;
  }
  size_t count(const std::string& line) const {
    size_t n = 0;
    for (const auto& m : messages()) n += m.line == line ? 1 : 0;
    return n;
  }
  // Waits until a message that starts with `prefix` arrived after the first `skip` messages;
  // its index, or -1 at the timeout.
  long waitFor(const std::string& prefix, std::chrono::milliseconds timeout, size_t skip = 0) const {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      {
        std::lock_guard lock(mutex_);
        for (size_t i = skip; i < messages_.size(); ++i) {
          if (messages_[i].line.starts_with(prefix)) return static_cast<long>(i);
        }
      }
      if (std::chrono::steady_clock::now() > deadline) return -1;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  std::string dump() const {
    std::string out;
    for (const auto& m : messages()) out += m.line + "\n";
    return out;
  }

 private:
  void read() {
    char buffer[4096];
    while (!done_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) continue;
      const auto now = std::chrono::steady_clock::now();
      std::string text(buffer, static_cast<size_t>(n));
      std::lock_guard lock(mutex_);
      size_t start = 0;
      while (start < text.size()) {
        size_t end = text.find('\n', start);
        if (end == std::string::npos) end = text.size();
        if (end > start) messages_.push_back({text.substr(start, end - start), now});
        start = end + 1;
      }
    }
  }

  std::filesystem::path path_;
  int fd_ = -1;
  std::atomic<bool> done_{false};
  std::thread reader_;
  mutable std::mutex mutex_;
  std::vector<Message> messages_;
};

// Sets an environment variable for the scope (children spawned meanwhile inherit it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace dutybridge::testing
