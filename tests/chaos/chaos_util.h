#pragma once
// Chaos harness helpers (tests/chaos): the real `dutybridge` binary under SIGKILLs and service
// outages, checked by a read_committed reader over every partition of the output topics.
//
// Threading: Writer, RssSampler and LiveCounter run their own thread and never use Catch macros
// there (Catch is not thread-safe); the test thread reads their atomics and asserts. Everything
// else runs on the test thread and fails the test (REQUIRE) on an unexpected error.
//
// Services: the shared Kafka broker and PostgreSQL come from scripts/test (or
// scripts/services-env) and are required (a missing one fails the test, never skips it). The
// outage scenarios start a private broker or cluster of their own (scripts/kafka-local,
// scripts/pg-local with their own DUTYBRIDGE_RUN), so stopping it disturbs nobody else.
//
// Scale: every scenario reads its size from CHAOS_* environment variables (tests/chaos/run and
// docs/chaos-harness.md document the full form); the defaults are the short form CI runs.

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <mutex>
#include <unordered_map>

#include "tests/e2e/e2e_util.h"
#include "tests/support/env.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"
#include "tests/support/psql.h"

namespace dutybridge::chaos {

using e2e::kSourceDir;
using testing::envLong;
using testing::envString;
using testing::freePort;
using testing::Message;
using testing::partitionCount;
using testing::Pg;
using testing::psql;
using testing::psqlLong;
using testing::readCommitted;
using testing::runPsql;
using testing::secondsSince;
using testing::waitFor;

// The MES production_report table of tests/e2e/aggregation_test.cpp (the columns the KPI 1
// mapping reads), keyed by report_no, with an incrementing id.
inline std::string createReportTableSql(const std::string& table) {
  return fmt::format(R"(
CREATE TABLE {0} (
  report_no varchar(20) PRIMARY KEY, id bigint NOT NULL UNIQUE, work_order_no varchar(20) NOT NULL,
  operation_code varchar(10) NOT NULL, product_code varchar(20) NOT NULL, workstation_code varchar(20),
  workshop_code varchar(10) NOT NULL, team_code varchar(20) NOT NULL, operator_badge varchar(20) NOT NULL,
  shift_code varchar(4) NOT NULL, shift_date date NOT NULL, good_qty numeric(12,3) NOT NULL,
  scrap_qty_labor numeric(12,3), scrap_qty_mat numeric(12,3), uom varchar(8) NOT NULL, labor_minutes integer,
  state varchar(10) NOT NULL, updated_at timestamp NOT NULL);
CREATE INDEX ON {0} (updated_at, id);
)", table);
}

// Reports first..last over four teams with a leader, the D and N shifts of two and three days
// ago (plant time), every 13th DECLINED and every 17th DRAFT. `updated_at` is an SQL
// expression of i (UTC wall time). Idempotent (a report already there is left alone), so a
// writer may repeat an insert whose outcome it did not learn.
inline std::string insertReportsSql(const std::string& table, long first, long last, const std::string& updated_at) {
  return fmt::format(R"(
WITH p AS (SELECT (now() AT TIME ZONE 'Asia/Shanghai')::date AS today,
                  ARRAY['MACH-T1','MACH-T2','MOLD-T1','ASSY-T1'] AS teams)
INSERT INTO {0}
SELECT 'PR-' || lpad(i::text, 9, '0'), i, 'WO-' || (24000 + i % 211), 'OP' || lpad((10 * (1 + i % 6))::text, 3, '0'),
  'HSG-' || (2200 + i % 37), 'WS-' || (i % 23),
  split_part(teams[1 + i % 4], '-', 1), teams[1 + i % 4], 'B' || lpad((i % 300)::text, 6, '0'),
  CASE (i / 8) % 2 WHEN 0 THEN 'D' ELSE 'N' END, p.today - 2 - ((i / 4) % 2)::int,
  ((i * 7919) % 600000) / 1000.0, (i % 7) / 1000.0, NULL, 'PCS', i % 480,
  CASE WHEN i % 13 = 0 THEN 'DECLINED' WHEN i % 17 = 0 THEN 'DRAFT' ELSE 'ACCEPTED' END,
  {3}
FROM p, generate_series({1}::bigint, {2}::bigint) i
ON CONFLICT DO NOTHING;
)", table, first, last, updated_at);
}

// The row-level mapping: one output per report (whatever its state), keyed by report_no.
inline std::string rowMapping(const std::string& name, const std::string& topic) {
  return fmt::format(R"(name: {}
version: 1
input:
  id: int
  report_no: string
  team_code: string
  shift_code: string
  shift_date: date
  good_qty: decimal
  state: string
  updated_at: timestamp
emit:
  - to: {}
    key: report_no
    fields:
      id: id
      report_no: report_no
      team_code: team_code
      shift_date: shift_date
      shift_code: shift_code
      good_qty: good_qty
      state: state
      reported_at: updated_at
)", name, topic);
}

// One pipeline of the daemon's config: the odbc source over `table`, a mapping, a kafka sink.
inline std::string pipelineYaml(const std::string& name, const std::string& connection, const std::string& table,
                                const std::string& mapping_file, long batch_rows) {
  return fmt::format(R"(  - name: {0}
    delivery: {5}
    source:
      type: odbc
      connection: "{1}"
      table: {2}
      mode: timestamp+incrementing
      timestamp_column: updated_at
      incrementing_column: id
      timestamp_zone: UTC
      commit_lag: 1s
      poll_interval: 100ms
      batch_rows: {4}
    mapping: {3}
    sink:
      type: kafka
      topic: chaos.{2}.unused
)", name, connection, table, mapping_file, batch_rows, envString("CHAOS_DELIVERY", "exactly_once"));
}

inline std::string kafkaYaml(const std::string& bootstrap, const std::string& table) {
  return fmt::format(R"(kafka:
  bootstrap_servers: {0}
  client_id: chaos
  state_topic: chaos.{1}.state
  dlq_topic: chaos.{1}.dlq
  state_key: chaos-test-state-key
log:
  level: info
pipelines:
)",
                     bootstrap, table);
}

// Missing and duplicate records: the row topic's messages (keyed by report_no) against the
// report numbers the table holds.
struct Census {
  long expected = 0;
  long received = 0;
  long missing = 0;
  long duplicates = 0;
  long unexpected = 0;  // keys the table does not have
  std::vector<std::string> examples;
};

inline Census census(const std::vector<Message>& messages, const std::vector<std::string>& keys) {
  Census c;
  std::unordered_map<std::string, long> count;
  count.reserve(keys.size());
  for (const auto& key : keys) count[key] = 0;
  c.expected = static_cast<long>(keys.size());
  c.received = static_cast<long>(messages.size());
  for (const auto& m : messages) {
    auto it = count.find(m.keyText());
    if (it == count.end()) {
      ++c.unexpected;
      if (c.examples.size() < 5) c.examples.push_back("unexpected key " + m.keyText());
      continue;
    }
    if (++it->second == 2 && c.examples.size() < 5) c.examples.push_back("duplicate " + m.keyText());
  }
  for (const auto& [key, n] : count) {
    if (n == 0) {
      ++c.missing;
      if (c.examples.size() < 5) c.examples.push_back("missing " + key);
    } else {
      c.duplicates += n - 1;
    }
  }
  return c;
}

inline std::vector<std::string> reportNumbers(const Pg& pg, const std::string& table) {
  return testing::psqlColumn(pg, fmt::format("SELECT report_no FROM {};", table));
}

// Inserts about `rows_per_second` reports (ids from `first_id` on) in four statements a second,
// until stopped. An insert that fails (the database is down) is repeated until it succeeds:
// inserts are idempotent, so one that committed but whose answer was lost does no harm.
class Writer {
 public:
  Writer(Pg pg, std::string table, long first_id, long rows_per_second)
      : pg_(std::move(pg)), table_(std::move(table)), next_id_(first_id), per_tick_(std::max(1L, rows_per_second / 4)) {
    thread_ = std::jthread([this](std::stop_token stop) { loop(stop); });
  }
  ~Writer() { stop(); }
  void stop() {
    if (thread_.joinable()) {
      thread_.request_stop();
      thread_.join();
    }
  }
  long nextId() const { return next_id_.load(); }
  long failures() const { return failures_.load(); }
  std::string lastError() const {
    std::lock_guard lock(mutex_);
    return last_error_;
  }

 private:
  void loop(std::stop_token stop) {
    auto tick = std::chrono::steady_clock::now();
    while (!stop.stop_requested()) {
      tick += std::chrono::milliseconds(250);
      long first = next_id_.load();
      std::string err;
      // All rows of a statement share now(): the incrementing id orders them.
      if (runPsql(pg_, insertReportsSql(table_, first, first + per_tick_ - 1, "now() AT TIME ZONE 'UTC'"), nullptr,
                  &err) == 0) {
        next_id_ = first + per_tick_;
      } else {
        failures_.fetch_add(1);
        std::lock_guard lock(mutex_);
        last_error_ = err;
      }
      auto now = std::chrono::steady_clock::now();
      if (tick > now) {
        std::this_thread::sleep_until(tick);
      } else {
        tick = now;  // behind (an outage): no burst to catch up, the rate stays ~steady
      }
    }
  }
  Pg pg_;
  std::string table_;
  std::atomic<long> next_id_;
  long per_tick_;
  std::atomic<long> failures_{0};
  mutable std::mutex mutex_;
  std::string last_error_;
  std::jthread thread_;
};

// VmRSS of a process from /proc/<pid>/status, in KiB (0 when it is gone).
inline long rssKiB(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return 0;
}

// Samples a process's RSS every 100 ms; max_kib() is the highest seen.
class RssSampler {
 public:
  explicit RssSampler(pid_t pid) {
    thread_ = std::jthread([this, pid](std::stop_token stop) {
      while (!stop.stop_requested()) {
        long kib = rssKiB(pid);
        if (kib > max_kib_.load()) max_kib_ = kib;
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    });
  }
  long maxKiB() const { return max_kib_.load(); }

 private:
  std::atomic<long> max_kib_{0};
  std::jthread thread_;
};

// Counts the committed messages of a topic as they become visible (read_committed), through
// broker outages (librdkafka reconnects). Waits for the topic to exist.
class LiveCounter {
 public:
  LiveCounter(const std::string& bootstrap, const std::string& topic) {
    // log_level 2: the outage's connection errors are expected.
    client_ = testing::consumer(bootstrap, "dutybridge-chaos-live", "2");
    thread_ = std::jthread([this, topic](std::stop_token stop) {
      if (!client_) return;
      int partitions = 0;
      while (!stop.stop_requested() && (partitions = partitionCount(client_.get(), topic)) == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
      }
      if (partitions == 0) return;
      kafka::PartitionList list(rd_kafka_topic_partition_list_new(partitions));
      for (int32_t p = 0; p < partitions; ++p) {
        rd_kafka_topic_partition_list_add(list.get(), topic.c_str(), p)->offset = RD_KAFKA_OFFSET_BEGINNING;
      }
      rd_kafka_assign(client_.get(), list.get());
      while (!stop.stop_requested()) {
        kafka::MessagePtr message(rd_kafka_consumer_poll(client_.get(), 200));
        if (message && !message->err) count_.fetch_add(1);
      }
      rd_kafka_assign(client_.get(), nullptr);
    });
  }
  ~LiveCounter() {
    thread_.request_stop();
    thread_.join();
  }
  long count() const { return count_.load(); }
  bool ok() const { return static_cast<bool>(client_); }

 private:
  kafka::KafkaHandle client_;
  std::atomic<long> count_{0};
  std::jthread thread_;
};

// A Kafka broker or PostgreSQL cluster of this test's own (scripts/kafka-local or
// scripts/pg-local with a private DUTYBRIDGE_RUN), stopped and removed at the end.
class PrivateService {
 public:
  // `script` is kafka-local or pg-local.
  PrivateService(std::string script, const std::filesystem::path& run_dir)
      : script_((kSourceDir / "scripts" / script).string()), run_dir_(run_dir) {
    std::filesystem::create_directories(run_dir_);
    // pg-local runs initdb as user postgres when we are root: it must reach the dir.
    std::filesystem::permissions(run_dir_, std::filesystem::perms::owner_all | std::filesystem::perms::group_read |
                                               std::filesystem::perms::group_exec | std::filesystem::perms::others_read |
                                               std::filesystem::perms::others_exec);
    port_ = freePort();
  }
  ~PrivateService() {
    command("clean");
  }
  // start / stop / restart; returns the script's exit status.
  int command(const std::string& what) {
    std::string env_port = script_.ends_with("kafka-local") ? "DUTYBRIDGE_KAFKA_PORT" : "DUTYBRIDGE_PG_PORT";
    std::string line = fmt::format("DUTYBRIDGE_RUN='{}' {}={} '{}' {} >>'{}/script.log' 2>&1", run_dir_.string(),
                                   env_port, port_, script_, what, run_dir_.string());
    return std::system(line.c_str());
  }
  int port() const { return port_; }
  const std::filesystem::path& runDir() const { return run_dir_; }
  std::string scriptLog() const { return testing::readFile(run_dir_ / "script.log"); }

 private:
  std::string script_;
  std::filesystem::path run_dir_;
  int port_ = 0;
};

}  // namespace dutybridge::chaos
