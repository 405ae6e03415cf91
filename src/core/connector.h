#pragma once
// Connector factories: name + config schema + create(validated config): sources, sinks and
// reference-table sources (table_source.h). Each connector folder
// exposes a `registerX(Registry&)` function (core/registry.h); connectors/builtin.cpp calls them all
// from one place (no static self-registration, which silently vanishes in static libraries).
//
// Threading: factories are immutable after registration and may be used from any thread.
// create() runs on the thread that builds the pipeline, before it starts.
// Ownership: the created Source/Sink is owned by the pipeline; the context outlives it.
// Errors: create() returns InvalidConfig for configs that pass the schema but cannot work
// (e.g. an unknown time zone); it must not connect anywhere (open() does that).

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/config_schema.h"
#include "src/core/error.h"
#include "src/core/kafka_cluster.h"
#include "src/core/sink.h"
#include "src/core/source.h"

namespace dutybridge::core {

// Table: a source of a mapping's reference table (core/table_source.h).
enum class Direction { Source, Sink, Table };

std::string_view toString(Direction direction);

// What a connector may use besides its own config.
struct ConnectorContext {
  std::string pipeline_name;
  const Clock* clock = nullptr;
  // The daemon-wide kafka section (bootstrap servers, client id, topics, librdkafka properties),
  // or nullptr.
  const KafkaCluster* kafka = nullptr;
  // The pipeline asks for exactly-once delivery (`delivery: exactly_once` or `auto`): a sink with
  // transactions (SinkCapabilities::transactions) opens them, keyed by the pipeline so that a
  // restarted or zombie instance is fenced. With `fallback` (`delivery: auto`) a sink whose
  // cluster cannot do transactions goes on at-least-once instead of failing.
  bool exactly_once = false;
  bool exactly_once_fallback = false;
  // Topics records of this pipeline may name besides the sink's own: the dead-letter topic and
  // the mapping's emit topics (a sink that creates its topic creates these too).
  std::vector<std::string> extra_topics;
};

class ConnectorFactory {
 public:
  virtual ~ConnectorFactory() = default;
  virtual std::string_view name() const = 0;
  virtual Direction direction() const = 0;
  virtual std::string_view description() const = 0;
  virtual const ConfigSchema& configSchema() const = 0;
};

class SourceFactory : public ConnectorFactory {
 public:
  Direction direction() const final { return Direction::Source; }
  virtual Result<std::unique_ptr<Source>> create(const ConfigObject& config,
                                                 const ConnectorContext& context) const = 0;
};

// A sink's delivery capabilities, known before any sink is created.
struct SinkCapabilities {
  // Kafka transactions: outputs, dead letters, transform state and the source cursor of a batch
  // commit together (delivery: exactly_once needs this; auto uses it when the cluster allows).
  bool transactions = false;
  // The sink stores the source position with the rows in its own transaction (the ODBC upsert
  // sink): exactly once by itself, and the pipeline resumes from Sink::storedPosition().
  bool stores_position = false;
  // The sink delivers records to the topic their meta.topic names (the kafka sink; stdout prints
  // them), so a mapping's dead letters can travel with the batch. A sink that writes one place
  // says false: the daemon then gives the pipeline a Kafka producer to kafka.dlq_topic for them
  // (runtime::Pipeline::setDeadLetterSink).
  bool carries_dead_letters = true;
};

class SinkFactory : public ConnectorFactory {
 public:
  Direction direction() const final { return Direction::Sink; }
  virtual Result<std::unique_ptr<Sink>> create(const ConfigObject& config,
                                               const ConnectorContext& context) const = 0;
  // What the sink can do for delivery, declared by the factory so that `check` refuses exactly
  // what `run` would (see SinkCapabilities).
  virtual SinkCapabilities capabilities() const { return {}; }
};

}  // namespace dutybridge::core
