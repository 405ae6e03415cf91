#pragma once
// The connector registry (sources, sinks, table sources): filled once at start-up by
// registerBuiltinConnectors() (one explicit call per connector folder), then read-only and safe
// to share between threads.

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "src/core/connector.h"
#include "src/core/table_source.h"

namespace dutybridge::core {

// Where dead letters go when a pipeline's sink cannot carry them (SinkCapabilities::
// carries_dead_letters is false): a sink connector and the settings to build it with, derived from
// the daemon config's cluster section. The connector that offers the route registers it (the
// kafka sink: a producer to kafka.dlq_topic), so the config and the runtime never name it.
struct DeadLetterRoute {
  std::string sink;   // the sink factory's name
  std::string where;  // for messages: "kafka.dlq_topic"
  std::string needs;  // for the error when there is no route: "a kafka section (bootstrap_servers, dlq_topic)"
  // The sink's settings as YAML scalars by key, from the daemon config's `kafka:` section
  // (nullptr when it has none); nullopt: no route in this config.
  std::function<std::optional<std::vector<std::pair<std::string, std::string>>>(const KafkaCluster* cluster)> settings;
};

class Registry {
 public:
  // A second factory with the same name and direction is a programming error: throws
  // std::logic_error at start-up, so it can never ship.
  void add(std::unique_ptr<SourceFactory> factory);
  void add(std::unique_ptr<SinkFactory> factory);
  void add(std::unique_ptr<TableSourceFactory> factory);

  const SourceFactory* findSource(std::string_view name) const;
  const SinkFactory* findSink(std::string_view name) const;
  std::vector<std::string> sourceNames() const;
  std::vector<std::string> sinkNames() const;
  // Sources of mapping tables (`tables: {NAME: {odbc: ...}}`), by the block's key.
  const TableSourceFactory* findTableSource(std::string_view name) const;
  std::vector<std::string> tableSourceNames() const;
  // Sources first, then sinks, then table sources, each sorted by name.
  std::vector<const ConnectorFactory*> all() const;

  // At most one route; a second is a programming error (std::logic_error).
  void setDeadLetterRoute(DeadLetterRoute route);
  const DeadLetterRoute* deadLetterRoute() const { return dead_letter_route_ ? &*dead_letter_route_ : nullptr; }

 private:
  std::map<std::string, std::unique_ptr<SourceFactory>, std::less<>> sources_;
  std::map<std::string, std::unique_ptr<SinkFactory>, std::less<>> sinks_;
  std::map<std::string, std::unique_ptr<TableSourceFactory>, std::less<>> table_sources_;
  std::optional<DeadLetterRoute> dead_letter_route_;
};

}  // namespace dutybridge::core
