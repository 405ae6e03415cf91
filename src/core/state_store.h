#pragma once
// StateStore: durable key/value state the daemon needs across restarts: source cursors now,
// window state and quarantine later. The production store is a compacted Kafka topic
// (`dutybridge.state`, one key per pipeline and purpose); tests use an in-memory store.
//
// Threading: implementations are thread-safe; pipelines call them from their worker threads.
// Ownership: values are copied in and out.
// Durability: put() may buffer; the value is durable when flush() returns success.
// Errors: Retryable while the backing store is unreachable; Fatal when state cannot be trusted.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/error.h"

namespace dutybridge::core {

// One state entry: key -> value; an empty value deletes the key.
struct StateEntry {
  std::string key;
  std::string value;
};

class StateStore {
 public:
  virtual ~StateStore() = default;

  // Latest value stored under key (after restore at start-up), or nullopt.
  virtual Result<std::optional<std::string>> get(std::string_view key) = 0;
  virtual Status put(std::string_view key, std::string value) = 0;
  virtual Status flush(std::chrono::steady_clock::time_point deadline) = 0;
  // Records entries someone else made durable in the state topic (a transactional sink commits
  // a pipeline's cursor and state in its own transaction): later get()/scan() see them, nothing
  // is written.
  virtual void remember(const std::vector<StateEntry>& entries) = 0;
  // Every live entry whose key starts with prefix (window state of one pipeline, say).
  virtual Result<std::vector<std::pair<std::string, std::string>>> scan(std::string_view prefix) = 0;
  // When the live value under key was stored (Unix ms), for the age `status` shows: the state
  // topic's message timestamp for restored entries, the time of put()/remember() for later ones.
  // nullopt when the key has no value or the store does not keep times (the in-memory one).
  virtual std::optional<int64_t> storedAtUnixMs(std::string_view key) {
    (void)key;
    return std::nullopt;
  }
};

}  // namespace dutybridge::core
