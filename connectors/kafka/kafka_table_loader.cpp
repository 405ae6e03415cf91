#include "connectors/kafka/kafka_table_loader.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <nlohmann/json.hpp>
#include <set>

#include "connectors/common/table_settings.h"
#include "connectors/kafka/kafka_client.h"
#include "connectors/kafka/kafka_topic_snapshot.h"

namespace dutybridge::connectors {
namespace {

using namespace std::chrono_literals;

constexpr std::string_view kPassThrough = "librdkafka.";

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

class KafkaTableLoader final : public expr::TableLoader {
 public:
  explicit KafkaTableLoader(KafkaTableSettings settings) : settings_(std::move(settings)) {}

  core::Result<expr::RawTable> load() override {
    LoaderEvents events(settings_.table);
    auto snapshot = kafka::readTopicSnapshot(settings_.read, events);
    if (!snapshot) return core::fail(snapshot.error());
    if (snapshot->entries.size() > expr::kMaxTableRows) {
      return core::fail(core::ErrorKind::Permanent,
                        fmt::format("{} has more than {} keys", settings_.read.label, expr::kMaxTableRows));
    }
    return settings_.json ? jsonRows(*snapshot) : textRows(*snapshot);
  }

  std::string describe() const override { return "kafka topic " + settings_.topic; }

 private:
  core::SourceLocation where(const kafka::TopicEntry& entry) const {
    return core::SourceLocation{fmt::format("kafka:{}/{}", settings_.topic, entry.partition),
                                static_cast<int>(std::clamp<int64_t>(entry.offset, 0, INT_MAX)), 1, ""};
  }

  expr::RawTable textRows(kafka::TopicSnapshot& snapshot) const {
    expr::RawTable table;
    table.columns = {settings_.key_column, settings_.value_column};
    table.rows.reserve(snapshot.entries.size());
    for (auto& [key, entry] : snapshot.entries) {
      expr::RawTable::Row row;
      row.where = where(entry);
      row.cells = {key, std::move(entry.value)};
      table.rows.push_back(std::move(row));
    }
    return table;
  }

  core::Result<expr::RawTable> jsonRows(const kafka::TopicSnapshot& snapshot) const {
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
    expr::RawTable table;
    // The value column second, so a table without `value:` still finds it by position.
    table.columns.push_back(settings_.key_column);
    if (fields.erase(settings_.value_column)) table.columns.push_back(settings_.value_column);
    table.columns.insert(table.columns.end(), fields.begin(), fields.end());
    auto entry = snapshot.entries.begin();
    for (const auto& [key, object] : objects) {
      expr::RawTable::Row row;
      row.where = where((entry++)->second);
      row.cells.reserve(table.columns.size());
      row.cells.emplace_back(*key);
      for (size_t c = 1; c < table.columns.size(); ++c) {
        auto field = object.find(table.columns[c]);
        if (field == object.end() || field->is_null()) row.cells.emplace_back(std::nullopt);
        else if (field->is_string()) row.cells.emplace_back(field->get<std::string>());
        else row.cells.emplace_back(field->dump());
      }
      table.rows.push_back(std::move(row));
    }
    return table;
  }

  KafkaTableSettings settings_;
};

}  // namespace

core::Result<std::unique_ptr<expr::TableLoader>> makeKafkaTableLoader(const expr::TableSourceConfig& config,
                                                                      const core::ConfigObject* kafka_section) {
  if (auto known = checkTableSettings(config, {"topic", "bootstrap_servers", "format", "timeout", "librdkafka"},
                                      {kPassThrough});
      !known) {
    return core::fail(known.error());
  }
  if (config.settings.contains("librdkafka")) {
    return core::fail(core::ErrorKind::InvalidConfig,
                      "kafka table source: 'librdkafka' must be a map of librdkafka properties");
  }
  auto topic = requiredTableSetting(config, "topic");
  if (!topic) return core::fail(topic.error());
  std::string format = tableSetting(config, "format", "text");
  if (format != "text" && format != "json") {
    return core::fail(core::ErrorKind::InvalidConfig, "kafka table source: 'format' must be text or json");
  }
  auto timeout = tableDuration(config, "timeout", 30s, 1s, 10min);
  if (!timeout) return core::fail(timeout.error());

  KafkaTableSettings settings;
  settings.table = config.table;
  settings.topic = *topic;
  settings.json = format == "json";
  settings.key_column = config.columns.key.empty() ? "key" : config.columns.key;
  settings.value_column = config.columns.value.empty() ? "value" : config.columns.value;
  kafka::TopicSnapshotOptions& read = settings.read;
  read.topic = *topic;
  read.timeout = *timeout;
  read.label = fmt::format("table {} topic {}", config.table, *topic);
  std::string bootstrap = tableSetting(config, "bootstrap_servers");
  if (!bootstrap.empty()) {
    read.properties = {{"bootstrap.servers", bootstrap}, {"client.id", "dutybridge-table-" + config.table}};
  } else if (kafka_section) {
    read.properties = kafka::clientProperties(*kafka_section, "table-" + config.table);
    bootstrap = kafka_section->getString("bootstrap_servers");
  } else {
    return core::fail(core::ErrorKind::InvalidConfig,
                      "kafka table source needs 'bootstrap_servers' here (there is no daemon kafka section)");
  }
  read.bootstrap = bootstrap;
  for (const auto& [key, value] : config.settings) {
    if (key.starts_with(kPassThrough)) read.properties.emplace_back(key.substr(kPassThrough.size()), value);
  }
  std::string client_id = "dutybridge-table-" + config.table;
  for (const auto& [name, value] : read.properties) {
    if (name == "client.id") client_id = value;
  }
  read.group_id = client_id;
  // Unknown or invalid properties are configuration errors, found before anything connects.
  kafka::KafkaConfig check;
  if (auto status = check.setAll(read.properties); !status) return core::fail(status.error());
  return std::unique_ptr<expr::TableLoader>(std::make_unique<KafkaTableLoader>(std::move(settings)));
}

void registerKafkaTableLoader(expr::TableLoaderRegistry& registry, const core::ConfigObject* kafka_section) {
  registry.add("kafka", [kafka_section](const expr::TableSourceConfig& config) {
    return makeKafkaTableLoader(config, kafka_section);
  });
}

}  // namespace dutybridge::connectors
