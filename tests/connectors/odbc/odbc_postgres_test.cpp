// The odbc source against the real PostgreSQL (psqlODBC): type mapping and time zones, errors
// that must name the column, long values, large reads, and surviving connection loss (a killed
// backend and a server restart) without missing a row.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <ctime>
#include <nlohmann/json.hpp>
#include <thread>

#include "connectors/odbc/odbc_cursor.h"
#include "tests/connectors/odbc/odbc_test_util.h"

using namespace dutybridge;
using testing::column;
using testing::drain;
using testing::flatten;
using testing::ts;

namespace {

const core::Timestamp kNow = ts("2025-03-15T00:00:00Z");

std::vector<std::string> ids(const std::vector<core::Record>& records) {
  return column(records, "id");
}

std::vector<std::string> range(int from, int to) {
  std::vector<std::string> out;
  for (int i = from; i <= to; ++i) out.push_back(std::to_string(i));
  return out;
}

std::string reportsBody(const std::string& table, int batch_rows) {
  return "table: " + table +
         "\nmode: timestamp+incrementing\ntimestamp_column: updated_at\nincrementing_column: id\npoll_interval: 0s\n"
         "batch_rows: " +
         std::to_string(batch_rows) + "\n";
}

void createReports(testing::Database& db, const std::string& table, int rows) {
  db.exec("CREATE TABLE " + table +
          " (id BIGINT PRIMARY KEY, report_no VARCHAR(20) NOT NULL, good_qty NUMERIC(12,3) NOT NULL, "
          "updated_at TIMESTAMP NOT NULL)");
  if (rows > 0) {
    db.exec(
        fmt::format("INSERT INTO {} SELECT g, 'PR' || lpad(g::text, 8, '0'), g * 1.001, "
                    "TIMESTAMP '2025-03-14 00:00:00' + (g / 3) * INTERVAL '1 second' FROM generate_series(1, {}) g",
                    table, rows));
  }
}

void insertMore(const std::string& connection, const std::string& table, int from, int to) {
  testing::Database db(connection);
  db.exec(
      fmt::format("INSERT INTO {} SELECT g, 'PR' || lpad(g::text, 8, '0'), g * 1.001, "
                  "TIMESTAMP '2025-03-14 00:00:00' + (g / 3) * INTERVAL '1 second' FROM generate_series({}, {}) g",
                  table, from, to));
}

// Polls through Retryable errors as the pipeline does (without its backoff), until `want`
// records arrived or `max_polls` polls were made. Counts the Retryable errors seen.
std::vector<core::Record> pollThroughErrors(core::Source& source, size_t want, int max_polls, int& retryable) {
  std::vector<core::Record> out;
  for (int i = 0; i < max_polls && out.size() < want; ++i) {
    auto batch = source.poll(std::chrono::milliseconds(100));
    if (!batch) {
      INFO(batch.error().describe());
      REQUIRE(batch.error().kind == core::ErrorKind::Retryable);
      ++retryable;
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    out.insert(out.end(), batch->records.begin(), batch->records.end());
  }
  return out;
}

}  // namespace

TEST_CASE("PostgreSQL: every supported type, NULLs, Chinese text, exact numerics, timestamp vs timestamptz",
          "[odbc][types][postgresql]") {
  testing::Database db(testing::postgresOdbc());
  auto table = testing::uniqueName("types");
  db.exec("CREATE TABLE " + table +
          " (id BIGINT PRIMARY KEY, i4 INTEGER, i2 SMALLINT, qty NUMERIC(12,3), big NUMERIC(38,10), free NUMERIC, "
          "r REAL, d DOUBLE PRECISION, name TEXT, workshop VARCHAR(4), code CHAR(4), ok BOOLEAN, shift_date DATE, "
          "updated_at TIMESTAMP NOT NULL, submitted_at TIMESTAMPTZ, note VARCHAR, payload JSONB)");
  db.exec("INSERT INTO " + table +
          " VALUES (1, -2147483648, 32767, 1234.567, 1234567890123456789012345678.0123456789, 0.1, 1.5, "
          "-2.25e100, '张三 报工 ✓', '注塑车间', 'AB', true, '2025-03-14', '2025-03-14 20:00:00.123456', "
          "'2025-03-14 12:00:00.654321+00', 'n', '{\"k\": \"值\"}')");
  db.exec("INSERT INTO " + table + " (id, updated_at) VALUES (2, '2025-03-14 20:00:01')");
  db.exec("INSERT INTO " + table +
          " (id, qty, ok, updated_at, submitted_at) VALUES (3, -0.001, false, '2025-03-14 20:00:02', "
          "'2025-03-14 20:00:02+08')");
  core::ManualClock clock(kNow);
  auto source = testing::makeSource(db.connectionString(),
                                    "table: " + table +
                                        "\nmode: timestamp+incrementing\ntimestamp_column: updated_at\n"
                                        "incrementing_column: id\ntimestamp_zone: Asia/Shanghai\npoll_interval: 0s\n",
                                    &clock);
  REQUIRE(source->open(std::nullopt));
  auto records = flatten(drain(*source));
  REQUIRE(records.size() == 3);
  const auto& r = records[0];
  CHECK(r.find("id")->asInt() == 1);
  CHECK(r.find("i4")->asInt() == -2147483648LL);
  CHECK(r.find("i2")->asInt() == 32767);
  REQUIRE(r.find("qty")->type() == core::ValueType::Decimal);
  CHECK(r.find("qty")->asDecimal().toString() == "1234.567");
  CHECK(r.find("big")->asDecimal().toString() == "1234567890123456789012345678.0123456789");
  CHECK(r.find("free")->asDecimal().toString() == "0.1");
  CHECK(r.find("r")->asDouble() == 1.5);
  CHECK(r.find("d")->asDouble() == -2.25e100);
  CHECK(r.find("name")->asString() == "张三 报工 ✓");
  CHECK(r.find("workshop")->asString() == "注塑车间");
  CHECK(r.find("code")->asString() == "AB  ");
  REQUIRE(r.find("ok")->type() == core::ValueType::Bool);
  CHECK(r.find("ok")->asBool());
  CHECK(r.find("shift_date")->asDate() == core::dateFromYmd(2025, 3, 14));
  // timestamp: Shanghai wall-clock -> UTC; timestamptz: the instant, whatever the zone.
  CHECK(r.find("updated_at")->asTimestamp() == ts("2025-03-14T12:00:00.123456Z"));
  CHECK(r.find("submitted_at")->asTimestamp() == ts("2025-03-14T12:00:00.654321Z"));
  CHECK(r.find("note")->asString() == "n");
  CHECK(nlohmann::json::parse(r.find("payload")->asString())["k"] == "值");
  CHECK(*r.meta.event_time == ts("2025-03-14T12:00:00.123456Z"));
  CHECK(r.meta.source_position == R"({"ts":"2025-03-14T12:00:00.123456Z","id":1})");
  for (const char* name : {"i4", "i2", "qty", "big", "free", "r", "d", "name", "workshop", "code", "ok", "shift_date",
                           "submitted_at", "note", "payload"}) {
    INFO(name);
    CHECK(records[1].find(name)->isNull());
  }
  CHECK(records[2].find("qty")->asDecimal().toString() == "-0.001");
  CHECK(records[2].find("ok")->asBool() == false);
  CHECK(records[2].find("submitted_at")->asTimestamp() == ts("2025-03-14T12:00:02Z"));

  // The session zone is the configured one, so `now()`-style SQL in a custom query agrees.
  auto zone = testing::makeSource(db.connectionString(),
                                  "query: SELECT 1::bigint AS id, current_setting('TimeZone') AS zone\n"
                                  "mode: incrementing\nincrementing_column: id\ntimestamp_zone: Asia/Shanghai\n",
                                  &clock);
  REQUIRE(zone->open(std::nullopt));
  auto zone_records = flatten(drain(*zone));
  REQUIRE(zone_records.size() == 1);
  CHECK(zone_records[0].find("zone")->asString() == "Asia/Shanghai");
}

TEST_CASE("PostgreSQL: a timestamptz cursor column works in any timestamp_zone", "[odbc][types][postgresql]") {
  testing::Database db(testing::postgresOdbc());
  auto table = testing::uniqueName("tstz");
  db.exec("CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, updated_at TIMESTAMPTZ NOT NULL)");
  db.exec("INSERT INTO " + table +
          " VALUES (1, '2025-03-14 12:00:00+00'), (2, '2025-03-14 12:00:00+00'), (3, '2025-03-14 20:00:00.5+08'), "
          "(4, '2025-03-14 23:59:58+00')");
  core::ManualClock clock(kNow);
  for (const char* zone : {"UTC", "Asia/Shanghai", "America/New_York"}) {
    INFO(zone);
    auto source = testing::makeSource(db.connectionString(),
                                      "table: " + table +
                                          "\nmode: timestamp+incrementing\ntimestamp_column: updated_at\n"
                                          "incrementing_column: id\nbatch_rows: 1\npoll_interval: 0s\n"
                                          "timestamp_zone: " +
                                          zone + "\n",
                                      &clock);
    REQUIRE(source->open(std::nullopt));
    auto records = flatten(drain(*source));
    // Row 4 is inside the 5 s lag window of kNow.
    REQUIRE(ids(records) == range(1, 3));
    CHECK(records[2].find("updated_at")->asTimestamp() == ts("2025-03-14T12:00:00.5Z"));
    clock.advance(10'000'000);
    CHECK(ids(flatten(drain(*source))) == range(4, 4));
    clock.set(kNow);
  }
}

TEST_CASE("PostgreSQL: psqlODBC with sslmode=require talks TLS (issue 14 item 21)", "[odbc][postgresql][tls]") {
  // scripts/pg-local turns TLS on; the same server also takes plain connections, so the check
  // that the session is encrypted is what shows sslmode took effect.
  testing::Database tls(testing::postgresOdbc() + ";SSLmode=require");
  CHECK(tls.scalar("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()") == std::optional<std::string>("true"));
  testing::Database plain(testing::postgresOdbc() + ";SSLmode=disable");
  CHECK(plain.scalar("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()") ==
        std::optional<std::string>("false"));
  // And the odbc source reads through it.
  core::ManualClock clock(kNow);
  auto table = testing::uniqueName("tls");
  tls.exec("CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, note VARCHAR(10))");
  tls.exec("INSERT INTO " + table + " VALUES (1, 'a'), (2, 'b')");
  auto source = testing::makeSource(testing::postgresOdbc() + ";SSLmode=require",
                                    "table: " + table + "\nmode: incrementing\nincrementing_column: id\npoll_interval: 0s\n",
                                    &clock);
  REQUIRE(source->open(std::nullopt));
  CHECK(flatten(drain(*source)).size() == 2);
}

TEST_CASE("PostgreSQL: an unsupported column type is a Permanent error naming the column",
          "[odbc][types][postgresql]") {
  testing::Database db(testing::postgresOdbc());
  core::ManualClock clock(kNow);
  for (auto [type, expected] : {std::pair{"BYTEA", "'payload' (LONGVARBINARY, bytea)"},
                                std::pair{"UUID", "'payload' (GUID, uuid)"}, std::pair{"TIME", "'payload' (TIME)"}}) {
    INFO(type);
    auto table = testing::uniqueName("unsupported");
    db.exec("CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, payload " + type + ")");
    auto source = testing::makeSource(db.connectionString(),
                                      "table: " + table + "\nmode: incrementing\nincrementing_column: id\n", &clock);
    auto opened = source->open(std::nullopt);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().kind == core::ErrorKind::Permanent);
    CHECK_THAT(opened.error().message, Catch::Contains(expected));
    CHECK_THAT(opened.error().message, Catch::Contains("CAST(payload AS VARCHAR(64))"));
  }
  // The advice works: a custom query casting the column reads fine.
  auto table = testing::uniqueName("unsupported");
  db.exec("CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, payload UUID)");
  db.exec("INSERT INTO " + table + " VALUES (1, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')");
  auto cast = testing::makeSource(db.connectionString(),
                                  "query: SELECT id, CAST(payload AS VARCHAR(64)) AS payload FROM " + table +
                                      "\nmode: incrementing\nincrementing_column: id\npoll_interval: 0s\n",
                                  &clock);
  REQUIRE(cast->open(std::nullopt));
  auto records = flatten(drain(*cast));
  REQUIRE(records.size() == 1);
  CHECK(records[0].find("payload")->asString() == "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11");
}

TEST_CASE("PostgreSQL: configuration mistakes the database reveals are Permanent at open()", "[odbc][postgresql]") {
  testing::Database db(testing::postgresOdbc());
  core::ManualClock clock(kNow);
  auto table = testing::uniqueName("cols");
  db.exec("CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, label TEXT, day DATE, updated_at TIMESTAMP)");
  auto open = [&](const std::string& body) {
    auto source = testing::makeSource(db.connectionString(), body, &clock);
    auto opened = source->open(std::nullopt);
    REQUIRE_FALSE(opened);
    CHECK(opened.error().kind == core::ErrorKind::Permanent);
    return opened.error().message;
  };
  CHECK_THAT(open("table: no_such_table_here\nmode: incrementing\nincrementing_column: id\n"),
             Catch::Contains("no_such_table_here"));
  CHECK_THAT(open("table: " + table + "\nmode: incrementing\nincrementing_column: nope\n"), Catch::Contains("nope"));
  CHECK_THAT(
      open("query: SELECT id AS ident, updated_at FROM " + table + "\nmode: incrementing\nincrementing_column: id\n"),
      Catch::Contains("column \"id\" does not exist"));
  CHECK_THAT(open("table: " + table + "\nmode: incrementing\nincrementing_column: label\n"),
             Catch::Contains("incrementing_column 'label' (LONGVARCHAR, text) is not an integer column"));
  CHECK_THAT(open("table: " + table + "\nmode: timestamp\ntimestamp_column: day\n"),
             Catch::Contains("timestamp_column 'day' (DATE) is not a TIMESTAMP column"));
}

TEST_CASE("PostgreSQL: long text is read whole or refused, never cut short", "[odbc][text][postgresql]") {
  testing::Database db(testing::postgresOdbc());
  core::ManualClock clock(kNow);
  auto table = testing::uniqueName("text");
  // psqlODBC reports VARCHAR without a length and JSONB as 255 characters: a longer value makes
  // the source widen that column to max_text_bytes and read the rows again.
  db.exec("CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, note VARCHAR, doc JSONB, label VARCHAR(8))");
  db.exec("INSERT INTO " + table + " VALUES (1, 'short', '{}', '八个汉字八个汉字')");
  db.exec("INSERT INTO " + table + " VALUES (2, repeat('报', 2000), jsonb_build_object('k', repeat('x', 3000)), 'x')");
  auto source = testing::makeSource(db.connectionString(),
                                    "table: " + table +
                                        "\nmode: incrementing\nincrementing_column: id\npoll_interval: 0s\n"
                                        "max_text_bytes: 16KiB\n",
                                    &clock);
  REQUIRE(source->open(std::nullopt));
  auto records = flatten(drain(*source));
  REQUIRE(records.size() == 2);
  CHECK(records[0].find("label")->asString() == "八个汉字八个汉字");
  CHECK(records[1].find("note")->asString().size() == 6000);
  CHECK(records[1].find("doc")->asString().size() > 3000);

  db.exec("INSERT INTO " + table + " VALUES (3, repeat('y', 100), '{}', 'x')");
  auto small = testing::makeSource(db.connectionString(),
                                   "table: " + table +
                                       "\nmode: incrementing\nincrementing_column: id\npoll_interval: 0s\n"
                                       "max_text_bytes: 64\n",
                                   &clock);
  REQUIRE(small->open(std::string(R"({"id":1})")));
  // Row 2 (6,000 bytes of note) cannot be read within 64 bytes: a failure of that row (a dead
  // letter), never a cut value; row 3 after it goes on.
  auto read = small->poll(std::chrono::milliseconds(0));
  REQUIRE(read);
  REQUIRE(read->failures.size() == 2);  // rows 2 and 3 (100 bytes of note)
  CHECK(read->failures[0].position == R"({"id":2})");
  CHECK_THAT(read->failures[0].reason, Catch::Contains("'note' (VARCHAR") && Catch::Contains("longer than 64 bytes"));
  CHECK_THAT(read->failures[1].reason, !Catch::Contains("yyyy"));
  CHECK(read->records.empty());
  CHECK(read->position == R"({"id":3})");
}

TEST_CASE("PostgreSQL: a NUMERIC beyond 38 digits is a failure of its row (a dead letter), not a rounded value",
          "[odbc][types][postgresql]") {
  testing::Database db(testing::postgresOdbc());
  core::ManualClock clock(kNow);
  auto table = testing::uniqueName("bignum");
  db.exec("CREATE TABLE " + table + " (id BIGINT PRIMARY KEY, n NUMERIC)");
  db.exec("INSERT INTO " + table + " VALUES (1, 12345678901234567890123456789012345678), (2, 10^40), (3, 10^70)");
  auto source = testing::makeSource(db.connectionString(),
                                    "table: " + table +
                                        "\nmode: incrementing\nincrementing_column: id\n"
                                        "batch_rows: 1\npoll_interval: 0s\n",
                                    &clock);
  REQUIRE(source->open(std::nullopt));
  auto first = source->poll(std::chrono::milliseconds(0));
  REQUIRE(first);
  CHECK(first->records[0].find("n")->asDecimal().toString() == "12345678901234567890123456789012345678");
  auto second = source->poll(std::chrono::milliseconds(0));
  REQUIRE(second);
  CHECK(second->records.empty());
  REQUIRE(second->failures.size() == 1);
  CHECK(second->failures[0].position == R"({"id":2})");
  CHECK_THAT(second->failures[0].reason, Catch::Contains("'n' (NUMERIC") && Catch::Contains("at most 38 digits"));
  CHECK(second->position == R"({"id":2})");
  auto third = source->poll(std::chrono::milliseconds(0));
  REQUIRE(third);
  REQUIRE(third->failures.size() == 1);
  CHECK_THAT(third->failures[0].reason, Catch::Contains("longer than 65 characters"));
  CHECK(third->position == R"({"id":3})");
}

TEST_CASE("PostgreSQL: a query whose result names two columns alike is refused, naming the column",
          "[odbc][query][postgresql]") {
  // The record would hold two fields of one name: JSON readers refuse such an object and a
  // mapping would see only one of them.
  testing::Database db(testing::postgresOdbc());
  core::ManualClock clock(kNow);
  auto lines = testing::uniqueName("lines");
  auto orders = testing::uniqueName("orders");
  db.exec("CREATE TABLE " + orders + " (id BIGINT PRIMARY KEY, qty INTEGER)");
  db.exec("CREATE TABLE " + lines + " (id BIGINT PRIMARY KEY, order_id BIGINT, qty INTEGER)");
  db.exec("INSERT INTO " + orders + " VALUES (1, 50)");
  db.exec("INSERT INTO " + lines + " VALUES (10, 1, 5)");
  auto source = testing::makeSource(db.connectionString(),
                                    "query: SELECT l.id, l.qty, o.qty FROM " + lines + " l JOIN " + orders +
                                        " o ON o.id = l.order_id\nmode: incrementing\nincrementing_column: id\n"
                                        "poll_interval: 0s\n",
                                    &clock);
  auto opened = source->open(std::nullopt);
  if (opened) {  // the result is described with the first query
    auto read = source->poll(std::chrono::milliseconds(0));
    REQUIRE_FALSE(read);
    opened = core::fail(read.error());
  }
  CHECK(opened.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(opened.error().message, Catch::Contains("two columns named 'qty'"));
}

TEST_CASE("PostgreSQL: large reads page through fetch arrays in order", "[odbc][postgresql]") {
  testing::Database db(testing::postgresOdbc());
  core::ManualClock clock(kNow);
  auto table = testing::uniqueName("large");
  createReports(db, table, 2500);
  // One query of 2500 rows fetched 1000 at a time.
  auto whole = testing::makeSource(db.connectionString(), reportsBody(table, 5000), &clock);
  REQUIRE(whole->open(std::nullopt));
  auto batches = drain(*whole);
  REQUIRE(batches.size() == 1);
  CHECK(ids(batches[0].records) == range(1, 2500));
  CHECK(batches[0].records[1233].find("good_qty")->asDecimal().toString() == "1235.234");
  // Pages of 1000.
  auto paged = testing::makeSource(db.connectionString(), reportsBody(table, 1000), &clock);
  REQUIRE(paged->open(std::nullopt));
  batches = drain(*paged);
  REQUIRE(batches.size() == 3);
  CHECK(batches[2].records.size() == 500);
  CHECK(ids(flatten(batches)) == range(1, 2500));
}

TEST_CASE("PostgreSQL: a killed backend is Retryable and the next poll reconnects and nothing is missed",
          "[odbc][reconnect][postgresql]") {
  testing::Database db(testing::postgresOdbc());
  core::ManualClock clock(kNow);
  auto table = testing::uniqueName("kill");
  createReports(db, table, 10);
  auto app = testing::uniqueName("dutybridge_odbc_test");
  auto connection = db.connectionString() + ";pqopt={application_name=" + app + "}";
  auto source = testing::makeSource(connection, reportsBody(table, 4), &clock);
  REQUIRE(source->open(std::nullopt));
  auto first = source->poll(std::chrono::milliseconds(0));
  REQUIRE(first);
  CHECK(ids(first->records) == range(1, 4));

  CHECK(db.scalar("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = '" + app +
                  "'") == "1");
  auto lost = source->poll(std::chrono::milliseconds(0));
  REQUIRE_FALSE(lost);
  CHECK(lost.error().kind == core::ErrorKind::Retryable);
  // psqlODBC reports this one as HY000 ("Error while preparing parameters"); the source asks the
  // driver whether the connection is dead (SQL_ATTR_CONNECTION_DEAD) and makes it Retryable.
  CHECK_THAT(lost.error().message, Catch::Contains("terminating connection due to administrator command"));

  insertMore(db.connectionString(), table, 11, 12);
  int retryable = 0;
  auto rest = pollThroughErrors(*source, 8, 20, retryable);
  CHECK(retryable == 0);
  CHECK(ids(rest) == range(5, 12));
}

TEST_CASE("PostgreSQL: a server restart is Retryable and polling resumes from the same cursor",
          "[odbc][reconnect][postgresql][restart]") {
  const std::string script = testing::requireEnv("DUTYBRIDGE_PG_LOCAL");
  const std::string connection = testing::postgresOdbc();
  core::ManualClock clock(kNow);
  auto table = testing::uniqueName("restart");
  {
    testing::Database db(connection);
    createReports(db, table, 9);
  }
  auto source = testing::makeSource(connection, reportsBody(table, 3), &clock);
  REQUIRE(source->open(std::nullopt));
  auto first = source->poll(std::chrono::milliseconds(0));
  REQUIRE(first);
  CHECK(ids(first->records) == range(1, 3));

  std::vector<core::Record> rest;
  int retryable = 0;
  SECTION("restart") {
    REQUIRE(std::system((script + " restart >/dev/null 2>&1").c_str()) == 0);
    auto lost = source->poll(std::chrono::milliseconds(0));
    REQUIRE_FALSE(lost);
    CHECK(lost.error().kind == core::ErrorKind::Retryable);
    insertMore(connection, table, 10, 11);
    rest = pollThroughErrors(*source, 8, 50, retryable);
  }
  SECTION("stop, poll while the server is down, start") {
    REQUIRE(std::system((script + " stop >/dev/null 2>&1").c_str()) == 0);
    for (int i = 0; i < 2; ++i) {  // the query fails, then the reconnect is refused
      auto down = source->poll(std::chrono::milliseconds(0));
      REQUIRE_FALSE(down);
      CHECK(down.error().kind == core::ErrorKind::Retryable);
    }
    REQUIRE(std::system((script + " start >/dev/null 2>&1").c_str()) == 0);
    insertMore(connection, table, 10, 11);
    rest = pollThroughErrors(*source, 8, 50, retryable);
  }
  CHECK(ids(rest) == range(4, 11));
}

TEST_CASE("PostgreSQL: a failed login names no secret", "[odbc][postgresql]") {
  std::string connection = testing::postgresOdbc();
  auto pwd = connection.find("Pwd=");
  REQUIRE(pwd != std::string::npos);
  connection = connection.substr(0, pwd) + "Pwd=wrong-Secret-4711";
  core::ManualClock clock(kNow);
  auto source = testing::makeSource(connection, "table: x\nmode: incrementing\nincrementing_column: id\n", &clock);
  auto opened = source->open(std::nullopt);
  REQUIRE_FALSE(opened);
  CHECK_THAT(opened.error().message, Catch::Contains("password authentication failed"));
  CHECK_THAT(opened.error().message, !Catch::Contains("wrong-Secret-4711"));
}

TEST_CASE("PostgreSQL: a query running past query_timeout is cancelled and Retryable", "[odbc][postgresql]") {
  core::ManualClock clock(kNow);
  auto source =
      testing::makeSource(testing::postgresOdbc(),
                          "query: SELECT g::bigint AS id FROM generate_series(1, 1) g WHERE pg_sleep(3) IS NOT "
                          "NULL\nmode: incrementing\nincrementing_column: id\nquery_timeout: 1s\n",
                          &clock);
  REQUIRE(source->open(std::nullopt));
  auto start = std::chrono::steady_clock::now();
  auto cancelled = source->poll(std::chrono::milliseconds(0));
  REQUIRE_FALSE(cancelled);
  CHECK(cancelled.error().kind == core::ErrorKind::Retryable);
  CHECK_THAT(cancelled.error().message, Catch::Contains("57014"));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::milliseconds(2500));
}

// Not run by default (hidden tag): `dutybridge_odbc_source_tests "[.bench]"` on a release build.
// Reads DUTYBRIDGE_BENCH_ROWS (default 200000) rows of bench/first_pipeline's 18-column
// production_report shape (Chinese remarks, every tenth NULL) DUTYBRIDGE_BENCH_REPEAT times (default
// 3) with batch_rows DUTYBRIDGE_BENCH_BATCH (default 1000, the connector default) and prints this
// process's CPU time per million rows for each pass (the database server's CPU is not counted).
TEST_CASE("PostgreSQL: read throughput", "[.bench][postgresql]") {
  auto env_int = [](const char* name, int fallback) {
    const char* value = std::getenv(name);
    return value ? std::atoi(value) : fallback;
  };
  const int rows = env_int("DUTYBRIDGE_BENCH_ROWS", 200'000);
  const int repeat = env_int("DUTYBRIDGE_BENCH_REPEAT", 3);
  const int batch_rows = env_int("DUTYBRIDGE_BENCH_BATCH", 1000);
  testing::Database db(testing::postgresOdbc());
  auto table = testing::uniqueName("bench");
  db.exec("CREATE TABLE " + table +
          " (id bigint PRIMARY KEY, report_no varchar(20) NOT NULL, work_order_no varchar(20), operation_code "
          "varchar(10), product_code varchar(20), workstation_code varchar(20), workshop_code varchar(10), team_code "
          "varchar(20), operator_badge varchar(20), shift_code varchar(4), shift_date date, good_qty numeric(12,3), "
          "scrap_qty_labor numeric(12,3), scrap_qty_mat numeric(12,3), labor_minutes integer, state varchar(10), "
          "remark varchar(100), updated_at timestamp NOT NULL)");
  db.exec(fmt::format(
      "INSERT INTO {} SELECT i, 'PR' || lpad(i::text, 8, '0'), 'WO' || (i % 997), 'OP' || (i % 40), 'P-' || (i % "
      "3000), 'MOLD-WS' || (i % 30), 'MOLD', 'MOLD-T' || (i % 8), 'B' || lpad((i % 300)::text, 6, '0'), CASE i % 3 "
      "WHEN 0 THEN 'A' WHEN 1 THEN 'B' ELSE 'C' END, date '2025-03-14' + (i / 50000), (i % 500000) / 1000.0, (i % 7) "
      "/ 1000.0, (i % 5) / 1000.0, i % 480, 'ACCEPTED', CASE WHEN i % 10 = 0 THEN NULL ELSE '注塑车间 ' || i END, "
      "timestamp '2025-03-14 08:00:00' + (i / 3) * interval '1 second' FROM generate_series(1, {}) i",
      table, rows));
  db.exec("CREATE INDEX ON " + table + " (updated_at, id)");
  db.exec("ANALYZE " + table);
  core::ManualClock clock(ts("2030-01-01T00:00:00Z"));
  auto cpu = [] {
    timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
  };
  for (int pass = 0; pass < repeat; ++pass) {
    auto source = testing::makeSource(db.connectionString(),
                                      reportsBody(table, batch_rows) + "timestamp_zone: Asia/Shanghai\n", &clock);
    REQUIRE(source->open(std::nullopt));
    auto wall_start = std::chrono::steady_clock::now();
    double cpu_start = cpu();
    size_t read = 0;
    while (true) {
      auto batch = source->poll(std::chrono::milliseconds(0));
      REQUIRE(batch);
      if (batch->records.empty()) break;
      read += batch->records.size();
    }
    double cpu_seconds = cpu() - cpu_start;
    double wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
    CHECK(read == static_cast<size_t>(rows));
    WARN(fmt::format("{} rows x 18 columns, batch_rows {}: {:.2f} CPU-s per million rows ({:.2f} CPU-s, {:.2f} s "
                     "wall)",
                     read, batch_rows, cpu_seconds * 1e6 / static_cast<double>(read), cpu_seconds, wall_seconds));
  }
  db.exec("DROP TABLE " + table);
}
