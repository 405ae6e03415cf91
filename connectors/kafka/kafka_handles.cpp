#include "connectors/kafka/kafka_handles.h"

#include <fmt/format.h>

namespace dutybridge::kafka {
namespace {

bool looksSecret(const std::string& name) {
  return name.find("password") != std::string::npos || name.find("secret") != std::string::npos ||
         name.find("key") != std::string::npos || name.find("jaas") != std::string::npos;
}

}  // namespace

KafkaConfig::KafkaConfig() : conf_(rd_kafka_conf_new()) {}

core::Status KafkaConfig::set(const std::string& name, const std::string& value) {
  char errstr[512];
  if (rd_kafka_conf_set(conf_.get(), name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    return core::fail(core::ErrorKind::InvalidConfig,
                      looksSecret(name) ? fmt::format("librdkafka property {}: invalid value", name)
                                        : fmt::format("librdkafka property {}: {}", name, errstr));
  }
  return {};
}

core::Status KafkaConfig::setAll(const std::vector<std::pair<std::string, std::string>>& properties) {
  for (const auto& [name, value] : properties) {
    if (auto status = set(name, value); !status) return status;
  }
  return {};
}

core::Result<KafkaHandle> createClient(rd_kafka_type_t type, KafkaConfig config) {
  char errstr[512];
  rd_kafka_conf_t* conf = config.release();
  rd_kafka_t* handle = rd_kafka_new(type, conf, errstr, sizeof errstr);
  if (!handle) {
    rd_kafka_conf_destroy(conf);
    return core::fail(core::ErrorKind::InvalidConfig, fmt::format("cannot create Kafka client: {}", errstr));
  }
  return KafkaHandle(handle);
}

core::Error kafkaError(rd_kafka_resp_err_t err, std::string_view what) {
  core::ErrorKind kind = core::ErrorKind::Retryable;
  switch (err) {
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR__FENCED:
    case RD_KAFKA_RESP_ERR_PRODUCER_FENCED:
    case RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH:
      kind = core::ErrorKind::Fatal;
      break;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR__MSG_TIMED_OUT:
    case RD_KAFKA_RESP_ERR_INVALID_MSG:
      kind = err == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT ? core::ErrorKind::Retryable : core::ErrorKind::Permanent;
      break;
    default:
      break;
  }
  return core::Error{kind, fmt::format("{}: {}", what, rd_kafka_err2str(err))};
}

}  // namespace dutybridge::kafka
