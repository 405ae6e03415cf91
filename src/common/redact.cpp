#include "src/common/redact.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <mutex>
#include <set>

namespace dutybridge::redact {
namespace {

std::mutex g_mutex;
// Longest first, so a secret that contains another is masked whole.
struct LongerFirst {
  bool operator()(const std::string& a, const std::string& b) const {
    return a.size() != b.size() ? a.size() > b.size() : a < b;
  }
};
std::set<std::string, LongerFirst>& secrets() {
  static std::set<std::string, LongerFirst> values;
  return values;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

bool isNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-'; }

bool endsValue(char c) {
  return c == ';' || c == ',' || c == '"' || c == '\'' || c == '}' || std::isspace(static_cast<unsigned char>(c));
}

}  // namespace

void registerSecret(std::string_view value) {
  if (value.size() < kMinSecretLength) return;
  std::lock_guard lock(g_mutex);
  secrets().emplace(value);
}

std::string maskSecrets(std::string_view text) {
  std::string out(text);
  std::lock_guard lock(g_mutex);
  for (const auto& secret : secrets()) {
    for (size_t at = out.find(secret); at != std::string::npos; at = out.find(secret, at + kMask.size())) {
      out.replace(at, secret.size(), kMask);
    }
  }
  return out;
}

std::string maskPasswordAssignments(std::string_view text) {
  // A name is password-like when any dotted part is ("sasl.password", "sasl.password.typo").
  static constexpr std::array<std::string_view, 7> kKeys = {"pwd", "password", "passwd", "secret", "token",
                                                           "apikey", "api_key"};
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (!isNameChar(text[i]) || (i > 0 && isNameChar(text[i - 1]))) {
      out += text[i++];
      continue;
    }
    size_t end = i;
    while (end < text.size() && isNameChar(text[end])) ++end;
    std::string_view name = text.substr(i, end - i);
    out.append(name);
    i = end;
    bool password_like = false;
    for (size_t from = 0; from <= name.size() && !password_like;) {
      size_t dot = name.find('.', from);
      std::string_view part = name.substr(from, dot == std::string_view::npos ? std::string_view::npos : dot - from);
      password_like = std::any_of(kKeys.begin(), kKeys.end(), [&](std::string_view k) { return equalsIgnoreCase(part, k); });
      if (dot == std::string_view::npos) break;
      from = dot + 1;
    }
    if (!password_like) continue;
    size_t j = i;
    while (j < text.size() && text[j] == ' ') ++j;
    if (j >= text.size() || (text[j] != '=' && text[j] != ':')) continue;
    ++j;
    while (j < text.size() && text[j] == ' ') ++j;
    size_t value_end = j;
    while (value_end < text.size() && !endsValue(text[value_end])) ++value_end;
    if (value_end == j) continue;
    // A secret reference names where the secret is, not the secret: keep it readable.
    if (text.substr(j, 2) == "${") continue;
    out.append(text.substr(i, j - i));
    out.append(kMask);
    i = value_end;
  }
  return out;
}

}  // namespace dutybridge::redact
