#pragma once
// End-to-end helpers: the real `dutybridge` binary as a child process, PostgreSQL through psql,
// and a Kafka reader that drains a topic from the beginning. Services come from scripts/test.

#include <catch2/catch.hpp>
#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "connectors/kafka/kafka_handles.h"
#include "tests/integration/services.h"

extern char** environ;

namespace dutybridge::e2e {

inline const std::filesystem::path kBinary = DUTYBRIDGE_BINARY;
inline const std::filesystem::path kSourceDir = DUTYBRIDGE_SOURCE_DIR;

inline std::string unique(const std::string& prefix) {
  static std::mt19937_64 rng(std::random_device{}());
  return fmt::format("{}_{:x}", prefix, rng() & 0xffffffffULL);
}

inline std::filesystem::path tempDir(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / unique("dutybridge-e2e-" + name);
  std::filesystem::create_directories(dir);
  return dir;
}

inline std::string readFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

inline std::string replaceOnce(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  INFO("mapping text to adjust: " << from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

// The shipped KPI 1 mapping (tl_daily_good_output), adjusted for the wall clock (grace 0s,
// retain 30d), with its reference files by absolute path and a name of its own (so a run's facts
// can be told apart by lineage.mapping); its facts go to `topic` when one is given. Its embedded
// tests assume grace 2h: they are the mapping tests' business, so they are cut off.
inline std::string wallClockKpiMapping(const std::string& name, const std::string& topic = "") {
  std::string text = readFile(kSourceDir / "mappings/tl_daily_good_output.yaml");
  const std::string config = (kSourceDir / "config").string();
  text = replaceOnce(text, "name: tl-daily-good-output\n", "name: " + name + "\n");
  text = replaceOnce(text, "catalog: ../config/", "catalog: " + config + "/");
  text = replaceOnce(text, "calendars: ../config/", "calendars: " + config + "/");
  text = replaceOnce(text, "csv: ../config/", "csv: " + config + "/");
  text = replaceOnce(text, "grace: 2h\n", "grace: 0s\n");
  text = replaceOnce(text, "retain: 7d\n", "retain: 30d\n");
  if (!topic.empty()) {
    text = replaceOnce(text, "  - contract: duty_kpi.v1\n", "  - contract: duty_kpi.v1\n    to: " + topic + "\n");
  }
  auto tests = text.find("\ntests:");
  REQUIRE(tests != std::string::npos);
  text.resize(tests + 1);
  return text;
}

// Runs a shell command and returns its standard output; `status` gets pclose's status.
inline std::string commandOutput(const std::string& command, int& status) {
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) {
    status = -1;
    return {};
  }
  std::string out;
  char buffer[65536];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  status = pclose(pipe);
  return out;
}

// Runs SQL through psql against the test database; fails the test on error.
inline void psql(const std::string& sql) {
  auto dir = std::filesystem::temp_directory_path();
  auto file = dir / unique("dutybridge-e2e-sql");
  std::ofstream(file) << sql;
  std::string command = fmt::format(
      "PGPASSWORD='{}' psql -X -q -v ON_ERROR_STOP=1 -h '{}' -p '{}' -U '{}' -d '{}' -f '{}' >/dev/null 2>'{}.err'",
      testing::requireEnv("DUTYBRIDGE_TEST_PG_PASSWORD"), testing::requireEnv("DUTYBRIDGE_TEST_PG_HOST"),
      testing::requireEnv("DUTYBRIDGE_TEST_PG_PORT"), testing::requireEnv("DUTYBRIDGE_TEST_PG_USER"),
      testing::requireEnv("DUTYBRIDGE_TEST_PG_DB"), file.string(), file.string());
  int status = std::system(command.c_str());
  std::string err = readFile(file.string() + ".err");
  std::filesystem::remove(file);
  std::filesystem::remove(file.string() + ".err");
  INFO(err);
  REQUIRE(status == 0);
}

// Runs a query through psql and returns its rows, fields split at tabs (unaligned, no
// headers; NULL as the empty string). Fails the test on error.
inline std::vector<std::vector<std::string>> psqlRows(const std::string& sql) {
  auto file = std::filesystem::temp_directory_path() / unique("dutybridge-e2e-sql");
  std::ofstream(file) << sql;
  std::string command = fmt::format(
      "PGPASSWORD='{}' psql -X -q -A -t -F '\t' -v ON_ERROR_STOP=1 -h '{}' -p '{}' -U '{}' -d '{}' -f '{}' >'{}.out' "
      "2>'{}.err'",
      testing::requireEnv("DUTYBRIDGE_TEST_PG_PASSWORD"), testing::requireEnv("DUTYBRIDGE_TEST_PG_HOST"),
      testing::requireEnv("DUTYBRIDGE_TEST_PG_PORT"), testing::requireEnv("DUTYBRIDGE_TEST_PG_USER"),
      testing::requireEnv("DUTYBRIDGE_TEST_PG_DB"), file.string(), file.string(), file.string());
  int status = std::system(command.c_str());
  std::string out = readFile(file.string() + ".out");
  std::string err = readFile(file.string() + ".err");
  for (const char* suffix : {"", ".out", ".err"}) std::filesystem::remove(file.string() + suffix);
  INFO(err);
  REQUIRE(status == 0);
  std::vector<std::vector<std::string>> rows;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    std::string line = out.substr(start, end - start);
    start = end + 1;
    if (line.empty()) continue;
    std::vector<std::string> fields;
    size_t from = 0;
    while (true) {
      size_t tab = line.find('\t', from);
      fields.push_back(line.substr(from, tab == std::string::npos ? std::string::npos : tab - from));
      if (tab == std::string::npos) break;
      from = tab + 1;
    }
    rows.push_back(std::move(fields));
  }
  return rows;
}

// A 15+ column MES production_report table with `rows` rows: three rows share each
// updated_at second, every tenth remark is NULL, remarks carry Chinese text, quantities are
// numeric(12,3). Row i (1-based) is described by expectedRow(i).
inline std::string productionReportSql(const std::string& table, int rows, int first = 1) {
  return fmt::format(R"(
CREATE TABLE IF NOT EXISTS {0} (
  id bigint PRIMARY KEY, report_no varchar(20) NOT NULL, work_order_no varchar(20), operation_code varchar(10),
  product_code varchar(20), workstation_code varchar(20), workshop_code varchar(10), team_code varchar(20),
  operator_badge varchar(20), shift_code varchar(4), shift_date date, good_qty numeric(12,3),
  scrap_qty_labor numeric(12,3), scrap_qty_mat numeric(12,3), labor_minutes integer, state varchar(10),
  remark varchar(100), updated_at timestamp NOT NULL);
INSERT INTO {0}
SELECT i, 'PR' || lpad(i::text, 8, '0'), 'WO' || (i % 997), 'OP' || (i % 40), 'P-' || (i % 3000),
  'MOLD-WS' || (i % 30), 'MOLD', 'MOLD-T' || (i % 8), 'B' || lpad((i % 300)::text, 6, '0'),
  CASE i % 3 WHEN 0 THEN 'A' WHEN 1 THEN 'B' ELSE 'C' END, date '2025-03-14' + (i / 50000),
  (i % 500000) / 1000.0, (i % 7) / 1000.0, NULL, i % 480, 'ACCEPTED',
  CASE WHEN i % 10 = 0 THEN NULL ELSE '注塑车间 ' || i END,
  timestamp '2025-03-14 08:00:00' + (i / 3) * interval '1 second'
FROM generate_series({1}, {2}) i;
)", table, first, first + rows - 1);
}

inline std::string decimalText(long thousandths) {
  return fmt::format("{}.{:03d}", thousandths / 1000, thousandths % 1000);
}

// Row i as the kafka sink writes it (updated_at is Asia/Shanghai wall-clock time, so UTC is
// eight hours earlier).
inline nlohmann::json expectedRow(long i) {
  nlohmann::json row;
  row["id"] = i;
  row["report_no"] = fmt::format("PR{:08d}", i);
  row["work_order_no"] = fmt::format("WO{}", i % 997);
  row["operation_code"] = fmt::format("OP{}", i % 40);
  row["product_code"] = fmt::format("P-{}", i % 3000);
  row["workstation_code"] = fmt::format("MOLD-WS{}", i % 30);
  row["workshop_code"] = "MOLD";
  row["team_code"] = fmt::format("MOLD-T{}", i % 8);
  row["operator_badge"] = fmt::format("B{:06d}", i % 300);
  row["shift_code"] = std::string(1, "ABC"[i % 3]);
  row["shift_date"] = fmt::format("2025-03-{:02d}", 14 + i / 50000);
  row["good_qty"] = decimalText(i % 500000);
  row["scrap_qty_labor"] = decimalText(i % 7);
  row["scrap_qty_mat"] = nullptr;
  row["labor_minutes"] = i % 480;
  row["state"] = "ACCEPTED";
  row["remark"] = i % 10 == 0 ? nlohmann::json(nullptr) : nlohmann::json(fmt::format("注塑车间 {}", i));
  long seconds = i / 3;  // 08:00 Asia/Shanghai is 00:00 UTC
  long day = seconds / 86400;
  seconds %= 86400;
  row["updated_at"] = fmt::format("2025-03-{:02d}T{:02d}:{:02d}:{:02d}Z", 14 + day, seconds / 3600, seconds / 60 % 60,
                                  seconds % 60);
  return row;
}

struct Message {
  std::string key;
  nlohmann::json value;
  std::map<std::string, std::string> headers;
};

inline kafka::KafkaHandle consumer(const std::string& bootstrap) {
  kafka::KafkaConfig config;
  REQUIRE(config.setAll({{"bootstrap.servers", bootstrap},
                         {"group.id", unique("dutybridge-e2e-reader")},
                         {"enable.auto.commit", "false"},
                         {"enable.partition.eof", "true"},
                         {"isolation.level", "read_committed"}}));
  auto handle = kafka::createClient(RD_KAFKA_CONSUMER, std::move(config));
  REQUIRE(handle);
  return std::move(*handle);
}

// Number of messages in partition 0 of the topic (0 when it does not exist yet).
// The high watermark of partition 0, or 0 when it cannot be read (a probe: watchers of progress).
inline int64_t highWatermark(rd_kafka_t* client, const std::string& topic) {
  int64_t low = 0, high = 0;
  if (rd_kafka_query_watermark_offsets(client, topic.c_str(), 0, &low, &high, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return 0;
  }
  return high;
}

// The same, strict: a topic that does not exist is empty (0), but a query that fails otherwise (a
// broker just started or busy: timeouts, no leader yet) is retried for up to a minute and then
// fails the test; it never reads as "the topic is empty".
inline int64_t requireHighWatermark(rd_kafka_t* client, const std::string& topic) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  do {
    int64_t low = 0, high = 0;
    err = rd_kafka_query_watermark_offsets(client, topic.c_str(), 0, &low, &high, 5000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return high;
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART || err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC ||
        err == RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION) {
      return 0;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
  } while (std::chrono::steady_clock::now() < deadline);
  FAIL("the high watermark of " << topic << " could not be read: " << rd_kafka_err2str(err));
  return 0;
}

// Every message of the single-partition topic, from the beginning to the high watermark.
inline std::vector<Message> readTopic(const std::string& bootstrap, const std::string& topic) {
  auto client = consumer(bootstrap);
  int64_t end = requireHighWatermark(client.get(), topic);
  std::vector<Message> out;
  if (end == 0) return out;
  kafka::PartitionList partitions(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(partitions.get(), topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  REQUIRE(rd_kafka_assign(client.get(), partitions.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  // The end: a partition-EOF event at or past the high watermark taken before reading. (With
  // transactions the last offsets are commit markers, which a consumer never receives, so the
  // last message's offset cannot tell.)
  bool at_end = false;
  while (!at_end && std::chrono::steady_clock::now() < deadline) {
    kafka::MessagePtr message(rd_kafka_consumer_poll(client.get(), 500));
    if (!message) continue;
    if (message->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
      at_end = message->offset >= end;
      continue;
    }
    if (message->err) continue;
    Message m;
    if (message->key) m.key.assign(static_cast<const char*>(message->key), message->key_len);
    m.value = nlohmann::json::parse(std::string_view(static_cast<const char*>(message->payload), message->len));
    rd_kafka_headers_t* headers = nullptr;
    if (rd_kafka_message_headers(message.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR) {
      const char* name;
      const void* value;
      size_t size;
      for (size_t i = 0; rd_kafka_header_get_all(headers, i, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++i) {
        m.headers[name] = std::string(static_cast<const char*>(value), size);
      }
    }
    out.push_back(std::move(m));
  }
  rd_kafka_assign(client.get(), nullptr);
  REQUIRE(at_end);
  return out;
}

// The dutybridge binary, run as a user runs it; stderr (the log) goes to a file.
class Daemon {
 public:
  Daemon(const std::filesystem::path& config, const std::filesystem::path& log, bool once) : log_(log) {
    std::vector<std::string> args = {kBinary.string(), "run", "-c", config.string()};
    if (once) args.push_back("--once");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    REQUIRE(posix_spawn(&pid_, kBinary.c_str(), &actions, nullptr, argv.data(), environ) == 0);
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Daemon() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }

  void signal(int number) { REQUIRE(kill(pid_, number) == 0); }
  pid_t pid() const { return pid_; }

  // Exit status; -signal when killed. Fails the test if it runs past the timeout.
  int wait(std::chrono::seconds timeout = std::chrono::seconds(300)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      int status = 0;
      rusage usage{};
      pid_t done = wait4(pid_, &status, WNOHANG, &usage);
      if (done == pid_) {
        pid_ = -1;
        cpu_seconds_ = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                       static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
        peak_rss_mib_ = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
        return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
      }
      if (std::chrono::steady_clock::now() > deadline) {
        INFO(readFile(log_));
        FAIL("dutybridge did not exit in time");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  bool running() {
    int status = 0;
    return pid_ > 0 && waitpid(pid_, &status, WNOHANG) == 0;
  }

  // User + system CPU seconds the process used; known once wait() has returned.
  double cpuSeconds() const { return cpu_seconds_; }
  // Peak resident set size in MiB; known once wait() has returned.
  double peakRssMiB() const { return peak_rss_mib_; }

 private:
  pid_t pid_ = -1;
  double cpu_seconds_ = 0;
  double peak_rss_mib_ = 0;
  std::filesystem::path log_;
};

// Waits until the topic holds at least `count` messages.
inline void waitForMessages(const std::string& bootstrap, const std::string& topic, int64_t count,
                            std::chrono::seconds timeout = std::chrono::seconds(120)) {
  auto client = consumer(bootstrap);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (highWatermark(client.get(), topic) < count) {
    if (std::chrono::steady_clock::now() > deadline) FAIL("topic " + topic + " did not reach " + std::to_string(count));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace dutybridge::e2e
