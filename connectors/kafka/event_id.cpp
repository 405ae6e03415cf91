#include "connectors/kafka/event_id.h"

namespace dutybridge::kafka {

EventIdHasher::EventIdHasher() : context_(EVP_MD_CTX_new()), sha256_(EVP_MD_fetch(nullptr, "SHA256", nullptr)) {}

EventIdHasher::~EventIdHasher() {
  EVP_MD_CTX_free(context_);
  EVP_MD_free(sha256_);
}

bool EventIdHasher::compute(std::string_view source, std::string_view position, char* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  if (!context_ || !sha256_ || EVP_DigestInit_ex2(context_, sha256_, nullptr) != 1 ||
      EVP_DigestUpdate(context_, source.data(), source.size()) != 1 || EVP_DigestUpdate(context_, "\n", 1) != 1 ||
      EVP_DigestUpdate(context_, position.data(), position.size()) != 1 ||
      EVP_DigestFinal_ex(context_, digest, &length) != 1 || length * 2 != kHexLength) {
    return false;
  }
  for (unsigned int i = 0; i < length; ++i) {
    out[2 * i] = kHex[digest[i] >> 4];
    out[2 * i + 1] = kHex[digest[i] & 0xf];
  }
  return true;
}

}  // namespace dutybridge::kafka
