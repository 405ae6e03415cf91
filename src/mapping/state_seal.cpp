#include "src/mapping/state_seal.h"

#include <fmt/format.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "src/aggregate/aggregator.h"
#include "src/expr/expr.h"

namespace dutybridge::mapping {
namespace {

constexpr size_t kNonceBytes = 12;
constexpr size_t kTagBytes = 16;

std::string hmacRaw(std::string_view key, std::string_view text) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(text.data()),
       text.size(), out, &length);
  return std::string(reinterpret_cast<const char*>(out), length);
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::optional<std::string> unbase64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out(3 * text.size() / 4, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0) return std::nullopt;
  size_t padding = text.ends_with("==") ? 2 : text.ends_with("=") ? 1 : 0;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

struct CipherFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Cipher = std::unique_ptr<EVP_CIPHER_CTX, CipherFree>;

std::string_view prefixOf(std::string_view key) {
  return key.substr(0, 2);
}

}  // namespace

StateSeal::StateSeal(std::string_view secret)
    : identity_key_(hmacRaw(secret, "dutybridge state identity v1")),
      cipher_key_(hmacRaw(secret, "dutybridge state encryption v1")) {}

bool StateSeal::sealable(std::string_view key) {
  return key.starts_with("s/") || key.starts_with("w/") || key.starts_with("q/");
}

bool StateSeal::isSealed(std::string_view key) {
  return sealable(key) && key.size() > 2 && key[2] == '~';
}

std::string StateSeal::sealKey(std::string_view clear_key) const {
  return std::string(prefixOf(clear_key)) + "~" + expr::hmacSha256Hex(identity_key_, clear_key);
}

core::StateEntry StateSeal::seal(const core::StateEntry& clear) const {
  if (!sealable(clear.key)) return clear;
  core::StateEntry out{sealKey(clear.key), std::string()};
  if (clear.value.empty()) return out;  // a tombstone deletes the sealed key

  const std::string plain = nlohmann::json{{"k", clear.key}, {"v", clear.value}}.dump();
  std::string sealed(kNonceBytes + plain.size() + kTagBytes, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(sealed.data());
  // RAND_bytes and the EVP calls fail only when OpenSSL itself is broken (no entropy source,
  // out of memory); storing the entry in clear would defeat the point, so that is a crash.
  Cipher cipher(EVP_CIPHER_CTX_new());
  int length = 0;
  if (RAND_bytes(bytes, kNonceBytes) != 1 || !cipher ||
      EVP_EncryptInit_ex(cipher.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(cipher_key_.data()), bytes) != 1 ||
      EVP_EncryptUpdate(cipher.get(), bytes + kNonceBytes, &length,
                        reinterpret_cast<const unsigned char*>(plain.data()), static_cast<int>(plain.size())) != 1 ||
      EVP_EncryptFinal_ex(cipher.get(), bytes + kNonceBytes + length, &length) != 1 ||
      EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, bytes + kNonceBytes + plain.size()) != 1) {
    std::abort();
  }
  nlohmann::json value{{"sealed", 1}};
  if (clear.key.starts_with("w/")) {
    if (auto closed = aggregate::Aggregator::storedWindowClosed(clear.value)) value["closed"] = *closed;
  } else if (clear.key.starts_with("q/")) {
    auto held = nlohmann::json::parse(clear.value, nullptr, /*allow_exceptions=*/false);
    if (held.is_object() && held.contains("since")) value["since"] = held["since"];
  }
  value["enc"] = base64(sealed);
  out.value = value.dump();
  return out;
}

core::Result<core::StateEntry> StateSeal::open(const core::StateEntry& stored) const {
  auto damaged = [&](std::string_view why) {
    return core::fail(core::Error::fatal(fmt::format(
        "state entry {} is sealed and cannot be opened ({}): it was stored with another kafka.state_key, or is "
        "damaged; configure the key it was stored with, or reset this pipeline's state",
        stored.key, why)));
  };
  auto value = nlohmann::json::parse(stored.value, nullptr, /*allow_exceptions=*/false);
  if (!value.is_object() || !value.contains("enc") || !value["enc"].is_string()) return damaged("no sealed value");
  auto sealed = unbase64(value["enc"].get<std::string>());
  if (!sealed || sealed->size() < kNonceBytes + kTagBytes) return damaged("not base64 of a sealed value");
  const size_t text_size = sealed->size() - kNonceBytes - kTagBytes;
  auto* bytes = reinterpret_cast<unsigned char*>(sealed->data());
  std::string plain(text_size, '\0');
  Cipher cipher(EVP_CIPHER_CTX_new());
  int length = 0;
  if (!cipher ||
      EVP_DecryptInit_ex(cipher.get(), EVP_aes_256_gcm(), nullptr,
                         reinterpret_cast<const unsigned char*>(cipher_key_.data()), bytes) != 1 ||
      EVP_DecryptUpdate(cipher.get(), reinterpret_cast<unsigned char*>(plain.data()), &length, bytes + kNonceBytes,
                        static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(cipher.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, bytes + kNonceBytes + text_size) != 1 ||
      EVP_DecryptFinal_ex(cipher.get(), reinterpret_cast<unsigned char*>(plain.data()) + length, &length) != 1) {
    return damaged("authentication failed");
  }
  auto inner = nlohmann::json::parse(plain, nullptr, /*allow_exceptions=*/false);
  if (!inner.is_object() || !inner.contains("k") || !inner.contains("v") || !inner["k"].is_string() ||
      !inner["v"].is_string()) {
    return damaged("unexpected content");
  }
  core::StateEntry clear{inner["k"].get<std::string>(), inner["v"].get<std::string>()};
  // A sealed value moved under another key would restore a row under the wrong identity.
  if (sealKey(clear.key) != stored.key) return damaged("key does not match its content");
  return clear;
}

}  // namespace dutybridge::mapping
