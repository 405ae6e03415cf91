#include "src/cli/mapping_commands.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <expected>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>

#include "connectors/builtin.h"
#include "src/codec/json.h"
#include "src/codec/json_value.h"
#include "src/codec/json_writer.h"
#include "src/mapping/mapping.h"
#include "src/mapping/mapping_transform.h"

namespace dutybridge::cli {
namespace {

constexpr std::string_view kMapHelp =
    R"(Usage: dutybridge map -m MAPPING -i INPUT.jsonl [--now TIME [--step DURATION] [--until TIME]]
                      [--clock-from FIELD] [--max-line-bytes N] [--max-depth N] [--explain]

Runs MAPPING over the JSON objects of INPUT.jsonl ('-' for standard input), one per line, and
prints every emitted record as a JSON line {"topic":...,"key":...,"value":{...}} on stdout.
Records that would go to the dead-letter topic are reported on stderr with their line number
and reason. --now fixes the clock (RFC 3339) for now() and time-dependent logic; --step moves
it on by DURATION (e.g. 1m) after every input line; --until moves it to TIME after the last line
(in --step steps when given, ticking at each), so an aggregate mapping emits the closed revisions
of windows that end (plus grace) by then, and a rolling window's rows age out at their midnights.
--clock-from FIELD makes the clock follow a timestamp field of the input (e.g. updated_at):
before each line it moves to the line's FIELD when that is later (never back; a line without
it leaves the clock where it is) and the windows due by then close, so a recorded day of source
rows replays with windows closing as they did. It starts at --now, or at the first line's FIELD.
An aggregate mapping prints the window revisions due after each line. Reference tables with
`refresh:` refresh on this clock in an aggregate mapping (a replay sees the tables as they are
now, refreshed when the replayed time passes the interval).
A JSON document nested deeper than --max-depth (default 128) is a dead letter. A line longer
than --max-line-bytes (default 1048576) stops the run with exit status 1 at that line: it is
never read whole.
A mapping with `input: from_source` has no source here: it runs with the types of its
`test_input:` block (values are converted to them as a source's would be), and is refused
without one.
--explain prints one JSON line per input line instead, for a person to read:
{"line":N,"input":{...},"outputs":[{"emit":I,"topic":...,"key":...,"value":{...}}],"dead_letter":REASON}
with every personal value (the mapping's pii: fields and what derives from them) shown as ***.
Exit status 0 when every line mapped, 1 when any went to the dead-letter path or the output
could not be written, 2 on usage errors or an invalid mapping.
)";

constexpr std::string_view kTestHelp = R"(Usage: dutybridge test [PATH...]

Loads every mapping file (*.yaml) under PATH (files or directories; default: mappings/),
checks it, runs its embedded tests and prints each failure as a diff. A mapping with
`input: from_source` runs its tests with the types of its `test_input:` block. Exit status 0
when all mappings load and all tests pass, 1 otherwise (also when PATH holds no mapping).
)";

bool wantsHelp(const std::vector<std::string>& args) {
  return std::any_of(args.begin(), args.end(), [](const std::string& a) { return a == "-h" || a == "--help"; });
}

int usage(std::string_view message, std::string_view help) {
  std::cerr << "dutybridge: " << message << "\n\n" << help;
  return 2;
}

enum class LineRead { Line, TooLong, End };

// std::getline with a bound: reading stops at max_bytes without a line break, so input without
// line breaks (/dev/zero) can neither grow the process nor keep it reading.
LineRead readLine(std::istream& in, std::string& line, size_t max_bytes) {
  line.clear();
  std::streambuf* buffer = in.rdbuf();
  while (true) {
    int c = buffer->sbumpc();
    if (c == std::char_traits<char>::eof()) return line.empty() ? LineRead::End : LineRead::Line;
    if (c == '\n') return LineRead::Line;
    if (line.size() >= max_bytes) return LineRead::TooLong;
    line.push_back(static_cast<char>(c));
  }
}

std::optional<size_t> positiveCount(const std::string& text) {
  size_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value == 0) return std::nullopt;
  return value;
}

// Output that could not be written (a full disk, a closed pipe) is a failure, not a success
// with the records lost.
bool outputWritten() {
  std::cout.flush();
  if (std::cout) return true;
  std::cerr << "dutybridge: writing the output failed (disk full or output closed); records were lost\n";
  return false;
}

}  // namespace

namespace {

struct MapOptions {
  std::string mapping_file;
  std::string input_file;
  size_t max_line_bytes = 1u << 20;
  codec::JsonLimits json_limits;
  std::optional<core::Timestamp> now;    // a fixed clock (else the system clock)
  int64_t step = 0;                      // moved after each input line
  std::optional<core::Timestamp> until;  // the fixed clock's time for a last tick
  std::string clock_from;                // the clock follows this timestamp field of the input
  bool explain = false;                  // one masked explanation line per input line
};

// The map command's arguments; an exit status after printing usage.
std::expected<MapOptions, int> parseMapOptions(const std::vector<std::string>& args) {
  MapOptions options;
  std::string now_text, step_text, until_text, max_line_text, max_depth_text;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    bool has_value = i + 1 < args.size();
    if ((arg == "-m" || arg == "--mapping") && has_value)
      options.mapping_file = args[++i];
    else if ((arg == "-i" || arg == "--input") && has_value)
      options.input_file = args[++i];
    else if (arg == "--now" && has_value) now_text = args[++i];
    else if (arg == "--step" && has_value) step_text = args[++i];
    else if (arg == "--until" && has_value) until_text = args[++i];
    else if (arg == "--clock-from" && has_value)
      options.clock_from = args[++i];
    else if (arg == "--max-line-bytes" && has_value) max_line_text = args[++i];
    else if (arg == "--max-depth" && has_value) max_depth_text = args[++i];
    else if (arg == "--explain")
      options.explain = true;
    else
      return std::unexpected(usage("unexpected argument '" + arg + "'", kMapHelp));
  }
  auto refuse = [](const std::string& message) { return std::unexpected(usage(message, kMapHelp)); };
  if (options.mapping_file.empty() || options.input_file.empty()) return refuse("-m MAPPING and -i INPUT are required");
  if (!max_line_text.empty()) {
    auto parsed = positiveCount(max_line_text);
    if (!parsed) return refuse("--max-line-bytes must be a positive number of bytes");
    options.max_line_bytes = *parsed;
  }
  if (!max_depth_text.empty()) {
    auto parsed = positiveCount(max_depth_text);
    if (!parsed || *parsed > 100000) return refuse("--max-depth must be a number from 1 to 100000");
    options.json_limits.max_depth = *parsed;
  }
  if ((!step_text.empty() || !until_text.empty()) && now_text.empty() && options.clock_from.empty()) {
    return refuse("--step and --until need --now or --clock-from (they move a fixed clock)");
  }
  if (!step_text.empty()) {
    auto parsed = core::parseDuration(step_text);
    if (!parsed || *parsed < 0) return refuse("--step must be a duration such as 30s or 5m");
    options.step = *parsed;
  }
  if (!until_text.empty()) {
    auto parsed = core::parseTimestamp(until_text);
    if (!parsed) return refuse("--until must be an RFC 3339 timestamp");
    options.until = *parsed;
  }
  if (!now_text.empty()) {
    auto parsed = core::parseTimestamp(now_text);
    if (!parsed) return refuse("--now must be an RFC 3339 timestamp");
    options.now = *parsed;
  }
  return options;
}

// The mapping map runs: loaded, and compiled against its test_input when its input comes from
// the source. nullptr after printing why not.
std::shared_ptr<const mapping::Mapping> loadMapMapping(const std::string& mapping_file) {
  core::Registry table_sources;
  connectors::registerBuiltinConnectors(table_sources);
  auto mapping = mapping::loadMapping(mapping_file, {&table_sources});
  if (!mapping) {
    std::cerr << mapping.error().format();
    return nullptr;
  }
  if ((*mapping)->runnable) return std::move(*mapping);
  // input: from_source. JSON values would be a poor guess at the source's types (every
  // timestamp a string), so the mapping's own test_input types stand in for the source.
  if (!(*mapping)->has_test_input) {
    std::cerr << fmt::format(
        "dutybridge: {} takes its input types from the source (input: from_source), and map has no source\n"
        "  hint: add test_input: {{field: type, ...}} to the mapping (it types the embedded tests too), or run "
        "`dutybridge check --connect -c CONFIG` to check it against the real source\n",
        mapping_file);
    return nullptr;
  }
  auto compiled = (*mapping)->compileWithTestInput();
  if (!compiled) {
    std::cerr << compiled.error().format();
    return nullptr;
  }
  return std::move(*compiled);
}

// One `--explain` line: the input and what it became, personal values masked. `emit` holds
// each output's emit block, or is empty when they are not known (an aggregate's revisions).
std::string explainLine(const mapping::Mapping& mapping, std::optional<size_t> line, const core::Record* input,
                        std::vector<core::Record> outputs, const std::vector<size_t>& emit,
                        const std::vector<std::string>& dead_letters) {
  std::string out = "{\"line\":";
  out += line ? std::to_string(*line) : "null";
  out += ",\"input\":";
  if (input) {
    core::Record masked = *input;
    mapping.maskInput(masked);
    codec::appendJson(masked, out);
  } else {
    out += "null";
  }
  out += ",\"outputs\":[";
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (i > 0) out += ',';
    std::string envelope;
    if (i < emit.size()) {
      mapping.maskOutput(outputs[i], emit[i]);
      envelope = codec::envelopeJson(outputs[i]);
      out += fmt::format("{{\"emit\":{},", emit[i]);
    } else {
      mapping.maskOutput(outputs[i]);
      envelope = codec::envelopeJson(outputs[i]);
      out += "{\"emit\":null,";
    }
    out.append(envelope, 1);  // the envelope's members, after its '{'
  }
  out += "],\"dead_letter\":";
  if (dead_letters.empty())
    out += "null";
  else
    codec::appendJsonString(out, fmt::format("{}", fmt::join(dead_letters, "; ")));
  out += '}';
  return out;
}

}  // namespace

int runMapCommand(const std::vector<std::string>& args) {
  if (wantsHelp(args)) {
    std::cout << kMapHelp;
    return 0;
  }
  auto options = parseMapOptions(args);
  if (!options) return options.error();
  const std::string& input_file = options->input_file;
  std::unique_ptr<core::Clock> clock;
  core::ManualClock* manual = nullptr;
  if (options->now || !options->clock_from.empty()) {
    auto fixed = std::make_unique<core::ManualClock>(options->now.value_or(core::Timestamp{0}));
    manual = fixed.get();
    clock = std::move(fixed);
  } else {
    clock = std::make_unique<core::SystemClock>();
  }
  std::shared_ptr<const mapping::Mapping> shared = loadMapMapping(options->mapping_file);
  if (!shared) return 2;
  std::ifstream file;
  std::istream* in = &std::cin;
  if (input_file != "-") {
    file.open(input_file);
    if (!file) return usage("cannot read " + input_file, kMapHelp);
    in = &file;
  }
  // Aggregate mappings keep window state across lines: run them as the pipeline does.
  std::unique_ptr<mapping::MappingTransform> transform;
  if (shared->aggregate) transform = std::make_unique<mapping::MappingTransform>(shared, *clock);
  std::string line;
  size_t line_number = 0;
  size_t dead = 0;
  mapping::Binding binding;
  // Closes what is due on the clock now and prints it (a last tick prints an explanation even
  // when nothing closed).
  auto tick = [&](bool last) {
    std::vector<core::Record> outputs;
    std::vector<core::DeadLetter> dead_letters;
    transform->tick(outputs, dead_letters);
    std::vector<std::string> reasons;
    for (const auto& letter : dead_letters) {
      ++dead;
      reasons.push_back(letter.reason);
      std::cerr << fmt::format("{}: dead letter ({}): {}\n", letter.input->meta.source_position, shared->label(),
                               letter.reason);
    }
    if (!last && outputs.empty() && reasons.empty()) return;
    if (options->explain)
      std::cout << explainLine(*shared, std::nullopt, nullptr, std::move(outputs), {}, reasons) << '\n';
    else
      for (const auto& out : outputs) std::cout << codec::envelopeJson(out) << '\n';
  };
  bool clock_started = options->now.has_value();  // --clock-from: the clock has a time

  for (LineRead read; (read = readLine(*in, line, options->max_line_bytes)) != LineRead::End;) {
    ++line_number;
    if (read == LineRead::TooLong) {
      // Where the next line starts is unknown (it may never come): stop instead of guessing.
      std::cerr << fmt::format("{}:{}: line longer than {} bytes (--max-line-bytes); stopped reading the input here\n",
                               input_file, line_number, options->max_line_bytes);
      outputWritten();
      return 1;
    }
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    auto value = codec::parseJsonValue(line, options->json_limits);
    if (!value || value->type() != core::ValueType::Map) {
      ++dead;
      std::cerr << fmt::format("{}:{}: dead letter: {}\n", input_file, line_number,
                               value ? "not a JSON object" : value.error().message);
      continue;
    }
    const bool explain = options->explain;
    core::Record record = mapping::recordFromMap(*value);
    record.meta.source_position = fmt::format("{}:{}", input_file, line_number);
    if (!options->clock_from.empty()) {
      const core::Value* field = record.find(options->clock_from);
      std::optional<core::Timestamp> at;
      if (field && field->type() == core::ValueType::String) {
        if (auto parsed = core::parseTimestamp(field->asString())) at = *parsed;
      }
      if (at && !clock_started) {
        manual->set(*at);  // the first time the input gives
        clock_started = true;
      } else if (at && at->micros > manual->now().micros) {
        manual->set(*at);
        if (transform) tick(false);
      }
    }
    if (transform) {
      std::vector<core::Record> outputs;
      std::vector<core::DeadLetter> dead_letters;
      transform->apply(std::span<const core::Record>(&record, 1), outputs, dead_letters);
      std::vector<std::string> reasons;
      for (const auto& letter : dead_letters) {
        ++dead;
        reasons.push_back(letter.reason);
        std::cerr << fmt::format("{}:{}: dead letter ({}): {}\n", input_file, line_number, shared->label(),
                                 letter.reason);
      }
      if (explain)
        std::cout << explainLine(*shared, line_number, &record, std::move(outputs), {}, reasons) << '\n';
      else
        for (const auto& out : outputs) std::cout << codec::envelopeJson(out) << '\n';
      if (manual) manual->advance(options->step);
      continue;
    }
    binding = shared->bind(record.schema());
    auto outputs = shared->apply(record, binding, *clock);
    if (!outputs) {
      ++dead;
      std::cerr << fmt::format("{}:{}: dead letter ({}): {}\n", input_file, line_number, shared->label(),
                               outputs.error().message);
      if (explain) std::cout << explainLine(*shared, line_number, &record, {}, {}, {outputs.error().message}) << '\n';
      continue;
    }
    if (explain) {
      std::vector<core::Record> records;
      std::vector<size_t> emit;
      for (auto& out : *outputs) {
        records.push_back(std::move(out.record));
        emit.push_back(out.emit);
      }
      std::cout << explainLine(*shared, line_number, &record, std::move(records), emit, {}) << '\n';
    } else {
      for (const auto& out : *outputs) std::cout << codec::envelopeJson(out.record) << '\n';
    }
    if (manual) manual->advance(options->step);
  }
  if (transform && options->until) {
    // The clock runs on to --until in --step steps, ticking at each, as a running pipeline's clock
    // does: a rolling window's rows age out at their own midnights, not all at --until. At most a
    // million steps (a finer --step strides).
    constexpr int64_t kMaxSteps = 1'000'000;
    const int64_t span = options->until->micros - manual->now().micros;
    const int64_t stride = options->step > 0 ? std::max(options->step, span / kMaxSteps) : 0;
    while (stride > 0 && manual->now().micros + stride < options->until->micros) {
      manual->advance(stride);
      tick(false);
    }
    manual->set(*options->until);
    tick(true);
  }
  if (!outputWritten()) return 1;
  return dead == 0 ? 0 : 1;
}

int runTestCommand(const std::vector<std::string>& args) {
  if (wantsHelp(args)) {
    std::cout << kTestHelp;
    return 0;
  }
  std::vector<std::filesystem::path> roots;
  for (const auto& arg : args) roots.emplace_back(arg);
  if (roots.empty()) roots.emplace_back("mappings");
  std::vector<std::filesystem::path> files;
  for (const auto& root : roots) {
    std::error_code ec;
    if (std::filesystem::is_regular_file(root, ec)) {
      files.push_back(root);
    } else if (std::filesystem::is_directory(root, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(root)) {
        if (entry.is_regular_file() && entry.path().extension() == ".yaml") files.push_back(entry.path());
      }
    } else {
      std::cerr << fmt::format("dutybridge test: {} does not exist\n", root.string());
      return 1;
    }
  }
  std::sort(files.begin(), files.end());
  if (files.empty()) {
    std::cerr << "dutybridge test: no mapping files (*.yaml) found; nothing was tested\n";
    return 1;
  }
  size_t tests = 0, failed = 0, broken = 0;
  core::Registry table_sources;
  connectors::registerBuiltinConnectors(table_sources);
  for (const auto& file : files) {
    auto mapping = mapping::loadMapping(file, {.table_sources = &table_sources, .test_hmac_keys = true});
    if (!mapping) {
      ++broken;
      std::cout << mapping.error().format();
      continue;
    }
    auto failures = mapping::runMappingTests(**mapping);
    tests += (*mapping)->tests.size();
    failed += failures.size();
    for (const auto& failure : failures) std::cout << "FAIL " << failure << '\n';
    std::cout << fmt::format("{} {}: {} test(s), {} failed\n", failures.empty() ? "ok  " : "FAIL", file.string(),
                             (*mapping)->tests.size(), failures.size());
  }
  std::cout << fmt::format("{} mapping(s), {} test(s), {} failed, {} mapping(s) with errors\n", files.size(), tests,
                           failed, broken);
  if (!outputWritten()) return 1;
  return failed == 0 && broken == 0 ? 0 : 1;
}

}  // namespace dutybridge::cli
