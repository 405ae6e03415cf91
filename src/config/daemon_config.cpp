#include "src/config/daemon_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "src/codec/json.h"
#include "src/common/file_read.h"
#include "src/core/clock.h"
#include "src/schema/validator.h"

namespace dutybridge::config {

namespace {
// The effective object as JSON; `redact`: secret values replaced by "<redacted>".
nlohmann::ordered_json objectJson(const core::ConfigObject& object, bool redact);
// SHA-256 of an effective object with its secret values, for telling what a reload changed.
std::string digestOf(const nlohmann::ordered_json& json) {
  return files::sha256Hex(json.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace));
}
}  // namespace
namespace {

using core::ConfigSchema;
using core::FieldSpec;
using core::FieldType;

const core::SettingsSchema<AdminTls>& adminTlsSettings() {
  static const core::SettingsSchema<AdminTls> settings = [] {
    core::SettingsSchema<AdminTls> s;
    s.field(FieldSpec::make("cert", FieldType::String).req().doc("PEM certificate (chain) file."), &AdminTls::cert);
    s.field(FieldSpec::make("key", FieldType::String).req().doc("PEM private key file."), &AdminTls::key);
    return s;
  }();
  return settings;
}

// "host:port", "[v6]:port": the port is 0-65535 (0 picks a free port, for tests).
std::vector<core::ConfigProblem> checkListen(const core::ConfigObject& admin) {
  if (!admin.has("listen")) return {};
  const std::string listen = admin.getString("listen");
  const auto colon = listen.rfind(':');
  bool ok = colon != std::string::npos && colon > 0 && colon + 1 < listen.size() && colon + 6 >= listen.size();
  for (size_t i = colon + 1; ok && i < listen.size(); ++i) ok = listen[i] >= '0' && listen[i] <= '9';
  if (ok) ok = std::stoul(listen.substr(colon + 1)) <= 65535;
  if (ok) return {};
  return {{"listen", fmt::format("'{}' is not host:port (e.g. 127.0.0.1:8088)", listen)}};
}

const core::SettingsSchema<AdminSettings>& adminSettings() {
  static const core::SettingsSchema<AdminSettings> settings = [] {
    core::SettingsSchema<AdminSettings> s;
    s.field(FieldSpec::make("enabled", FieldType::Bool)
                .def("false")
                .doc("Serve the admin API: health, readiness, Prometheus metrics, pipeline status and control."),
            &AdminSettings::enabled);
    s.field(FieldSpec::make("listen", FieldType::String)
                .def("127.0.0.1:8088")
                .doc("host:port of the admin and metrics HTTP listener. Reads are open to whoever reaches it: keep "
                     "it on loopback or a management network."),
            &AdminSettings::listen);
    s.field(FieldSpec::make("token", FieldType::String)
                .secret()
                .doc("Bearer token every write (stop, resume, restart, cursor changes) needs, from a secret "
                     "(`${cred:admin-token}`). Without one, writes are refused."),
            &AdminSettings::token);
    s.section(FieldSpec::make("tls", FieldType::Object).doc("Serve HTTPS with this certificate and key."),
              adminTlsSettings(), &AdminSettings::tls);
    s.field(FieldSpec::make("tap", FieldType::Bool)
                .def("false")
                .doc("Serve GET /api/v1/pipelines/{name}/tap (a live sample of records, personal fields masked)."),
            &AdminSettings::tap);
    s.check(checkListen);
    return s;
  }();
  return settings;
}

const core::SettingsSchema<ServiceSettings>& serviceSettings() {
  static const core::SettingsSchema<ServiceSettings> settings = [] {
    core::SettingsSchema<ServiceSettings> s;
    s.field(FieldSpec::make("stuck_after", FieldType::Duration)
                .def("10m")
                .range(1'000'000, 86'400'000'000)
                .doc("A pipeline thread in one step (a source poll, a sink write, a commit) longer than this is "
                     "wedged: /healthz answers 503 and names the pipeline and the step, and the systemd watchdog "
                     "is no longer fed, so systemd restarts the service (WatchdogSec= in the unit). Keep it above "
                     "the longest deadline of one call (an odbc source's query_timeout, 5m by default)."),
            &ServiceSettings::stuck_after);
    s.field(FieldSpec::make("pid_file", FieldType::String)
                .doc("Where `run` writes its process id, removed at exit; `dutybridge reload` reads it when "
                     "the admin API is off (the unit's RuntimeDirectory: /run/dutybridge/dutybridge.pid)."),
            &ServiceSettings::pid_file);
    return s;
  }();
  return settings;
}

std::vector<core::ConfigProblem> checkBoard(const core::ConfigObject& board) {
  std::vector<core::ConfigProblem> problems = checkListen(board);
  if (board.getBool("enabled") && board.getString("calendar").empty()) {
    problems.push_back({"calendar", "the board needs 'calendar': the plant calendar whose shifts it shows"});
  }
  if (board.has("viewer_token")) {
    // It becomes a cookie value: empty would open the board to all, `;` or a space would break it.
    const std::string token = board.getString("viewer_token");
    const bool safe = std::all_of(token.begin(), token.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
             c == '~' || c == '-';
    });
    if (token.size() < 16 || !safe) {
      problems.push_back({"viewer_token",
                          "the viewer token must be at least 16 characters of A-Z, a-z, 0-9, '.', '_', '~' and '-' "
                          "(it becomes a cookie); e.g. head -c 24 /dev/urandom | base64 | tr '+/' '-_'"});
    }
  }
  if (board.getInt("far_behind_below") > board.getInt("behind_below")) {
    problems.push_back({"far_behind_below", "must not be above behind_below"});
  }
  return problems;
}

const core::SettingsSchema<BoardSettings>& boardSettings() {
  static const core::SettingsSchema<BoardSettings> settings = [] {
    core::SettingsSchema<BoardSettings> s;
    s.field(FieldSpec::make("enabled", FieldType::Bool)
                .def("false")
                .doc("Serve the supervisors' shop-floor board (docs/board.md): live hour-by-hour plan vs actual per "
                     "team, from the KPI facts on `topic`."),
            &BoardSettings::enabled);
    s.field(FieldSpec::make("listen", FieldType::String)
                .def("127.0.0.1:8090")
                .doc("host:port of the board's HTTP listener, apart from the admin API's: boards are on the plant "
                     "LAN (e.g. 0.0.0.0:8090)."),
            &BoardSettings::listen);
    s.field(FieldSpec::make("viewer_token", FieldType::String)
                .secret()
                .doc("The token a board URL carries once (`?token=`), kept as an HttpOnly cookie; from a secret "
                     "(`${cred:board-token}`), never the admin token. Without one the board is open to whoever "
                     "reaches the listener."),
            &BoardSettings::viewer_token);
    s.section(
        FieldSpec::make("tls", FieldType::Object).doc("Serve the board over HTTPS with this certificate and key."),
        adminTlsSettings(), &BoardSettings::tls);
    s.field(FieldSpec::make("topic", FieldType::String)
                .def("hr.duty-kpi.v1")
                .doc("The duty_kpi.v1 topic the board reads (read_committed: only committed revisions show)."),
            &BoardSettings::topic);
    s.field(FieldSpec::make("calendars", FieldType::String)
                .def("calendars.yaml")
                .doc("The plant calendars file (relative to this file)."),
            &BoardSettings::calendars);
    s.field(FieldSpec::make("calendar", FieldType::String)
                .def("")
                .doc("The calendar whose shifts and hours the board shows (required when enabled)."),
            &BoardSettings::calendar);
    s.field(FieldSpec::make("catalog", FieldType::String)
                .doc("The duty catalog (relative to this file): the plan per hour is the target of `plan_kpi` in "
                     "force on the shift date, spread over the shift's hours. Without it, no plan is shown."),
            &BoardSettings::catalog);
    s.field(FieldSpec::make("plan_kpi", FieldType::String)
                .def("KPI.TL.DAILY_GOOD_OUTPUT")
                .doc("The SHIFT KPI of the catalog whose target is the shift's plan."),
            &BoardSettings::plan_kpi);
    s.field(FieldSpec::make("plan_topic", FieldType::String)
                .doc("The MES work-order plan per team, shift and hour (mappings/mes_hourly_plan.yaml, e.g. "
                     "mes.hourly-plan.v1): a team with plan rows for the shift is planned by them, an hour "
                     "without a row plans nothing; other teams by `plan_kpi`."),
            &BoardSettings::plan_topic);
    s.field(FieldSpec::make("good_kpi", FieldType::String)
                .def("KPI.TL.HOURLY_GOOD_OUTPUT")
                .doc("The HOUR KPI of good output per team (mappings/team_hourly_output.yaml)."),
            &BoardSettings::good_kpi);
    s.field(FieldSpec::make("scrap_kpi", FieldType::String)
                .def("KPI.TL.HOURLY_SCRAP")
                .doc("The HOUR KPI of scrap per team."),
            &BoardSettings::scrap_kpi);
    s.field(FieldSpec::make("fpy_kpi", FieldType::String)
                .def("KPI.TL.HOURLY_FPY")
                .doc("The HOUR KPI of first-pass yield per team (percent)."),
            &BoardSettings::fpy_kpi);
    s.field(FieldSpec::make("employee_kpi", FieldType::String)
                .doc("An HOUR KPI per operator (org_unit = team): its values per employee number are shown "
                     "when `show_employees` is true."),
            &BoardSettings::employee_kpi);
    s.field(FieldSpec::make("title", FieldType::String).doc("The board's title (default: the plant code)."),
            &BoardSettings::title);
    s.field(FieldSpec::make("language", FieldType::Enum)
                .def("zh")
                .oneOf({"zh", "en"})
                .doc("The pages' language unless the browser's Accept-Language or `?lang=` asks for the other."),
            &BoardSettings::language);
    s.field(FieldSpec::make("behind_below", FieldType::Int)
                .def("95")
                .range(1, 100)
                .doc("Actual below this percent of the plan to now: \"behind\" (amber)."),
            &BoardSettings::behind_below);
    s.field(FieldSpec::make("far_behind_below", FieldType::Int)
                .def("85")
                .range(1, 100)
                .doc("Actual below this percent of the plan to now: \"far behind\" (red)."),
            &BoardSettings::far_behind_below);
    s.field(FieldSpec::make("stale_after", FieldType::Duration)
                .def("5m")
                .range(1'000'000, 86'400'000'000)
                .doc("The newest fact older than this: a \"data is stale\" banner on every page."),
            &BoardSettings::stale_after);
    s.field(FieldSpec::make("history_shifts", FieldType::Int)
                .def("3")
                .range(0, 21)
                .doc("Earlier shifts shown on a team's board for comparison."),
            &BoardSettings::history_shifts);
    s.field(FieldSpec::make("show_employees", FieldType::Bool)
                .def("false")
                .doc("Show per-operator counts (employee numbers, never badges) from `employee_kpi`. Off unless "
                     "the plant decides so."),
            &BoardSettings::show_employees);
    s.check(checkBoard);
    return s;
  }();
  return settings;
}

const core::SettingsSchema<LogSettings>& logSettings() {
  static const core::SettingsSchema<LogSettings> settings = [] {
    core::SettingsSchema<LogSettings> s;
    s.field(FieldSpec::make("level", FieldType::Enum)
                .def("info")
                .oneOf({"error", "warning", "notice", "info", "debug"})
                .doc("Lowest priority written to stderr (journald)."),
            &LogSettings::level);
    s.field(FieldSpec::make("stats_interval", FieldType::Duration)
                .def("30s")
                .range(1'000'000, 86'400'000'000)
                .doc("How often each pipeline logs its counters (records read and delivered, dead letters, retries, "
                     "quarantined and window gauges)."),
            &LogSettings::stats_interval);
    return s;
  }();
  return settings;
}

// A section's typed settings as the ConfigSchema the top level nests.
template <class S>
std::shared_ptr<const ConfigSchema> nested(const core::SettingsSchema<S>& settings) {
  return std::make_shared<const ConfigSchema>(settings.schema());
}

std::vector<core::ConfigProblem> checkPipelineName(const core::ConfigObject& pipeline) {
  std::string name = pipeline.getString("name");
  if (name.empty()) return {};  // reported as missing or empty already
  bool ok = name.size() <= 64;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) ok = false;
  }
  if (ok) return {};
  return {{"name", fmt::format("pipeline name '{}' must be 1-64 characters of a-z, 0-9, '-', '_' or '.'", name)}};
}

std::shared_ptr<const ConfigSchema> pipelineSchema() {
  return std::make_shared<const ConfigSchema>(
      std::vector<FieldSpec>{
          FieldSpec::make("name", FieldType::String).req()
              .doc("Unique pipeline name; keys its cursor and state (a-z, 0-9, '-', '_', '.')."),
          FieldSpec::make("enabled", FieldType::Bool).def("true").doc("Set false to keep a pipeline configured but idle."),
          FieldSpec::make("source", FieldType::Source).req().doc("Where records come from; `type` picks the connector."),
          FieldSpec::make("mapping", FieldType::String)
              .doc("Mapping file, relative to this config file. Without one, records pass through unchanged."),
          FieldSpec::make("sink", FieldType::Sink).req().doc("Where records go; `type` picks the connector."),
          FieldSpec::make("max_in_flight", FieldType::Int).def("20000").range(1, 10'000'000)
              .doc("Records read but not yet acknowledged by the sink; the source pauses at this many. Bounds "
                   "memory and what a crash sends again."),
          FieldSpec::make("delivery", FieldType::Enum).def("auto").oneOf({"auto", "exactly_once", "at_least_once"})
              .doc("exactly_once: outputs, dead letters, the source cursor and transform state of a batch are "
                   "written in one Kafka transaction (transactional.id <client_id>-<pipeline>), so a crash "
                   "neither loses nor duplicates. at_least_once: the cursor is stored after delivery; a crash "
                   "may send records again. auto: exactly_once when the sink and the broker support "
                   "transactions, else at_least_once (with a warning). See docs/delivery-guarantees.md."),
          FieldSpec::make("commit_interval", FieldType::Duration).def("100ms").range(1'000, 60'000'000)
              .doc("exactly_once: longest time a transaction stays open before it is committed."),
          FieldSpec::make("commit_records", FieldType::Int).def("10000").range(1, 10'000'000)
              .doc("exactly_once: records (outputs and dead letters) after which a transaction is committed."),
          FieldSpec::make("dead_letter_limit", FieldType::Int).def("1000").range(0, 100'000'000)
              .doc("More dead letters than this (source, mapping and sink stages together) within "
                   "dead_letter_window stop the pipeline before the batch that crossed it is written, with a "
                   "message naming the last reason. 0: no limit."),
          FieldSpec::make("dead_letter_window", FieldType::Duration).def("1m").range(1'000'000, 86'400'000'000)
              .doc("The sliding window dead_letter_limit counts in (1s..24h)."),
          FieldSpec::make("on_failure", FieldType::Enum).def("stop_pipeline").oneOf({"stop_pipeline", "stop_daemon"})
              .doc("When this pipeline stops on an error it cannot retry: stop_pipeline: the other pipelines go "
                   "on; the failure is logged, shown by `dutybridge status`, and the daemon exits 1 once the "
                   "rest stopped. stop_daemon: every pipeline stops and the daemon exits 1 (systemd restarts "
                   "it)."),
      },
      checkPipelineName);
}

}  // namespace

const ConfigSchema& daemonSchema() {
  static const ConfigSchema schema(std::vector<FieldSpec>{
      FieldSpec::make("kafka", FieldType::Object)
          .fields(nested(core::kafkaClusterSettings()))
          .doc("The Kafka cluster for state, dead letters and Kafka connectors."),
      FieldSpec::make("admin", FieldType::Object).fields(nested(adminSettings())).doc("Admin API listener."),
      FieldSpec::make("service", FieldType::Object)
          .fields(nested(serviceSettings()))
          .doc("Running as a service: the wedged-thread limit (health and the systemd watchdog), the pid file."),
      FieldSpec::make("board", FieldType::Object)
          .fields(nested(boardSettings()))
          .doc("The supervisors' shop-floor board: pages, JSON API and live updates on a listener of its own."),
      FieldSpec::make("log", FieldType::Object).fields(nested(logSettings())).doc("Logging."),
      FieldSpec::make("pipelines", FieldType::ObjectList)
          .req()
          .fields(pipelineSchema())
          .doc("The named pipelines this daemon runs."),
  });
  return schema;
}

namespace {

// Builds the pipeline's connectors as `run` will, without opening them (create() never
// connects), so that `check` refuses what `run` would: rules the schema cannot state (a kafka
// source needs the kafka: section), librdkafka properties that do not exist or values it
// rejects, settings that contradict each other. Each refusal is located at the connector.
void probeConnectors(const PipelineConfig& p, const core::ConfigObject& pipeline, const DaemonConfig& config,
                     const core::Registry& registry, diag::Diagnostics& diagnostics) {
  static const core::SystemClock clock;
  core::ConnectorContext context;
  context.pipeline_name = p.name;
  context.clock = &clock;
  context.kafka = config.kafkaCluster();
  context.exactly_once = p.delivery != Delivery::AtLeastOnce;
  context.exactly_once_fallback = p.delivery == Delivery::Auto;
  auto report = [&](std::string_view key, std::string_view type, const core::Error& error) {
    const auto* entry = pipeline.find(key);
    diagnostics.add(entry ? entry->location : pipeline.location,
                    fmt::format("pipeline '{}': {} {}: {}", p.name, type, key, error.message));
  };
  if (const auto* factory = p.source.type.empty() ? nullptr : registry.findSource(p.source.type)) {
    if (auto source = factory->create(p.source.settings, context); !source) report("source", p.source.type, source.error());
  }
  if (const auto* factory = p.sink.type.empty() ? nullptr : registry.findSink(p.sink.type)) {
    if (auto sink = factory->create(p.sink.settings, context); !sink) report("sink", p.sink.type, sink.error());
  }
}

// Dead letters of every stage (source, mapping, sink) need somewhere to go: a sink that writes one
// place gets the registry's dead-letter route (the kafka sink to kafka.dlq_topic). Without a route
// only a mapping makes that an error (its dead letters are certain to come).
void routeDeadLetters(PipelineConfig& p, const core::ConfigObject& pipeline, const DaemonConfig& config,
                      const core::Registry& registry, schema::ValidationContext& context) {
  const core::DeadLetterRoute* route = registry.deadLetterRoute();
  auto settings = route ? route->settings(config.kafkaCluster()) : std::nullopt;
  if (!settings) {
    if (!p.mapping) return;
    const auto* sink_entry = pipeline.find("sink");
    context.diagnostics->add(
        sink_entry ? sink_entry->location : pipeline.location,
        fmt::format("pipeline '{}': the {} sink cannot hold the dead letters of its mapping, and there is no {}",
                    p.name, p.sink.type, route ? route->where : "dead-letter route"),
        route ? fmt::format("add {}: records the mapping cannot map are sent there", route->needs) : "");
    return;
  }
  YAML::Node node;
  node["type"] = route->sink;
  for (const auto& [key, value] : *settings) node[key] = value;
  core::ConfigObject object = schema::validateConnector(node, core::Direction::Sink, route->where, context);
  p.dead_letters = ConnectorConfig{route->sink, std::move(object)};
}

// The typed top-level sections of a validated document. A kafka section whose validation failed
// (no bootstrap_servers) is left out; its problems are reported already.
void readSections(DaemonConfig& config, diag::Diagnostics& diagnostics) {
  auto read = [&](const char* name, const auto& settings, auto& out) {
    const core::ConfigObject* section = config.root.getObject(name);
    if (!section) return false;
    auto typed = settings.read(*section);
    if (!typed) {
      diagnostics.add(section->location, typed.error().message);
      return false;
    }
    out = std::move(*typed);
    return true;
  };
  const auto* kafka = config.root.find("kafka");
  const core::ConfigObject* cluster = config.root.getObject("kafka");
  if (kafka && !kafka->defaulted && cluster && cluster->has("bootstrap_servers")) {
    core::KafkaCluster typed;
    if (read("kafka", core::kafkaClusterSettings(), typed)) {
      config.dead_letter_topic = typed.dlq_topic;
      config.kafka = std::move(typed);
    }
  }
  read("admin", adminSettings(), config.admin);
  read("service", serviceSettings(), config.service);
  read("board", boardSettings(), config.board);
  read("log", logSettings(), config.log);
}

}  // namespace

std::expected<std::unique_ptr<DaemonConfig>, diag::Diagnostics> parseDaemonConfig(
    const std::string& text, const std::filesystem::path& file, const core::Registry& registry,
    const schema::SecretResolver& secrets) {
  diag::Diagnostics diagnostics;
  std::string file_name = file.string();
  diagnostics.addSource(file_name, text);
  YAML::Node document;
  try {
    document = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    core::SourceLocation loc{file_name, e.mark.line + 1, e.mark.column + 1, ""};
    diagnostics.add(loc, "YAML syntax: " + e.msg);
    return std::unexpected(std::move(diagnostics));
  }
  if (!document.IsMap()) {
    diagnostics.add(core::SourceLocation{file_name, 1, 1, ""},
                    "the configuration must be a mapping with a 'pipelines' key");
    return std::unexpected(std::move(diagnostics));
  }

  schema::ValidationContext context{file_name, &registry, &secrets, &diagnostics};
  auto config = std::make_unique<DaemonConfig>();
  config->file = file;
  try {
    config->root = schema::validateObject(document, daemonSchema(), "", context);
  } catch (const YAML::Exception& e) {
    core::SourceLocation loc{file_name, e.mark.line + 1, e.mark.column + 1, ""};
    diagnostics.add(loc, "YAML: " + e.msg);
    return std::unexpected(std::move(diagnostics));
  }
  readSections(*config, diagnostics);
  for (const char* section : {"kafka", "admin", "service", "board", "log"}) {
    const core::ConfigObject* object = config->root.getObject(section);
    config->section_digests[section] = object ? digestOf(objectJson(*object, false)) : std::string();
  }

  std::set<std::string> names;
  for (const auto& pipeline : config->root.getObjects("pipelines")) {
    const size_t problems_before = diagnostics.size();
    PipelineConfig p;
    p.name = pipeline.getString("name");
    p.enabled = pipeline.getBool("enabled");
    p.max_in_flight = static_cast<size_t>(pipeline.getInt("max_in_flight"));
    const std::string delivery = pipeline.getString("delivery");
    p.delivery = delivery == "exactly_once"    ? Delivery::ExactlyOnce
                 : delivery == "at_least_once" ? Delivery::AtLeastOnce
                                               : Delivery::Auto;
    p.commit_interval = std::chrono::duration_cast<std::chrono::milliseconds>(pipeline.getDuration("commit_interval"));
    p.commit_records = static_cast<size_t>(pipeline.getInt("commit_records"));
    p.dead_letter_limit = static_cast<size_t>(pipeline.getInt("dead_letter_limit"));
    p.dead_letter_window =
        std::chrono::duration_cast<std::chrono::milliseconds>(pipeline.getDuration("dead_letter_window"));
    p.on_failure = pipeline.getString("on_failure") == "stop_daemon" ? OnFailure::StopDaemon : OnFailure::StopPipeline;
    p.location = pipeline.location;
    p.digest = digestOf(
        nlohmann::ordered_json{{"pipeline", objectJson(pipeline, false)}, {"kafka", config->section_digests["kafka"]}});
    if (!p.name.empty() && !names.insert(p.name).second) {
      const auto* entry = pipeline.find("name");
      diagnostics.add(entry ? entry->location : pipeline.location, fmt::format("duplicate pipeline name '{}'", p.name));
    }
    if (const auto* source = pipeline.getObject("source")) p.source = {source->getString("type"), *source};
    if (const auto* sink = pipeline.getObject("sink")) p.sink = {sink->getString("type"), *sink};
    if (pipeline.has("mapping")) {
      std::filesystem::path mapping = pipeline.getString("mapping");
      if (mapping.is_relative()) mapping = file.parent_path() / mapping;
      const auto* entry = pipeline.find("mapping");
      std::error_code ec;
      if (!std::filesystem::is_regular_file(mapping, ec)) {
        diagnostics.add(entry->location, fmt::format("mapping file '{}' not found", mapping.string()));
      }
      p.mapping = mapping;
    }
    const auto* sink_factory = p.sink.type.empty() ? nullptr : registry.findSink(p.sink.type);
    if (sink_factory && p.delivery == Delivery::ExactlyOnce && !sink_factory->capabilities().transactions) {
      const auto* entry = pipeline.find("delivery");
      diagnostics.add(entry ? entry->location : pipeline.location,
                      fmt::format("pipeline '{}': delivery: exactly_once needs a sink with transactions (kafka); the "
                                  "{} sink has none",
                                  p.name, p.sink.type),
                      sink_factory->capabilities().stores_position
                          ? fmt::format("the {} sink stores the source position with its rows in one database "
                                        "transaction, which is exactly once by itself: use delivery: at_least_once",
                                        p.sink.type)
                          : "use delivery: at_least_once or auto");
    }
    // Dead letters of every stage (source, mapping, sink) need somewhere to go: a sink that
    // writes one place gets a producer to kafka.dlq_topic. Without a kafka section only a
    // mapping makes that an error (its dead letters are certain to come).
    if (sink_factory && !sink_factory->capabilities().carries_dead_letters) {
      routeDeadLetters(p, pipeline, *config, registry, context);
    }
    if (diagnostics.size() == problems_before) probeConnectors(p, pipeline, *config, registry, diagnostics);
    config->pipelines.push_back(std::move(p));
  }
  if (config->root.getObjects("pipelines").empty() && config->root.has("pipelines")) {
    diagnostics.add(config->root.find("pipelines")->location, "at least one pipeline is required");
  }
  if (!diagnostics.empty()) return std::unexpected(std::move(diagnostics));
  return config;
}

std::string_view deliveryName(Delivery delivery) {
  switch (delivery) {
    case Delivery::ExactlyOnce: return "exactly_once";
    case Delivery::AtLeastOnce: return "at_least_once";
    case Delivery::Auto: break;
  }
  return "auto";
}

std::expected<std::unique_ptr<DaemonConfig>, diag::Diagnostics> loadDaemonConfig(
    const std::filesystem::path& file, const core::Registry& registry, const schema::SecretResolver& secrets) {
  auto text = files::readRegularFile(file, files::kMaxConfigBytes, "the configuration file");
  if (!text) {
    diag::Diagnostics diagnostics;
    diagnostics.add(core::SourceLocation{file.string(), 0, 0, ""}, text.error().message);
    return std::unexpected(std::move(diagnostics));
  }
  return parseDaemonConfig(*text, file, registry, secrets);
}

namespace {

nlohmann::ordered_json objectJson(const core::ConfigObject& object, bool redact) {
  auto out = nlohmann::ordered_json::object();
  for (const auto& entry : object.entries) {
    if (entry.secret && redact) {
      out[entry.name] = "<redacted>";
    } else if (entry.type == FieldType::ObjectMap) {
      auto map = nlohmann::ordered_json::object();
      for (const auto& item : entry.objects) map[item.map_key] = objectJson(item, redact);
      out[entry.name] = map;
    } else if (entry.type == FieldType::ObjectList) {
      auto list = nlohmann::ordered_json::array();
      for (const auto& item : entry.objects) list.push_back(objectJson(item, redact));
      out[entry.name] = list;
    } else if (!entry.objects.empty()) {
      out[entry.name] = objectJson(entry.objects.front(), redact);
    } else if (entry.type == FieldType::Duration && entry.value.type() == core::ValueType::Int) {
      out[entry.name] = core::formatDuration(entry.value.asInt());
    } else {
      out[entry.name] = codec::toJson(entry.value);
    }
  }
  return out;
}

}  // namespace

std::string renderRedacted(const core::ConfigObject& object) {
  // A value with invalid UTF-8 (a YAML file in GBK, say) prints with U+FFFD instead of throwing
  // (found by fuzz/config_fuzz.cpp).
  return objectJson(object, true).dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

}  // namespace dutybridge::config
