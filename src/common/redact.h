#pragma once
// Keeping secrets out of everything the daemon prints. Secret values resolved from the
// configuration (${env:}, ${file:}, ${cred:}) are registered here, and every log line and
// diagnostic passes through maskSecrets(), whatever produced the text (our code, librdkafka,
// an ODBC driver quoting a connection string). Source excerpts of diagnostics also pass through
// maskPasswordAssignments(), for passwords written literally into a file.
//
// Threading: all functions may be called from any thread.

#include <string>
#include <string_view>

namespace dutybridge::redact {

inline constexpr std::string_view kMask = "***";

// Values shorter than this are not masked: a two-letter secret would turn every matching pair of
// letters in every line into a mask (such a secret is weak anyway; docs/security.md says so).
inline constexpr size_t kMinSecretLength = 4;

void registerSecret(std::string_view value);

// `text` with every registered secret value replaced by kMask.
std::string maskSecrets(std::string_view text);

// `text` with the value of password-like assignments replaced by kMask: `pwd=...`,
// `password=...`, `sasl.password: ...`, `token=...` (case-insensitive; a dotted name is
// password-like when any of its parts is), up to the next `;`, `,`, whitespace, quote or
// closing brace.
std::string maskPasswordAssignments(std::string_view text);

}  // namespace dutybridge::redact
