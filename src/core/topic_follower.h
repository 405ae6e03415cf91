#pragma once
// A live reader of one topic for the daemon's own sites (the shop-floor board): every partition
// from a point in time on, then whatever arrives, without a consumer group (nothing is committed;
// a restart reads from the point in time again). Only committed transactional messages are
// returned (read_committed), so an aborted revision never shows.
//
// Implemented by connectors/kafka (kafka_topic_follower.h); the board receives it through a
// factory from the binary, so src/ stays free of rdkafka.h.
//
// Threading: one thread polls (the reader's own). Errors: poll() returns Retryable while the
// cluster does not answer or the topic does not exist yet (the caller waits and polls again),
// Fatal for a client that librdkafka declared unusable. Messages name the topic and the
// cluster, never keys or values.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/core/error.h"

namespace dutybridge::core {

struct FollowedMessage {
  std::string key;
  std::optional<std::string> value;  // nullopt: a tombstone
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp_unix_ms = 0;
};

class TopicFollower {
 public:
  virtual ~TopicFollower() = default;
  // Waits up to `wait` for messages; returns those that came (possibly none).
  virtual Result<std::vector<FollowedMessage>> poll(std::chrono::milliseconds wait) = 0;
  // True once every partition was read up to the end it had when reading began.
  virtual bool caughtUp() const = 0;
};

// Opens a follower of `topic` from the first message at or after `from_unix_ms` in every
// partition. InvalidConfig for settings librdkafka refuses; never connects.
using TopicFollowerFactory =
    std::function<Result<std::unique_ptr<TopicFollower>>(const std::string& topic, int64_t from_unix_ms)>;

}  // namespace dutybridge::core
