#pragma once
// Processes and time for tests that run binaries: shell commands with their output, the
// dutybridge daemon as a child process, free TCP ports, and polling with a deadline.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/files.h"

extern char** environ;

namespace dutybridge::testing {

struct Outcome {
  int status = -1;     // the exit status; 128 + the signal when killed
  std::string output;  // what the command wrote to stdout (add 2>&1 for stderr too)
};

// Runs a shell command; fails the test when it cannot be started.
inline Outcome runShell(const std::string& command) {
  Outcome out;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[65536];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.output.append(buffer, n);
  int status = pclose(pipe);
  out.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  return out;
}

// A TCP port on 127.0.0.1 where nothing listens (at the moment of asking).
inline int freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  ::close(fd);
  return ntohs(address.sin_port);
}

inline double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Polls `done` every 100 ms until it is true or the timeout passes; returns whether it was.
template <typename F>
bool waitFor(F done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return true;
}

// A dutybridge binary run as a user runs it (`run -c config [--once]`); stderr (the log) goes to
// a file, stdout to /dev/null. Killed (SIGKILL) at the end if still running.
class Daemon {
 public:
  Daemon(const std::filesystem::path& binary, const std::filesystem::path& config, const std::filesystem::path& log,
         bool once)
      : log_(log) {
    std::vector<std::string> args = {binary.string(), "run", "-c", config.string()};
    if (once) args.push_back("--once");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    REQUIRE(posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  void signal(int number) { REQUIRE(kill(pid_, number) == 0); }
  pid_t pid() const { return pid_; }

  // Exit status; -signal when killed. Fails the test if it runs past the timeout.
  int wait(std::chrono::seconds timeout = std::chrono::seconds(300)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      rusage usage{};
      pid_t done = wait4(pid_, &status, WNOHANG, &usage);
      if (done == pid_) {
        pid_ = -1;
        cpu_seconds_ = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
        peak_rss_mib_ = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
        return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        INFO(readFile(log_));
        FAIL("dutybridge did not exit in time");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  bool running() {
    int status = 0;
    return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
  }

  // User + system CPU seconds the process used; known once wait() has returned.
  double cpuSeconds() const { return cpu_seconds_; }
  // Peak resident set size in MiB; known once wait() has returned.
  double peakRssMiB() const { return peak_rss_mib_; }

 private:
  pid_t pid_ = -1;
  double cpu_seconds_ = 0;
  double peak_rss_mib_ = 0;
  std::filesystem::path log_;
};

}  // namespace dutybridge::testing
