#pragma once
// Secret references inside configuration strings, resolved at load time:
//   ${env:NAME}   environment variable NAME
//   ${file:/path} contents of a file (one trailing newline removed)
//   ${cred:NAME}  systemd credential: $CREDENTIALS_DIRECTORY/NAME (LoadCredential=)
// "$${" stands for a literal "${". A string that contained a reference is marked secret and
// is never printed: echoes show "<redacted>", errors name the reference, never its value.

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "src/core/error.h"

namespace dutybridge::schema {

struct ResolvedString {
  std::string text;
  bool secret = false;
};

class SecretResolver {
 public:
  using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

  // Reads the real process environment.
  SecretResolver();
  explicit SecretResolver(EnvLookup env) : env_(std::move(env)) {}

  // InvalidConfig errors name the reference (e.g. "environment variable PG_PASSWORD is not set").
  // Every resolved value is registered with redact::registerSecret, so no log line or
  // diagnostic prints it afterwards.
  core::Result<ResolvedString> resolve(std::string_view text) const;

 private:
  core::Result<std::string> lookup(std::string_view scheme, std::string_view name) const;
  core::Result<std::string> lookupValue(std::string_view scheme, std::string_view name) const;
  EnvLookup env_;
};

}  // namespace dutybridge::schema
