#pragma once
// Reading whole files that configure the daemon (config, mappings, calendars, the duty catalog,
// reference CSV, secret files) without trusting what the path names. A FIFO would block the
// reader, /dev/zero or a runaway file would grow it without end: only regular files are read,
// up to a limit, and anything else is an error that names the path and the limit.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/error.h"

namespace dutybridge::files {

// Limits per kind of file; generous for real use, far below what would hurt the daemon.
inline constexpr size_t kMaxConfigBytes = 8u << 20;      // daemon config, mapping, calendars, catalog
inline constexpr size_t kMaxTableBytes = 256u << 20;    // reference-table CSV
inline constexpr size_t kMaxSecretBytes = 64u << 10;    // ${file:...} and ${cred:...}

// The whole content of `path`, a regular file of at most `max_bytes`. Errors are InvalidConfig,
// "<what> <reason>" ("secret file /run/x is not a regular file (...)"): `what` names the file
// as the caller reports it, and the content is never quoted.
core::Result<std::string> readRegularFile(const std::filesystem::path& path, size_t max_bytes, std::string_view what);

// Notes every file readRegularFile reads on this thread while it lives, with a digest of the
// content: the daemon's reload compares what loading a pipeline's mapping read (the mapping, its
// base, calendars, catalog, CSV tables) with what the running one read, to rebuild only the
// pipelines a changed file concerns. Recorders nest; the innermost one records.
class ReadRecorder {
 public:
  struct File {
    std::string path;
    std::string sha256;  // hex digest of the content as read
    bool operator==(const File&) const = default;
  };

  ReadRecorder();
  ~ReadRecorder();
  ReadRecorder(const ReadRecorder&) = delete;
  ReadRecorder& operator=(const ReadRecorder&) = delete;

  // In the order read, each path once (its first read).
  const std::vector<File>& files() const { return files_; }
  // Called by readRegularFile.
  void note(const std::filesystem::path& path, std::string_view content);

 private:
  std::vector<File> files_;
  ReadRecorder* outer_;
};

// Hex SHA-256 of `data`.
std::string sha256Hex(std::string_view data);

// "8 MiB", "64 KiB", "100 bytes": a limit as a person reads it.
std::string formatBytes(size_t bytes);

}  // namespace dutybridge::files
