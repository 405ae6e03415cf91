#pragma once
// Error values shared by every module. Runtime failures travel as std::expected<T, Error>;
// exceptions from third-party libraries are caught where they arise and turned into these.

#include <expected>
#include <string>
#include <string_view>
#include <utility>

namespace dutybridge::core {

enum class ErrorKind {
  // The configuration (or a mapping) is wrong; found at start-up or reload, never at run time.
  InvalidConfig,
  // Transient: a broker or database is unreachable, a queue is full. Retry with backoff.
  Retryable,
  // This record or request cannot succeed, however often it is retried (bad value, contract
  // violation). The record goes to the dead-letter path; the pipeline goes on.
  Permanent,
  // The component cannot go on (fenced producer, corrupted state). Stop the pipeline and exit
  // non-zero so the service manager restarts the daemon.
  Fatal,
  // The current transaction cannot commit (a record of it failed, the coordinator aborted it):
  // abort it and resume from the last committed state. Only transactional sinks return it.
  Abortable,
};

std::string_view toString(ErrorKind kind);

struct Error {
  ErrorKind kind = ErrorKind::Permanent;
  std::string message;

  static Error invalidConfig(std::string message) { return {ErrorKind::InvalidConfig, std::move(message)}; }
  static Error retryable(std::string message) { return {ErrorKind::Retryable, std::move(message)}; }
  static Error permanent(std::string message) { return {ErrorKind::Permanent, std::move(message)}; }
  static Error fatal(std::string message) { return {ErrorKind::Fatal, std::move(message)}; }

  // "retryable: connection refused"
  std::string describe() const;
};

template <class T>
using Result = std::expected<T, Error>;

using Status = std::expected<void, Error>;

inline std::unexpected<Error> fail(Error error) { return std::unexpected<Error>(std::move(error)); }
inline std::unexpected<Error> fail(ErrorKind kind, std::string message) {
  return std::unexpected<Error>(Error{kind, std::move(message)});
}

}  // namespace dutybridge::core
