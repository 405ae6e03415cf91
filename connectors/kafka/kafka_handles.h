#pragma once
// RAII owners for librdkafka handles and a configuration builder that turns librdkafka's
// errstr into InvalidConfig errors. Properties whose names suggest secrets (password, secret,
// key) are never echoed in errors.

#include <librdkafka/rdkafka.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "src/core/error.h"

namespace dutybridge::kafka {

struct KafkaDeleter {
  void operator()(rd_kafka_t* handle) const { rd_kafka_destroy(handle); }
};
struct ConfDeleter {
  void operator()(rd_kafka_conf_t* conf) const { rd_kafka_conf_destroy(conf); }
};
struct TopicPartitionListDeleter {
  void operator()(rd_kafka_topic_partition_list_t* list) const { rd_kafka_topic_partition_list_destroy(list); }
};
struct MessageDeleter {
  void operator()(rd_kafka_message_t* message) const { rd_kafka_message_destroy(message); }
};

using KafkaHandle = std::unique_ptr<rd_kafka_t, KafkaDeleter>;
using MessagePtr = std::unique_ptr<rd_kafka_message_t, MessageDeleter>;
using PartitionList = std::unique_ptr<rd_kafka_topic_partition_list_t, TopicPartitionListDeleter>;

class KafkaConfig {
 public:
  KafkaConfig();
  core::Status set(const std::string& name, const std::string& value);
  core::Status setAll(const std::vector<std::pair<std::string, std::string>>& properties);
  rd_kafka_conf_t* get() const { return conf_.get(); }
  // Hands ownership to rd_kafka_new (which takes it only on success).
  rd_kafka_conf_t* release() { return conf_.release(); }

 private:
  std::unique_ptr<rd_kafka_conf_t, ConfDeleter> conf_;
};

core::Result<KafkaHandle> createClient(rd_kafka_type_t type, KafkaConfig config);

core::Error kafkaError(rd_kafka_resp_err_t err, std::string_view what);

}  // namespace dutybridge::kafka
