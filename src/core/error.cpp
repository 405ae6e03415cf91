#include "src/core/error.h"

namespace dutybridge::core {

std::string_view toString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::InvalidConfig: return "invalid-config";
    case ErrorKind::Retryable: return "retryable";
    case ErrorKind::Permanent: return "permanent";
    case ErrorKind::Fatal: return "fatal";
    case ErrorKind::Abortable: return "abortable";
  }
  return "unknown";
}

std::string Error::describe() const {
  std::string out(toString(kind));
  out += ": ";
  out += message;
  return out;
}

}  // namespace dutybridge::core
