#pragma once
// Reading whole files that configure the daemon (config, mappings, calendars, the duty catalog,
// reference CSV, secret files) without trusting what the path names. A FIFO would block the
// reader, /dev/zero or a runaway file would grow it without end: only regular files are read,
// up to a limit, and anything else is an error that names the path and the limit.

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

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

// "8 MiB", "64 KiB", "100 bytes": a limit as a person reads it.
std::string formatBytes(size_t bytes);

}  // namespace dutybridge::files
