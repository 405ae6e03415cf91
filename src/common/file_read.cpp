#include "src/common/file_read.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace dutybridge::files {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

core::Error refused(std::string_view what, std::string_view reason) {
  return core::Error{core::ErrorKind::InvalidConfig, fmt::format("{} {}", what, reason)};
}

thread_local ReadRecorder* current_recorder = nullptr;

}  // namespace

ReadRecorder::ReadRecorder() : outer_(current_recorder) {
  current_recorder = this;
}
ReadRecorder::~ReadRecorder() {
  current_recorder = outer_;
}

void ReadRecorder::note(const std::filesystem::path& path, std::string_view content) {
  std::string name = path.lexically_normal().string();
  if (std::ranges::any_of(files_, [&](const File& f) { return f.path == name; })) return;
  files_.push_back({std::move(name), sha256Hex(content)});
}

std::string sha256Hex(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(data.data(), data.size(), digest, &size, EVP_sha256(), nullptr);
  std::string out;
  out.reserve(size * 2);
  for (unsigned int i = 0; i < size; ++i) fmt::format_to(std::back_inserter(out), "{:02x}", digest[i]);
  return out;
}

std::string formatBytes(size_t bytes) {
  if (bytes >= (1u << 20) && bytes % (1u << 20) == 0) return fmt::format("{} MiB", bytes >> 20);
  if (bytes >= (1u << 10) && bytes % (1u << 10) == 0) return fmt::format("{} KiB", bytes >> 10);
  return fmt::format("{} bytes", bytes);
}

core::Result<std::string> readRegularFile(const std::filesystem::path& path, size_t max_bytes, std::string_view what) {
  // O_NONBLOCK: opening a FIFO without a writer returns at once instead of waiting for one;
  // the fstat below then refuses it.
  Fd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return std::unexpected(refused(what, fmt::format("cannot be read ({})", std::strerror(errno))));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return std::unexpected(refused(what, fmt::format("cannot be read ({})", std::strerror(errno))));
  }
  if (S_ISDIR(st.st_mode)) return std::unexpected(refused(what, "is a directory, not a file"));
  if (!S_ISREG(st.st_mode)) {
    return std::unexpected(
        refused(what, "is not a regular file (a pipe, socket or device would block or never end)"));
  }
  if (static_cast<unsigned long long>(st.st_size) > max_bytes) {
    return std::unexpected(
        refused(what, fmt::format("is {} bytes, over the limit of {}", static_cast<long long>(st.st_size), formatBytes(max_bytes))));
  }
  std::string text;
  text.resize(static_cast<size_t>(st.st_size));
  size_t used = 0;
  // The size can change while we read (a file being written): read to the end, never past
  // max_bytes.
  while (true) {
    if (used == text.size()) {
      if (text.size() > max_bytes) {
        return std::unexpected(refused(what, fmt::format("grew over the limit of {}", formatBytes(max_bytes))));
      }
      text.resize(std::min(max_bytes + 1, std::max<size_t>(text.size() * 2, 4096)));
    }
    ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(refused(what, fmt::format("cannot be read ({})", std::strerror(errno))));
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > max_bytes) {
    return std::unexpected(refused(what, fmt::format("grew over the limit of {}", formatBytes(max_bytes))));
  }
  text.resize(used);
  if (current_recorder) current_recorder->note(path, text);
  return text;
}

}  // namespace dutybridge::files
