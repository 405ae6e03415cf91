#include "connectors/kafka/kafka_table_source.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <nlohmann/json.hpp>
#include <set>

#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_topic_snapshot.h"
#include "src/core/settings.h"

namespace dutybridge::connectors {
namespace {

using core::FieldSpec;
using core::FieldType;

// What a `kafka:` table block says (tableSettings() binds every field): its topic, and the
// cluster (the shared Kafka connection group; without bootstrap_servers, the daemon's).
struct TableSettings {
  std::string topic;
  core::KafkaConnection cluster;
  bool json = false;
  std::chrono::milliseconds timeout{};
};

const core::SettingsSchema<TableSettings>& tableSettings() {
  static const core::SettingsSchema<TableSettings> settings = [] {
    core::SettingsSchema<TableSettings> s;
    s.field(FieldSpec::make("topic", FieldType::String)
                .req()
                .doc("The compacted topic whose latest value per key is the table."),
            &TableSettings::topic);
    s.group(core::kafkaConnectionSettings(core::KafkaBootstrap::DefaultsToDaemon), &TableSettings::cluster);
    s.field(FieldSpec::make("format", FieldType::Enum)
                .def("text")
                .oneOf({"text", "json"})
                .doc("text: the message value is the value column. json: the value is a JSON object whose fields "
                     "are columns (a field named like the key column is ignored)."),
            &TableSettings::json, [](const std::string& format) { return format == "json"; });
    s.field(FieldSpec::make("timeout", FieldType::Duration)
                .def("30s")
                .range(1'000'000, 600'000'000)
                .doc("Bound on each wait of a load (metadata, watermarks, the next message)."),
            &TableSettings::timeout);
    s.check([](const core::ConfigObject& config) {
      std::vector<core::ConfigProblem> problems;
      if (config.has("topic") && config.getString("topic").empty()) problems.push_back({"topic", "'topic' is empty"});
      return problems;
    });
    return s;
  }();
  return settings;
}

// Logs librdkafka's complaints (rate-limited) while a load runs; a consumer has no deliveries.
class LoaderEvents final : public kafka::ClientEvents {
 public:
  explicit LoaderEvents(const std::string& table)
      : kafka::ClientEvents("table " + table, "the table is read again on the next attempt") {}

 private:
  void onDelivery(const rd_kafka_message_t&) override {}
};

struct KafkaTableSettings {
  std::string table;
  std::string topic;
  bool json = false;
  std::string key_column;
  std::string value_column;
  kafka::TopicSnapshotOptions read;
};

class KafkaTableLoader final : public core::TableLoader {
 public:
  explicit KafkaTableLoader(KafkaTableSettings settings) : settings_(std::move(settings)) {}

  core::Result<core::RawTable> load() override {
    LoaderEvents events(settings_.table);
    auto snapshot = kafka::readTopicSnapshot(settings_.read, events);
    if (!snapshot) return core::fail(snapshot.error());
    if (snapshot->entries.size() > core::kMaxTableRows) {
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("{} has more than {} keys", settings_.read.label, core::kMaxTableRows));
    }
    return settings_.json ? jsonRows(*snapshot) : textRows(*snapshot);
  }

  std::string describe() const override { return "kafka topic " + settings_.topic; }

 private:
  core::SourceLocation where(const kafka::TopicEntry& entry) const {
    return core::SourceLocation{fmt::format("kafka:{}/{}", settings_.topic, entry.partition),
                                static_cast<int>(std::clamp<int64_t>(entry.offset, 0, INT_MAX)), 1, ""};
  }

  core::RawTable textRows(kafka::TopicSnapshot& snapshot) const {
    core::RawTable table;
    table.columns = {settings_.key_column, settings_.value_column};
    table.rows.reserve(snapshot.entries.size());
    for (auto& [key, entry] : snapshot.entries) {
      core::RawTable::Row row;
      row.where = where(entry);
      row.cells = {key, std::move(entry.value)};
      table.rows.push_back(std::move(row));
    }
    return table;
  }

  core::Result<core::RawTable> jsonRows(const kafka::TopicSnapshot& snapshot) const {
    std::vector<std::pair<const std::string*, nlohmann::json>> objects;
    objects.reserve(snapshot.entries.size());
    std::set<std::string> fields;
    for (const auto& [key, entry] : snapshot.entries) {
      auto value = nlohmann::json::parse(entry.value, nullptr, false);
      if (value.is_discarded() || !value.is_object()) {
        auto at = where(entry);
        return core::fail(core::ErrorKind::Permanent,
                          fmt::format("{}:{}:{}: the message value is not a JSON object (format: json)", at.file,
                                      at.line, at.column));
      }
      for (const auto& [name, field] : value.items()) {
        if (name != settings_.key_column) fields.insert(name);
      }
      objects.emplace_back(&key, std::move(value));
    }
    core::RawTable table;
    // The value column second, so a table without `value:` still finds it by position.
    table.columns.push_back(settings_.key_column);
    if (fields.erase(settings_.value_column)) table.columns.push_back(settings_.value_column);
    table.columns.insert(table.columns.end(), fields.begin(), fields.end());
    auto entry = snapshot.entries.begin();
    for (const auto& [key, object] : objects) {
      core::RawTable::Row row;
      row.where = where((entry++)->second);
      row.cells.reserve(table.columns.size());
      row.cells.emplace_back(*key);
      for (size_t c = 1; c < table.columns.size(); ++c) {
        auto field = object.find(table.columns[c]);
        if (field == object.end() || field->is_null())
          row.cells.emplace_back(std::nullopt);
        else if (field->is_string())
          row.cells.emplace_back(field->get<std::string>());
        else
          row.cells.emplace_back(field->dump());
      }
      table.rows.push_back(std::move(row));
    }
    return table;
  }

  KafkaTableSettings settings_;
};

// The consumer properties of one table's reads: its own cluster, or the daemon's kafka section.
core::Result<kafka::Properties> readProperties(const TableSettings& settings, const core::TableSourceContext& context,
                                               std::string& bootstrap) {
  kafka::Properties properties;
  if (settings.cluster.bootstrap_servers) {
    bootstrap = *settings.cluster.bootstrap_servers;
    properties = {{"bootstrap.servers", bootstrap}, {"client.id", "dutybridge-table-" + context.table}};
  } else if (context.kafka) {
    properties = kafka::clientProperties(*context.kafka, "table-" + context.table);
    bootstrap = context.kafka->bootstrapServers();
  } else {
    return core::fail(core::ErrorKind::InvalidConfig,
                      "needs 'bootstrap_servers' here (there is no daemon kafka section)");
  }
  properties.insert(properties.end(), settings.cluster.librdkafka.begin(), settings.cluster.librdkafka.end());
  return properties;
}

class KafkaTableSourceFactory final : public core::TableSourceFactory {
 public:
  std::string_view name() const override { return "kafka"; }
  std::string_view description() const override {
    return "A mapping's reference table from a compacted topic, read from the beginning to the high watermarks "
           "(no consumer group, read_committed): the latest value per key; a tombstone deletes its key.";
  }
  const core::ConfigSchema& configSchema() const override { return tableSettings().schema(); }

  core::Result<std::unique_ptr<core::TableLoader>> create(const core::ConfigObject& config,
                                                          const core::TableSourceContext& context) const override {
    auto typed = tableSettings().read(config);
    if (!typed) return core::fail(typed.error());
    KafkaTableSettings settings;
    settings.table = context.table;
    settings.topic = typed->topic;
    settings.json = typed->json;
    settings.key_column = context.columns.key.empty() ? "key" : context.columns.key;
    settings.value_column = context.columns.value.empty() ? "value" : context.columns.value;
    kafka::TopicSnapshotOptions& read = settings.read;
    read.topic = typed->topic;
    read.timeout = typed->timeout;
    read.label = fmt::format("table {} topic {}", context.table, typed->topic);
    auto properties = readProperties(*typed, context, read.bootstrap);
    if (!properties) return core::fail(properties.error());
    read.properties = std::move(*properties);
    std::string client_id = "dutybridge-table-" + context.table;
    for (const auto& [name, value] : read.properties) {
      if (name == "client.id") client_id = value;
    }
    read.group_id = client_id;
    // Unknown or invalid properties are configuration errors, found before anything connects.
    kafka::KafkaConfig check;
    if (auto status = check.setAll(read.properties); !status) return core::fail(status.error());
    return std::make_unique<KafkaTableLoader>(std::move(settings));
  }
};

}  // namespace

void registerKafkaTableSource(core::Registry& registry) {
  registry.add(std::make_unique<KafkaTableSourceFactory>());
}

}  // namespace dutybridge::connectors
