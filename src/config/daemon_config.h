#pragma once
// The daemon configuration (config/dutybridge.yaml): Kafka cluster settings, admin listener,
// logging, and the named pipelines (source -> mapping -> sink). Loading validates everything
// against the schemas of the top level and of every connector, and reports all problems at once;
// the top-level sections are then read into typed settings (core::SettingsSchema).

#include <chrono>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "src/core/config_schema.h"
#include "src/core/kafka_cluster.h"
#include "src/core/registry.h"
#include "src/diagnostics/diagnostics.h"
#include "src/schema/secrets.h"

namespace dutybridge::config {

struct ConnectorConfig {
  std::string type;
  core::ConfigObject settings;  // includes `type`
};

// `delivery:` of a pipeline (docs/delivery-guarantees.md).
enum class Delivery { Auto, ExactlyOnce, AtLeastOnce };
std::string_view deliveryName(Delivery delivery);

// `on_failure:` of a pipeline: what a failure it cannot retry stops.
enum class OnFailure { StopPipeline, StopDaemon };

struct PipelineConfig {
  std::string name;
  bool enabled = true;
  size_t max_in_flight = 20'000;
  Delivery delivery = Delivery::Auto;
  std::chrono::milliseconds commit_interval{100};
  size_t commit_records = 10'000;
  size_t dead_letter_limit = 1'000;  // 0: no limit
  std::chrono::milliseconds dead_letter_window{60'000};
  OnFailure on_failure = OnFailure::StopPipeline;
  ConnectorConfig source;
  std::optional<std::filesystem::path> mapping;  // resolved relative to the config file
  ConnectorConfig sink;
  // The sink of the registry's dead-letter route (core::DeadLetterRoute: the kafka sink to
  // kafka.dlq_topic) for a pipeline whose sink cannot carry dead letters
  // (core::SinkCapabilities::carries_dead_letters); empty otherwise.
  std::optional<ConnectorConfig> dead_letters;
  core::SourceLocation location;
  // SHA-256 of everything in the config file this pipeline's run depends on: its own entry
  // (secret values included), the kafka section. A reload rebuilds the pipeline when it differs.
  std::string digest;
};

// `admin:` (docs/operations.md): the admin API and metrics listener.
struct AdminTls {
  std::string cert;  // PEM certificate chain file
  std::string key;   // PEM private key file
};
struct AdminSettings {
  bool enabled = false;
  std::string listen;                // host:port; loopback by default
  std::optional<std::string> token;  // bearer token every write needs; absent: writes are refused
  std::optional<AdminTls> tls;       // absent: plain HTTP
  bool tap = false;                  // serve GET .../tap (live records, personal fields masked)
};

// `service:` (docs/operations.md): how the daemon runs as a service.
struct ServiceSettings {
  // A pipeline thread in one step (one source poll, one sink write, one commit) for longer than
  // this is wedged: /healthz fails and names it, and the systemd watchdog is no longer fed.
  std::chrono::milliseconds stuck_after{};
  // Where `run` writes its process id (for `dutybridge reload` without the admin API).
  std::optional<std::string> pid_file;
};

// `board:` (docs/board.md): the supervisors' shop-floor board, a read-only site of its own.
struct BoardSettings {
  bool enabled = false;
  std::string listen;                        // host:port; the plant LAN, apart from admin.listen
  std::optional<std::string> viewer_token;   // absent: the board is open to whoever reaches it
  std::optional<AdminTls> tls;               // absent: plain HTTP
  std::string topic;                         // the KPI facts to read (read_committed)
  std::string calendars;                     // the calendars file (relative: to the config file)
  std::string calendar;                      // the plant calendar whose shifts the board shows
  std::optional<std::string> catalog;        // the duty catalog, for the plan from a shift target
  std::string plan_kpi;                      // SHIFT KPI whose target is spread over the shift's hours
  std::optional<std::string> plan_topic;     // the plan per team, shift and hour (mes_hourly_plan.yaml)
  std::string good_kpi, scrap_kpi, fpy_kpi;  // the HOUR KPIs of good output, scrap and first-pass yield
  std::optional<std::string> employee_kpi;   // an HOUR KPI per operator (show_employees)
  std::optional<std::string> title;
  std::string language;                     // zh | en: the default; Accept-Language and ?lang= win
  int behind_below = 0;                     // percent of plan-to-now: below it, "behind"
  int far_behind_below = 0;                 // below it, "far behind"
  std::chrono::milliseconds stale_after{};  // newest data older than this: the stale banner
  int history_shifts = 0;                   // earlier shifts shown for comparison
  bool show_employees = false;
};

// `log:`.
struct LogSettings {
  std::string level;  // error | warning | notice | info | debug
  std::chrono::milliseconds stats_interval{};
};

struct DaemonConfig {
  std::filesystem::path file;
  core::ConfigObject root;  // the whole validated document
  // The top-level sections, typed (defaults and bounds in their SettingsSchema): `kafka:`
  // (nullopt when the file has none), `admin:` and `log:` (their defaults when absent).
  std::optional<core::KafkaCluster> kafka;
  AdminSettings admin;
  ServiceSettings service;
  BoardSettings board;
  LogSettings log;
  // SHA-256 of each top-level section as written and defaulted ("kafka", "admin", "service",
  // "board", "log"; secret values included): a reload tells what changed.
  std::map<std::string, std::string> section_digests;
  // The topic dead letters are addressed to (kafka.dlq_topic); empty without a kafka section.
  std::string dead_letter_topic;
  std::vector<PipelineConfig> pipelines;

  // The kafka section for a ConnectorContext or TableSourceContext, or nullptr.
  const core::KafkaCluster* kafkaCluster() const { return kafka ? &*kafka : nullptr; }
};

// The schema of the top level, for docs and `check`.
const core::ConfigSchema& daemonSchema();

// Loads and validates a file. On failure returns all diagnostics.
std::expected<std::unique_ptr<DaemonConfig>, diag::Diagnostics> loadDaemonConfig(const std::filesystem::path& file,
                                                                                 const core::Registry& registry,
                                                                                 const schema::SecretResolver& secrets);

// Same, from text (tests); `file` is only used in messages and to resolve relative paths.
std::expected<std::unique_ptr<DaemonConfig>, diag::Diagnostics> parseDaemonConfig(
    const std::string& text, const std::filesystem::path& file, const core::Registry& registry,
    const schema::SecretResolver& secrets);

// The effective configuration (defaults filled in) as YAML-compatible JSON, with every secret
// and sensitive value replaced by "<redacted>".
std::string renderRedacted(const core::ConfigObject& object);

}  // namespace dutybridge::config
