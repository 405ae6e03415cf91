#include "src/core/kafka_cluster.h"

namespace dutybridge::core {
namespace {

SettingsSchema<KafkaConnection> connection(bool required) {
  SettingsSchema<KafkaConnection> s;
  const std::string servers = "Comma-separated host:port list of the Kafka cluster.";
  FieldSpec bootstrap =
      required ? FieldSpec::make("bootstrap_servers", FieldType::String).req().doc(servers)
               : FieldSpec::make("bootstrap_servers", FieldType::String)
                     .doc(servers +
                          " Default: the daemon's kafka section, whose client_id and librdkafka properties "
                          "then apply too; naming a cluster here uses only this block's settings.");
  s.field(std::move(bootstrap), &KafkaConnection::bootstrap_servers);
  s.field(FieldSpec::make("librdkafka", FieldType::StringMap)
              .def("{}")
              .doc("librdkafka properties passed through to the clients this block configures (TLS, SASL, fetch "
                   "sizes); values may be ${...} secrets. Unknown properties are configuration errors."),
          &KafkaConnection::librdkafka);
  s.check([](const ConfigObject& config) {
    std::vector<ConfigProblem> problems;
    if (config.has("bootstrap_servers") &&
        config.getString("bootstrap_servers").find_first_not_of(" \t") == std::string::npos) {
      problems.push_back({"bootstrap_servers", "'bootstrap_servers' is empty"});
    }
    return problems;
  });
  return s;
}

}  // namespace

const SettingsSchema<KafkaConnection>& kafkaConnectionSettings(KafkaBootstrap bootstrap) {
  static const SettingsSchema<KafkaConnection> required = connection(true);
  static const SettingsSchema<KafkaConnection> optional = connection(false);
  return bootstrap == KafkaBootstrap::Required ? required : optional;
}

const SettingsSchema<KafkaCluster>& kafkaClusterSettings() {
  static const SettingsSchema<KafkaCluster> settings = [] {
    SettingsSchema<KafkaCluster> s;
    s.group(kafkaConnectionSettings(KafkaBootstrap::Required), &KafkaCluster::connection);
    s.field(FieldSpec::make("client_id", FieldType::String)
                .def("dutybridge")
                .doc("client.id prefix for every producer and consumer of this daemon."),
            &KafkaCluster::client_id);
    s.field(FieldSpec::make("state_topic", FieldType::String)
                .def("dutybridge.state")
                .doc("Compacted topic holding source cursors and window state."),
            &KafkaCluster::state_topic);
    s.field(FieldSpec::make("dlq_topic", FieldType::String)
                .def("dutybridge.dlq")
                .doc("Dead-letter topic for records the source cannot decode, the mapping cannot handle or the "
                     "sink refuses (docs/delivery-guarantees.md)."),
            &KafkaCluster::dlq_topic);
    s.field(
        FieldSpec::make("state_key", FieldType::String)
            .secret()
            .doc("Key (a secret reference: ${cred:NAME}, ${env:NAME}, ${file:PATH}) that seals the state entries of "
                 "mappings with personal input fields, so no personal value is stored in clear in state_topic: "
                 "row identities and window keys as HMAC-SHA256 digests, their values and quarantined records "
                 "AES-256-GCM encrypted (docs/mapping-language.md, Personal data). Required when such a mapping "
                 "is stateful (aggregate: or quarantine:); changing it makes the stored state unreadable."),
        &KafkaCluster::state_key);
    return s;
  }();
  return settings;
}

}  // namespace dutybridge::core
