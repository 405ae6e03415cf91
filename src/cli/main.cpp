// dutybridge command line: run, check, map, test, status, top, cursor, reload, list-connectors, hr-schema,
// version.
// Exit status: 0 success, 1 runtime failure, 2 usage error or invalid configuration.

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <expected>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "connectors/builtin.h"
#include "connectors/kafka/kafka_state_store.h"
#include "connectors/kafka/kafka_topic_follower.h"
#include "connectors/odbc/hr_schema.h"
#include "src/admin/admin_server.h"
#include "src/board/board_service.h"
#include "src/cli/mapping_commands.h"
#include "src/cli/ops_commands.h"
#include "src/cli/schema_doc.h"
#include "src/common/file_read.h"
#include "src/common/log.h"
#include "src/config/daemon_config.h"
#include "src/diagnostics/diagnostics.h"
#include "src/mapping/mapping.h"
#include "src/mapping/mapping_transform.h"
#include "src/runtime/daemon.h"
#include "src/runtime/retry.h"

#ifndef DUTYBRIDGE_VERSION
#define DUTYBRIDGE_VERSION "0.0.0"
#endif

namespace {

using namespace dutybridge;

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;

constexpr std::string_view kMainHelp =
    R"(dutybridge - MES/ERP/CRM events to duty KPIs and employee records, through Kafka

Usage: dutybridge <command> [options]

Commands:
  run -c FILE              run the pipelines in FILE until SIGTERM/SIGINT
  check -c FILE            validate FILE, its connectors and mappings; report every error
  map -m MAPPING -i FILE   run a mapping over JSON lines, print what it emits
  test [PATH...]           run the embedded tests of every mapping under PATH (default mappings/)
  status -c FILE           each pipeline's cursor and its age, lag, quarantine, windows and health
                           (live from a running daemon's admin API, else from the stored state)
  top -c FILE              a live view of the running daemon: rates, lag, dead letters, quarantine
  cursor show|set|reset -c FILE PIPELINE [POSITION]
                           a pipeline's stored source position; set and reset only while the
                           daemon is stopped
  reload -c FILE           make the running daemon check FILE again and apply it, rebuilding
                           only the pipelines it changes (an invalid FILE changes nothing)
  list-connectors          list source and sink connectors with their config schema
  hr-schema --dialect D    print the HR store's DDL (tables, offsets, duty_fulfilment view)
  version                  print the version

Run 'dutybridge <command> --help' for a command's options.

Exit status: 0 success; 1 runtime failure (`run`: a pipeline failed); 2 invalid configuration
or usage (the systemd unit does not restart on 2: a bad configuration does not loop).
)";

constexpr std::string_view kReloadHelp = R"(Usage: dutybridge reload -c FILE

Asks the daemon running with FILE to reload it, as SIGHUP and `systemctl reload dutybridge` do.
The daemon checks the file (and every mapping, calendar, catalog and table file it names) first:
with errors it logs them all and runs on unchanged; valid, it stops gracefully and rebuilds only
the pipelines whose configuration or files changed (their cursors committed: nothing is lost or
read twice), starts new ones, stops removed ones, and leaves the others running.

Through the admin API (admin.enabled with admin.token) the answer comes once the reload is done:
what was rebuilt, added, removed and left alone, or every error of the file. Otherwise SIGHUP
goes to the process in service.pid_file and the outcome is in the daemon's log.

Options:
  -c, --config FILE        configuration file (required)

Exit status 0 when applied (or nothing changed), 1 when the daemon cannot be reached or refused
(another reload under way), 2 when FILE has errors or gives no way to reach the daemon.
)";

constexpr std::string_view kHrSchemaHelp = R"(Usage: dutybridge hr-schema --dialect postgresql|sqlite

Prints the DDL of the HR store the odbc sink loads (docs/hr-store.md): duty_kpi_fact, the
employee_skill / employee_qualification / employee_training tables, dutybridge_offsets and the
duty_fulfilment view. The admin reviews and applies it, e.g.
  dutybridge hr-schema --dialect postgresql | psql -d hr
)";

constexpr std::string_view kStatusHelp = R"(Usage: dutybridge status -c FILE [--format text|json] [--offline]

Shows, per pipeline of FILE, its cursor (the source position, cut short in the table) and the
cursor's age, its quarantine and aggregation windows, and its health.

With admin.enabled, the daemon's admin API (admin.listen) is asked first. When it answers, the
daemon runs and the live state is shown: state, cursor and its age, lag, dead letters, records
in quarantine, open windows and the last error. When nothing listens there, the stored state is
read instead: the cursor from the state topic (kafka.state_topic; its age from the time the
entry was written), or, for a pipeline whose sink stores its position with its rows (the HR
loader: the sink's offsets table, dutybridge_offsets), from that table (age "unknown"); the
windows, rows and quarantined records of aggregate and quarantine mappings as of the last
delivered batch; and FAILED when the pipeline stopped on an error it could not retry (the error
and when follow the table; a successful start clears it).

Options:
  -c, --config FILE        configuration file (required)
  --format json            one JSON document (keys in docs/operations.md, "The command line")
  --offline                read the stored state even when the daemon answers

Exit status 0, 1 when the state cannot be read or a pipeline failed, 2 on usage or config errors.
)";

constexpr std::string_view kCursorHelp =
    R"(Usage: dutybridge cursor show|set|reset -c FILE PIPELINE [POSITION] [options]

  show PIPELINE            print the stored position (the whole text; "none" when none is stored,
                           so the source begins at its configured start)
  set PIPELINE POSITION    store POSITION, as `show` prints it, after the pipeline's source
                           checked it (a position it would refuse is an error, exit status 2)
  reset PIPELINE           delete the cursor: the source reads again from its configured start

set and reset write cursor/PIPELINE to the state topic and flush it, and log an audit line. They
refuse (exit status 1) while the daemon runs, which they learn from its admin API
(admin.enabled): stop the pipeline and use the admin API's PUT/DELETE .../cursor instead
(docs/operations.md). Without admin.enabled nothing tells them, so they need --daemon-stopped.
A pipeline whose sink stores its position with its rows (the HR loader's offsets table) is
shown but not changed here: change that row while the pipeline is stopped.

Options:
  -c, --config FILE        configuration file (required)
  --format json            show: {"pipeline", "daemon", "stored_by", "position", "stored_at"}
  --daemon-stopped         set/reset without admin.enabled: you stopped the daemon
)";

constexpr std::string_view kTopHelp = R"(Usage: dutybridge top -c FILE [--interval 1s] [--once]

A live terminal view of the running daemon, through its admin API (admin.enabled): per pipeline
its state, records read and delivered per second, dead letters per second, source lag, cursor
age, dead letters, quarantined records, open windows and the last error. Redrawn every interval;
q or Ctrl-C quits. Rates are the counters' growth between two refreshes.

Options:
  -c, --config FILE        configuration file (required)
  --interval DURATION      refresh period (default 1s, at least 100ms)
  --once                   print one frame (without rates) and exit

Exit status 0, 1 when the daemon does not answer, 2 without admin.enabled or on usage errors.
)";

constexpr std::string_view kRunHelp = R"(Usage: dutybridge run -c FILE [--log-level LEVEL] [--once]

Runs every enabled pipeline of FILE until SIGTERM or SIGINT, then stops gracefully: in-flight
records are flushed (with a deadline) and the final cursors stored. SIGHUP reloads FILE (see
`dutybridge reload --help`). Logs go to stderr with syslog priority prefixes for journald.
Under systemd (NOTIFY_SOCKET) it reports READY=1 once every pipeline is ready, a STATUS= line,
RELOADING=1 and STOPPING=1, and feeds the watchdog (WATCHDOG_USEC) while no pipeline is stuck
longer than service.stuck_after. Exit status 0 after a graceful stop, 1 when a pipeline failed,
2 when FILE is invalid.

Options:
  -c, --config FILE        configuration file (required)
  --log-level LEVEL        error, warning, notice, info or debug (overrides log.level)
  --once                   stop each pipeline, after delivering everything and storing its
                           cursor, the first time its source has nothing to read (backfills,
                           benchmarks)
)";

constexpr std::string_view kCheckHelp = R"(Usage: dutybridge check -c FILE [--print-config] [--connect]

Validates FILE offline: YAML syntax, every key, type, bound and required field of the daemon
and of each connector, secret references, and mapping files. Every problem is reported at once
as file:line:column with its YAML path. A mapping with `input: from_source` is checked as far
as possible without its source; its field types are checked when the pipeline starts, or now
with --connect. Exit status 0 when valid, 2 otherwise (1 when --connect cannot open a source).

Options:
  -c, --config FILE        configuration file (required)
  --print-config           print the effective configuration (defaults filled in, secrets
                           shown as <redacted>)
  --connect                open the source of every enabled pipeline whose mapping has
                           `input: from_source`, ask it to describe its records and type-check
                           the mapping against that description (reads no records)
)";

constexpr std::string_view kListHelp = R"(Usage: dutybridge list-connectors [--format text|markdown|man] [NAME]

Lists the source and sink connectors and the reference-table sources of mappings (a table's
odbc: or kafka: block) with their configuration schema (key, type, default, bounds,
description). With NAME, only that connector (source, sink, then table source, when they share
the name, like kafka and odbc). --format markdown prints the text of docs/connectors/NAME.md.
--format man prints the manual page dutybridge.yaml(5) (roff, without NAME): every key of the
configuration file and of every connector.
)";

struct Args {
  std::vector<std::string> items;
  size_t next = 0;
  bool done() const { return next >= items.size(); }
  const std::string& peek() const { return items[next]; }
  std::string take() { return items[next++]; }
};

bool wantsHelp(const Args& args) {
  for (const auto& item : args.items) {
    if (item == "-h" || item == "--help") return true;
  }
  return false;
}

int usage(std::string_view message, std::string_view help) {
  std::fprintf(stderr, "dutybridge: %.*s\n\n%.*s", static_cast<int>(message.size()), message.data(),
               static_cast<int>(help.size()), help.data());
  return kUsage;
}

core::Registry makeRegistry() {
  core::Registry registry;
  connectors::registerBuiltinConnectors(registry);
  return registry;
}

// `check` for mappings with `input: from_source`: offline, a note on what waits for start-up;
// with --connect, each such pipeline's source is opened and described and the mapping compiled
// against the description, as the pipeline would at start-up.
int checkFromSourceMappings(const config::DaemonConfig& daemon_config, const core::Registry& registry,
                            const std::map<std::string, std::shared_ptr<const mapping::Mapping>>& mappings,
                            bool connect) {
  core::SystemClock clock;
  int status = kOk;
  for (const auto& pipeline : daemon_config.pipelines) {
    auto found = mappings.find(pipeline.name);
    if (found == mappings.end() || !found->second->from_source) continue;
    const mapping::Mapping& m = *found->second;
    if (!connect) {
      std::fprintf(stderr,
                   "%s: note: input: from_source: field types are checked when pipeline %s starts (or now with "
                   "--connect); fields read from the source: %s\n",
                   m.file.string().c_str(), pipeline.name.c_str(),
                   m.source_fields.empty() ? "none" : fmt::format("{}", fmt::join(m.source_fields, ", ")).c_str());
      continue;
    }
    if (!pipeline.enabled) continue;
    core::ConnectorContext context;
    context.pipeline_name = pipeline.name;
    context.clock = &clock;
    context.kafka = daemon_config.kafkaCluster();
    auto source = registry.findSource(pipeline.source.type)->create(pipeline.source.settings, context);
    if (!source) {
      log::error("check", "pipeline {}: {}", pipeline.name, source.error().describe());
      status = std::max(status, kFailure);
      continue;
    }
    auto opened = (*source)->open(std::nullopt);
    auto described = opened ? (*source)->describe() : core::Result<std::optional<core::SourceDescription>>(
                                                          std::unexpected(opened.error()));
    (*source)->close();
    if (!described) {
      log::error("check", "pipeline {}: describing the source: {}", pipeline.name, described.error().describe());
      status = std::max(status, kFailure);
      continue;
    }
    if (!*described) {
      std::fprintf(stderr, "%s: error: pipeline %s: its %s source cannot describe its records; declare the input\n",
                   m.file.string().c_str(), pipeline.name.c_str(), pipeline.source.type.c_str());
      status = kUsage;
      continue;
    }
    auto compiled = m.compileFor(**described);
    if (!compiled) {
      std::string text = compiled.error().format();
      std::fwrite(text.data(), 1, text.size(), stderr);
      status = kUsage;
      continue;
    }
    std::fprintf(stderr, "%s: pipeline %s: OK against the source's description (%zu fields)\n", m.file.string().c_str(),
                 pipeline.name.c_str(), (*described)->size());
  }
  return status;
}

// For `run`: a mapping whose only problems are table sources that did not answer (a database or
// cluster still starting, a network outage) is loaded again with capped exponential backoff and
// jitter, like any Retryable failure, instead of refusing to start; SIGTERM ends the wait (the
// default action: nothing runs yet). Any other problem is returned at once.
std::expected<std::unique_ptr<mapping::Mapping>, diag::Diagnostics> loadMappingRetrying(
    const std::filesystem::path& file, const mapping::MappingLoadOptions& tables) {
  runtime::Backoff backoff(std::chrono::milliseconds(1000), std::chrono::milliseconds(60'000));
  for (int attempt = 1;; ++attempt) {
    size_t unreachable = 0;
    mapping::MappingLoadOptions options = tables;
    options.unreachable_tables = &unreachable;
    auto compiled = mapping::loadMapping(file, options);
    if (compiled || unreachable == 0 || unreachable != compiled.error().size()) return compiled;
    const auto wait = backoff.next();
    for (const auto& diagnostic : compiled.error().items()) {
      log::warning("daemon", "mapping {}: {} (attempt {}, retrying in {} ms)", file.string(), diagnostic.message,
                   attempt, wait.count());
    }
    runtime::Backoff::sleep({}, wait);  // nothing runs yet: SIGTERM's default action ends the wait
  }
}

// Loads and validates FILE; on failure prints every diagnostic to stderr and returns nullptr.
std::unique_ptr<config::DaemonConfig> loadConfigOrReport(const std::string& file, const core::Registry& registry) {
  schema::SecretResolver secrets;
  auto loaded = config::loadDaemonConfig(file, registry, secrets);
  if (loaded) {
    return std::move(*loaded);
  }
  std::string text = loaded.error().format();
  std::fwrite(text.data(), 1, text.size(), stderr);
  return nullptr;
}

int cmdStatus(Args& args) {
  if (wantsHelp(args)) {
    std::fwrite(kStatusHelp.data(), 1, kStatusHelp.size(), stdout);
    return kOk;
  }
  std::string file;
  std::string format = "text";
  cli::StatusOptions options;
  while (!args.done()) {
    std::string arg = args.take();
    if ((arg == "-c" || arg == "--config") && !args.done()) {
      file = args.take();
    } else if (arg == "--format" && !args.done()) {
      format = args.take();
    } else if (arg.starts_with("--format=")) {
      format = arg.substr(9);
    } else if (arg == "--offline") {
      options.offline = true;
    } else {
      return usage("unexpected argument '" + arg + "'", kStatusHelp);
    }
  }
  if (file.empty()) return usage("missing -c FILE", kStatusHelp);
  if (format != "text" && format != "json") return usage("--format must be text or json", kStatusHelp);
  options.json = format == "json";
  core::Registry registry = makeRegistry();
  auto loaded = loadConfigOrReport(file, registry);
  if (!loaded) return kUsage;
  log::setLevel(log::Level::Notice);  // the audit lines, not the state store's progress
  return cli::statusCommand(*loaded, registry, options);
}

int cmdCursor(Args& args) {
  if (wantsHelp(args)) {
    std::fwrite(kCursorHelp.data(), 1, kCursorHelp.size(), stdout);
    return kOk;
  }
  std::string file;
  std::string format = "text";
  cli::CursorOptions options;
  std::vector<std::string> positional;
  while (!args.done()) {
    std::string arg = args.take();
    if ((arg == "-c" || arg == "--config") && !args.done()) {
      file = args.take();
    } else if (arg == "--format" && !args.done()) {
      format = args.take();
    } else if (arg.starts_with("--format=")) {
      format = arg.substr(9);
    } else if (arg == "--daemon-stopped") {
      options.daemon_stopped = true;
    } else if (arg == "--") {
      while (!args.done()) positional.push_back(args.take());
    } else if (!arg.starts_with("-") || arg == "-") {
      positional.push_back(arg);  // the action, the pipeline, a position
    } else {
      return usage("unexpected argument '" + arg + "'", kCursorHelp);
    }
  }
  if (positional.empty()) return usage("missing show, set or reset", kCursorHelp);
  options.action = positional[0];
  const size_t wanted = options.action == "set" ? 3 : 2;
  if (options.action != "show" && options.action != "set" && options.action != "reset") {
    return usage("unknown action '" + options.action + "' (show, set or reset)", kCursorHelp);
  }
  if (positional.size() != wanted) {
    return usage(options.action == "set" ? "cursor set needs PIPELINE and POSITION" : "missing PIPELINE", kCursorHelp);
  }
  options.pipeline = positional[1];
  if (options.action == "set") options.position = positional[2];
  if (file.empty()) return usage("missing -c FILE", kCursorHelp);
  if (format != "text" && format != "json") return usage("--format must be text or json", kCursorHelp);
  options.json = format == "json";
  core::Registry registry = makeRegistry();
  auto loaded = loadConfigOrReport(file, registry);
  if (!loaded) return kUsage;
  log::setLevel(log::Level::Notice);  // the audit lines, not the state store's progress
  return cli::cursorCommand(*loaded, registry, options);
}

int cmdReload(Args& args) {
  if (wantsHelp(args)) {
    std::fwrite(kReloadHelp.data(), 1, kReloadHelp.size(), stdout);
    return kOk;
  }
  std::string file;
  while (!args.done()) {
    std::string arg = args.take();
    if ((arg == "-c" || arg == "--config") && !args.done())
      file = args.take();
    else if (arg.starts_with("--config="))
      file = arg.substr(9);
    else
      return usage("unexpected argument '" + arg + "'", kReloadHelp);
  }
  if (file.empty()) return usage("missing -c FILE", kReloadHelp);
  core::Registry registry = makeRegistry();
  auto loaded = loadConfigOrReport(file, registry);
  if (!loaded) return kUsage;
  return cli::reloadCommand(*loaded);
}

int cmdTop(Args& args) {
  if (wantsHelp(args)) {
    std::fwrite(kTopHelp.data(), 1, kTopHelp.size(), stdout);
    return kOk;
  }
  std::string file;
  cli::TopOptions options;
  while (!args.done()) {
    std::string arg = args.take();
    if ((arg == "-c" || arg == "--config") && !args.done()) {
      file = args.take();
    } else if (arg == "--once") {
      options.once = true;
    } else if (arg == "--interval" && !args.done()) {
      auto micros = core::parseDuration(args.take());
      if (!micros || *micros < 100'000) {
        return usage("--interval must be a duration of at least 100ms (e.g. 1s, 500ms)", kTopHelp);
      }
      options.interval = std::chrono::milliseconds(*micros / 1000);
    } else {
      return usage("unexpected argument '" + arg + "'", kTopHelp);
    }
  }
  if (file.empty()) return usage("missing -c FILE", kTopHelp);
  core::Registry registry = makeRegistry();
  auto loaded = loadConfigOrReport(file, registry);
  if (!loaded) return kUsage;
  return cli::topCommand(*loaded, options);
}

// The admin API and the board, stopped together.
struct Attachments final : runtime::DaemonAttachment {
  std::vector<std::unique_ptr<runtime::DaemonAttachment>> parts;
  void stop() override {
    for (auto& part : parts) part->stop();
  }
};

// A configuration file with its mappings loaded and checked, as `check`, `run` and a reload
// need it.
struct LoadedAll {
  std::shared_ptr<runtime::LoadedConfig> loaded;
  std::shared_ptr<const std::map<std::string, std::shared_ptr<const mapping::Mapping>>> mappings;
  std::shared_ptr<const board::BoardPlan> board;  // board.enabled: its calendar, catalog and options
};

// Loads FILE and every mapping it names; all problems come back at once as located text.
// `retry_tables` (run's first load): a mapping whose only problems are table sources that do not
// answer is loaded again with backoff instead of failing (a reload does not wait).
std::expected<LoadedAll, std::string> loadAll(const std::string& file, const core::Registry& registry,
                                              bool retry_tables) {
  schema::SecretResolver secrets;
  auto config = config::loadDaemonConfig(file, registry, secrets);
  if (!config) return std::unexpected(config.error().format());
  std::shared_ptr<const config::DaemonConfig> daemon_config = std::move(*config);
  auto loaded = std::make_shared<runtime::LoadedConfig>();
  loaded->config = daemon_config;
  // Table sources come from the same registry; a kafka table's default cluster is the kafka section.
  const mapping::MappingLoadOptions tables{.table_sources = &registry, .kafka = daemon_config->kafkaCluster()};
  // Mappings are checked like programs before anything runs; all their problems are reported.
  // Their tables load now, so `check` reaches odbc and kafka table sources too.
  auto mappings = std::make_shared<std::map<std::string, std::shared_ptr<const mapping::Mapping>>>();
  std::string errors;
  for (const auto& pipeline : daemon_config->pipelines) {
    if (!pipeline.mapping) continue;
    files::ReadRecorder read;  // what the mapping reads: a reload compares it
    auto compiled =
        retry_tables ? loadMappingRetrying(*pipeline.mapping, tables) : mapping::loadMapping(*pipeline.mapping, tables);
    if (!compiled) {
      errors += compiled.error().format();
      continue;
    }
    loaded->files[pipeline.name] = read.files();
    mappings->emplace(pipeline.name, std::shared_ptr<const mapping::Mapping>(std::move(*compiled)));
  }
  std::shared_ptr<const board::BoardPlan> board;
  if (daemon_config->board.enabled) {
    if (!daemon_config->kafka) {
      errors += fmt::format("{}: board: the board reads its facts from Kafka, but there is no kafka section\n", file);
    } else if (auto prepared = board::prepareBoard(daemon_config->board, daemon_config->file); !prepared) {
      errors += prepared.error();
    } else {
      board = std::move(*prepared);
    }
  }
  if (!errors.empty()) return std::unexpected(std::move(errors));
  // State in the state topic outlives the run; kept only in memory (no kafka section) it does not.
  std::shared_ptr<const mapping::StateSeal> state_seal;
  if (daemon_config->kafka && daemon_config->kafka->state_key) {
    state_seal = std::make_shared<const mapping::StateSeal>(*daemon_config->kafka->state_key);
  } else if (daemon_config->kafka) {
    diag::Diagnostics missing;
    for (const auto& pipeline : daemon_config->pipelines) {
      auto it = mappings->find(pipeline.name);
      if (it == mappings->end() || !it->second->needsStateKey()) continue;
      missing.add(pipeline.location,
                  fmt::format("pipeline '{}': mapping {} keeps state ({}) and has personal input fields ({}), which "
                              "the state topic must not hold in clear, but the kafka section has no state_key",
                              pipeline.name, it->second->label(), it->second->aggregate ? "aggregate:" : "quarantine:",
                              fmt::join(it->second->personalInputFields(), ", ")),
                  "add kafka.state_key: ${cred:dutybridge_state_key} (a secret reference; keep it: the stored "
                  "state is unreadable without it)");
    }
    if (!missing.empty()) return std::unexpected(missing.format());
  }
  loaded->make_transform = [mappings, state_seal](const config::PipelineConfig& pipeline,
                                                  const core::Clock& clock) -> std::unique_ptr<core::Transform> {
    return std::make_unique<mapping::MappingTransform>(mappings->at(pipeline.name), clock, state_seal);
  };
  return LoadedAll{std::move(loaded), std::move(mappings), std::move(board)};
}

int cmdCheckOrRun(Args& args, bool run) {
  std::string_view help = run ? kRunHelp : kCheckHelp;
  if (wantsHelp(args)) {
    std::fwrite(help.data(), 1, help.size(), stdout);
    return kOk;
  }
  std::string file;
  std::string log_level;
  bool print_config = false;
  bool connect = false;
  runtime::DaemonOptions daemon_options;
  while (!args.done()) {
    std::string arg = args.take();
    if ((arg == "-c" || arg == "--config") && !args.done()) file = args.take();
    else if (arg.starts_with("--config=")) file = arg.substr(9);
    else if (run && arg == "--log-level" && !args.done()) log_level = args.take();
    else if (run && arg == "--once") daemon_options.once = true;
    else if (!run && arg == "--print-config") print_config = true;
    else if (!run && arg == "--connect") connect = true;
    else return usage("unexpected argument '" + arg + "'", help);
  }
  if (file.empty()) return usage("missing -c FILE", help);

  core::Registry registry = makeRegistry();
  auto all = loadAll(file, registry, run);
  if (!all) {
    if (!run) {
      std::fwrite(all.error().data(), 1, all.error().size(), stderr);
    } else {
      // Each line at error priority, so `journalctl -p err` shows why the service did not start.
      std::string_view text = all.error();
      while (!text.empty()) {
        const size_t end = text.find('\n');
        if (end != 0) log::error("config", "{}", text.substr(0, end));
        if (end == std::string_view::npos) break;
        text.remove_prefix(end + 1);
      }
    }
    return kUsage;
  }
  const config::DaemonConfig& daemon_config = *all->loaded->config;
  if (!run) {
    if (print_config) std::cout << config::renderRedacted(daemon_config.root);
    int status = checkFromSourceMappings(daemon_config, registry, *all->mappings, connect);
    if (status != kOk) return status;
    std::fprintf(stderr, "%s: OK, %zu pipeline(s)\n", file.c_str(), daemon_config.pipelines.size());
    return kOk;
  }
  log::Level level = log::Level::Info;
  log::parseLevel(daemon_config.log.level, level);
  if (!log_level.empty() && !log::parseLevel(log_level, level)) {
    return usage("unknown log level '" + log_level + "'", help);
  }
  daemon_options.keep_log_level = !log_level.empty();
  log::setLevel(level);
  log::notice("daemon", "dutybridge {} starting with {}", DUTYBRIDGE_VERSION, file);
  if (daemon_config.kafka) {
    const core::KafkaCluster* kafka = daemon_config.kafkaCluster();
    daemon_options.open_state_store = [kafka] { return connectors::openKafkaStateStore(*kafka, "state"); };
  }
  if (daemon_config.admin.enabled || all->board) {
    daemon_options.attach =
        [&daemon_config, board = all->board](
            boost::asio::io_context& io,
            runtime::DaemonControl& control) -> core::Result<std::unique_ptr<runtime::DaemonAttachment>> {
      auto attached = std::make_unique<Attachments>();
      if (daemon_config.admin.enabled) {
        auto admin = admin::startAdminServer(io, control, daemon_config.admin);
        if (!admin) return core::fail(admin.error());
        attached->parts.push_back(std::move(*admin));
      }
      if (board) {
        auto started =
            board::startBoard(io, board, connectors::kafkaTopicFollowerFactory(*daemon_config.kafka, "board"));
        if (!started) return core::fail(started.error());
        attached->parts.push_back(std::move(*started));
      }
      return std::unique_ptr<runtime::DaemonAttachment>(std::move(attached));
    };
  }
  daemon_options.reload = [file,
                           &registry]() -> std::expected<std::shared_ptr<const runtime::LoadedConfig>, std::string> {
    auto next = loadAll(file, registry, false);
    if (!next) return std::unexpected(std::move(next.error()));
    return std::shared_ptr<const runtime::LoadedConfig>(std::move(next->loaded));
  };
  int status = runtime::runDaemon(all->loaded, registry, daemon_options);
  return status == 0 ? kOk : status == 2 ? kUsage : kFailure;
}

int cmdListConnectors(Args& args) {
  if (wantsHelp(args)) {
    std::fwrite(kListHelp.data(), 1, kListHelp.size(), stdout);
    return kOk;
  }
  std::string format = "text";
  std::string only;
  while (!args.done()) {
    std::string arg = args.take();
    if (arg == "--format" && !args.done()) format = args.take();
    else if (arg.starts_with("--format=")) format = arg.substr(9);
    else if (!arg.starts_with("-") && only.empty()) only = arg;
    else return usage("unexpected argument '" + arg + "'", kListHelp);
  }
  if (format != "text" && format != "markdown" && format != "man") {
    return usage("--format must be text, markdown or man", kListHelp);
  }
  core::Registry registry = makeRegistry();
  if (format == "man") {
    if (!only.empty()) return usage("--format man prints the whole of dutybridge.yaml(5): no NAME", kListHelp);
    std::cout << cli::configManPage(config::daemonSchema(), registry.all(), DUTYBRIDGE_VERSION);
    return kOk;
  }
  bool found = false;
  for (const auto* factory : registry.all()) {
    if (!only.empty() && factory->name() != only) continue;
    // A source, a sink and a table source may share a name (kafka, odbc): NAME prints each,
    // sources first, a blank line apart, so docs/connectors/<name>.md documents all of them.
    if (found && !only.empty()) std::cout << "\n";
    found = true;
    std::string text = format == "text" ? cli::describeText(*factory) : cli::describeMarkdown(*factory);
    std::cout << text << (only.empty() ? "\n" : "");
  }
  if (!found) {
    std::fprintf(stderr, "dutybridge: no connector named '%s'\n", only.c_str());
    return kUsage;
  }
  return kOk;
}

int cmdHrSchema(Args& args) {
  if (wantsHelp(args)) {
    std::fwrite(kHrSchemaHelp.data(), 1, kHrSchemaHelp.size(), stdout);
    return kOk;
  }
  std::string dialect;
  while (!args.done()) {
    std::string arg = args.take();
    if (arg == "--dialect" && !args.done()) dialect = args.take();
    else if (arg.starts_with("--dialect=")) dialect = arg.substr(10);
    else return usage("unexpected argument '" + arg + "'", kHrSchemaHelp);
  }
  if (dialect.empty()) return usage("--dialect is required", kHrSchemaHelp);
  const odbc::UpsertDialect* found = odbc::upsertDialectNamed(dialect);
  if (!found) {
    return usage(fmt::format("unknown dialect '{}' (known: {})", dialect, fmt::join(odbc::upsertDialectNames(), ", ")),
                 kHrSchemaHelp);
  }
  std::cout << odbc::hrSchemaDdl(*found);
  return kOk;
}

}  // namespace

int main(int argc, char** argv) {
  Args args;
  for (int i = 1; i < argc; ++i) args.items.emplace_back(argv[i]);
  if (args.done()) return usage("missing command", kMainHelp);
  std::string command = args.take();
  try {
    if (command == "run") {
      // From the first instruction: SIGHUP's default action would end the daemon without a
      // graceful stop while it still loads its configuration (runDaemon logs later ones).
      std::signal(SIGHUP, SIG_IGN);
      return cmdCheckOrRun(args, true);
    }
    if (command == "check") return cmdCheckOrRun(args, false);
    if (command == "status") return cmdStatus(args);
    if (command == "cursor") return cmdCursor(args);
    if (command == "top") return cmdTop(args);
    if (command == "reload") return cmdReload(args);
    if (command == "list-connectors") return cmdListConnectors(args);
    if (command == "hr-schema") return cmdHrSchema(args);
    if (command == "map" || command == "test") {
      std::vector<std::string> rest(args.items.begin() + static_cast<std::ptrdiff_t>(args.next), args.items.end());
      return command == "map" ? cli::runMapCommand(rest) : cli::runTestCommand(rest);
    }
    if (command == "version" || command == "--version") {
      std::printf("dutybridge %s\n", DUTYBRIDGE_VERSION);
      return kOk;
    }
    if (command == "help" || command == "-h" || command == "--help") {
      std::fwrite(kMainHelp.data(), 1, kMainHelp.size(), stdout);
      return kOk;
    }
  } catch (const std::exception& e) {
    // Last line of defence: report, never swallow. Components turn their own exceptions into
    // Error values, so reaching this is a bug.
    log::error("dutybridge", "unexpected exception: {}", e.what());
    return kFailure;
  }
  return usage("unknown command '" + command + "'", kMainHelp);
}
