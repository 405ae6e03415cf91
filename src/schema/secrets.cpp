#include "src/schema/secrets.h"

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "src/common/file_read.h"
#include "src/common/redact.h"

namespace dutybridge::schema {
namespace {

std::optional<std::string> processEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (!value) return std::nullopt;
  return std::string(value);
}

core::Result<std::string> readSecretFile(const std::string& path, std::string_view what) {
  auto read = files::readRegularFile(path, files::kMaxSecretBytes, what);
  if (!read) return core::fail(read.error());
  std::string text = std::move(*read);
  if (!text.empty() && text.back() == '\n') text.pop_back();
  if (!text.empty() && text.back() == '\r') text.pop_back();
  return text;
}

}  // namespace

SecretResolver::SecretResolver() : env_(processEnv) {}

core::Result<std::string> SecretResolver::lookup(std::string_view scheme, std::string_view name) const {
  auto value = lookupValue(scheme, name);
  // From here on no log line or diagnostic can print it, whoever quotes it.
  if (value) redact::registerSecret(*value);
  return value;
}

core::Result<std::string> SecretResolver::lookupValue(std::string_view scheme, std::string_view name) const {
  std::string key(name);
  if (key.empty()) return core::fail(core::ErrorKind::InvalidConfig, "empty secret reference name");
  if (scheme == "env") {
    auto value = env_(key);
    if (!value) return core::fail(core::ErrorKind::InvalidConfig, "environment variable " + key + " is not set");
    return *value;
  }
  if (scheme == "file") {
    return readSecretFile(key, "secret file " + key);
  }
  if (scheme == "cred") {
    if (key.find('/') != std::string::npos) {
      return core::fail(core::ErrorKind::InvalidConfig, "credential name " + key + " must not contain '/'");
    }
    auto dir = env_("CREDENTIALS_DIRECTORY");
    if (!dir) {
      return core::fail(core::ErrorKind::InvalidConfig,
                        "credential " + key + " requested but CREDENTIALS_DIRECTORY is not set "
                        "(use LoadCredential= in the systemd unit)");
    }
    return readSecretFile(*dir + "/" + key, "credential " + key);
  }
  return core::fail(core::ErrorKind::InvalidConfig,
                    "unknown secret reference scheme '" + std::string(scheme) + "' (use env, file or cred)");
}

core::Result<ResolvedString> SecretResolver::resolve(std::string_view text) const {
  ResolvedString out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out.text += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out.text += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return core::fail(core::ErrorKind::InvalidConfig, "unterminated secret reference '${' (write $${ for a literal)");
    }
    std::string_view body = text.substr(i + 2, close - i - 2);
    size_t colon = body.find(':');
    if (colon == std::string_view::npos) {
      return core::fail(core::ErrorKind::InvalidConfig,
                        "secret reference '${" + std::string(body) + "}' needs a scheme: ${env:NAME}, ${file:PATH} or ${cred:NAME}");
    }
    auto value = lookup(body.substr(0, colon), body.substr(colon + 1));
    if (!value) return core::fail(value.error());
    out.text += *value;
    out.secret = true;
    i = close + 1;
  }
  return out;
}

}  // namespace dutybridge::schema
