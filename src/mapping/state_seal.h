#pragma once
// Keeps personal values out of the state topic in clear. A stateful mapping (aggregate or
// quarantine) whose input has personal fields stores row identities, window groups, measure
// inputs and held records; the state topic is read by whoever can read the broker, and it is
// compacted, so it keeps them for as long as the rows live. With a state key (the daemon's
// `kafka.state_key`), every "s/", "w/" and "q/" entry is sealed before it is stored:
//
//   key    "s/~<hex>": the prefix, then HMAC-SHA256(identity key, whole clear key) in hex.
//          Deterministic, so a row stored before a restart is replaced (and deleted) under the
//          same key after it; compaction keeps working.
//   value  {"sealed":1,"enc":"<base64 nonce|ciphertext|tag>"}: AES-256-GCM (random 96-bit
//          nonce) of {"k": clear key, "v": clear value}. "w/" values also keep "closed" and
//          "q/" values "since" in clear (neither is personal): `dutybridge status` counts open
//          windows without the key.
//
// The identity and encryption keys are derived from the configured key (HMAC-SHA256 with a
// purpose label), so one secret serves both and neither is used for two things.
// Tombstones (empty values) stay empty. Entries of other kinds ("x/through") pass through.
//
// Threading: immutable after construction; any thread.

#include <optional>
#include <string>
#include <string_view>

#include "src/core/error.h"
#include "src/core/state_store.h"

namespace dutybridge::mapping {

class StateSeal {
 public:
  explicit StateSeal(std::string_view secret);

  // Whether this kind of entry is sealed ("s/", "w/", "q/").
  static bool sealable(std::string_view key);
  // Whether a stored entry is in sealed form (its key carries a digest).
  static bool isSealed(std::string_view key);

  core::StateEntry seal(const core::StateEntry& clear) const;
  std::string sealKey(std::string_view clear_key) const;
  // The clear entry of a sealed one; Fatal when it was sealed with another key or is damaged
  // (the message names the stored key only: it is a digest).
  core::Result<core::StateEntry> open(const core::StateEntry& sealed) const;

 private:
  std::string identity_key_;
  std::string cipher_key_;
};

}  // namespace dutybridge::mapping
