// The HR store loader end to end (docs/hr-store.md): duty_kpi.v1 facts in a Kafka topic ->
// the real `dutybridge` binary (kafka source -> odbc upsert sink) -> PostgreSQL (and, for the
// highest-revision test, SQLite) tables made by `dutybridge hr-schema`. Checked: the highest
// revision wins whatever the order and however often a fact is re-sent; SIGKILLs never leave
// the stored position ahead of the committed rows; a database outage is ridden out; and the
// loader's throughput.
//
// Each test gets a fresh topic (3 partitions), a fresh PostgreSQL schema holding the HR tables
// (the sink's `table` and `offsets_table` are schema-qualified) and a unique consumer group. The
// producer here remembers, from its delivery reports, which fact (key, revision) sits at which
// partition offset, so a stored position can be checked against the rows.
//
// Scale comes from HR_* environment variables; the defaults are the short form CI runs (about
// two minutes under AddressSanitizer): HR_FACT_KEYS (12,000 keys x 4 revisions; 25,000 for the long form), HR_KILLS (8; 20 for the
// long form),
// HR_KILL_RATE (facts/s produced during the kills), HR_DB_OUTAGE_S (15; 30 for the long form),
// HR_OUTAGE_RATE, HR_SQLITE_FACT_KEYS (12,000 keys x 4 revisions into SQLite; 25,000 long). `[.bench]` (hidden) measures throughput
// with HR_BENCH_KEYS keys; HR_SOURCE_BATCH_MAX sets the source's batch_rows (records per sink transaction; unset: the
// source's default).

#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "src/odbc/odbc_handles.h"
#include "tests/chaos/chaos_util.h"
#include "tests/chaos/figures.h"

using namespace dutybridge;
using e2e::Daemon;

namespace {

constexpr int kPartitions = 3;
constexpr int kRevisions = 4;
const std::string kPipeline = "hr-duty-kpi";

// ---- the facts ------------------------------------------------------------------------------

// A fact is identified by (key index, revision); packed into one integer for delivery reports.
uint64_t packId(int64_t key, int revision) {
  return static_cast<uint64_t>(key) << 3 | static_cast<uint64_t>(revision);
}
int64_t keyOf(uint64_t id) {
  return static_cast<int64_t>(id >> 3);
}
int revisionOf(uint64_t id) {
  return static_cast<int>(id & 7);
}

struct Period {
  std::string shift_date;  // YYYY-MM-DD
  char shift = 'D';
};

// Key k: employee E1xxxx (2,500 of them), day shift or night shift, on consecutive dates from
// 2025-03-01.
Period periodOf(int64_t k) {
  using namespace std::chrono;
  const int64_t rest = k / 2500;
  const year_month_day date{sys_days{year{2025} / March / 1} + days{rest / 2}};
  return Period{fmt::format("{:04d}-{:02d}-{:02d}", static_cast<int>(date.year()), static_cast<unsigned>(date.month()),
                            static_cast<unsigned>(date.day())),
                rest % 2 ? 'N' : 'D'};
}

std::string employeeOf(int64_t k) {
  return fmt::format("E{:05d}", 10000 + k % 2500);
}

std::string factKey(int64_t k) {
  Period p = periodOf(k);
  return fmt::format("plant-01|KPI.TL.DAILY_GOOD_OUTPUT|{}|SHIFT|{}/{}", employeeOf(k), p.shift_date, p.shift);
}

// Thousandths of the value of revision r of key k: a different value per revision.
int64_t valueMilli(int64_t k, int r) {
  return ((k % 900) + 100 * r) * 1000 + (k * 7 + r) % 1000;
}
std::string valueText(int64_t k, int r) {
  const int64_t v = valueMilli(k, r);
  return fmt::format("{}.{:03d}", v / 1000, v % 1000);
}

// Revision r of key k, valid per docs/schemas/duty_kpi.v1.json.
nlohmann::json factJson(int64_t k, int r) {
  const Period p = periodOf(k);
  // Shanghai shifts: D 08:00-20:00 (00:00-12:00 UTC), N 20:00-08:00 (12:00 UTC to 00:00 UTC next day).
  const std::string start = fmt::format("{}T{}:00:00Z", p.shift_date, p.shift == 'D' ? "00" : "12");
  const std::string end =
      p.shift == 'D' ? fmt::format("{}T12:00:00Z", p.shift_date) : fmt::format("{}T23:59:59Z", p.shift_date);
  const int64_t value = valueMilli(k, r);
  const int64_t attainment = value / 50;  // value / 500 in ten-thousandths
  nlohmann::json fact = {
      {"fact_key", factKey(k)},
      {"revision", r},
      {"employee_no", employeeOf(k)},
      {"position_code", "TEAM_LEADER"},
      {"org_unit", fmt::format("MOLD-T{}", k % 8)},
      {"kpi_code", "KPI.TL.DAILY_GOOD_OUTPUT"},
      {"duty_code", "DUTY.TL.TEAM_OUTPUT"},
      {"period",
       {{"type", "SHIFT"},
        {"id", fmt::format("{}/{}", p.shift_date, p.shift)},
        {"shift_date", p.shift_date},
        {"shift_code", std::string(1, p.shift)},
        {"start", start},
        {"end", end},
        {"tz", "Asia/Shanghai"},
        {"closed", r >= 3}}},
      {"value", valueText(k, r)},
      {"unit", "pcs"},
      {"target", "500"},
      {"direction", "HIGHER_IS_BETTER"},
      {"attainment", fmt::format("{}.{:04d}", attainment / 10000, attainment % 10000)},
      {"inputs", {{"good_qty", valueText(k, r)}, {"reports", r * 3}}},
      {"lineage",
       {{"source_system", "MES"},
        {"mapping", "kpi-tl-daily-good-output@1"},
        {"source_positions", {fmt::format("mes.production_report/{}", k * 10 + r)}},
        {"watermark", end}}},
      {"computed_at", fmt::format("2025-04-01T00:00:{:02d}Z", r)},
  };
  return fact;
}

// Every revision of keys 0..keys-1, plus re-sends of one in twenty facts (replays), shuffled:
// revisions of one key arrive in any order, on the key's partition.
std::vector<uint64_t> shuffledFacts(int64_t keys, uint64_t seed) {
  std::vector<uint64_t> ids;
  ids.reserve(static_cast<size_t>(keys * kRevisions + keys * kRevisions / 20));
  for (int64_t k = 0; k < keys; ++k) {
    for (int r = 1; r <= kRevisions; ++r) ids.push_back(packId(k, r));
  }
  std::mt19937_64 rng(seed);
  const size_t originals = ids.size();
  for (size_t i = 0; i < originals / 20; ++i) ids.push_back(ids[rng() % originals]);
  std::shuffle(ids.begin(), ids.end(), rng);
  return ids;
}

// ---- Kafka --------------------------------------------------------------------------------

void createTopic(const std::string& bootstrap, const std::string& topic, int partitions) {
  kafka::KafkaConfig config;
  REQUIRE(config.setAll({{"bootstrap.servers", bootstrap}}));
  auto client = kafka::createClient(RD_KAFKA_PRODUCER, std::move(config));
  REQUIRE(client);
  char errstr[512];
  rd_kafka_NewTopic_t* new_topic = rd_kafka_NewTopic_new(topic.c_str(), partitions, 1, errstr, sizeof errstr);
  REQUIRE(new_topic);
  rd_kafka_AdminOptions_t* options = rd_kafka_AdminOptions_new(client->get(), RD_KAFKA_ADMIN_OP_CREATETOPICS);
  rd_kafka_AdminOptions_set_operation_timeout(options, 30'000, errstr, sizeof errstr);
  rd_kafka_queue_t* queue = rd_kafka_queue_new(client->get());
  rd_kafka_CreateTopics(client->get(), &new_topic, 1, options, queue);
  rd_kafka_event_t* event = rd_kafka_queue_poll(queue, 60'000);
  std::string error = !event ? "no answer" : rd_kafka_event_error(event) ? rd_kafka_event_error_string(event) : "";
  if (event && error.empty()) {
    size_t count = 0;
    const rd_kafka_topic_result_t** results =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count);
    if (count != 1)
      error = "no topic result";
    else if (rd_kafka_topic_result_error(results[0]))
      error = rd_kafka_err2str(rd_kafka_topic_result_error(results[0]));
  }
  if (event) rd_kafka_event_destroy(event);
  rd_kafka_queue_destroy(queue);
  rd_kafka_AdminOptions_destroy(options);
  rd_kafka_NewTopic_destroy(new_topic);
  INFO("creating topic " << topic);
  REQUIRE(error == "");
}

// The high watermark of every partition: where a loader that has read everything stands.
std::vector<int64_t> endOffsets(const std::string& bootstrap, const std::string& topic) {
  auto client = e2e::consumer(bootstrap);
  std::vector<int64_t> ends;
  for (int p = 0; p < kPartitions; ++p) {
    int64_t low = 0, high = 0;
    REQUIRE(rd_kafka_query_watermark_offsets(client.get(), topic.c_str(), p, &low, &high, 10'000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR);
    ends.push_back(high);
  }
  return ends;
}

// An idempotent producer of facts that records, per partition, which fact landed at which
// offset. produce() and poll() use no Catch macros, so a producer thread may call them.
class FactProducer {
 public:
  FactProducer(const std::string& bootstrap, std::string topic) : topic_(std::move(topic)), delivered_(kPartitions) {
    kafka::KafkaConfig config;
    REQUIRE(config.setAll({{"bootstrap.servers", bootstrap},
                           {"enable.idempotence", "true"},
                           {"linger.ms", "20"},
                           {"batch.num.messages", "10000"},
                           {"queue.buffering.max.messages", "200000"}}));
    rd_kafka_conf_set_dr_msg_cb(config.get(), &FactProducer::onDelivery);
    rd_kafka_conf_set_opaque(config.get(), this);
    auto client = kafka::createClient(RD_KAFKA_PRODUCER, std::move(config));
    REQUIRE(client);
    client_ = std::move(*client);
  }

  // Queues one fact (waiting while the queue is full); false on an error.
  bool produce(uint64_t id) {
    const int64_t k = keyOf(id);
    const std::string key = factKey(k);
    const std::string value = factJson(k, revisionOf(id)).dump();
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          client_.get(), RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
          RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(id))), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return true;
      if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        ++errors_;
        return false;
      }
      rd_kafka_poll(client_.get(), 50);
    }
  }
  void poll() { rd_kafka_poll(client_.get(), 0); }
  bool flush() { return rd_kafka_flush(client_.get(), 120'000) == RD_KAFKA_RESP_ERR_NO_ERROR; }
  long errors() const { return errors_.load(); }

  // Per partition: the fact at each offset (kUnknown where no delivery report has come yet).
  static constexpr uint64_t kUnknown = ~uint64_t{0};
  std::vector<std::vector<uint64_t>> delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }

 private:
  static void onDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<FactProducer*>(opaque);
    if (message->err || message->partition < 0 || message->partition >= kPartitions || message->offset < 0) {
      ++self->errors_;
      return;
    }
    std::lock_guard lock(self->mutex_);
    auto& offsets = self->delivered_[static_cast<size_t>(message->partition)];
    const auto offset = static_cast<size_t>(message->offset);
    if (offsets.size() <= offset) offsets.resize(offset + 1, kUnknown);
    offsets[offset] = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(message->_private));
  }

  std::string topic_;
  kafka::KafkaHandle client_;
  std::atomic<long> errors_{0};
  mutable std::mutex mutex_;
  std::vector<std::vector<uint64_t>> delivered_;
};

// Produces `ids` at about `rate` facts/s on its own thread (all at once when rate is 0).
class PacedProducer {
 public:
  PacedProducer(FactProducer& producer, std::vector<uint64_t> ids, long rate)
      : thread_([this, &producer, ids = std::move(ids), rate](std::stop_token stop) {
          const auto started = std::chrono::steady_clock::now();
          for (size_t i = 0; i < ids.size() && !stop.stop_requested(); ++i) {
            if (!producer.produce(ids[i])) break;
            sent_.store(i + 1);
            if (rate > 0 && i % 100 == 99) {
              producer.poll();
              const auto due = started + std::chrono::microseconds(static_cast<int64_t>(i + 1) * 1'000'000 / rate);
              std::this_thread::sleep_until(due);
            }
          }
          flushed_ = producer.flush();
          done_ = true;
        }) {}
  bool done() const { return done_.load(); }
  bool flushed() const { return flushed_.load(); }
  size_t sent() const { return sent_.load(); }
  void join() { thread_.join(); }

 private:
  std::atomic<size_t> sent_{0};
  std::atomic<bool> done_{false};
  std::atomic<bool> flushed_{false};
  std::jthread thread_;
};

// The source's batch_rows from HR_SOURCE_BATCH_MAX; 0 (unset): the source's default.
long sourceBatchMax() {
  return chaos::envLong("HR_SOURCE_BATCH_MAX", 0);
}

// ---- the HR store ---------------------------------------------------------------------------

std::string hrSchemaDdl(const std::string& dialect) {
  const std::string command = e2e::kBinary.string() + " hr-schema --dialect " + dialect;
  FILE* pipe = popen(command.c_str(), "r");
  REQUIRE(pipe);
  std::string out;
  char buffer[4096];
  while (size_t n = fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  REQUIRE(pclose(pipe) == 0);
  REQUIRE_THAT(out, Catch::Contains("duty_kpi_fact"));
  return out;
}

// Runs SQL through the sqlite3 shell on `file`; returns its exit status, its output
// (tab-separated, no headers) in `out` and its errors in `err`. Waits up to 10 s for the
// loader's write lock.
int runSqlite(const std::filesystem::path& file, const std::string& sql, std::string* out = nullptr,
              std::string* err = nullptr) {
  auto script = std::filesystem::temp_directory_path() / e2e::uniqueName("dutybridge-hr-sql");
  std::ofstream(script) << ".timeout 10000\n.bail on\n.separator \"\\t\"\n" << sql << "\n";
  const std::string command = fmt::format("sqlite3 -batch '{}' <'{}' >'{}.out' 2>'{}.err'", file.string(),
                                          script.string(), script.string(), script.string());
  const int status = std::system(command.c_str());
  if (out) *out = e2e::readFile(script.string() + ".out");
  if (err) *err = e2e::readFile(script.string() + ".err");
  for (const char* suffix : {"", ".out", ".err"}) std::filesystem::remove(script.string() + suffix);
  return status;
}

// Where the HR tables live: a fresh schema of a PostgreSQL database, or a fresh SQLite file.
struct SqliteStore {};

// One test's world: topic, schema (or SQLite file) with the HR tables, daemon config.
struct Loader {
  std::optional<chaos::Pg> pg;          // PostgreSQL, or
  std::filesystem::path sqlite_file;    // SQLite
  std::string bootstrap = testing::kafkaBootstrap();
  std::string name = e2e::uniqueName("hrload");
  std::string topic = "e2e." + name + ".duty-kpi.v1";
  std::string schema = name;
  std::string prefix;  // "schema." on PostgreSQL, "" on SQLite
  std::filesystem::path dir;
  std::filesystem::path config;
  std::filesystem::path log;

  Loader(const std::string& label, chaos::Pg database) : pg(std::move(database)) {
    dir = e2e::tempDir(label);
    prefix = schema + ".";
    chaos::psql(*pg, fmt::format("CREATE SCHEMA {0};\nSET search_path TO {0};\n{1}", schema, hrSchemaDdl("postgresql")));
    writeConfig(pg->odbc());
  }

  Loader(const std::string& label, SqliteStore) {
    dir = e2e::tempDir(label);
    sqlite_file = dir / "hr.db";
    std::string err;
    const int status = runSqlite(sqlite_file, hrSchemaDdl("sqlite"), nullptr, &err);
    INFO(err);
    REQUIRE(status == 0);
    writeConfig("Driver=SQLite3;Database=" + sqlite_file.string());
  }

  void writeConfig(const std::string& connection) {
    config = dir / "dutybridge.yaml";
    log = dir / "dutybridge.log";
    createTopic(bootstrap, topic, kPartitions);
    std::string client_id = name;
    std::replace(client_id.begin(), client_id.end(), '_', '-');
    // group.instance.id (static membership): a restarted instance takes its killed
    // predecessor's place at once instead of waiting session.timeout.ms for it to expire.
    std::ofstream(config) << fmt::format(
        R"(kafka:
  bootstrap_servers: {0}
  client_id: {1}
  state_topic: e2e.{1}.state
  dlq_topic: e2e.{1}.dlq
log:
  level: info
pipelines:
  - name: {2}
    delivery: at_least_once      # the sink's database transaction is the exactly-once boundary
    source:
      type: kafka
      topics: [{3}]
      format: json{6}
      librdkafka: {{group.instance.id: {1}-loader, session.timeout.ms: "10000"}}
    sink:
      type: odbc
      connection: "{4}"
      table: {5}duty_kpi_fact
      offsets_table: {5}dutybridge_offsets
      key: [fact_key]
      revision: revision
      columns: {{fact_key: fact_key, revision: revision, employee_no: employee_no, position_code: position_code,
                org_unit: org_unit, kpi_code: kpi_code, duty_code: duty_code, period_type: period.type,
                period_id: period.id, shift_date: period.shift_date, shift_code: period.shift_code,
                period_start: period.start, period_end: period.end, period_tz: period.tz, closed: period.closed,
                value: value, unit: unit, target: target, direction: direction, attainment: attainment,
                inputs: inputs, lineage: lineage, computed_at: computed_at}}
)",
        bootstrap, client_id, kPipeline, topic, connection, prefix,
        sourceBatchMax() ? fmt::format("\n      batch_rows: {}", sourceBatchMax()) : "");
  }
  ~Loader() {
    if (pg) chaos::runPsql(*pg, fmt::format("DROP SCHEMA IF EXISTS {} CASCADE;", schema));
  }

  std::string logText() const { return e2e::readFile(log); }

  // The daemon with --once, twice: the second run finds nothing new, so it sends nothing again.
  void loadTwice() const {
    for (int run = 0; run < 2; ++run) {
      Daemon daemon(config, log, /*once=*/true);
      const int status = daemon.wait(std::chrono::seconds(300));
      INFO(logText());
      REQUIRE(status == 0);
    }
  }

  // What the pipeline sent to its dead-letter topic (kafka.dlq_topic of the config).
  auto deadLetters() const {
    std::string client_id = name;
    std::replace(client_id.begin(), client_id.end(), '_', '-');
    return e2e::readTopic(bootstrap, "e2e." + client_id + ".dlq");
  }

  std::vector<std::vector<std::string>> rows(const std::string& sql) const {
    std::string out, err;
    int status = pg ? chaos::runPsql(*pg, sql, &out, &err) : runSqlite(sqlite_file, sql, &out, &err);
    INFO(err);
    REQUIRE(status == 0);
    std::vector<std::vector<std::string>> result;
    std::istringstream lines(out);
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      std::vector<std::string> fields;
      size_t from = 0;
      for (size_t tab; (tab = line.find('\t', from)) != std::string::npos; from = tab + 1) {
        fields.push_back(line.substr(from, tab - from));
      }
      fields.push_back(line.substr(from));
      result.push_back(std::move(fields));
    }
    return result;
  }

  std::string positionSql() const {
    return fmt::format("SELECT position FROM {}dutybridge_offsets WHERE pipeline_key = '{}';", prefix, kPipeline);
  }

  // The stored next offset per partition (-1: none stored for it; all -1 without a row).
  std::vector<int64_t> storedPosition() const {
    auto found = rows(positionSql());
    return parsePosition(found.empty() ? std::nullopt : std::optional<std::string>(found.at(0).at(0)));
  }

  std::vector<int64_t> parsePosition(const std::optional<std::string>& position) const {
    std::vector<int64_t> next(kPartitions, -1);
    if (!position) return next;
    auto json = nlohmann::json::parse(*position);
    for (const auto& [key, offset] : json.items()) {
      INFO("position entry " << key);
      REQUIRE(key.starts_with(topic + "/"));
      const int p = std::stoi(key.substr(topic.size() + 1));
      REQUIRE((p >= 0 && p < kPartitions));
      next[static_cast<size_t>(p)] = offset.get<int64_t>();
    }
    return next;
  }

  // fact_key -> revision of every row.
  std::unordered_map<std::string, int64_t> revisions() const {
    std::unordered_map<std::string, int64_t> out;
    for (auto& row : rows(fmt::format("SELECT fact_key, revision FROM {}duty_kpi_fact;", prefix))) {
      out[row.at(0)] = std::stoll(row.at(1));
    }
    return out;
  }
};

// Runs the daemon (not --once) until the stored position reaches `ends` on every partition,
// then stops it with SIGTERM. Returns the seconds from start until loaded.
struct LoadRun {
  bool loaded = false;
  int status = -1;
  double loaded_s = 0;
  double cpu_s = 0;
  double peak_rss_mib = 0;
};

// Reads the stored position of a PostgreSQL loader over one ODBC connection: polling it through
// psql (a Perl wrapper, a new connection each time) ten times a second took ~0.2 of a core from
// the daemon and the database measured on the same two cores.
class PositionPoller {
 public:
  explicit PositionPoller(const Loader& l) : loader_(l) {
    if (!l.pg) return;
    auto env = odbc::Environment::create();
    REQUIRE(env);
    env_ = std::move(*env);
    auto connection = odbc::Connection::connect(*env_, l.pg->odbc(), 10);
    if (!connection) FAIL(connection.error().describe());
    connection_ = std::move(*connection);
  }

  std::vector<int64_t> storedPosition() {
    if (!connection_) return loader_.storedPosition();
    auto statement = connection_->statement();
    if (!statement) FAIL(statement.error().describe());
    if (auto done = statement->execute(loader_.positionSql()); !done) FAIL(done.error().describe());
    auto row = statement->fetch();
    if (!row) FAIL(row.error().describe());
    std::optional<std::string> position;
    if (*row) {
      auto text = statement->getText(1);
      if (!text) FAIL(text.error().describe());
      position = *text;
    }
    return loader_.parsePosition(position);
  }

 private:
  const Loader& loader_;
  std::optional<odbc::Environment> env_;
  std::optional<odbc::Connection> connection_;
};

LoadRun runUntilLoaded(const Loader& l, const std::vector<int64_t>& ends, std::chrono::seconds timeout) {
  LoadRun run;
  PositionPoller poller(l);
  // The log is appended to by every start of the daemon in a test.
  auto starts = [&] {
    const std::string text = l.logText();
    size_t count = 0;
    for (size_t at = 0; (at = text.find("daemon: running ", at)) != std::string::npos; ++at) ++count;
    return count;
  };
  const size_t starts_before = starts();
  const auto started = std::chrono::steady_clock::now();
  Daemon daemon(l.config, l.log, /*once=*/false);
  run.loaded = chaos::waitFor([&] { return poller.storedPosition() == ends; }, timeout);
  run.loaded_s = chaos::secondsSince(started);
  // A load already complete at the start is seen at once: SIGTERM only after the daemon handles
  // it (it says "running N pipeline(s)" once its signal handler is in place).
  chaos::waitFor([&] { return starts() > starts_before; }, std::chrono::seconds(30));
  daemon.signal(SIGTERM);
  run.status = daemon.wait(std::chrono::seconds(60));
  run.cpu_s = daemon.cpuSeconds();
  run.peak_rss_mib = daemon.peakRssMiB();
  return run;
}

struct TableCheck {
  long rows = 0;
  long missing = 0;
  long extra = 0;
  long wrong_revision = 0;
  long wrong_value = 0;
  long wrong_fields = 0;
  std::vector<std::string> examples;
  void example(const std::string& text) {
    if (examples.size() < 10) examples.push_back(text);
  }
};

// Compares the table with what keys 0..keys-1 must hold: revision 4 of each, with its values.
TableCheck checkTable(const Loader& l, int64_t keys) {
  TableCheck c;
  std::unordered_map<std::string, int64_t> index;
  for (int64_t k = 0; k < keys; ++k) index.emplace(factKey(k), k);
  std::vector<bool> seen(static_cast<size_t>(keys), false);
  // The same columns as text on both databases. SQLite keeps what the sink bound: decimals and
  // timestamps as their text, booleans as 1/0.
  auto rows = l.rows(
      l.pg ? fmt::format("SELECT fact_key, revision, value::text, employee_no, shift_date::text, shift_code, closed::text, "
                         "to_char(period_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), attainment::text, "
                         "inputs::jsonb ->> 'good_qty', lineage::jsonb ->> 'mapping', period_type, period_tz FROM "
                         "{}duty_kpi_fact;",
                         l.prefix)
           : std::string("SELECT fact_key, revision, value, employee_no, shift_date, shift_code, "
                         "CASE closed WHEN 1 THEN 'true' ELSE 'false' END, period_start, attainment, "
                         "json_extract(inputs, '$.good_qty'), json_extract(lineage, '$.mapping'), period_type, period_tz "
                         "FROM duty_kpi_fact;"));
  c.rows = static_cast<long>(rows.size());
  for (const auto& row : rows) {
    auto it = index.find(row.at(0));
    if (it == index.end()) {
      ++c.extra;
      c.example("extra " + row.at(0));
      continue;
    }
    const int64_t k = it->second;
    seen[static_cast<size_t>(k)] = true;
    if (row.at(1) != std::to_string(kRevisions)) {
      ++c.wrong_revision;
      c.example(fmt::format("{} has revision {}", row.at(0), row.at(1)));
      continue;
    }
    if (row.at(2) != valueText(k, kRevisions)) {
      ++c.wrong_value;
      c.example(fmt::format("{} has value {}, want {}", row.at(0), row.at(2), valueText(k, kRevisions)));
    }
    const nlohmann::json fact = factJson(k, kRevisions);
    auto text = [&](const nlohmann::json& field) { return field.get<std::string>(); };
    const bool fields_ok = row.at(3) == text(fact["employee_no"]) && row.at(4) == text(fact["period"]["shift_date"]) &&
                           row.at(5) == text(fact["period"]["shift_code"]) && row.at(6) == "true" &&
                           row.at(7) == text(fact["period"]["start"]) && row.at(8) == text(fact["attainment"]) &&
                           row.at(9) == text(fact["inputs"]["good_qty"]) &&
                           row.at(10) == text(fact["lineage"]["mapping"]) && row.at(11) == "SHIFT" &&
                           row.at(12) == "Asia/Shanghai";
    if (!fields_ok) {
      ++c.wrong_fields;
      c.example(fmt::format("{}: fields {}", row.at(0), fmt::join(row, " | ")));
    }
  }
  for (int64_t k = 0; k < keys; ++k) {
    if (!seen[static_cast<size_t>(k)]) {
      ++c.missing;
      c.example("missing " + factKey(k));
    }
  }
  return c;
}

// Every fact below the stored next offset of its partition must be in the table with at least
// its revision: the position is never ahead of the committed rows. Returns the violations.
struct PositionCheck {
  long covered = 0;  // facts below the stored position
  long violations = 0;
  long unknown = 0;  // offsets below the position without a delivery report (yet)
  std::vector<std::string> examples;
};

PositionCheck checkPositionBehindRows(const Loader& l, const FactProducer& producer) {
  const auto next = l.storedPosition();
  const auto table = l.revisions();
  PositionCheck c;
  for (int attempt = 0; attempt < 50; ++attempt) {
    c = PositionCheck{};
    const auto delivered = producer.delivered();
    for (size_t p = 0; p < kPartitions; ++p) {
      const int64_t end = std::max<int64_t>(next[p], 0);
      for (int64_t offset = 0; offset < end; ++offset) {
        const uint64_t id = static_cast<size_t>(offset) < delivered[p].size()
                                ? delivered[p][static_cast<size_t>(offset)]
                                : FactProducer::kUnknown;
        if (id == FactProducer::kUnknown) {
          ++c.unknown;
          continue;
        }
        ++c.covered;
        auto it = table.find(factKey(keyOf(id)));
        if (it == table.end() || it->second < revisionOf(id)) {
          ++c.violations;
          if (c.examples.size() < 10) {
            c.examples.push_back(fmt::format("{}/{} offset {}: {} revision {}, table has {}", l.topic, p, offset,
                                             factKey(keyOf(id)), revisionOf(id),
                                             it == table.end() ? "no row" : std::to_string(it->second)));
          }
        }
      }
    }
    if (c.unknown == 0) break;
    // A delivery report can trail the broker's acknowledgement the consumer already saw.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return c;
}

std::string describe(const TableCheck& c) {
  return fmt::format("rows {}, missing {}, extra {}, wrong revision {}, wrong value {}, wrong fields {}", c.rows,
                     c.missing, c.extra, c.wrong_revision, c.wrong_value, c.wrong_fields);
}

void requireExact(const TableCheck& c, int64_t keys) {
  INFO(describe(c) << "\nexamples: " << fmt::format("{}", fmt::join(c.examples, "\n")));
  CHECK(c.rows == keys);
  CHECK(c.missing == 0);
  CHECK(c.extra == 0);
  CHECK(c.wrong_revision == 0);
  CHECK(c.wrong_value == 0);
  CHECK(c.wrong_fields == 0);
}

// Produces every revision of `keys` keys (shuffled, with replays) at once, loads them with the
// daemon, checks the table and the stored position and reports facts/s. Then re-sends some facts
// and checks that `dutybridge run --once` reads to the end of every partition and stops.
template <typename Store>
void loadAll(int64_t keys, const std::string& label, Store store) {
  Loader l(label, std::move(store));
  const auto ids = shuffledFacts(keys, 0x5eed0001);
  FactProducer producer(l.bootstrap, l.topic);
  for (uint64_t id : ids) REQUIRE(producer.produce(id));
  REQUIRE(producer.flush());
  REQUIRE(producer.errors() == 0);
  const auto ends = endOffsets(l.bootstrap, l.topic);
  REQUIRE(ends[0] + ends[1] + ends[2] == static_cast<int64_t>(ids.size()));

  const LoadRun run = runUntilLoaded(l, ends, std::chrono::seconds(600));
  {
    INFO(l.logText());
    REQUIRE(run.loaded);
    REQUIRE(run.status == 0);
  }
  const auto c = checkTable(l, keys);
  chaos::reportFigures(fmt::format(
      "hr loader: {} facts ({} keys x {} revisions + {} replays, shuffled, {} partitions) loaded in {:.2f} s wall "
      "= {:.0f} facts/s (start-up and group join included); daemon CPU {:.2f} s = {:.0f} facts per CPU-second = "
      "{:.2f} CPU-s per million facts; daemon peak RSS {:.1f} MiB; source batch_rows {}; {}",
      ids.size(), keys, kRevisions, ids.size() - static_cast<size_t>(keys * kRevisions), kPartitions, run.loaded_s,
      static_cast<double>(ids.size()) / run.loaded_s, run.cpu_s,
      static_cast<double>(ids.size()) / std::max(run.cpu_s, 1e-3), run.cpu_s * 1e6 / static_cast<double>(ids.size()),
      run.peak_rss_mib, sourceBatchMax() ? std::to_string(sourceBatchMax()) : "default", describe(c)));
  requireExact(c, keys);

  // Replays only, then --once: nothing changes in the table, and the position reaches the new
  // end of every partition before the daemon stops by itself.
  const size_t replays = std::min<size_t>(ids.size(), 5'000);
  for (size_t i = 0; i < replays; ++i) REQUIRE(producer.produce(ids[i]));
  REQUIRE(producer.flush());
  const auto new_ends = endOffsets(l.bootstrap, l.topic);
  Daemon daemon(l.config, l.log, /*once=*/true);
  const int status = daemon.wait(std::chrono::seconds(300));
  {
    INFO(l.logText());
    REQUIRE(status == 0);
  }
  const auto next = l.storedPosition();
  requireExact(checkTable(l, keys), keys);
  INFO("--once must read every partition to its end before it stops; stored position "
       << fmt::format("{}", fmt::join(next, ", ")) << ", ends " << fmt::format("{}", fmt::join(new_ends, ", ")) << "\n"
       << l.logText());
  CHECK(next == new_ends);
}

}  // namespace

TEST_CASE("HR loader: the highest revision wins, out of order and replayed", "[e2e][hr-store][postgresql][kafka]") {
  loadAll(chaos::envLong("HR_FACT_KEYS", 12'000), "hr-highest", chaos::Pg::fromEnv());
}

TEST_CASE("HR loader: the highest revision wins, out of order and replayed (SQLite)", "[e2e][hr-store][sqlite][kafka]") {
  // The same 100,000 facts (+ 5,000 re-sends) through the real broker into a SQLite HR store
  // made by `dutybridge hr-schema --dialect sqlite`.
  loadAll(chaos::envLong("HR_SQLITE_FACT_KEYS", 12'000), "hr-highest-sqlite", SqliteStore{});
}

TEST_CASE("HR loader: --once on a fresh pipeline loads the whole topic, then stops",
          "[e2e][hr-store][postgresql][kafka]") {
  // What an admin does for a first backfill: no stored position yet, a topic full of facts.
  const int64_t keys = 1'000;
  Loader l("hr-once", chaos::Pg::fromEnv());
  FactProducer producer(l.bootstrap, l.topic);
  for (uint64_t id : shuffledFacts(keys, 0x5eed0004)) REQUIRE(producer.produce(id));
  REQUIRE(producer.flush());
  const auto ends = endOffsets(l.bootstrap, l.topic);
  Daemon daemon(l.config, l.log, /*once=*/true);
  const int status = daemon.wait(std::chrono::seconds(300));
  INFO(l.logText());
  REQUIRE(status == 0);
  CHECK(l.storedPosition() == ends);
  requireExact(checkTable(l, keys), keys);

  // `dutybridge status` shows the loader's position from its offsets table (the daemon is
  // stopped, so from the database itself).
  auto shown =
      testing::runShell(fmt::format("'{}' status --format json -c '{}'", e2e::kBinary.string(), l.config.string()));
  INFO(shown.output);
  REQUIRE(shown.status == 0);
  const auto doc = nlohmann::json::parse(shown.output);
  CHECK(doc.at("source") == "state_store");
  bool found = false;
  for (const auto& p : doc.at("pipelines")) {
    if (p.at("name") != kPipeline) continue;
    found = true;
    CHECK(p.at("cursor").at("stored_by") == "sink");
    REQUIRE(p.at("cursor").at("value").is_string());
    CHECK(l.parsePosition(p.at("cursor").at("value").get<std::string>()) == ends);
  }
  CHECK(found);
}

TEST_CASE("HR loader: a mapping's dead letters go to the dead-letter topic, the rest into the table",
          "[e2e][hr-store][postgresql][kafka][dlq]") {
  // The odbc sink writes one table, so the daemon gives the pipeline a Kafka producer for its
  // dead letters; they are delivered before their batch (and its position) commits.
  const int64_t keys = 300;
  Loader l("hr-dlq", chaos::Pg::fromEnv());
  std::ofstream(l.dir / "mapping.yaml") << R"(name: e2e-hr-dlq
version: 1
input:
  fact_key: string
  revision: int
  employee_no: string
  position_code: string?
  org_unit: string?
  kpi_code: string
  duty_code: string?
  period: map
  value: decimal
  unit: string?
  target: decimal?
  direction: string
  attainment: decimal?
  inputs: map?
  lineage: map
  computed_at: timestamp
emit:
  - fields:
      fact_key: fact_key
      revision: revision
      employee_no: employee_no
      position_code: position_code
      org_unit: org_unit
      kpi_code: kpi_code
      duty_code: duty_code
      period: period
      value: (if revision == 2 then null else value)!   # every revision 2 is a dead letter
      unit: unit
      target: target
      direction: direction
      attainment: attainment
      inputs: inputs
      lineage: lineage
      computed_at: computed_at
)";
  {
    std::string text = e2e::readFile(l.config);
    const size_t sink = text.find("    sink:\n");
    REQUIRE(sink != std::string::npos);
    text.insert(sink, "    mapping: mapping.yaml\n");
    std::ofstream(l.config) << text;
  }
  const auto ids = shuffledFacts(keys, 0x5eed0005);
  const auto dead = static_cast<size_t>(std::count_if(ids.begin(), ids.end(), [](uint64_t id) { return revisionOf(id) == 2; }));
  FactProducer producer(l.bootstrap, l.topic);
  for (uint64_t id : ids) REQUIRE(producer.produce(id));
  REQUIRE(producer.flush());
  const auto ends = endOffsets(l.bootstrap, l.topic);
  l.loadTwice();
  CHECK(l.storedPosition() == ends);
  requireExact(checkTable(l, keys), keys);  // revision 4 of every key; 2 never overwrote it

  const auto letters = l.deadLetters();
  CHECK(letters.size() == dead);
  std::set<std::string> positions;
  for (const auto& letter : letters) {
    INFO(letter.json.dump());
    CHECK(letter.json.at("pipeline") == kPipeline);
    CHECK(letter.json.at("mapping") == "e2e-hr-dlq@1");
    CHECK_THAT(letter.json.at("error").get<std::string>(), Catch::Contains("value"));
    // The letter names where the fact is, never what it says (no employee number).
    CHECK_THAT(letter.json.dump(), !Catch::Contains("\"E1"));
    positions.insert(letter.json.at("source_position").get<std::string>());
  }
  CHECK(positions.size() == dead);
}

TEST_CASE("HR loader: facts the database refuses go to the dead-letter topic, the rest into the table",
          "[e2e][hr-store][postgresql][kafka][dlq]") {
  // A CHECK constraint the admin added refuses one team's facts. The sink finds the refused rows
  // (one at a time behind savepoints, all rolled back), the pipeline restarts from the stored
  // position, sends them to the dead-letter topic first and writes the rest: one bad row never
  // stops the loader, and the position never passes an undelivered letter.
  const int64_t keys = 200;
  Loader l("hr-refused", chaos::Pg::fromEnv());
  chaos::psql(
      *l.pg,
      fmt::format("ALTER TABLE {}duty_kpi_fact ADD CONSTRAINT e2e_refuse_t3 CHECK (org_unit <> 'MOLD-T3');", l.prefix));
  std::vector<uint64_t> ids;  // one revision of each key
  for (int64_t k = 0; k < keys; ++k) ids.push_back(packId(k, 4));
  const auto refused =
      static_cast<size_t>(std::count_if(ids.begin(), ids.end(), [](uint64_t id) { return keyOf(id) % 8 == 3; }));
  FactProducer producer(l.bootstrap, l.topic);
  for (uint64_t id : ids) REQUIRE(producer.produce(id));
  REQUIRE(producer.flush());
  const auto ends = endOffsets(l.bootstrap, l.topic);
  l.loadTwice();
  CHECK_THAT(l.logText(), Catch::Contains("the sink refused") && Catch::Contains("e2e_refuse_t3"));
  CHECK(l.storedPosition() == ends);
  auto count = l.rows(
      fmt::format("SELECT COUNT(*), COUNT(*) FILTER (WHERE org_unit = 'MOLD-T3') FROM {}duty_kpi_fact", l.prefix));
  REQUIRE(count.size() == 1);
  CHECK(count[0][0] == std::to_string(keys - static_cast<int64_t>(refused)));
  CHECK(count[0][1] == "0");

  const auto letters = l.deadLetters();
  CHECK(letters.size() == refused);
  std::set<std::string> positions;
  for (const auto& letter : letters) {
    INFO(letter.json.dump());
    CHECK(letter.json.at("pipeline") == kPipeline);
    CHECK(letter.json.at("error_class") == "sink");
    CHECK_THAT(letter.json.at("error").get<std::string>(), Catch::Contains("e2e_refuse_t3"));
    // The letter names where the fact is, never what it says (no employee number, no row).
    CHECK_THAT(letter.json.dump(), !Catch::Contains("\"E1") && !Catch::Contains("MOLD-T3"));
    positions.insert(letter.json.at("source_position").get<std::string>());
  }
  CHECK(positions.size() == refused);
}

TEST_CASE("HR loader: throughput", "[.bench][hr-loader-bench]") {
  loadAll(chaos::envLong("HR_BENCH_KEYS", 125'000), "hr-bench", chaos::Pg::fromEnv());
}

TEST_CASE("HR loader: kill -9 during the load never leaves the position ahead of the rows",
          "[e2e][hr-store][postgresql][kafka][restart]") {
  const int64_t keys = chaos::envLong("HR_FACT_KEYS", 12'000);
  const long kills = chaos::envLong("HR_KILLS", 8);
  const long rate = chaos::envLong("HR_KILL_RATE", 3'000);
  const auto started = std::chrono::steady_clock::now();
  Loader l("hr-kill", chaos::Pg::fromEnv());
  auto ids = shuffledFacts(keys, 0x5eed0002);
  const size_t total = ids.size();
  FactProducer producer(l.bootstrap, l.topic);
  PacedProducer paced(producer, std::move(ids), rate);

  std::mt19937_64 rng(std::random_device{}());
  long mid_load_kills = 0, checked_facts = 0;
  std::vector<std::string> violations;
  for (long i = 0; i < kills; ++i) {
    Daemon daemon(l.config, l.log, /*once=*/false);
    // 0.3-3 s: some kills during start-up, most while batches are being written.
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + static_cast<long>(rng() % 2700)));
    daemon.signal(SIGKILL);
    REQUIRE(daemon.wait(std::chrono::seconds(30)) == -SIGKILL);
    const auto c = checkPositionBehindRows(l, producer);
    if (!paced.done()) ++mid_load_kills;
    checked_facts += c.covered;
    INFO("kill " << i + 1 << ": " << fmt::format("{}", fmt::join(c.examples, "\n")));
    CHECK(c.unknown == 0);
    CHECK(c.violations == 0);
    for (auto& e : c.examples) violations.push_back(e);
  }
  paced.join();
  REQUIRE(paced.flushed());
  REQUIRE(producer.errors() == 0);
  REQUIRE(paced.sent() == total);
  const auto ends = endOffsets(l.bootstrap, l.topic);
  REQUIRE(ends[0] + ends[1] + ends[2] == static_cast<int64_t>(total));
  const auto before_final = l.storedPosition();

  // The final run is not --once: --once stops before it has read anything (see the first test).
  const LoadRun run = runUntilLoaded(l, ends, std::chrono::seconds(300));
  {
    INFO(l.logText());
    CHECK(run.loaded);
    REQUIRE(run.status == 0);
  }
  const auto c = checkTable(l, keys);
  const auto next = l.storedPosition();
  chaos::reportFigures(fmt::format(
      "hr loader kill -9: {} facts at ~{}/s, {} kills ({} while facts were still being produced), {} fact "
      "positions checked against the rows after kills, {} violations; position before the final run {}; final: {}; "
      "elapsed {:.1f} s",
      total, rate, kills, mid_load_kills, checked_facts, violations.size(), fmt::join(before_final, "/"), describe(c),
      chaos::secondsSince(started)));
  requireExact(c, keys);
  INFO(l.logText());
  CHECK(next == ends);
}

TEST_CASE("HR loader: PostgreSQL stopped mid-load, the loader retries and the table ends exact",
          "[e2e][hr-store][postgresql][kafka][outage]") {
  const long outage_s = chaos::envLong("HR_DB_OUTAGE_S", 15);
  const long rate = chaos::envLong("HR_OUTAGE_RATE", 2'000);
  const long warmup_s = 5, after_s = 5;
  const auto started = std::chrono::steady_clock::now();
  testing::kafkaBootstrap();
  chaos::Pg::fromEnv();  // the shared services must be there, as for every e2e test

  // A private cluster: stopping it disturbs no other test.
  chaos::PrivateService cluster("pg-local", e2e::tempDir("hr-pg"));
  {
    INFO(cluster.scriptLog());
    REQUIRE(cluster.command("start") == 0);
  }
  const chaos::Pg pg{"127.0.0.1", std::to_string(cluster.port()), "dutybridge",
                     e2e::readFile(cluster.runDir() / "pg" / "password"), "dutybridge"};
  REQUIRE(!pg.password.empty());
  Loader l("hr-db-outage", pg);
  // Enough facts to keep producing through warm-up, outage and after.
  const int64_t keys = rate * (warmup_s + outage_s + after_s) * 20 / (kRevisions * 21);
  auto ids = shuffledFacts(keys, 0x5eed0003);
  const size_t total = ids.size();
  FactProducer producer(l.bootstrap, l.topic);
  PacedProducer paced(producer, std::move(ids), rate);

  Daemon daemon(l.config, l.log, /*once=*/false);
  {
    const bool flowing = chaos::waitFor([&] { return l.storedPosition() != std::vector<int64_t>(kPartitions, -1); },
                                        std::chrono::seconds(60));
    INFO(l.logText());
    REQUIRE(flowing);
  }
  std::this_thread::sleep_for(std::chrono::seconds(warmup_s));
  const auto down_at = std::chrono::steady_clock::now();
  {
    INFO(cluster.scriptLog());
    REQUIRE(cluster.command("stop") == 0);
  }
  const size_t sent_at_stop = paced.sent();
  std::this_thread::sleep_for(std::chrono::seconds(outage_s) - (std::chrono::steady_clock::now() - down_at));
  {
    INFO(cluster.scriptLog());
    REQUIRE(cluster.command("start") == 0);
  }
  const auto up_at = std::chrono::steady_clock::now();
  const double outage_measured_s = std::chrono::duration<double>(up_at - down_at).count();
  const size_t sent_at_start = paced.sent();
  paced.join();
  REQUIRE(paced.flushed());
  REQUIRE(producer.errors() == 0);
  const auto ends = endOffsets(l.bootstrap, l.topic);
  REQUIRE(ends[0] + ends[1] + ends[2] == static_cast<int64_t>(total));
  const bool loaded = chaos::waitFor(
      [&] {
        auto next = l.storedPosition();
        return next == ends;
      },
      std::chrono::seconds(180));
  const double caught_up_s = chaos::secondsSince(up_at);
  {
    INFO(l.logText());
    REQUIRE(daemon.running());
  }
  daemon.signal(SIGTERM);
  const int status = daemon.wait(std::chrono::seconds(60));
  const auto c = checkTable(l, keys);
  chaos::reportFigures(fmt::format(
      "hr loader database outage: {} facts at ~{}/s, outage {:.1f} s ({} facts produced during it), loaded {:.1f} s "
      "after the database's return; final: {}; elapsed {:.1f} s",
      total, rate, outage_measured_s, sent_at_start - sent_at_stop, caught_up_s, describe(c),
      chaos::secondsSince(started)));
  INFO(l.logText());
  CHECK(loaded);
  CHECK(status == 0);
  requireExact(c, keys);
  CHECK_THAT(l.logText(), Catch::Contains("retrying"));
}
