// The odbc sink against SQLite files (sqliteodbc) and the real PostgreSQL (psqlODBC): the
// highest revision of every key wins whatever the order and however often batches are replayed,
// the offsets row commits with the rows (or neither does), and the duty_fulfilment view of
// `dutybridge hr-schema` counts what HR expects.

#include "connectors/odbc/odbc_sink.h"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "connectors/odbc/hr_schema.h"
#include "src/core/decimal.h"
#include "tests/connectors/odbc/odbc_test_util.h"
#include "tests/support/metric_samples.h"

using namespace dutybridge;
using testing::Database;

namespace {

const core::Registry& sinkRegistry() {
  static const core::Registry registry = [] {
    core::Registry r;
    connectors::registerOdbcSink(r);
    return r;
  }();
  return registry;
}

// The sink as the daemon builds it: YAML through the real validator, then the factory.
std::unique_ptr<core::Sink> makeSink(const std::string& connection, const std::string& body,
                                     const std::string& pipeline = "hr-loader") {
  std::string yaml = "type: odbc\nconnection: " + testing::yamlQuote(connection) + "\n" + body;
  diag::Diagnostics diagnostics;
  diagnostics.addSource("test.yaml", yaml);
  schema::SecretResolver secrets([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  schema::ValidationContext context{"test.yaml", &sinkRegistry(), &secrets, &diagnostics};
  auto config = schema::validateConnector(YAML::Load(yaml), core::Direction::Sink, "sink", context);
  INFO(diagnostics.format());
  REQUIRE(diagnostics.empty());
  core::ConnectorContext connector_context;
  connector_context.pipeline_name = pipeline;
  auto sink = sinkRegistry().findSink("odbc")->create(config, connector_context);
  if (!sink) FAIL(sink.error().describe());
  return std::move(*sink);
}

// Writes a whole batch as the pipeline does: the sink's queue may be full (write() takes
// nothing), then poll() frees it.
void writeBatch(core::Sink& sink, std::span<const core::Record> records, uint64_t sequence) {
  while (true) {
    auto written = sink.write(records, sequence);
    if (!written) FAIL(written.error().describe());
    if (*written == records.size()) return;
    REQUIRE(*written == 0);  // a batch is one transaction: all or nothing
    REQUIRE(sink.poll(std::chrono::milliseconds(50)));
  }
}

// Writes one batch and waits for its transaction: the sink writes on its own thread.
void writeAndCommit(core::Sink& sink, std::span<const core::Record> records, uint64_t sequence) {
  writeBatch(sink, records, sequence);
  auto flushed = sink.flush(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  if (!flushed) FAIL(flushed.error().describe());
  auto delivered = sink.poll(std::chrono::milliseconds(0));
  REQUIRE(delivered);
  CHECK(*delivered == sequence);
}

// Where the HR tables live: a fresh SQLite file, or a fresh PostgreSQL schema (tests share the
// server), with the DDL of `dutybridge hr-schema` applied.
struct HrStore {
  std::string connection;
  std::string prefix;  // "" or "schema."
  const odbc::UpsertDialect* dialect = nullptr;

  static HrStore sqlite(const std::string& name) {
    HrStore store{testing::sqliteConnection(testing::uniqueName(name)), "", &odbc::sqliteUpsertDialect()};
    Database db(store.connection);
    for (const auto& statement : odbc::hrSchemaStatements(*store.dialect)) db.exec(statement);
    return store;
  }
  static HrStore postgres(const std::string& name) {
    std::string schema = testing::uniqueName(name);
    HrStore store{testing::postgresOdbc(), schema + ".", &odbc::postgresqlUpsertDialect()};
    Database db(store.connection);
    db.exec("CREATE SCHEMA " + schema);
    db.exec("SET search_path TO " + schema);
    for (const auto& statement : odbc::hrSchemaStatements(*store.dialect)) db.exec(statement);
    return store;
  }

  std::string factSinkBody(int insert_rows = 500) const {
    return fmt::format(
        "table: {0}duty_kpi_fact\nkey: [fact_key]\nrevision: revision\noffsets_table: {0}dutybridge_offsets\n"
        "insert_rows: {1}\ncolumns:\n"
        "  fact_key: fact_key\n  revision: revision\n  employee_no: employee_no\n  position_code: position_code\n"
        "  org_unit: org_unit\n  kpi_code: kpi_code\n  duty_code: duty_code\n  period_type: period.type\n"
        "  period_id: period.id\n  shift_date: period.shift_date\n  shift_code: period.shift_code\n"
        "  period_start: period.start\n  period_end: period.end\n  period_tz: period.tz\n  closed: period.closed\n"
        "  value: value\n  unit: unit\n  target: target\n  direction: direction\n  attainment: attainment\n"
        "  inputs: inputs\n  lineage: lineage\n  computed_at: computed_at\n",
        prefix, insert_rows);
  }
  std::string scalar(const std::string& sql) const {
    Database db(connection);
    return db.scalar(sql).value_or("NULL");
  }
};

const auto kFactSchema = std::make_shared<core::RecordSchema>(std::vector<std::string>{
    "fact_key", "revision", "employee_no", "position_code", "org_unit", "kpi_code", "duty_code", "period", "value",
    "unit", "target", "direction", "attainment", "inputs", "lineage", "computed_at"});

core::Value dec(const std::string& text) {
  return core::Value(core::Decimal::parse(text).value());
}

struct FactSpec {
  std::string employee = "E10023";
  std::string kpi = "KPI.TL.DAILY_GOOD_OUTPUT";
  std::string duty = "DUTY.TL.OUTPUT";
  std::string period_type = "SHIFT";
  std::string period_id = "2025-03-14/N";
  int64_t revision = 1;
  std::string value = "100";
  std::optional<std::string> attainment = "1.0000";
  std::optional<std::string> target = "100";
  std::string direction = "HIGHER_IS_BETTER";
};

core::Record fact(const FactSpec& f, const std::string& position = "") {
  core::ValueMap period{{"type", core::Value(f.period_type)},
                        {"id", core::Value(f.period_id)},
                        {"shift_date", core::Value(core::parseDate("2025-03-14").value())},
                        {"shift_code", core::Value("N")},
                        {"start", core::Value(testing::ts("2025-03-14T12:00:00Z"))},
                        {"end", core::Value(testing::ts("2025-03-15T00:00:00Z"))},
                        {"tz", core::Value("Asia/Shanghai")},
                        {"closed", core::Value(true)}};
  core::ValueMap inputs{{"good_qty", dec(f.value)}, {"reports", core::Value(int64_t{3})}};
  core::ValueMap lineage{{"source_system", core::Value("mes")},
                         {"mapping", core::Value("tl_daily_output@1")},
                         {"source_positions", core::Value(core::ValueList{core::Value("pr:1"), core::Value("pr:2")})}};
  std::string key = fmt::format("plant-01|{}|{}|{}|{}", f.kpi, f.employee, f.period_type, f.period_id);
  core::Record record(kFactSchema,
                      {core::Value(key), core::Value(f.revision), core::Value(f.employee), core::Value("TL"),
                       core::Value("MACH"), core::Value(f.kpi), core::Value(f.duty), core::Value(std::move(period)),
                       dec(f.value), core::Value("pcs"), f.target ? dec(*f.target) : core::Value(),
                       core::Value(f.direction),
                       f.attainment ? dec(*f.attainment) : core::Value(), core::Value(std::move(inputs)),
                       core::Value(std::move(lineage)), core::Value(testing::ts("2025-03-15T00:05:00.25Z"))});
  record.meta.source_position = position;
  record.meta.key = key;
  return record;
}

// keys x revisions facts, value = revision + 0.5, shuffled, in batches of `batch`; every fifth
// batch is written twice (a replay after a lost acknowledgement).
void loadRevisions(core::Sink& sink, int keys, int revisions, size_t batch) {
  std::vector<core::Record> records;
  records.reserve(static_cast<size_t>(keys * revisions));
  for (int k = 0; k < keys; ++k) {
    for (int r = 1; r <= revisions; ++r) {
      FactSpec f;
      f.employee = fmt::format("E{:06}", k);
      f.revision = r;
      f.value = fmt::format("{}.5", r);
      records.push_back(fact(f));
    }
  }
  std::mt19937 rng(20250314);
  std::shuffle(records.begin(), records.end(), rng);
  uint64_t sequence = 0;
  for (size_t first = 0, n = 0; first < records.size(); first += batch, ++n) {
    std::span<const core::Record> slice(records.data() + first, std::min(batch, records.size() - first));
    int times = n % 5 == 2 ? 2 : 1;
    for (int t = 0; t < times; ++t) {
      sink.nextBatchPosition(fmt::format("offset:{}", first + slice.size()));
      writeBatch(sink, slice, ++sequence);
      auto delivered = sink.poll(std::chrono::milliseconds(0));
      REQUIRE(delivered);
      CHECK(*delivered <= sequence);  // never a batch not yet written
    }
  }
  // Batches commit in order, so the last one's sequence covers them all.
  auto flushed = sink.flush(std::chrono::steady_clock::now() + std::chrono::seconds(120));
  if (!flushed) FAIL(flushed.error().describe());
  auto delivered = sink.poll(std::chrono::milliseconds(0));
  REQUIRE(delivered);
  CHECK(*delivered == sequence);
}

void checkHighestRevisions(const HrStore& store, int keys, int revisions) {
  const std::string table = store.prefix + "duty_kpi_fact";
  CHECK(store.scalar("SELECT COUNT(*) FROM " + table) == std::to_string(keys));
  CHECK(store.scalar(fmt::format("SELECT COUNT(*) FROM {} WHERE revision = {}", table, revisions)) ==
        std::to_string(keys));
  // Every row holds the values of its highest revision, not a mix.
  CHECK(store.scalar(fmt::format("SELECT COUNT(*) FROM {} WHERE CAST(value AS REAL) = revision + 0.5", table)) ==
        std::to_string(keys));
  CHECK(store.scalar("SELECT position FROM " + store.prefix + "dutybridge_offsets WHERE pipeline_key = 'hr-loader'") ==
        fmt::format("offset:{}", keys * revisions));
}

}  // namespace

TEST_CASE("odbc sink: the highest revision of every key wins, in any order and with replays (SQLite)",
          "[odbc][sink][sqlite]") {
  auto store = HrStore::sqlite("sink_rev");
  auto sink = makeSink(store.connection, store.factSinkBody(200));
  REQUIRE(sink->open());
  REQUIRE(sink->storesPosition());
  auto none = sink->storedPosition();
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  loadRevisions(*sink, 1'250, 4, 700);
  checkHighestRevisions(store, 1'250, 4);
  // Types as HR reads them: exact decimals, JSON text, the dialect's timestamps.
  auto row = store.scalar("SELECT value || ' ' || period_type || ' ' || period_start || ' ' || closed || ' ' || "
                          "computed_at FROM duty_kpi_fact WHERE employee_no = 'E000007'");
  CHECK(row == "4.5 SHIFT 2025-03-14 12:00:00 1 2025-03-15 00:05:00.250000");
  CHECK(store.scalar("SELECT lineage FROM duty_kpi_fact WHERE employee_no = 'E000007'") ==
        R"({"source_system":"mes","mapping":"tl_daily_output@1","source_positions":["pr:1","pr:2"]})");
  sink->close();
}

TEST_CASE("odbc sink: 100,000 facts with shuffled revisions and replayed batches keep the highest (PostgreSQL)",
          "[odbc][sink][postgres]") {
  auto store = HrStore::postgres("sink_rev");
  auto sink = makeSink(store.connection, store.factSinkBody());
  REQUIRE(sink->open());
  auto none = sink->storedPosition();
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  loadRevisions(*sink, 25'000, 4, 5'000);
  checkHighestRevisions(store, 25'000, 4);
  CHECK(store.scalar("SELECT value::text || ' ' || period_start::text || ' ' || closed::text || ' ' || "
                     "(lineage::json ->> 'mapping') FROM " + store.prefix +
                     "duty_kpi_fact WHERE employee_no = 'E000007'") == "4.5 2025-03-14 12:00:00+00 true tl_daily_output@1");
  sink->close();
}

namespace {

void offsetsCommitWithRows(const HrStore& store) {
  auto sink = makeSink(store.connection, store.factSinkBody(2));
  REQUIRE(sink->open());
  REQUIRE(sink->storedPosition());
  FactSpec a;
  a.employee = "E1";
  std::vector<core::Record> first{fact(a, "mes:1")};
  sink->nextBatchPosition("pos-1");
  writeAndCommit(*sink, first, 1);
  auto stored = sink->storedPosition();
  REQUIRE(stored);
  CHECK(*stored == std::optional<std::string>("pos-1"));

  // A batch whose third record breaks a CHECK constraint, in the second statement (insert_rows 2):
  // nothing of it stays, neither rows nor position.
  std::vector<core::Record> second;
  for (int i = 2; i <= 5; ++i) {
    FactSpec f;
    f.employee = fmt::format("E{}", i);
    if (i == 4) {
      f.period_type = "YEAR";
      f.employee = "E-SECRET-4711";
    }
    second.push_back(fact(f, fmt::format("mes:{}", i)));
  }
  FactSpec newer = a;
  newer.revision = 2;
  newer.value = "999";
  second.push_back(fact(newer, "mes:6"));
  sink->nextBatchPosition("pos-2");
  // The sink takes the batch; its transaction fails on the worker, which then finds the one
  // record the database refuses (row by row behind savepoints, all rolled back), and flush(),
  // poll() and any later write() report it as Abortable: the pipeline dead-letters the record
  // and writes the batch again without it.
  auto accepted = sink->write(second, 2);
  REQUIRE(accepted);
  CHECK(*accepted == second.size());
  auto failed = sink->flush(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  REQUIRE_FALSE(failed);
  CHECK(failed.error().kind == core::ErrorKind::Abortable);
  INFO(failed.error().message);
  CHECK_THAT(failed.error().message, Catch::Contains("refused 1 record(s) of batch 2"));
  CHECK_THAT(failed.error().message, !Catch::Contains("E-SECRET-4711"));
  auto refusals = sink->takeWriteRefusals();
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].record == "mes:4#0");
  INFO(refusals[0].reason);
  CHECK_THAT(refusals[0].reason,
             Catch::Contains("period_type") || Catch::Contains("CHECK") || Catch::Contains("check"));
  CHECK_THAT(refusals[0].reason, !Catch::Contains("E-SECRET-4711"));
  CHECK(sink->takeWriteRefusals().empty());  // each once
  auto poll = sink->poll(std::chrono::milliseconds(0));
  REQUIRE_FALSE(poll);
  CHECK(poll.error().kind == core::ErrorKind::Abortable);
  auto later = sink->write(first, 3);
  REQUIRE_FALSE(later);
  CHECK(later.error().kind == core::ErrorKind::Abortable);
  const std::string table = store.prefix + "duty_kpi_fact";
  CHECK(store.scalar("SELECT COUNT(*) FROM " + table) == "1");
  CHECK(store.scalar("SELECT CAST(value AS INTEGER) FROM " + table) == "100");
  stored = sink->storedPosition();
  REQUIRE(stored);
  CHECK(*stored == std::optional<std::string>("pos-1"));
  sink->close();

  // A new instance (the pipeline restarting) resumes from the stored position, and its first
  // write commits rows and position together again.
  auto again = makeSink(store.connection, store.factSinkBody(2));
  REQUIRE(again->open());
  stored = again->storedPosition();
  REQUIRE(stored);
  CHECK(*stored == std::optional<std::string>("pos-1"));
  std::vector<core::Record> fixed{fact(newer, "mes:6")};
  again->nextBatchPosition("pos-3");
  writeAndCommit(*again, fixed, 1);
  CHECK(store.scalar("SELECT CAST(value AS INTEGER) FROM " + table) == "999");
  CHECK(store.scalar("SELECT position FROM " + store.prefix + "dutybridge_offsets") == "pos-3");
  // Another pipeline's position is its own row.
  auto other = makeSink(store.connection, store.factSinkBody(2), "other-loader");
  REQUIRE(other->open());
  auto other_stored = other->storedPosition();
  REQUIRE(other_stored);
  CHECK_FALSE(other_stored->has_value());
}

}  // namespace

TEST_CASE("odbc sink: the offsets row commits with the rows, and a failed batch leaves both (SQLite)",
          "[odbc][sink][sqlite]") {
  offsetsCommitWithRows(HrStore::sqlite("sink_offsets"));
}

TEST_CASE("odbc sink: the offsets row commits with the rows, and a failed batch leaves both (PostgreSQL)",
          "[odbc][sink][postgres]") {
  offsetsCommitWithRows(HrStore::postgres("sink_offsets"));
}

namespace {

// Batches queued faster than the database commits them go into one transaction (group commit);
// a bad batch among them still leaves exactly what one transaction per batch would have left:
// the batches before it with their position, nothing of it or after it, and its refused record
// named for the pipeline to dead-letter.
void groupedBatchesCommitAsSingleOnes(const HrStore& store) {
  auto sink = makeSink(store.connection, store.factSinkBody(3));
  REQUIRE(sink->open());
  REQUIRE(sink->storedPosition());
  std::vector<std::vector<core::Record>> batches;
  for (int b = 0; b < 6; ++b) {
    std::vector<core::Record> batch;
    for (int i = 0; i < 4; ++i) {
      FactSpec f;
      f.employee = fmt::format("E{}-{}", b, i);
      if (b == 4 && i == 2) f.period_type = "YEAR";  // breaks the CHECK constraint
      batch.push_back(fact(f, fmt::format("mes:{}", b * 4 + i + 1)));
    }
    batches.push_back(std::move(batch));
  }
  // Four good batches without waiting: however the worker groups them, all commit and the
  // position is the last one's.
  for (uint64_t b = 0; b < 4; ++b) {
    sink->nextBatchPosition(fmt::format("pos-{}", b + 1));
    writeBatch(*sink, batches[b], b + 1);
  }
  auto flushed = sink->flush(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  if (!flushed) FAIL(flushed.error().describe());
  auto delivered = sink->poll(std::chrono::milliseconds(0));
  REQUIRE(delivered);
  CHECK(*delivered == 4);
  const std::string table = store.prefix + "duty_kpi_fact";
  const std::string offsets = "SELECT position FROM " + store.prefix + "dutybridge_offsets";
  CHECK(store.scalar("SELECT COUNT(*) FROM " + table) == "16");
  CHECK(store.scalar(offsets) == "pos-4");
  // Counted by the worker: the rows of committed transactions, one latency each (1 to 4 of them).
  auto counted = testing::metricsOf(*sink);
  auto upserted = testing::findMetrics(counted, "dutybridge_odbc_sink_rows_upserted_total");
  auto latency = testing::findMetrics(counted, "dutybridge_odbc_sink_transaction_duration_seconds");
  REQUIRE(upserted.size() == 1);
  REQUIRE(latency.size() == 1);
  CHECK(upserted[0]->value == 16);
  CHECK(latency[0]->kind == core::MetricKind::Histogram);
  CHECK(latency[0]->histogram.count >= 1);
  CHECK(latency[0]->histogram.count <= 4);
  CHECK(latency[0]->histogram.sum > 0);
  sink->close();
  const auto samples = testing::metricsOf(*sink);
  CHECK(testing::findMetrics(samples, "dutybridge_odbc_sink_rows_upserted_total")[0]->value == 16);

  // A new instance: a good batch, the bad one and a good one queued back to back.
  auto again = makeSink(store.connection, store.factSinkBody(3));
  REQUIRE(again->open());
  REQUIRE(again->storedPosition());
  std::vector<core::Record> good;
  for (int i = 0; i < 4; ++i) {
    FactSpec f;
    f.employee = fmt::format("G{}", i);
    good.push_back(fact(f, fmt::format("mes:g{}", i)));
  }
  again->nextBatchPosition("pos-5");
  writeBatch(*again, good, 1);
  again->nextBatchPosition("pos-6");
  writeBatch(*again, batches[4], 2);
  again->nextBatchPosition("pos-7");
  auto third = again->write(batches[5], 3);
  if (third) CHECK((*third == 0 || *third == batches[5].size()));
  auto failed = again->flush(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  REQUIRE_FALSE(failed);
  CHECK(failed.error().kind == core::ErrorKind::Abortable);
  INFO(failed.error().message);
  auto refusals = again->takeWriteRefusals();
  REQUIRE(refusals.size() == 1);
  CHECK(refusals[0].record == "mes:19#0");
  CHECK(store.scalar("SELECT COUNT(*) FROM " + table) == "20");
  CHECK(store.scalar("SELECT COUNT(*) FROM " + table + " WHERE employee_no LIKE 'G%'") == "4");
  CHECK(store.scalar("SELECT COUNT(*) FROM " + table + " WHERE employee_no LIKE 'E4-%' OR employee_no LIKE 'E5-%'") ==
        "0");
  CHECK(store.scalar(offsets) == "pos-5");
  // Only the good batch committed.
  const auto again_samples = testing::metricsOf(*again);
  CHECK(testing::findMetrics(again_samples, "dutybridge_odbc_sink_rows_upserted_total")[0]->value == 4);
  again->close();
}

}  // namespace

TEST_CASE("odbc sink: batches grouped into one transaction commit as one per batch would (SQLite)",
          "[odbc][sink][sqlite]") {
  groupedBatchesCommitAsSingleOnes(HrStore::sqlite("sink_group"));
}

TEST_CASE("odbc sink: batches grouped into one transaction commit as one per batch would (PostgreSQL)",
          "[odbc][sink][postgres]") {
  groupedBatchesCommitAsSingleOnes(HrStore::postgres("sink_group"));
}

TEST_CASE("odbc sink: a missing target table is reported at open", "[odbc][sink][sqlite]") {
  std::string connection = testing::sqliteConnection(testing::uniqueName("sink_missing"));
  { Database db(connection); }
  auto sink = makeSink(connection, "table: duty_kpi_fact\nkey: [fact_key]\n");
  auto opened = sink->open();
  REQUIRE_FALSE(opened);
  CHECK(opened.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(opened.error().message, Catch::Contains("duty_kpi_fact") && Catch::Contains("hr-schema --dialect sqlite"));
}

TEST_CASE("odbc sink: every top-level field to its column by default, without a revision the last write wins",
          "[odbc][sink][sqlite]") {
  std::string connection = testing::sqliteConnection(testing::uniqueName("sink_plain"));
  Database db(connection);
  db.exec("CREATE TABLE skill (record_key TEXT PRIMARY KEY, code TEXT, evidence TEXT)");
  auto sink = makeSink(connection, "table: skill\nkey: record_key\nupdated_at_column: \"\"\n");
  REQUIRE(sink->open());
  auto schema = std::make_shared<core::RecordSchema>(std::vector<std::string>{"record_key", "code", "evidence"});
  std::vector<core::Record> records{
      core::Record(schema, {core::Value("E1|SKILL_EVIDENCE|WELD"), core::Value("WELD"), core::Value(core::ValueMap{{"n", core::Value(1)}})}),
      core::Record(schema, {core::Value("E1|SKILL_EVIDENCE|WELD"), core::Value("WELD2"), core::Value(core::ValueMap{{"n", core::Value(2)}})})};
  sink->nextBatchPosition("p");
  writeAndCommit(*sink, records, 1);
  CHECK(db.scalar("SELECT code || ' ' || evidence FROM skill") == std::optional<std::string>(R"(WELD2 {"n":2})"));
}

TEST_CASE("odbc sink: screen() names the records it would refuse (no key value, no integer revision), no values",
          "[odbc][sink][sqlite][dlq]") {
  std::string connection = testing::sqliteConnection(testing::uniqueName("sink_screen"));
  Database db(connection);
  db.exec("CREATE TABLE skill (record_key TEXT PRIMARY KEY, code TEXT, revision INTEGER)");
  auto sink = makeSink(connection, "table: skill\nkey: record_key\nrevision: revision\nupdated_at_column: \"\"\n");
  REQUIRE(sink->open());
  auto schema = std::make_shared<core::RecordSchema>(std::vector<std::string>{"record_key", "code", "revision"});
  std::vector<core::Record> records{
      core::Record(schema, {core::Value("E1|WELD"), core::Value("WELD"), core::Value(int64_t{1})}),
      core::Record(schema, {core::Value(), core::Value("B004711"), core::Value(int64_t{1})}),
      core::Record(schema, {core::Value("E2|WELD"), core::Value("WELD"), core::Value("B004711")}),
      core::Record(schema, {core::Value("E3|WELD"), core::Value("WELD"), core::Value(int64_t{2})})};
  auto refusals = sink->screen(records);
  REQUIRE(refusals.size() == 2);
  CHECK(refusals[0].index == 1);
  CHECK_THAT(refusals[0].reason, Catch::Contains("no value for key column") && Catch::Contains("record_key"));
  CHECK(refusals[1].index == 2);
  CHECK_THAT(refusals[1].reason, Catch::Contains("no integer revision") && Catch::Contains("revision"));
  for (const auto& refusal : refusals) CHECK_THAT(refusal.reason, !Catch::Contains("B004711"));
}

namespace {

void checkFulfilment(const HrStore& store) {
  auto sink = makeSink(store.connection, store.factSinkBody());
  REQUIRE(sink->open());
  REQUIRE(sink->storedPosition());
  auto make = [](std::string employee, std::string period_type, std::string period_id, std::string kpi,
                 std::string duty, std::optional<std::string> attainment, std::string direction,
                 std::optional<std::string> target = "100") {
    FactSpec f;
    f.target = std::move(target);
    f.employee = std::move(employee);
    f.period_type = std::move(period_type);
    f.period_id = std::move(period_id);
    f.kpi = std::move(kpi);
    f.duty = std::move(duty);
    f.attainment = std::move(attainment);
    f.direction = std::move(direction);
    return fact(f);
  };
  std::vector<core::Record> records{
      make("E1", "SHIFT", "2025-03-14/N", "KPI.A", "DUTY.OUTPUT", "1.0500", "HIGHER_IS_BETTER"),
      make("E1", "SHIFT", "2025-03-14/N", "KPI.B", "DUTY.YIELD", "0.8000", "HIGHER_IS_BETTER"),
      // Lower is better: attainment is target/value already, 1.0000 means exactly on target.
      make("E1", "SHIFT", "2025-03-14/N", "KPI.C", "DUTY.SCRAP", "1.0000", "LOWER_IS_BETTER"),
      // A target but no attainment: due, not met. No target at all: neither due nor met.
      make("E1", "SHIFT", "2025-03-14/N", "KPI.D", "DUTY.REPORT", std::nullopt, "HIGHER_IS_BETTER"),
      make("E1", "SHIFT", "2025-03-14/N", "KPI.F", "DUTY.EARNINGS", std::nullopt, "HIGHER_IS_BETTER", std::nullopt),
      make("E3", "MONTH", "2025-03", "KPI.F", "DUTY.EARNINGS", std::nullopt, "HIGHER_IS_BETTER", std::nullopt),
      make("E1", "SHIFT", "2025-03-14/N", "KPI.E", "DUTY.YIELD", "0.9999", "LOWER_IS_BETTER"),
      make("E1", "DAY", "2025-03-14", "KPI.A", "DUTY.OUTPUT", "0.5000", "HIGHER_IS_BETTER"),
      make("E2", "SHIFT", "2025-03-14/N", "KPI.A", "DUTY.OUTPUT", "1.2000", "HIGHER_IS_BETTER"),
  };
  sink->nextBatchPosition("p1");
  writeAndCommit(*sink, records, 1);
  const std::string view = store.prefix + "duty_fulfilment";
  auto row = [&](const std::string& employee, const std::string& type, const std::string& id) {
    return store.scalar(fmt::format("SELECT CAST(kpis_due AS TEXT) || '|' || CAST(kpis_met AS TEXT) || '|' || "
                                    "COALESCE(CAST(fulfilment_pct AS TEXT), '-') || '|' || COALESCE(duties_not_met, '-') FROM {} "
                                    "WHERE employee_no = '{}' AND period_type = '{}' AND period_id = '{}'",
                                    view, employee, type, id));
  };
  // 5 due, met: A (1.05) and C (1.0); not met: B and E (DUTY.YIELD once), D (target, no
  // attainment). F has no target: not due, not listed.
  auto e1 = row("E1", "SHIFT", "2025-03-14/N");
  if (e1.ends_with("DUTY.YIELD,DUTY.REPORT")) e1 = e1.substr(0, e1.size() - 22) + "DUTY.REPORT,DUTY.YIELD";
  CHECK(e1 == "5|2|40.0|DUTY.REPORT,DUTY.YIELD");
  CHECK(row("E1", "DAY", "2025-03-14") == "1|0|0.0|DUTY.OUTPUT");
  CHECK(row("E2", "SHIFT", "2025-03-14/N") == "1|1|100.0|-");
  // Only KPIs without a target: nothing due, no percentage.
  CHECK(row("E3", "MONTH", "2025-03") == "0|0|-|-");
  CHECK(store.scalar("SELECT COUNT(*) FROM " + view) == "4");
}

}  // namespace

TEST_CASE("duty_fulfilment counts due and met KPIs per employee and period (SQLite)", "[odbc][sink][hr-schema][sqlite]") {
  checkFulfilment(HrStore::sqlite("hr_view"));
}

TEST_CASE("duty_fulfilment counts due and met KPIs per employee and period (PostgreSQL)",
          "[odbc][sink][hr-schema][postgres]") {
  checkFulfilment(HrStore::postgres("hr_view"));
}

TEST_CASE("odbc sink: 'contract' gives key, revision and columns of the contract's table", "[odbc][sink][sqlite]") {
  auto store = HrStore::sqlite("sink_contract");
  auto sink = makeSink(store.connection, "table: duty_kpi_fact\ncontract: duty_kpi.v1\n");
  REQUIRE(sink->open());
  REQUIRE(sink->storedPosition());
  FactSpec f;
  f.revision = 2;
  std::vector<core::Record> records{fact(f)};
  sink->nextBatchPosition("p1");
  writeAndCommit(*sink, records, 1);
  f.revision = 1;  // lower: ignored
  f.value = "5";
  records = {fact(f)};
  sink->nextBatchPosition("p2");
  writeAndCommit(*sink, records, 2);
  CHECK(store.scalar("SELECT period_type || '|' || period_id || '|' || shift_date || '|' || period_tz || '|' || value "
                     "|| '|' || CAST(revision AS TEXT) FROM duty_kpi_fact") ==
        "SHIFT|2025-03-14/N|2025-03-14|Asia/Shanghai|100|2");

  // Written next to the contract, or for a table the contract is not kept in: refused.
  std::string yaml = "type: odbc\nconnection: x\ntable: employee_skill\ncontract: duty_kpi.v1\nkey: [fact_key]\n";
  diag::Diagnostics diagnostics;
  diagnostics.addSource("test.yaml", yaml);
  schema::SecretResolver secrets([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  schema::ValidationContext context{"test.yaml", &sinkRegistry(), &secrets, &diagnostics};
  schema::validateConnector(YAML::Load(yaml), core::Direction::Sink, "sink", context);
  auto text = diagnostics.format();
  CHECK_THAT(text, Catch::Contains("'key' comes from the contract duty_kpi.v1: leave it out"));
  CHECK_THAT(text, Catch::Contains("the contract duty_kpi.v1 is kept in duty_kpi_fact, not in 'employee_skill'"));
}

namespace {

// A fact with a status field (duty_kpi.v1 `status`).
core::Record withStatus(const core::Record& r, const std::string& status) {
  auto names = r.schema()->names();
  names.push_back("status");
  std::vector<core::Value> values;
  for (size_t i = 0; i < names.size() - 1; ++i) values.push_back(r.value(i));
  values.emplace_back(status);
  core::Record out(std::make_shared<core::RecordSchema>(std::move(names)), std::move(values));
  out.meta = r.meta;
  return out;
}

// A WITHDRAWN revision: `withdrawn: mark` keeps the row marked, `delete` removes it; either way
// the views leave it out and a later revision brings it back. Withdrawn employee records are
// left out of what an employee holds.
void withdrawnRevisions(const HrStore& store, const std::string& mode) {
  auto sink = makeSink(store.connection, fmt::format("table: {0}duty_kpi_fact\ncontract: duty_kpi.v1\noffsets_table: "
                                                     "{0}dutybridge_offsets\nwithdrawn: {1}\n",
                                                     store.prefix, mode));
  REQUIRE(sink->open());
  REQUIRE(sink->storedPosition());
  FactSpec f;
  uint64_t sequence = 0;
  auto write = [&](int64_t revision, const char* status) {
    f.revision = revision;
    std::vector<core::Record> records{withStatus(fact(f), status)};
    ++sequence;
    sink->nextBatchPosition("p" + std::to_string(sequence));
    writeAndCommit(*sink, records, sequence);
  };
  auto row = [&] {
    return store.scalar(fmt::format(
        "SELECT COALESCE(MAX(CAST(revision AS TEXT) || '|' || COALESCE(status, '-')), 'none') FROM {}duty_kpi_fact",
        store.prefix));
  };
  auto listed = [&] { return store.scalar(fmt::format("SELECT COUNT(*) FROM {}duty_fulfilment", store.prefix)); };
  write(1, "ACTIVE");
  CHECK(row() == "1|ACTIVE");
  CHECK(listed() == "1");
  write(2, "WITHDRAWN");
  CHECK(row() == (mode == "mark" ? "2|WITHDRAWN" : "none"));
  CHECK(listed() == "0");
  CHECK(store.scalar(fmt::format("SELECT position FROM {}dutybridge_offsets", store.prefix)) == "p2");
  write(3, "ACTIVE");
  CHECK(row() == "3|ACTIVE");
  CHECK(listed() == "1");

  Database db(store.connection);
  for (const char* status : {"ACTIVE", "WITHDRAWN"}) {
    db.exec(
        fmt::format("INSERT INTO {0}employee_training (record_key, revision, employee_no, code, valid_from, "
                    "evidence, lineage, computed_at, status) VALUES ('E1|TRAINING_COMPLETION|T.{1}', 1, 'E1', "
                    "'T.{1}', '2025-01-02', '{{}}', '{{}}', '2025-03-01 00:00:00+00', '{1}')",
                    store.prefix, status));
  }
  CHECK(store.scalar(fmt::format("SELECT code FROM {}employee_competence WHERE employee_no = 'E1'", store.prefix)) ==
        "T.ACTIVE");
}

// The personnel-file views over rows written straight into the tables (the loaders' e2e tests
// write them through Kafka): position fit (held, expiring, expired, lapsed, level too low,
// missing), not-reported facts owed by an assignment (also across a reassignment) and the duty
// review signals. Dates around today are relative to the database's current date.
void checkPersonnelFileViews(const HrStore& store) {
  Database db(store.connection);
  const auto& d = *store.dialect;
  auto today = core::Date{static_cast<int32_t>(
      std::chrono::duration_cast<std::chrono::days>(std::chrono::system_clock::now().time_since_epoch()).count())};
  auto day = [&](int offset) { return "'" + core::formatDate(core::Date{today.days + offset}) + "'"; };
  const std::string p = store.prefix;
  auto element = [&](int64_t revision, std::string type, std::string code, std::string position, std::string extra_cols,
                     std::string extra_vals, std::string from = "'2025-01-01'", std::string to = "NULL") {
    std::string key = type + "|" + position + "|" + code + "|" + std::to_string(revision);
    db.exec(
        fmt::format("INSERT INTO {}position_catalog (catalog_key, revision, plant, element_type, code, position_code, "
                    "valid_from, valid_to, computed_at{}) VALUES ('{}', {}, 'p1', '{}', '{}', {}, {}, {}, "
                    "'2025-03-01 00:00:00+00'{})",
                    p, extra_cols, key, revision, type, code, position.empty() ? "NULL" : "'" + position + "'", from,
                    to, extra_vals));
  };
  // Publication 2 is the catalog; publication 1's T.OLD requirement was removed since.
  element(1, "REQUIREMENT", "T.OLD", "OP", ", requirement_type", ", 'TRAINING'");
  element(2, "POSITION", "OP", "OP", "", "");
  element(2, "POSITION", "CELL", "CELL", "", "");
  element(2, "REQUIREMENT", "T.SAFE", "OP", ", requirement_type", ", 'TRAINING'");
  element(2, "REQUIREMENT", "SK.TURN", "CELL", ", requirement_type, level", ", 'SKILL', 2");
  element(2, "REQUIREMENT", "Q.FORK", "CELL", ", requirement_type", ", 'QUALIFICATION'");
  element(2, "REQUIREMENT", "T.SAFE", "CELL", ", requirement_type", ", 'TRAINING'");
  element(2, "SKILL_LEVEL", "SK.TURN", "1", ", level, min_hours", ", 1, '8'");
  element(2, "SKILL_LEVEL", "SK.TURN", "2", ", level, min_hours", ", 2, '40'");
  element(2, "DUTY_KPI", "KPI.OUT", "OP", ", duty_code, kpi_code, period_type, target",
          ", 'D.OUT', 'KPI.OUT', 'SHIFT', '100'");
  element(2, "DUTY_KPI", "KPI.DAY", "LEAD", ", duty_code, kpi_code, period_type, target",
          ", 'D.DAY', 'KPI.DAY', 'DAY', '1'");
  db.exec("UPDATE " + p + "position_catalog SET position_code = NULL WHERE element_type = 'SKILL_LEVEL'");

  auto record = [&](std::string table, std::string employee, std::string code, std::string from, std::string to,
                    std::string evidence = "{}") {
    db.exec(fmt::format(
        "INSERT INTO {}{} (record_key, revision, employee_no, code, valid_from, valid_to, evidence, lineage, "
        "computed_at) VALUES ('{}|{}', 1, '{}', '{}', {}, {}, '{}', '{{}}', '2025-03-01 00:00:00+00')",
        p, table, employee, code, employee, code, from, to, evidence));
  };
  auto assign = [&](std::string employee, std::string position, std::string from, std::string to) {
    db.exec(fmt::format(
        "INSERT INTO {}employee_assignment (record_key, revision, employee_no, position_code, valid_from, "
        "valid_to, evidence, lineage, computed_at) VALUES ('{}|{}|{}', 1, '{}', '{}', {}, {}, '{{}}', '{{}}', "
        "'2025-03-01 00:00:00+00')",
        p, employee, position, from.substr(1, 10), employee, position, from, to));
  };
  assign("E1", "OP", "'2025-01-01'", "NULL");
  assign("E2", "OP", "'2025-01-01'", "NULL");
  assign("E3", "OP", "'2025-01-01'", "NULL");
  // E4 led a line until the 15th, then went back to operating.
  assign("E4", "LEAD", "'2025-03-10'", "'2025-03-15'");
  assign("E4", "OP", "'2025-03-16'", "NULL");
  record("employee_training", "E1", "T.SAFE", "'2025-01-02'", "NULL");
  record("employee_training", "E1", "T.OLD", "'2025-01-02'", "NULL");
  record("employee_skill", "E1", "SK.TURN", "'2025-01-02'", day(60), R"({"hours": 50})");
  record("employee_qualification", "E1", "Q.FORK", "'2023-01-02'", day(10));
  record("employee_skill", "E2", "SK.TURN", "'2025-01-02'", day(-1), R"({"hours": 50})");
  record("employee_qualification", "E2", "Q.FORK", "'2020-01-02'", day(-10));
  record("employee_skill", "E3", "SK.TURN", "'2025-01-02'", day(60), R"({"hours": 10.5})");

  auto fit = [&](const std::string& employee, const std::string& position) {
    return store.scalar(fmt::format(
        "SELECT CAST(held AS TEXT) || '/' || CAST(requirements AS TEXT) || '|' || CAST(fit_pct AS TEXT) || '|' || "
        "COALESCE(missing, '-') || '|' || COALESCE(expiring, '-') || '|' || CAST(is_current AS TEXT) FROM "
        "{}position_fit "
        "WHERE employee_no = '{}' AND position_code = '{}'",
        p, employee, position));
  };
  auto status = [&](const std::string& employee, const std::string& position, const std::string& code) {
    return store.scalar(
        fmt::format("SELECT status FROM {}position_fit_detail WHERE employee_no = '{}' AND "
                    "position_code = '{}' AND code = '{}'",
                    p, employee, position, code));
  };
  CHECK(fit("E1", "OP") == "1/1|100.0|-|-|1");  // T.OLD is no longer required
  CHECK(fit("E1", "CELL") == "3/3|100.0|-|Q.FORK|0");
  CHECK(status("E1", "CELL", "Q.FORK") == "EXPIRING");
  auto e2 = fit("E2", "CELL");  // group_concat's order is SQLite's choice
  for (const char* order : {"SK.TURN,Q.FORK,T.SAFE", "Q.FORK,T.SAFE,SK.TURN", "SK.TURN,T.SAFE,Q.FORK",
                            "T.SAFE,Q.FORK,SK.TURN", "T.SAFE,SK.TURN,Q.FORK"}) {
    if (e2.find(order) != std::string::npos)
      e2.replace(e2.find(order), std::string_view(order).size(), "Q.FORK,SK.TURN,T.SAFE");
  }
  CHECK(e2 == "0/3|0.0|Q.FORK,SK.TURN,T.SAFE|-|0");
  CHECK(status("E2", "CELL", "SK.TURN") == "LAPSED");
  CHECK(status("E2", "CELL", "Q.FORK") == "EXPIRED");
  CHECK(status("E3", "CELL", "SK.TURN") == "LEVEL_LOW");
  CHECK(store.scalar(fmt::format("SELECT CAST(level AS TEXT) FROM {}employee_competence WHERE employee_no = 'E1' AND "
                                 "code = 'SK.TURN'",
                                 p)) == "2");
  CHECK(store.scalar("SELECT COUNT(*) FROM " + p + "position_requirement") == "4");

  auto insertFact = [&](std::string employee, std::string kpi, std::string position, std::string type, std::string id,
                        std::string shift_date, std::string target, std::string attainment) {
    db.exec(fmt::format(
        "INSERT INTO {}duty_kpi_fact (fact_key, revision, employee_no, position_code, kpi_code, duty_code, "
        "period_type, period_id, shift_date, shift_code, period_tz, closed, value, unit, target, direction, "
        "attainment, lineage, computed_at) VALUES ('{}|{}|{}', 1, '{}', '{}', '{}', 'D', '{}', '{}', '{}', {}, 'UTC', "
        "{}, '1', 'PCS', {}, 'HIGHER_IS_BETTER', {}, '{{}}', '2025-03-20 00:00:00+00')",
        p, kpi, employee, id, employee, position, kpi, type, id, shift_date, type == "SHIFT" ? "'N'" : "NULL",
        d.boolText(true), target, attainment));
  };
  insertFact("E1", "KPI.OUT", "OP", "SHIFT", "2025-03-14/N", "2025-03-14", "'100'", "'1.1'");
  insertFact("E3", "KPI.OUT", "OP", "SHIFT", "2025-03-14/N", "2025-03-14", "'100'", "'0.5'");
  // E2 worked the shift (a fact without a target) but its KPI.OUT never arrived.
  insertFact("E2", "KPI.PAY", "OP", "SHIFT", "2025-03-14/N", "2025-03-14", "NULL", "NULL");
  insertFact("E5", "KPI.DAY", "LEAD", "DAY", "2025-03-14", "2025-03-14", "'1'", "'1'");
  insertFact("E5", "KPI.DAY", "LEAD", "DAY", "2025-03-20", "2025-03-20", "'1'", "'1'");

  auto duty = [&](const std::string& employee, const std::string& id) {
    return store.scalar(fmt::format(
        "SELECT CAST(kpis_due AS TEXT) || '|' || CAST(kpis_met AS TEXT) || '|' || CAST(kpis_not_reported AS TEXT) || "
        "'|' "
        "|| COALESCE(duties_not_reported, '-') FROM {}duty_fulfilment WHERE employee_no = '{}' AND period_id = '{}'",
        p, employee, id));
  };
  CHECK(duty("E2", "2025-03-14/N") == "1|0|1|D.OUT");
  CHECK(duty("E1", "2025-03-14/N") == "1|1|0|-");
  // E4 led the line on the 14th (owes KPI.DAY), not on the 20th; it did not work shift N.
  CHECK(duty("E4", "2025-03-14") == "1|0|1|D.DAY");
  CHECK(store.scalar(fmt::format("SELECT COUNT(*) FROM {}duty_status WHERE employee_no = 'E4'", p)) == "1");

  auto signal = [&](const std::string& position, const std::string& subject) {
    return store.scalar(fmt::format(
        "SELECT CAST(cases AS TEXT) || '|' || CAST(cases_ok AS TEXT) || '|' || CAST(share_ok_pct AS TEXT) || '|' || "
        "signal FROM {}duty_review_signals WHERE position_code = '{}' AND subject_code = '{}'",
        p, position, subject));
  };
  CHECK(signal("OP", "KPI.OUT") == "3|1|33.3|DATA_MISSING");
  // E5 met both days, E4 owed the 14th: one case in three not reported.
  CHECK(signal("LEAD", "KPI.DAY") == "3|2|66.7|DATA_MISSING");
  // Four current operators, one with the safety induction.
  CHECK(signal("OP", "T.SAFE") == "4|1|25.0|REQUIREMENT_RARELY_HELD");

  // A weekly KPI owed once per employee and week, however many assignments or target versions
  // owe it: OP's target rises on the 12th, CELL owes it from the 13th. E6 moved from OP to CELL on
  // the 12th (the latest assignment names the position); E7 held CELL on the 10th and 11th only,
  // before CELL owed it; week 11 is 2025-03-10..16.
  element(2, "DUTY_KPI", "KPI.WK", "OP", ", duty_code, kpi_code, period_type, target",
          ", 'D.WK', 'KPI.WK', 'WEEK', '1'", "'2025-01-01'", "'2025-03-11'");
  element(2, "DUTY_KPI", "KPI.WK@2", "OP", ", duty_code, kpi_code, period_type, target",
          ", 'D.WK', 'KPI.WK', 'WEEK', '2'", "'2025-03-12'");
  element(2, "DUTY_KPI", "KPI.WK", "CELL", ", duty_code, kpi_code, period_type, target",
          ", 'D.WK', 'KPI.WK', 'WEEK', '3'", "'2025-03-13'");
  assign("E6", "OP", "'2025-01-01'", "'2025-03-11'");
  assign("E6", "CELL", "'2025-03-12'", "NULL");
  assign("E7", "CELL", "'2025-03-10'", "'2025-03-11'");
  insertFact("E1", "KPI.WK", "OP", "WEEK", "2025-W11", "2025-03-10", "'2'", "'1'");
  auto owed = [&](const std::string& employee) {
    return store.scalar(
        fmt::format("SELECT CAST(COUNT(*) AS TEXT) || '|' || MIN(position_code) || '|' || CAST(MIN({}) AS TEXT) FROM "
                    "{}duty_status WHERE employee_no = '{}' AND period_id = '2025-W11' AND status = 'NOT_REPORTED'",
                    d.numeric("target"), p, employee));
  };
  auto owedCount = [&](const std::string& employee) {
    return store.scalar(
        fmt::format("SELECT COUNT(*) FROM {}duty_status WHERE employee_no = '{}' AND period_id = "
                    "'2025-W11' AND status = 'NOT_REPORTED'",
                    p, employee));
  };
  CHECK(owed("E6").substr(0, 7) == "1|CELL|");
  CHECK(owed("E2").substr(0, 5) == "1|OP|");
  CHECK(owedCount("E4") == "1");  // an operator again from the 16th
  CHECK(owedCount("E7") == "0");
  CHECK(owedCount("E1") == "0");  // reported
  CHECK(duty("E2", "2025-W11") == "1|0|1|D.WK");
}

// The rows hr_store_assignment.yaml makes of ASSIGNMENT records, through the sink into the
// employee_assignment table of `dutybridge hr-schema`: an assignment closed later (a higher
// revision) replaces the open one, a replay of the open one does not undo it, and a second spell in
// the same position (another assignment id) is a row of its own.
void loadAssignments(const HrStore& store) {
  const std::string table = store.prefix + "employee_assignment";
  auto sink = makeSink(store.connection, fmt::format("table: {}\nkey: [record_key]\nrevision: revision\n"
                                                     "offsets_table: {}dutybridge_offsets\n",
                                                     table, store.prefix));
  REQUIRE(sink->open());
  auto schema = std::make_shared<core::RecordSchema>(
      std::vector<std::string>{"record_key", "revision", "employee_no", "position_code", "department_code",
                               "valid_from", "valid_to", "evidence", "lineage", "computed_at"});
  auto row = [&](int64_t id, int64_t revision, std::optional<std::string> valid_to) {
    core::Value to = valid_to ? core::Value(core::parseDate(*valid_to).value()) : core::Value();
    return core::Record(schema, {core::Value(fmt::format("E10023|ASSIGNMENT|OPERATOR|{}", id)), core::Value(revision),
                                 core::Value("E10023"), core::Value("OPERATOR"), core::Value("MACH"),
                                 core::Value(core::parseDate(id == 17 ? "2021-05-03" : "2025-01-06").value()), to,
                                 core::Value(core::ValueMap{{"department_code", core::Value("MACH")}}),
                                 core::Value(core::ValueMap{{"mapping", core::Value("hrm-assignment@1")}}),
                                 core::Value(testing::ts("2025-03-14T12:00:00Z"))});
  };
  std::vector<core::Record> first{row(17, 100, std::nullopt)};
  std::vector<core::Record> closed{row(17, 200, "2024-08-31"), row(412, 300, std::nullopt)};
  sink->nextBatchPosition("p1");
  writeAndCommit(*sink, first, 1);
  sink->nextBatchPosition("p2");
  writeAndCommit(*sink, closed, 2);
  sink->nextBatchPosition("p3");
  writeAndCommit(*sink, first, 3);  // a replay of the older revision
  CHECK(store.scalar("SELECT COUNT(*) FROM " + table) == "2");
  CHECK(store.scalar(
            fmt::format("SELECT revision FROM {} WHERE record_key = 'E10023|ASSIGNMENT|OPERATOR|17'", table)) == "200");
  CHECK(store.scalar(fmt::format("SELECT CAST(valid_to AS TEXT) FROM {} WHERE record_key = "
                                 "'E10023|ASSIGNMENT|OPERATOR|17'",
                                 table)) == "2024-08-31");
  CHECK(store.scalar(fmt::format("SELECT COUNT(*) FROM {} WHERE valid_to IS NULL AND position_code = 'OPERATOR' AND "
                                 "department_code = 'MACH' AND valid_from = '2025-01-06'",
                                 table)) == "1");
}

}  // namespace

TEST_CASE("personnel-file views: position fit, not-reported duties, review signals (SQLite)",
          "[odbc][hr-schema][personnel-file][sqlite]") {
  checkPersonnelFileViews(HrStore::sqlite("hr_pf"));
}

TEST_CASE("personnel-file views: position fit, not-reported duties, review signals (PostgreSQL)",
          "[odbc][hr-schema][personnel-file][postgres]") {
  checkPersonnelFileViews(HrStore::postgres("hr_pf"));
}

TEST_CASE("withdrawn revisions: marked rows are left out of the views, deleted ones are gone (SQLite)",
          "[odbc][sink][hr-schema][sqlite]") {
  withdrawnRevisions(HrStore::sqlite("hr_withdrawn_mark"), "mark");
  withdrawnRevisions(HrStore::sqlite("hr_withdrawn_delete"), "delete");
}

TEST_CASE("withdrawn revisions: marked rows are left out of the views, deleted ones are gone (PostgreSQL)",
          "[odbc][sink][hr-schema][postgres]") {
  withdrawnRevisions(HrStore::postgres("hr_withdrawn_mark"), "mark");
  withdrawnRevisions(HrStore::postgres("hr_withdrawn_delete"), "delete");
}

TEST_CASE("employee_assignment keeps the highest revision of every assignment (SQLite)",
          "[odbc][sink][hr-schema][sqlite]") {
  loadAssignments(HrStore::sqlite("hr_assignment"));
}

TEST_CASE("employee_assignment keeps the highest revision of every assignment (PostgreSQL)",
          "[odbc][sink][hr-schema][postgres]") {
  loadAssignments(HrStore::postgres("hr_assignment"));
}

TEST_CASE("odbc sink throughput: 100,000 facts upserted into PostgreSQL", "[.bench][odbc][sink][postgres]") {
  auto store = HrStore::postgres("sink_bench");
  auto sink = makeSink(store.connection, store.factSinkBody());
  REQUIRE(sink->open());
  REQUIRE(sink->storedPosition());
  constexpr int kFacts = 100'000;
  constexpr size_t kBatch = 5'000;
  std::vector<core::Record> records;
  records.reserve(kFacts);
  for (int i = 0; i < kFacts; ++i) {
    FactSpec f;
    f.employee = fmt::format("E{:06}", i);
    records.push_back(fact(f));
  }
  auto started = std::chrono::steady_clock::now();
  uint64_t sequence = 0;
  for (size_t first = 0; first < records.size(); first += kBatch) {
    std::span<const core::Record> slice(records.data() + first, std::min(kBatch, records.size() - first));
    sink->nextBatchPosition(fmt::format("offset:{}", first + slice.size()));
    writeBatch(*sink, slice, ++sequence);
  }
  auto flushed = sink->flush(std::chrono::steady_clock::now() + std::chrono::seconds(120));
  if (!flushed) FAIL(flushed.error().describe());
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  double rate = kFacts / seconds;
  WARN(fmt::format("odbc sink: {} facts in {:.2f} s = {:.0f} facts/s (batches of {}, insert_rows 500)", kFacts, seconds,
                   rate, kBatch));
  CHECK(store.scalar("SELECT COUNT(*) FROM " + store.prefix + "duty_kpi_fact") == std::to_string(kFacts));
  CHECK(rate >= 50'000);
}

TEST_CASE("odbc sink: a lost connection is retried by the sink, and the batch applies once (PostgreSQL)",
          "[odbc][sink][postgres]") {
  auto store = HrStore::postgres("sink_lost");
  const std::string schema = store.prefix.substr(0, store.prefix.size() - 1);
  // Named, so this test kills only its own sink's backend.
  auto sink = makeSink(store.connection + ";ConnSettings=SET application_name TO '" + schema + "'", store.factSinkBody());
  REQUIRE(sink->open());
  REQUIRE(sink->storedPosition());
  FactSpec a;
  std::vector<core::Record> first{fact(a, "mes:1")};
  sink->nextBatchPosition("pos-1");
  writeAndCommit(*sink, first, 1);
  Database admin(store.connection);
  CHECK(admin.scalar(fmt::format("SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE "
                                 "application_name = '{}'", schema)) == std::optional<std::string>("1"));
  // pg_terminate_backend only signals: wait until the backend is gone.
  for (int i = 0; i < 100; ++i) {
    if (admin.scalar(fmt::format("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '{}'", schema)) ==
        std::optional<std::string>("0")) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  FactSpec b = a;
  b.revision = 2;
  b.value = "250";
  std::vector<core::Record> second{fact(b, "mes:2")};
  sink->nextBatchPosition("pos-2");
  // The worker finds the connection gone, reconnects and writes the same batch again.
  writeAndCommit(*sink, second, 2);
  CHECK(store.scalar("SELECT value::text || ' ' || revision FROM " + store.prefix + "duty_kpi_fact") == "250 2");
  CHECK(store.scalar("SELECT position FROM " + store.prefix + "dutybridge_offsets") == "pos-2");
}
