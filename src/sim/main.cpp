// dutybridge-sim: the demo factory simulator (docs/demo-factory.md).
#include <fmt/format.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <csignal>
#include <iostream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/sim/plant.h"
#include "src/sim/simulator.h"

namespace {

using namespace dutybridge;

constexpr std::string_view kUsage =
    "usage: dutybridge-sim <command> [options]\n"
    "\n"
    "The demo factory: MES, ERP, CRM and HR-master databases for the dutybridge demo, as SQLite\n"
    "files (--dir DIR) or PostgreSQL schemas (--postgresql CONNSTRING).\n"
    "\n"
    "commands:\n"
    "  init   (re)create mes, erp, crm and hrm with master data and history\n"
    "  run    keep writing live events to them in real time\n"
    "\n"
    "`dutybridge-sim <command> --help` describes a command's options.\n";

constexpr std::string_view kInitUsage =
    "usage: dutybridge-sim init (--dir DIR | --postgresql CONNSTRING) [options]\n"
    "\n"
    "Deletes and recreates DIR/mes.db, erp.db, crm.db and hrm.db (or the PostgreSQL schemas mes, erp,\n"
    "crm and hrm, with everything in them): master data, D days of MES history\n"
    "(finished shifts, and the current shift's reports up to now), ERP and CRM from the first day of\n"
    "the previous month. The same --seed, --now, --employees and --history-days give identical\n"
    "databases. Prints one line with the row count of every table.\n"
    "\n"
    "options:\n"
    "  --dir DIR               where the SQLite databases go (created if missing)\n"
    "  --postgresql CONNSTRING instead of --dir: an ODBC connection string of a PostgreSQL database,\n"
    "                          e.g. 'Driver={PostgreSQL Unicode};Server=HOST;Port=5432;Database=DB;\n"
    "                          Uid=USER;Pwd=PASSWORD'; one schema per system\n"
    "  --pg-schema-prefix P    with --postgresql: schemas Pmes, Perp, Pcrm, Phrm (default none;\n"
    "                          a-z, 0-9 and _, not starting with a digit)\n"
    "  --seed N                random seed (default 1)\n"
    "  --history-days D        days of MES history before today's shifts (default 3)\n"
    "  --employees N           head count, at least 60; half are operators (default 300)\n"
    "  --calendars FILE        plant calendars (default config/calendars.yaml, searched from the\n"
    "                          working directory and upwards from the binary); calendar plant-01\n"
    "  --now 'YYYY-MM-DD HH:MM:SS'  plant time (Asia/Shanghai) to simulate up to (default: the clock)\n";

constexpr std::string_view kRunUsage =
    "usage: dutybridge-sim run (--dir DIR | --postgresql CONNSTRING) [options]\n"
    "\n"
    "Keeps writing to the databases `init` made, stamped with the real clock in plant time: MES\n"
    "reports of the operators on the current shift, acceptance, edits and declines of recent\n"
    "reports, parts-count submissions after each shift end, ERP goods receipts and purchase orders,\n"
    "CRM opportunity changes. Every write is its own transaction. Stops on SIGTERM/SIGINT (after\n"
    "the current transaction) or after --duration, and prints one summary line.\n"
    "\n"
    "options:\n"
    "  --dir DIR               the SQLite databases' directory\n"
    "  --postgresql CONNSTRING instead of --dir: the PostgreSQL database init filled\n"
    "  --pg-schema-prefix P    the prefix init used (default none)\n"
    "  --seed N                random seed (default: the seed init used)\n"
    "  --speed X               plant activity per real second, in plant seconds (default 60: one\n"
    "                          plant-minute of reports per second); parts counts keep real time\n"
    "  --duration SECONDS      stop after this long (default: until a signal)\n"
    "  --stats-interval S      print a progress line every S seconds (default: none)\n"
    "  --calendars FILE        plant calendars (as for init)\n";

std::atomic<bool> g_stop{false};
extern "C" void onSignal(int) { g_stop.store(true); }

struct Args {
  std::map<std::string, std::string> values;
  bool help = false;
};

// Parses --key value pairs (and --key=value); only the keys in `allowed` are accepted.
std::optional<Args> parseArgs(const std::vector<std::string>& argv, const std::vector<std::string>& allowed,
                              std::string& error) {
  Args args;
  for (size_t i = 0; i < argv.size(); ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      args.help = true;
      continue;
    }
    if (!arg.starts_with("--")) {
      error = fmt::format("unexpected argument '{}'", arg);
      return std::nullopt;
    }
    std::string key = arg.substr(2), value;
    if (auto eq = key.find('='); eq != std::string::npos) {
      value = key.substr(eq + 1);
      key = key.substr(0, eq);
    } else if (i + 1 < argv.size()) {
      value = argv[++i];
    } else {
      error = fmt::format("--{} needs a value", key);
      return std::nullopt;
    }
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
      error = fmt::format("unknown option --{}", key);
      return std::nullopt;
    }
    args.values[key] = value;
  }
  return args;
}

template <class T>
std::optional<T> number(const std::string& text) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::filesystem::path> defaultCalendars() {
  std::filesystem::path relative = "config/calendars.yaml";
  if (std::filesystem::exists(relative)) return relative;
  std::error_code ec;
  auto dir = std::filesystem::read_symlink("/proc/self/exe", ec).parent_path();
  for (int up = 0; !ec && up < 6 && !dir.empty(); ++up, dir = dir.parent_path()) {
    if (std::filesystem::exists(dir / relative)) return dir / relative;
    if (dir == dir.root_path()) break;
  }
  return std::nullopt;
}

// Exit 2 with the message: a usage problem.
int usageError(std::string_view message, std::string_view usage) {
  std::cerr << "dutybridge-sim: " << message << "\n\n" << usage;
  return 2;
}

struct Common {
  std::shared_ptr<const calendar::Calendars> calendars;
  const calendar::Calendar* plant = nullptr;
};

std::optional<Common> loadCalendar(const Args& args, int& exit_code) {
  std::optional<std::filesystem::path> file;
  if (args.values.contains("calendars")) file = args.values.at("calendars");
  else file = defaultCalendars();
  if (!file) {
    std::cerr << "dutybridge-sim: config/calendars.yaml not found; pass --calendars FILE\n";
    exit_code = 2;
    return std::nullopt;
  }
  auto loaded = calendar::loadCalendars(*file);
  if (!loaded) {
    std::cerr << loaded.error().format();
    exit_code = 2;
    return std::nullopt;
  }
  Common common{*loaded, (*loaded)->find("plant-01")};
  if (!common.plant) {
    std::cerr << fmt::format("dutybridge-sim: {} has no calendar plant-01\n", file->string());
    exit_code = 2;
    return std::nullopt;
  }
  return common;
}

// Exactly one of --dir and --postgresql; --pg-schema-prefix only with --postgresql.
std::optional<sim::Target> parseTarget(const Args& args, std::string& error) {
  sim::Target target;
  bool dir = args.values.contains("dir"), pg = args.values.contains("postgresql");
  if (dir == pg) {
    error = dir ? "--dir and --postgresql exclude each other" : "--dir or --postgresql is required";
    return std::nullopt;
  }
  if (dir) target.dir = args.values.at("dir");
  if (pg) target.postgresql = args.values.at("postgresql");
  if (args.values.contains("pg-schema-prefix")) {
    if (!pg) {
      error = "--pg-schema-prefix needs --postgresql";
      return std::nullopt;
    }
    target.schema_prefix = args.values.at("pg-schema-prefix");
    if (!sim::validSchemaPrefix(target.schema_prefix)) {
      error = "--pg-schema-prefix must start with a-z or _ and hold only a-z, 0-9 and _ (at most 40)";
      return std::nullopt;
    }
  }
  return target;
}

int runInit(const std::vector<std::string>& argv) {
  std::string error;
  auto args = parseArgs(
      argv, {"dir", "postgresql", "pg-schema-prefix", "seed", "history-days", "employees", "calendars", "now"}, error);
  if (!args) return usageError(error, kInitUsage);
  if (args->help) {
    std::cout << kInitUsage;
    return 0;
  }
  auto target = parseTarget(*args, error);
  if (!target) return usageError(error, kInitUsage);
  sim::InitOptions options;
  options.target = std::move(*target);
  if (args->values.contains("seed")) {
    auto seed = number<uint64_t>(args->values["seed"]);
    if (!seed) return usageError("--seed must be a non-negative integer", kInitUsage);
    options.seed = *seed;
  }
  if (args->values.contains("history-days")) {
    auto days = number<int>(args->values["history-days"]);
    if (!days || *days < 0 || *days > 60) return usageError("--history-days must be an integer 0..60", kInitUsage);
    options.history_days = *days;
  }
  if (args->values.contains("employees")) {
    auto n = number<int>(args->values["employees"]);
    if (!n || *n < 60 || *n > 5000) return usageError("--employees must be an integer 60..5000", kInitUsage);
    options.employees = *n;
  }
  int exit_code = 0;
  auto common = loadCalendar(*args, exit_code);
  if (!common) return exit_code;
  if (args->values.contains("now")) {
    auto now = sim::parsePlantTime(args->values["now"]);
    if (!now) return usageError(fmt::format("--now: {}", now.error().message), kInitUsage);
    options.now = *now;
  } else {
    auto now = sim::plantTimeOf(*common->plant, core::Timestamp{std::chrono::duration_cast<std::chrono::microseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count()});
    if (!now) {
      std::cerr << "dutybridge-sim: " << now.error().describe() << "\n";
      return 1;
    }
    options.now = *now;
  }
  auto summary = sim::initFactory(options, *common->plant);
  if (!summary) {
    std::cerr << "dutybridge-sim init: " << summary.error().describe() << "\n";
    return summary.error().kind == core::ErrorKind::InvalidConfig ? 2 : 1;
  }
  std::cout << *summary << "\n";
  return 0;
}

int runRun(const std::vector<std::string>& argv) {
  std::string error;
  auto args = parseArgs(
      argv, {"dir", "postgresql", "pg-schema-prefix", "seed", "speed", "duration", "stats-interval", "calendars"},
      error);
  if (!args) return usageError(error, kRunUsage);
  if (args->help) {
    std::cout << kRunUsage;
    return 0;
  }
  auto target = parseTarget(*args, error);
  if (!target) return usageError(error, kRunUsage);
  sim::RunOptions options;
  options.target = std::move(*target);
  if (args->values.contains("seed")) {
    auto seed = number<uint64_t>(args->values["seed"]);
    if (!seed) return usageError("--seed must be a non-negative integer", kRunUsage);
    options.seed = *seed;
  }
  auto positive = [&](const char* key, double& out, double max) -> bool {
    if (!args->values.contains(key)) return true;
    auto v = number<double>(args->values[key]);
    if (!v || !(*v > 0) || *v > max) return false;
    out = *v;
    return true;
  };
  if (!positive("speed", options.speed, 100000)) return usageError("--speed must be a number > 0", kRunUsage);
  double duration = 0;
  if (!positive("duration", duration, 1e9)) return usageError("--duration must be a number of seconds > 0", kRunUsage);
  if (duration > 0) options.duration_seconds = duration;
  if (!positive("stats-interval", options.stats_interval_seconds, 1e9)) {
    return usageError("--stats-interval must be a number of seconds > 0", kRunUsage);
  }
  int exit_code = 0;
  auto common = loadCalendar(*args, exit_code);
  if (!common) return exit_code;
  struct sigaction action {};
  action.sa_handler = onSignal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  auto summary = sim::runFactory(options, *common->plant, g_stop, std::cout);
  if (!summary) {
    std::cerr << "dutybridge-sim run: " << summary.error().describe() << "\n";
    return 1;
  }
  std::cout << *summary << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty()) return usageError("a command is required", kUsage);
  std::string command = args.front();
  args.erase(args.begin());
  if (command == "--help" || command == "-h" || command == "help") {
    std::cout << kUsage;
    return 0;
  }
  if (command == "init") return runInit(args);
  if (command == "run") return runRun(args);
  return usageError(fmt::format("unknown command '{}'", command), kUsage);
}
