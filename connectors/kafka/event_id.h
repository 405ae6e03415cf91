#pragma once
// CloudEvents `id` for a record: hex SHA-256 of ce_source + '\n' + the record's source position.
// Deterministic, so a record sent again after a restart carries the same id and consumers can
// recognise the duplicate. OpenSSL EVP with one context reused for every record.
//
// Threading: one hasher per sink (pipeline thread); not thread-safe.

#include <openssl/evp.h>

#include <string_view>

namespace dutybridge::kafka {

class EventIdHasher {
 public:
  static constexpr size_t kHexLength = 64;

  EventIdHasher();
  ~EventIdHasher();
  EventIdHasher(const EventIdHasher&) = delete;
  EventIdHasher& operator=(const EventIdHasher&) = delete;

  // Writes kHexLength lowercase hex digits to `out`. Returns false only if OpenSSL fails.
  bool compute(std::string_view source, std::string_view position, char* out);

 private:
  EVP_MD_CTX* context_;
  EVP_MD* sha256_;
};

}  // namespace dutybridge::kafka
