#pragma once
// Kafka cluster settings, declared once (core::SettingsSchema groups) and received typed:
//
// - kafkaConnectionSettings(): `bootstrap_servers` and `librdkafka`, the group every block that
//   names a cluster includes: the daemon's `kafka:` section (the cluster is required there) and
//   a mapping's `kafka:` table source (there it defaults to the daemon's section).
// - kafkaClusterSettings(): the daemon's `kafka:` section, that group plus the daemon-wide
//   client_id, state_topic and dlq_topic. src/config reads it into DaemonConfig::kafka; connectors
//   receive it as a KafkaCluster through ConnectorContext / TableSourceContext.
//
// Threading: built once (function-local statics), then read-only.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/core/settings.h"

namespace dutybridge::core {

struct KafkaConnection {
  // Comma-separated host:port list; always set where the group requires it.
  std::optional<std::string> bootstrap_servers;
  // librdkafka properties passed through (secret references resolved).
  std::vector<std::pair<std::string, std::string>> librdkafka;
};

enum class KafkaBootstrap {
  Required,          // the daemon's kafka: section
  DefaultsToDaemon,  // a block that may name its own cluster (a mapping's kafka: table)
};

const SettingsSchema<KafkaConnection>& kafkaConnectionSettings(KafkaBootstrap bootstrap);

// The daemon's `kafka:` section.
struct KafkaCluster {
  KafkaConnection connection;  // bootstrap_servers is set
  std::string client_id;
  std::string state_topic;
  std::string dlq_topic;
  // Seals the state entries of mappings with personal input fields (mapping/state_seal.h);
  // a secret reference. Absent: such a pipeline is refused at check and start.
  std::optional<std::string> state_key;

  const std::string& bootstrapServers() const { return *connection.bootstrap_servers; }
};

const SettingsSchema<KafkaCluster>& kafkaClusterSettings();

}  // namespace dutybridge::core
