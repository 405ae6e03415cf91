#include "src/cli/ops_commands.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <vector>

#include "connectors/kafka/kafka_state_store.h"
#include "src/cli/admin_client.h"
#include "src/common/log.h"
#include "src/core/clock.h"
#include "src/core/time.h"
#include "src/mapping/mapping_transform.h"
#include "src/runtime/cursor_tools.h"
#include "src/runtime/pipeline_status.h"
#include "src/runtime/state_layout.h"

namespace dutybridge::cli {
namespace {

using nlohmann::json;

constexpr int kOk = 0;
constexpr int kFailure = 1;
constexpr int kUsage = 2;
constexpr std::chrono::milliseconds kProbeTimeout{3000};
constexpr size_t kCursorWidth = 40;

void printOut(std::string_view text) {
  std::fwrite(text.data(), 1, text.size(), stdout);
}

std::string formatUnixMillis(int64_t ms) {
  return core::formatTimestamp(core::Timestamp{ms * 1000});
}

// Long positions (a Kafka source's per-partition offsets) are cut in the table; `cursor show`
// and --format json give them whole.
std::string shorten(std::string_view text, size_t width) {
  if (text.size() <= width) return std::string(text);
  return std::string(text.substr(0, width - 3)) + "...";
}

// 0.4 -> "0.4s", 75 -> "1m15s", 7300 -> "2h01m", 200000 -> "2d07h".
std::string humanSeconds(double seconds) {
  if (seconds < 0) seconds = 0;
  if (seconds < 10) return fmt::format("{:.1f}s", seconds);
  const auto s = static_cast<int64_t>(seconds);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  if (s < 86400) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  return fmt::format("{}d{:02}h", s / 86400, s % 86400 / 3600);
}

std::string humanSeconds(const json& value) {
  return value.is_number() ? humanSeconds(value.get<double>()) : std::string("-");
}

const config::PipelineConfig* findPipeline(const config::DaemonConfig& config, std::string_view name) {
  for (const auto& pipeline : config.pipelines) {
    if (pipeline.name == name) return &pipeline;
  }
  return nullptr;
}

// ---- is the daemon running? -----------------------------------------------------------------

enum class Daemon { Running, NotRunning, Unknown };

struct Probe {
  Daemon daemon = Daemon::Unknown;
  std::string why;   // for Unknown: why it cannot be told
  AdminReply reply;  // for Running: the answer to the probe's request
};

// Asks `target` of the admin API; the answer says whether the daemon runs.
Probe probe(const config::DaemonConfig& config, const std::string& target) {
  if (!config.admin.enabled) {
    return {Daemon::Unknown, "admin.enabled is false, so the command line cannot ask the daemon", {}};
  }
  AdminRequest request;
  request.target = target;
  request.timeout = kProbeTimeout;
  auto reply = adminRequest(config.admin, request);
  if (reply) return {Daemon::Running, {}, std::move(*reply)};
  if (reply.error().nothing_listens) return {Daemon::NotRunning, reply.error().message, {}};
  return {Daemon::Unknown, reply.error().message, {}};
}

std::string daemonName(Daemon daemon) {
  switch (daemon) {
    case Daemon::Running:
      return "running";
    case Daemon::NotRunning:
      return "not_running";
    case Daemon::Unknown:
      return "unknown";
  }
  return "unknown";
}

std::unique_ptr<core::StateStore> openStateStore(const config::DaemonConfig& config, std::string_view command) {
  if (!config.kafka) {
    std::fprintf(stderr, "dutybridge %.*s: %s has no kafka section, so no cursor or state is stored\n",
                 static_cast<int>(command.size()), command.data(), config.file.string().c_str());
    return nullptr;
  }
  auto store = connectors::openKafkaStateStore(*config.kafka, std::string(command));
  if (!store) {
    log::error(command, "cannot read the state topic: {}", store.error().describe());
    return nullptr;
  }
  return std::move(*store);
}

// Dead letters of all stages, from a pipeline's status object (the admin API's shape).
uint64_t deadLetters(const json& pipeline) {
  uint64_t dead = 0;
  for (const auto& count : pipeline.value("counters", json::object()).value("dead_letters", json::object())) {
    if (count.is_number_unsigned()) dead += count.get<uint64_t>();
  }
  return dead;
}

// ---- status ---------------------------------------------------------------------------------

int liveStatus(const config::DaemonConfig& config, const StatusOptions& options, const AdminReply& reply) {
  auto body = json::parse(reply.body, nullptr, false);
  if (reply.status != 200 || body.is_discarded() || !body.contains("pipelines")) {
    std::fprintf(stderr, "dutybridge status: the admin API at %s answered %d: %s\n", adminBaseUrl(config.admin).c_str(),
                 reply.status, shorten(reply.body, 200).c_str());
    return kFailure;
  }
  const json& pipelines = body["pipelines"];
  int status = kOk;
  for (const auto& p : pipelines) {
    if (p.value("state", "") == "failed") status = kFailure;
  }
  if (options.json) {
    json out = {{"daemon", "running"},
                {"source", "admin_api"},
                {"admin", adminBaseUrl(config.admin)},
                {"pipelines", pipelines}};
    printOut(out.dump(2) + "\n");
    return status;
  }
  printOut(fmt::format("daemon running; live state from the admin API at {}\n", adminBaseUrl(config.admin)));
  printOut(fmt::format("{:<28} {:<9} {:<40} {:>8} {:>8} {:>8} {:>11} {:>5}\n", "pipeline", "state", "cursor", "age",
                       "lag", "dead", "quarantined", "open"));
  std::vector<std::string> errors;
  for (const auto& p : pipelines) {
    const json& cursor = p.value("cursor", json::object());
    const json& gauges = p.value("gauges", json::object());
    const uint64_t dead = deadLetters(p);
    const std::string value = cursor.value("value", json()).is_string() ? cursor["value"].get<std::string>() : "none";
    printOut(fmt::format("{:<28} {:<9} {:<40} {:>8} {:>8} {:>8} {:>11} {:>5}\n", p.value("name", ""),
                         p.value("state", ""), shorten(value, kCursorWidth),
                         humanSeconds(cursor.value("age_seconds", json())),
                         humanSeconds(p.value("lag_seconds", json())), dead, gauges.value("quarantined", int64_t{0}),
                         gauges.value("open_windows", int64_t{0})));
    if (const json& error = p.value("last_error", json()); error.is_object()) {
      errors.push_back(fmt::format("{}: last error ({}, since {}): {}", p.value("name", ""), error.value("kind", ""),
                                   error.value("since", ""), error.value("message", "")));
    }
  }
  for (const auto& line : errors) printOut(line + "\n");
  return status;
}

struct OfflineRow {
  json object;
  std::string cursor_text = "none";
  std::string age_text = "-";
  mapping::StateSummary summary;
  bool failed = false;
  std::string failure;
};

int offlineStatus(const config::DaemonConfig& config, const core::Registry& registry, const StatusOptions& options,
                  const Probe& daemon) {
  auto store = openStateStore(config, "status");
  if (!store) return config.kafka ? kFailure : kUsage;
  core::SystemClock clock;
  const int64_t now_ms = runtime::unixMillisNow();
  int status = kOk;
  std::vector<OfflineRow> rows;
  for (const auto& pipeline : config.pipelines) {
    OfflineRow row;
    json cursor = {{"stored_by", "state_store"}, {"value", nullptr}, {"stored_at", nullptr}, {"age_seconds", nullptr}};
    const core::ConnectorContext context = runtime::pipelineConnectorContext(config, pipeline, clock);
    auto by_sink = runtime::readSinkPosition(registry, pipeline, context);
    if (!by_sink) {
      log::error("status", "pipeline {}: reading the position its sink stores: {}", pipeline.name,
                 by_sink.error().describe());
      status = kFailure;
      row.cursor_text = "unreadable";
      cursor["stored_by"] = "sink";
    } else if (by_sink->stored_by_sink) {
      // The sink's offsets row carries no time this command can see: its age is unknown here
      // (the admin API of a running daemon has it).
      cursor["stored_by"] = "sink";
      if (by_sink->position) {
        cursor["value"] = *by_sink->position;
        row.cursor_text = *by_sink->position;
        row.age_text = "unknown";
      }
    } else {
      const std::string key = runtime::state_layout::cursorKey(pipeline.name);
      auto stored = store->get(key);
      if (!stored) {
        log::error("status", "pipeline {}: {}", pipeline.name, stored.error().describe());
        return kFailure;
      }
      if (*stored) {
        cursor["value"] = **stored;
        row.cursor_text = **stored;
        row.age_text = "unknown";
        if (auto at = store->storedAtUnixMs(key)) {
          cursor["stored_at"] = formatUnixMillis(*at);
          cursor["age_seconds"] = static_cast<double>(now_ms - *at) / 1000.0;
          row.age_text = humanSeconds(static_cast<double>(now_ms - *at) / 1000.0);
        }
      }
    }
    json last_error = nullptr;
    auto health = store->get(runtime::state_layout::healthKey(pipeline.name));
    if (health && *health) {
      auto entry = json::parse(**health, nullptr, false);
      if (entry.is_object() && entry.value("state", "") == "failed") {
        row.failed = true;
        status = kFailure;
        const std::string when = formatUnixMillis(entry.value("at_unix_ms", int64_t{0}));
        last_error = {{"kind", entry.value("kind", std::string("error"))},
                      {"message", entry.value("error", std::string())},
                      {"since", when}};
        row.failure = fmt::format("pipeline {} stopped at {} ({}): {}", pipeline.name, when,
                                  entry.value("kind", std::string("error")), entry.value("error", std::string()));
      }
    }
    const std::string prefix = runtime::state_layout::transformPrefix(pipeline.name);
    auto entries = store->scan(prefix);
    if (!entries) {
      log::error("status", "pipeline {}: {}", pipeline.name, entries.error().describe());
      return kFailure;
    }
    for (const auto& [key, value] : *entries) row.summary.add(std::string_view(key).substr(prefix.size()), value);
    if (row.summary.unreadable_windows > 0) {
      log::warning("status", "pipeline {}: {} stored window entries cannot be read", pipeline.name,
                   row.summary.unreadable_windows);
    }
    row.object = {{"name", pipeline.name},
                  {"enabled", pipeline.enabled},
                  {"health", row.failed ? "failed" : "ok"},
                  {"last_error", std::move(last_error)},
                  {"cursor", std::move(cursor)},
                  {"gauges",
                   {{"windows", row.summary.windows},
                    {"open_windows", row.summary.open_windows},
                    {"window_rows", row.summary.rows},
                    {"quarantined", row.summary.quarantined}}}};
    rows.push_back(std::move(row));
  }
  if (options.json) {
    json list = json::array();
    for (auto& row : rows) list.push_back(std::move(row.object));
    json out = {{"daemon", daemonName(daemon.daemon)}, {"source", "state_store"}, {"pipelines", std::move(list)}};
    printOut(out.dump(2) + "\n");
    return status;
  }
  if (daemon.daemon == Daemon::NotRunning) {
    printOut("daemon not running (its admin API does not answer); stored state:\n");
  } else if (config.admin.enabled && !options.offline) {
    printOut(fmt::format("cannot tell whether the daemon runs ({}); stored state:\n", daemon.why));
  } else {
    printOut("stored state (the state topic; with admin.enabled a running daemon shows live state):\n");
  }
  printOut(fmt::format("{:<28} {:<40} {:>8} {:>8} {:>6} {:>8} {:>11}  {}\n", "pipeline", "cursor", "age", "windows",
                       "open", "rows", "quarantined", "health"));
  for (const auto& row : rows) {
    printOut(fmt::format("{:<28} {:<40} {:>8} {:>8} {:>6} {:>8} {:>11}  {}\n", row.object["name"].get<std::string>(),
                         shorten(row.cursor_text, kCursorWidth), row.age_text, row.summary.windows,
                         row.summary.open_windows, row.summary.rows, row.summary.quarantined,
                         row.failed ? "FAILED" : "ok"));
  }
  for (const auto& row : rows) {
    if (row.failed) printOut(row.failure + "\n");
  }
  return status;
}

// ---- top ------------------------------------------------------------------------------------

struct Sample {
  int64_t at_ms = 0;
  std::map<std::string, json> pipelines;  // name -> status object
};

// Per second, from the counter's growth since the previous sample ("-" on the first).
std::string rate(const Sample* previous, const Sample& now, const std::string& name, uint64_t value,
                 uint64_t (*counter)(const json&)) {
  if (!previous || now.at_ms <= previous->at_ms) return "-";
  auto it = previous->pipelines.find(name);
  if (it == previous->pipelines.end()) return "-";
  const uint64_t before = counter(it->second);
  if (value < before) return "-";  // counters never go back; a restarted daemon does
  return fmt::format("{:.1f}",
                     static_cast<double>(value - before) * 1000.0 / static_cast<double>(now.at_ms - previous->at_ms));
}

uint64_t readCounter(const json& p) {
  return p.value("counters", json::object()).value("records_read", uint64_t{0});
}
uint64_t deliveredCounter(const json& p) {
  return p.value("counters", json::object()).value("records_delivered", uint64_t{0});
}

std::string frame(const config::DaemonConfig& config, const Sample* previous, const Sample& now, size_t width) {
  std::string out = fmt::format("dutybridge top  {}  {}  (q or Ctrl-C quits)\n\n", adminBaseUrl(config.admin),
                                formatUnixMillis(now.at_ms));
  out += fmt::format("{:<24} {:<9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>6} {:>5}  {}\n", "PIPELINE", "STATE",
                     "READ/s", "OUT/s", "DLQ/s", "LAG", "CURSOR", "DEAD", "QUAR", "OPEN", "LAST ERROR");
  for (const auto& [name, p] : now.pipelines) {
    const json& gauges = p.value("gauges", json::object());
    const json& error = p.value("last_error", json());
    std::string error_text = error.is_object() ? error.value("message", "") : "";
    std::string line = fmt::format(
        "{:<24} {:<9} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>6} {:>5}  {}", shorten(name, 24), p.value("state", ""),
        rate(previous, now, name, readCounter(p), readCounter),
        rate(previous, now, name, deliveredCounter(p), deliveredCounter),
        rate(previous, now, name, deadLetters(p), deadLetters), humanSeconds(p.value("lag_seconds", json())),
        humanSeconds(p.value("cursor", json::object()).value("age_seconds", json())), deadLetters(p),
        gauges.value("quarantined", int64_t{0}), gauges.value("open_windows", int64_t{0}), error_text);
    line = shorten(line, std::max<size_t>(width, 40));
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  if (now.pipelines.empty()) out += "(no pipelines)\n";
  return out;
}

volatile std::sig_atomic_t g_interrupted = 0;

// The terminal in non-canonical mode without echo while top runs (a single q is read at once);
// restored however top ends.
class RawTerminal {
 public:
  RawTerminal() {
    if (!::isatty(STDIN_FILENO) || ::tcgetattr(STDIN_FILENO, &saved_) != 0) return;
    termios raw = saved_;
    raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 0;
    active_ = ::tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
  }
  ~RawTerminal() {
    if (active_) ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_);
  }
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  termios saved_{};
  bool active_ = false;
};

// Waits up to `wait` for a key; true when the user asked to quit (q, Ctrl-C).
bool waitForQuit(std::chrono::milliseconds wait) {
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!g_interrupted) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    if (left <= 0) return false;
    pollfd in{STDIN_FILENO, POLLIN, 0};
    const int ready = ::poll(&in, ::isatty(STDIN_FILENO) ? 1 : 0, static_cast<int>(left));
    if (ready > 0 && (in.revents & POLLIN)) {
      char key = 0;
      if (::read(STDIN_FILENO, &key, 1) == 1 && (key == 'q' || key == 'Q')) return true;
    }
  }
  return true;
}

}  // namespace

int statusCommand(const config::DaemonConfig& config, const core::Registry& registry, const StatusOptions& options) {
  Probe daemon;
  if (!options.offline) daemon = probe(config, "/api/v1/pipelines");
  if (daemon.daemon == Daemon::Running) return liveStatus(config, options, daemon.reply);
  if (config.admin.enabled && !options.offline && daemon.daemon == Daemon::Unknown) {
    log::warning("status", "cannot tell whether the daemon runs ({}); showing the stored state", daemon.why);
  }
  return offlineStatus(config, registry, options, daemon);
}

int cursorCommand(const config::DaemonConfig& config, const core::Registry& registry, const CursorOptions& options) {
  const config::PipelineConfig* pipeline = findPipeline(config, options.pipeline);
  if (!pipeline) {
    std::fprintf(stderr, "dutybridge cursor: %s has no pipeline named '%s'\n", config.file.string().c_str(),
                 options.pipeline.c_str());
    return kUsage;
  }
  const std::string api = "/api/v1/pipelines/" + pipeline->name;
  const Probe daemon = probe(config, options.action == "show" ? api + "/cursor" : std::string("/healthz"));
  core::SystemClock clock;
  const core::ConnectorContext context = runtime::pipelineConnectorContext(config, *pipeline, clock);

  if (options.action == "show") {
    json shown;
    if (daemon.daemon == Daemon::Running) {
      auto body = json::parse(daemon.reply.body, nullptr, false);
      if (daemon.reply.status != 200 || body.is_discarded()) {
        // A pipeline the daemon does not run (disabled) answers 404: say so, with its reason.
        std::fprintf(stderr, "dutybridge cursor: the admin API answered %d: %s", daemon.reply.status,
                     daemon.reply.body.c_str());
        return kFailure;
      }
      shown = {{"pipeline", pipeline->name},
               {"daemon", "running"},
               {"stored_by", body.value("stored_by", "state_store")},
               {"position", body.value("position", json())}};
    } else {
      auto by_sink = runtime::readSinkPosition(registry, *pipeline, context);
      if (!by_sink) {
        log::error("cursor", "pipeline {}: reading the position its sink stores: {}", pipeline->name,
                   by_sink.error().describe());
        return kFailure;
      }
      shown = {{"pipeline", pipeline->name}, {"daemon", daemonName(daemon.daemon)}};
      if (by_sink->stored_by_sink) {
        shown["stored_by"] = "sink";
        shown["position"] = by_sink->position ? json(*by_sink->position) : json(nullptr);
      } else {
        auto store = openStateStore(config, "cursor");
        if (!store) return config.kafka ? kFailure : kUsage;
        auto stored = store->get(runtime::state_layout::cursorKey(pipeline->name));
        if (!stored) {
          log::error("cursor", "pipeline {}: {}", pipeline->name, stored.error().describe());
          return kFailure;
        }
        shown["stored_by"] = "state_store";
        shown["position"] = *stored ? json(**stored) : json(nullptr);
        if (auto at = store->storedAtUnixMs(runtime::state_layout::cursorKey(pipeline->name)); at && *stored) {
          shown["stored_at"] = formatUnixMillis(*at);
        }
      }
    }
    if (options.json) {
      printOut(shown.dump(2) + "\n");
    } else {
      // The position alone on stdout, as `cursor set` takes it back.
      printOut((shown["position"].is_string() ? shown["position"].get<std::string>() : std::string("none")) + "\n");
    }
    return kOk;
  }

  // set, reset: never behind a running daemon's back (it would overwrite the cursor with its own
  // at its next commit, or read a cursor half-way through).
  if (daemon.daemon == Daemon::Running) {
    std::fprintf(stderr,
                 "dutybridge cursor: the daemon is running (its admin API at %s answered), so the cursor of %s is not "
                 "changed from here. Stop the pipeline and change it through the admin API instead "
                 "(docs/operations.md):\n  POST %s/stop, then PUT %s/cursor {\"position\": ...} or DELETE "
                 "%s/cursor, then POST %s/resume\n",
                 adminBaseUrl(config.admin).c_str(), pipeline->name.c_str(), api.c_str(), api.c_str(), api.c_str(),
                 api.c_str());
    return kFailure;
  }
  if (daemon.daemon == Daemon::Unknown) {
    if (config.admin.enabled) {
      std::fprintf(stderr,
                   "dutybridge cursor: cannot tell whether the daemon runs (%s); the cursor is left alone. Retry once "
                   "the admin API answers (then use it) or the daemon is stopped.\n",
                   daemon.why.c_str());
      return kFailure;
    }
    if (!options.daemon_stopped) {
      std::fprintf(stderr,
                   "dutybridge cursor: %s has no admin API (admin.enabled: false), so this command cannot tell whether "
                   "the daemon runs. Stop it (systemctl stop dutybridge), then confirm with --daemon-stopped.\n",
                   config.file.string().c_str());
      return kUsage;
    }
  }
  auto by_sink = runtime::readSinkPosition(registry, *pipeline, context, /*open=*/false);
  if (!by_sink) {
    log::error("cursor", "pipeline {}: {}", pipeline->name, by_sink.error().describe());
    return kFailure;
  }
  if (by_sink->stored_by_sink) {
    std::fprintf(stderr,
                 "dutybridge cursor: pipeline %s stores its position with the rows in its sink's database (the "
                 "offsets table, dutybridge_offsets unless offsets_table says otherwise), not in the state topic: "
                 "change that row while the pipeline is stopped (docs/hr-store.md).\n",
                 pipeline->name.c_str());
    return kFailure;
  }
  auto store = openStateStore(config, "cursor");
  if (!store) return config.kafka ? kFailure : kUsage;
  auto written = runtime::writeCursor(*store, registry, *pipeline, context, options.position, "the command line");
  if (!written) {
    std::fprintf(stderr, "dutybridge cursor: pipeline %s: %s\n", pipeline->name.c_str(),
                 written.error().message.c_str());
    return written.error().code == runtime::ControlError::Code::Invalid ? kUsage : kFailure;
  }
  printOut(options.position
               ? fmt::format("pipeline {}: cursor set\n", pipeline->name)
               : fmt::format("pipeline {}: cursor deleted; it starts from its configured start\n", pipeline->name));
  return kOk;
}

int topCommand(const config::DaemonConfig& config, const TopOptions& options) {
  if (!config.admin.enabled) {
    std::fprintf(stderr,
                 "dutybridge top: %s has no admin API (admin.enabled: false); top reads the running daemon through "
                 "it\n",
                 config.file.string().c_str());
    return kUsage;
  }
  const bool terminal = ::isatty(STDOUT_FILENO);
  std::unique_ptr<RawTerminal> raw;
  if (!options.once) {
    raw = std::make_unique<RawTerminal>();
    std::signal(SIGINT, [](int) { g_interrupted = 1; });
    std::signal(SIGTERM, [](int) { g_interrupted = 1; });
  }
  std::optional<Sample> previous;
  while (true) {
    AdminRequest request;
    request.target = "/api/v1/pipelines";
    request.timeout = std::max(options.interval, kProbeTimeout);
    auto reply = adminRequest(config.admin, request);
    if (!reply) {
      std::fprintf(stderr, "dutybridge top: the daemon does not answer: %s\n", reply.error().message.c_str());
      return kFailure;
    }
    auto body = json::parse(reply->body, nullptr, false);
    if (reply->status != 200 || body.is_discarded() || !body.contains("pipelines")) {
      std::fprintf(stderr, "dutybridge top: the admin API answered %d\n", reply->status);
      return kFailure;
    }
    Sample now;
    now.at_ms = runtime::unixMillisNow();
    for (const auto& p : body["pipelines"]) now.pipelines.emplace(p.value("name", ""), p);
    size_t width = 160;
    if (winsize size{}; terminal && ::ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0) {
      width = size.ws_col;
    }
    std::string text = frame(config, previous ? &*previous : nullptr, now, width);
    // Home and clear, then the frame: a plain redraw any ANSI terminal understands.
    if (terminal && !options.once) text = "\x1b[H\x1b[2J" + text;
    printOut(text);
    std::fflush(stdout);
    if (options.once) return kOk;
    previous = std::move(now);
    if (waitForQuit(options.interval)) return kOk;
  }
}

namespace {

// SIGHUP to the pid in service.pid_file, if that process is a dutybridge.
int signalThroughPidFile(const config::DaemonConfig& config) {
  const std::string& file = *config.service.pid_file;
  std::FILE* in = std::fopen(file.c_str(), "r");
  long pid = 0;
  const bool read = in && std::fscanf(in, "%ld", &pid) == 1 && pid > 1;
  if (in) std::fclose(in);
  if (!read) {
    std::fprintf(stderr, "dutybridge reload: %s names no running daemon (%s)\n", file.c_str(),
                 in ? "no process id in it" : "it cannot be read: is the daemon running?");
    return kFailure;
  }
  // The pid must be a dutybridge: a stale file must not make us signal another process.
  std::string comm;
  if (std::FILE* c = std::fopen(fmt::format("/proc/{}/comm", pid).c_str(), "r")) {
    char name[64] = {};
    if (std::fgets(name, sizeof name, c)) comm = name;
    std::fclose(c);
  }
  if (!comm.empty() && comm.back() == '\n') comm.pop_back();
  if (comm != "dutybridge") {
    std::fprintf(stderr, "dutybridge reload: process %ld from %s is not a running dutybridge (stale pid file?)\n", pid,
                 file.c_str());
    return kFailure;
  }
  if (::kill(static_cast<pid_t>(pid), SIGHUP) != 0) {
    std::fprintf(stderr, "dutybridge reload: cannot signal process %ld: %s\n", pid, std::strerror(errno));
    return kFailure;
  }
  std::printf(
      "sent SIGHUP to dutybridge (pid %ld): it checks %s and applies it, or logs every error and keeps "
      "running the previous configuration (journalctl -u dutybridge)\n",
      pid, config.file.string().c_str());
  return kOk;
}

std::string listed(const json& names) {
  std::vector<std::string> out;
  for (const auto& name : names) out.push_back(name.get<std::string>());
  return out.empty() ? std::string("none") : fmt::format("{}", fmt::join(out, ", "));
}

}  // namespace

int reloadCommand(const config::DaemonConfig& config) {
  if (config.admin.enabled && config.admin.token) {
    AdminRequest request;
    request.method = "POST";
    request.target = "/api/v1/reload";
    request.token = *config.admin.token;
    // Answered once the changed pipelines stopped gracefully and started again.
    request.timeout = std::chrono::minutes(5);
    auto reply = adminRequest(config.admin, request);
    if (reply) {
      auto body = json::parse(reply->body, nullptr, false);
      if (body.is_discarded() || !body.is_object()) {
        std::fprintf(stderr, "dutybridge reload: the admin API answered %d: %s\n", reply->status, reply->body.c_str());
        return kFailure;
      }
      if (reply->status == 200) {
        if (body.value("result", "") == "unchanged") {
          std::printf("reload: nothing any pipeline depends on changed; all keep running (%s)\n",
                      listed(body.value("unchanged", json::array())).c_str());
        } else {
          std::printf("reload applied: rebuilt %s; added %s; removed %s; unchanged %s\n",
                      listed(body.value("rebuilt", json::array())).c_str(),
                      listed(body.value("added", json::array())).c_str(),
                      listed(body.value("removed", json::array())).c_str(),
                      listed(body.value("unchanged", json::array())).c_str());
        }
        for (const auto& note : body.value("notes", json::array())) {
          std::printf("note: %s\n", note.get<std::string>().c_str());
        }
        return kOk;
      }
      if (reply->status == 422) {
        std::fprintf(stderr,
                     "dutybridge reload: %s has errors; the daemon runs on with its previous configuration:\n%s",
                     config.file.string().c_str(), body.value("errors", "").c_str());
        return kUsage;
      }
      std::fprintf(stderr, "dutybridge reload: the admin API answered %d: %s\n", reply->status,
                   body.value("error", reply->body).c_str());
      return kFailure;
    }
    if (!config.service.pid_file) {
      std::fprintf(stderr, "dutybridge reload: the daemon does not answer at %s: %s\n",
                   adminBaseUrl(config.admin).c_str(), reply.error().message.c_str());
      return kFailure;
    }
  }
  if (config.service.pid_file) return signalThroughPidFile(config);
  std::fprintf(stderr,
               "dutybridge reload: %s gives no way to reach the daemon: enable the admin API with a token "
               "(admin.enabled, admin.token) or set service.pid_file; under systemd, `systemctl reload dutybridge` "
               "sends the signal\n",
               config.file.string().c_str());
  return kUsage;
}

}  // namespace dutybridge::cli
