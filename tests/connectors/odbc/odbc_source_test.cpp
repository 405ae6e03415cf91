// The odbc source against real databases: every mode on PostgreSQL (psqlODBC) and SQLite files
// (sqliteodbc), paging, ties, the lag guard with an injected clock, custom queries, resuming.

#include <catch2/catch.hpp>
#include <functional>
#include <nlohmann/json.hpp>

#include "connectors/odbc/odbc_cursor.h"
#include "tests/connectors/odbc/odbc_test_util.h"

using namespace dutybridge;
using testing::column;
using testing::drain;
using testing::flatten;
using testing::ts;

namespace {

struct Backend {
  std::string name;
  std::string connection;
};

// The same scenario on both databases; the PostgreSQL one fails loudly without the service.
void onBothDatabases(const std::function<void(const Backend&)>& scenario) {
  SECTION("sqlite") {
    scenario({"sqlite", testing::sqliteConnection(testing::uniqueName("db"))});
  }
  SECTION("postgresql") {
    scenario({"postgresql", testing::postgresOdbc()});
  }
}

// Wall-clock text for SQL literals.
std::string sqlTime(core::Timestamp t) {
  return "'" + odbc::formatLocalText(t.micros) + "'";
}

const core::Timestamp kNow = ts("2025-03-15T00:00:00Z");
const core::Timestamp kT1 = ts("2025-03-14T08:00:00Z");
const core::Timestamp kT2 = ts("2025-03-14T08:00:00.5Z");
const core::Timestamp kT3 = ts("2025-03-14T09:30:00Z");
const core::Timestamp kT4 = ts("2025-03-14T10:00:00.000001Z");
const core::Timestamp kT5 = ts("2025-03-14T11:00:00Z");

void createReports(testing::Database& db, const std::string& table) {
  db.exec(
      "CREATE TABLE " + table +
      " (id BIGINT PRIMARY KEY, report_no VARCHAR(20) NOT NULL, state VARCHAR(10) NOT NULL, good_qty NUMERIC(12,3), "
      "updated_at TIMESTAMP NOT NULL)");
}

void insertReport(testing::Database& db, const std::string& table, int64_t id, core::Timestamp updated,
                  const std::string& state = "ACCEPTED") {
  db.exec(fmt::format("INSERT INTO {} VALUES ({}, 'PR{:06d}', '{}', {}.250, {})", table, id, id, state, id,
                      sqlTime(updated)));
}

std::vector<std::string> ids(const std::vector<core::Record>& records) {
  return column(records, "id");
}
std::vector<std::string> strings(std::initializer_list<int> values) {
  std::vector<std::string> out;
  for (int v : values) out.push_back(std::to_string(v));
  return out;
}

}  // namespace

TEST_CASE("incrementing mode pages through inserts in id order and resumes from its position", "[odbc][modes]") {
  onBothDatabases([](const Backend& b) {
    testing::Database db(b.connection);
    auto table = testing::uniqueName("inc");
    createReports(db, table);
    for (int id = 1; id <= 7; ++id) insertReport(db, table, id, kT1);
    core::ManualClock clock(kNow);
    const std::string body =
        "table: " + table + "\nmode: incrementing\nincrementing_column: id\nbatch_rows: 3\npoll_interval: 0s\n";
    auto source = testing::makeSource(b.connection, body, &clock);
    REQUIRE(source->open(std::nullopt));
    auto batches = drain(*source);
    REQUIRE(batches.size() == 3);
    CHECK(batches[0].records.size() == 3);
    CHECK(batches[2].records.size() == 1);
    CHECK(ids(flatten(batches)) == strings({1, 2, 3, 4, 5, 6, 7}));
    CHECK(batches[0].position == R"({"id":3})");
    CHECK(batches[2].position == R"({"id":7})");
    const auto& first = batches[0].records[0];
    CHECK(first.meta.source_position == R"({"id":1})");
    CHECK_FALSE(first.meta.event_time.has_value());
    // One schema per query, with the driver's column names.
    CHECK(first.schema() == batches[0].records[2].schema());
    CHECK(first.schema()->names() == std::vector<std::string>{"id", "report_no", "state", "good_qty", "updated_at"});
    CHECK(first.find("good_qty")->type() == core::ValueType::Decimal);
    // SQLite keeps NUMERIC as REAL when it can (1.250 becomes 1.25); PostgreSQL keeps the scale.
    CHECK(first.find("good_qty")->asDecimal() == *core::Decimal::parse("1.25"));
    if (b.name == "postgresql") CHECK(first.find("good_qty")->toText() == "1.250");

    insertReport(db, table, 8, kT1);
    insertReport(db, table, 9, kT1);
    batches = drain(*source);
    CHECK(ids(flatten(batches)) == strings({8, 9}));
    source->close();

    // A restart from a stored position continues right after it.
    auto resumed = testing::makeSource(b.connection, body, &clock);
    REQUIRE(resumed->open(std::string(R"({"id":7})")));
    CHECK(ids(flatten(drain(*resumed))) == strings({8, 9}));
    resumed->close();
  });
}

TEST_CASE("timestamp+incrementing mode: ties across page boundaries and later updates are never missed",
          "[odbc][modes]") {
  onBothDatabases([](const Backend& b) {
    testing::Database db(b.connection);
    auto table = testing::uniqueName("tsinc");
    createReports(db, table);
    for (int id = 1; id <= 5; ++id) insertReport(db, table, id, kT1);  // five rows share one timestamp
    insertReport(db, table, 6, kT2);
    core::ManualClock clock(kNow);
    const std::string body = "table: " + table +
                             "\nmode: timestamp+incrementing\ntimestamp_column: updated_at\nincrementing_column: id\n"
                             "batch_rows: 3\npoll_interval: 0s\n";
    auto source = testing::makeSource(b.connection, body, &clock);
    REQUIRE(source->open(std::nullopt));
    auto batches = drain(*source);
    REQUIRE(batches.size() == 2);
    CHECK(ids(batches[0].records) == strings({1, 2, 3}));
    CHECK(ids(batches[1].records) == strings({4, 5, 6}));
    CHECK(batches[0].position == (b.name == "sqlite"
                                      ? R"({"ts":"2025-03-14T08:00:00Z","id":3,"ts_text":"2025-03-14 08:00:00"})"
                                      : R"({"ts":"2025-03-14T08:00:00Z","id":3})"));
    const auto& last = batches[1].records.back();
    REQUIRE(last.meta.event_time.has_value());
    CHECK(*last.meta.event_time == kT2);
    CHECK(last.find("updated_at")->asTimestamp() == kT2);
    CHECK(nlohmann::json::parse(last.meta.source_position)["ts"] == "2025-03-14T08:00:00.500000Z");

    // An update moves updated_at: the row comes again. A new row with the cursor's timestamp
    // and a higher id comes too.
    db.exec("UPDATE " + table + " SET state = 'DECLINED', updated_at = " + sqlTime(kT3) + " WHERE id = 2");
    insertReport(db, table, 7, kT2);
    batches = drain(*source);
    auto records = flatten(batches);
    CHECK(ids(records) == strings({7, 2}));
    CHECK(column(records, "state") == std::vector<std::string>{"ACCEPTED", "DECLINED"});
    source->close();
  });
}

TEST_CASE("timestamp mode never splits a group of rows sharing one timestamp", "[odbc][modes]") {
  onBothDatabases([](const Backend& b) {
    testing::Database db(b.connection);
    auto table = testing::uniqueName("ts");
    createReports(db, table);
    insertReport(db, table, 1, kT1);
    insertReport(db, table, 2, kT2);
    insertReport(db, table, 3, kT2);
    insertReport(db, table, 4, kT2);
    insertReport(db, table, 5, kT3);
    insertReport(db, table, 6, kT4);
    for (int id = 7; id <= 11; ++id) insertReport(db, table, id, kT5);  // a group larger than a page
    core::ManualClock clock(kNow);
    const std::string body =
        "table: " + table + "\nmode: timestamp\ntimestamp_column: updated_at\nbatch_rows: 3\npoll_interval: 0s\n";
    auto source = testing::makeSource(b.connection, body, &clock);
    REQUIRE(source->open(std::nullopt));
    auto batches = drain(*source);
    // Page 1 = {1, 2, 3} is full and ends inside the kT2 group: trimmed to {1}. Page 2 = {2, 3, 4}
    // is one group filling a page: that whole group is read. Then {5, 6, 7} trimmed to {5, 6};
    // then {7..9} is again one group, read whole: {7..11}.
    REQUIRE(batches.size() == 4);
    CHECK(ids(batches[0].records) == strings({1}));
    auto group = ids(batches[1].records);
    std::sort(group.begin(), group.end());
    CHECK(group == strings({2, 3, 4}));
    CHECK(ids(batches[2].records) == strings({5, 6}));
    CHECK(batches[3].records.size() == 5);
    auto position = nlohmann::json::parse(batches[3].position);
    CHECK(position["ts"] == "2025-03-14T11:00:00Z");
    CHECK_FALSE(position.contains("id"));
    CHECK(nlohmann::json::parse(batches[2].position)["ts"] == "2025-03-14T10:00:00.000001Z");
    source->close();

    // Resuming at the group's timestamp reads only what is after it.
    insertReport(db, table, 12, ts("2025-03-14T12:00:00Z"));
    auto resumed = testing::makeSource(b.connection, body, &clock);
    REQUIRE(resumed->open(batches[3].position));
    CHECK(ids(flatten(drain(*resumed))) == strings({12}));
  });
}

TEST_CASE("a row committed late with an older timestamp is read once the commit lag has passed", "[odbc][lag]") {
  onBothDatabases([](const Backend& b) {
    testing::Database db(b.connection);
    auto table = testing::uniqueName("lag");
    createReports(db, table);
    core::ManualClock clock(kNow);
    insertReport(db, table, 1, core::Timestamp{kNow.micros - 60'000'000});
    insertReport(db, table, 2, core::Timestamp{kNow.micros - 2'000'000});  // inside the 5 s lag window
    auto body = [&](const char* lag) {
      return "table: " + table +
             "\nmode: timestamp+incrementing\ntimestamp_column: updated_at\nincrementing_column: id\n"
             "poll_interval: 0s\ncommit_lag: " +
             lag + "\n";
    };
    auto guarded = testing::makeSource(b.connection, body("5s"), &clock);
    auto unguarded = testing::makeSource(b.connection, body("0s"), &clock);
    REQUIRE(guarded->open(std::nullopt));
    REQUIRE(unguarded->open(std::nullopt));
    CHECK(ids(flatten(drain(*guarded))) == strings({1}));
    CHECK(ids(flatten(drain(*unguarded))) == strings({1, 2}));

    // A transaction that started earlier commits now: its row's timestamp is older than row 2's.
    insertReport(db, table, 3, core::Timestamp{kNow.micros - 3'000'000});
    CHECK(flatten(drain(*guarded)).empty());    // still inside the window: nothing yet
    CHECK(flatten(drain(*unguarded)).empty());  // without the guard, row 3 is behind the cursor: lost

    clock.advance(5'000'000);
    CHECK(ids(flatten(drain(*guarded))) == strings({3, 2}));
    CHECK(flatten(drain(*unguarded)).empty());
  });
}

TEST_CASE("a custom query with its own WHERE clause is read as a subquery", "[odbc][query]") {
  onBothDatabases([](const Backend& b) {
    testing::Database db(b.connection);
    auto table = testing::uniqueName("q");
    createReports(db, table);
    for (int id = 1; id <= 6; ++id) insertReport(db, table, id, kT1, id % 2 == 0 ? "DECLINED" : "ACCEPTED");
    core::ManualClock clock(kNow);
    const std::string body = "query: |\n  SELECT id, report_no, good_qty * 2 AS double_qty, updated_at\n  FROM " +
                             table +
                             "\n  WHERE state = 'ACCEPTED' -- only accepted reports\n"
                             "mode: timestamp+incrementing\ntimestamp_column: updated_at\nincrementing_column: id\n"
                             "batch_rows: 2\npoll_interval: 0s\n";
    auto source = testing::makeSource(b.connection, body, &clock);
    REQUIRE(source->open(std::nullopt));
    auto records = flatten(drain(*source));
    CHECK(ids(records) == strings({1, 3, 5}));
    CHECK(records[0].schema()->names() == std::vector<std::string>{"id", "report_no", "double_qty", "updated_at"});
    // PostgreSQL types the expression NUMERIC; SQLite reports no type, so it arrives as text.
    auto doubled = records[2].find("double_qty")->toDecimal();
    REQUIRE(doubled);
    CHECK(*doubled == *core::Decimal::parse("10.5"));
  });
}

TEST_CASE("a stored cursor that cannot be parsed is Fatal", "[odbc][resume]") {
  auto conn = testing::sqliteConnection(testing::uniqueName("bad"));
  testing::Database db(conn);
  createReports(db, "production_report");
  core::ManualClock clock(kNow);
  auto source = testing::makeSource(conn,
                                    "table: production_report\nmode: timestamp+incrementing\n"
                                    "timestamp_column: updated_at\nincrementing_column: id\n",
                                    &clock);
  for (const char* stored : {"17", R"({"id":5})", R"({"ts":"2025-03-14T08:00:00Z","id":"x"})"}) {
    INFO(stored);
    auto opened = source->open(std::string(stored));
    REQUIRE_FALSE(opened);
    CHECK(opened.error().kind == core::ErrorKind::Fatal);
    CHECK_THAT(opened.error().message, Catch::Contains("stored odbc cursor is unusable"));
  }
}

TEST_CASE("poll_interval: after a short page the next query waits, within poll's max_wait", "[odbc][poll]") {
  auto conn = testing::sqliteConnection(testing::uniqueName("poll"));
  testing::Database db(conn);
  createReports(db, "production_report");
  insertReport(db, "production_report", 1, kT1);
  core::ManualClock clock(kNow);
  auto source = testing::makeSource(conn,
                                    "table: production_report\nmode: incrementing\nincrementing_column: id\n"
                                    "poll_interval: 400ms\n",
                                    &clock);
  REQUIRE(source->open(std::nullopt));
  auto first = source->poll(std::chrono::milliseconds(0));
  REQUIRE(first);
  CHECK(first->records.size() == 1);
  insertReport(db, "production_report", 2, kT1);
  auto start = std::chrono::steady_clock::now();
  auto second = source->poll(std::chrono::milliseconds(0));  // too early: no query, no wait
  REQUIRE(second);
  CHECK(second->records.empty());
  CHECK(second->position.empty());
  auto third = source->poll(std::chrono::milliseconds(2000));  // sleeps until the interval is over
  REQUIRE(third);
  auto waited = std::chrono::steady_clock::now() - start;
  CHECK(ids(third->records) == strings({2}));
  CHECK(waited >= std::chrono::milliseconds(350));
  CHECK(waited < std::chrono::milliseconds(1500));
}

TEST_CASE("SQLite: declared types map to exact values and BLOB is refused by name", "[odbc][types][sqlite]") {
  auto conn = testing::sqliteConnection(testing::uniqueName("types"));
  testing::Database db(conn);
  db.exec(
      "CREATE TABLE report (id INTEGER PRIMARY KEY, qty NUMERIC(12,3), price DECIMAL(10,2), ratio REAL, "
      "name TEXT, code VARCHAR(20), ok BOOLEAN, shift_date DATE, updated_at TIMESTAMP NOT NULL, submitted DATETIME, "
      "anything)");
  db.exec(
      "INSERT INTO report VALUES (1, 1234.567, 12.10, 1.5, '注塑车间 A线', 'MOLD', 1, '2025-03-14', "
      "'2025-03-14 20:00:00.123456', '2025-03-14T19:30:00', 'x')");
  db.exec("INSERT INTO report VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2025-03-14 20:00:01', NULL, NULL)");
  db.exec("INSERT INTO report VALUES (3, '0.001', -5, 2, '', 'x', 0, '2025-03-15', '2025-03-14T20:00:02Z', NULL, 7)");
  core::ManualClock clock(kNow);
  auto source = testing::makeSource(conn,
                                    "table: report\nmode: timestamp+incrementing\ntimestamp_column: updated_at\n"
                                    "incrementing_column: id\ntimestamp_zone: Asia/Shanghai\npoll_interval: 0s\n",
                                    &clock);
  REQUIRE(source->open(std::nullopt));
  auto records = flatten(drain(*source));
  REQUIRE(records.size() == 3);
  const auto& r = records[0];
  CHECK(r.find("id")->type() == core::ValueType::Int);
  CHECK(r.find("qty")->type() == core::ValueType::Decimal);
  CHECK(r.find("qty")->asDecimal() == *core::Decimal::parse("1234.567"));
  CHECK(r.find("price")->type() == core::ValueType::Decimal);
  CHECK(r.find("price")->asDecimal() == *core::Decimal::parse("12.1"));
  CHECK(r.find("ratio")->asDouble() == 1.5);
  CHECK(r.find("name")->asString() == "注塑车间 A线");
  CHECK(r.find("code")->asString() == "MOLD");
  CHECK(r.find("ok")->asBool() == true);
  CHECK(r.find("shift_date")->asDate() == core::dateFromYmd(2025, 3, 14));
  // Wall-clock Shanghai time -> UTC.
  CHECK(r.find("updated_at")->asTimestamp() == ts("2025-03-14T12:00:00.123456Z"));
  CHECK(r.find("submitted")->asTimestamp() == ts("2025-03-14T11:30:00Z"));
  CHECK(r.find("anything")->asString() == "x");
  CHECK(nlohmann::json::parse(r.meta.source_position)["ts_text"] == "2025-03-14 20:00:00.123456");
  for (const char* name : {"qty", "price", "ratio", "name", "code", "ok", "shift_date", "submitted", "anything"}) {
    INFO(name);
    CHECK(records[1].find(name)->isNull());
  }
  CHECK(records[2].find("qty")->asDecimal() == *core::Decimal::parse("0.001"));
  CHECK(records[2].find("ok")->asBool() == false);
  CHECK(records[2].find("name")->asString().empty());
  // An explicit offset in the text wins over timestamp_zone.
  CHECK(records[2].find("updated_at")->asTimestamp() == ts("2025-03-14T20:00:02Z"));

  db.exec("CREATE TABLE blobs (id INTEGER PRIMARY KEY, payload BLOB)");
  auto blobs = testing::makeSource(conn, "table: blobs\nmode: incrementing\nincrementing_column: id\n", &clock);
  auto opened = blobs->open(std::nullopt);
  REQUIRE_FALSE(opened);
  CHECK(opened.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(opened.error().message, Catch::Contains("'payload' (BINARY, BLOB)"));
}

TEST_CASE("SQLite: a value that does not fit its column's declared type is a dead letter, not a silent 0",
          "[odbc][types][sqlite][hostile]") {
  // SQLite stores what a row gives it ('abc' fits an INTEGER column); fetched as numbers, the
  // driver made such values 0, 0.0 and false without a word.
  auto conn = testing::sqliteConnection(testing::uniqueName("typeless"));
  testing::Database db(conn);
  db.exec("CREATE TABLE report (id INTEGER PRIMARY KEY, qty INTEGER, ratio REAL, ok BOOLEAN, note TEXT)");
  db.exec("INSERT INTO report VALUES (1, 9007199254740993, 0.25, 1, 'a')");
  db.exec("INSERT INTO report VALUES (2, 'abc', 0.5, 0, 'b')");
  db.exec("INSERT INTO report VALUES (3, 7, 'fast', 1, 'c')");
  db.exec("INSERT INTO report VALUES (4, 8, 1e-7, 'maybe', 'd')");
  db.exec("INSERT INTO report VALUES (5, 12.5, 2, 'yes', 'e')");
  db.exec("INSERT INTO report VALUES (6, -3, -1.5e300, 'F', NULL)");
  db.exec("INSERT INTO report VALUES (7, '" + std::string(100, '9') + "', 1, 1, 'g')");
  core::ManualClock clock(kNow);
  auto source = testing::makeSource(
      conn, "table: report\nmode: incrementing\nincrementing_column: id\npoll_interval: 0s\n", &clock);
  REQUIRE(source->open(std::nullopt));
  auto read = source->poll(std::chrono::milliseconds(0));
  REQUIRE(read);
  REQUIRE(read->records.size() == 2);
  CHECK(read->records[0].find("qty")->asInt() == 9'007'199'254'740'993);  // exact, beyond a double
  CHECK(read->records[0].find("ratio")->asDouble() == 0.25);
  CHECK(read->records[0].find("ok")->asBool());
  CHECK(read->records[1].find("id")->asInt() == 6);
  CHECK(read->records[1].find("qty")->asInt() == -3);
  CHECK(read->records[1].find("ratio")->asDouble() == -1.5e300);
  CHECK_FALSE(read->records[1].find("ok")->asBool());
  REQUIRE(read->failures.size() >= 4);
  CHECK(read->failures[0].position == R"({"id":2})");
  CHECK_THAT(read->failures[0].reason, Catch::Contains("'qty'") && Catch::Contains("not a 64-bit integer"));
  CHECK_THAT(read->failures[0].reason, !Catch::Contains("abc"));  // the value itself is never cited
  CHECK_THAT(read->failures[1].reason, Catch::Contains("'ratio'") && Catch::Contains("not a number"));
  CHECK_THAT(read->failures[2].reason, Catch::Contains("'ok'") && Catch::Contains("not a boolean"));
  // 12.5 in the INTEGER column: a REAL that SQLite keeps as it is, not an integer either.
  CHECK(read->failures[3].position == R"({"id":5})");
  CHECK_THAT(read->failures[3].reason, Catch::Contains("'qty'"));
  // 100 digits: longer than the cell, and said to be what it is, not "raise max_text_bytes".
  REQUIRE(read->failures.size() == 5);
  CHECK(read->failures[4].position == R"({"id":7})");
  CHECK_THAT(read->failures[4].reason, Catch::Contains("not a 64-bit integer") && !Catch::Contains("max_text_bytes"));
  auto rest = source->poll(std::chrono::milliseconds(0));
  REQUIRE(rest);
  CHECK(rest->records.empty());
}

TEST_CASE("SQLite: timestamps compare as the stored text, whatever its format", "[odbc][sqlite]") {
  // sqliteodbc would bind a timestamp parameter as "....000" text, which is not equal to a stored
  // "2025-03-14 08:00:00": ties would be lost. The cursor keeps the stored text instead.
  auto conn = testing::sqliteConnection(testing::uniqueName("text"));
  testing::Database db(conn);
  db.exec("CREATE TABLE r (id INTEGER PRIMARY KEY, updated_at TIMESTAMP NOT NULL)");
  for (int id = 1; id <= 4; ++id) db.exec(fmt::format("INSERT INTO r VALUES ({}, '2025-03-14 08:00:00')", id));
  for (int id = 5; id <= 7; ++id) db.exec(fmt::format("INSERT INTO r VALUES ({}, '2025-03-14T09:00:00.250')", id));
  core::ManualClock clock(kNow);
  const std::string body =
      "table: r\nmode: timestamp+incrementing\ntimestamp_column: updated_at\nincrementing_column: id\n"
      "batch_rows: 3\npoll_interval: 0s\n";
  auto source = testing::makeSource(conn, body, &clock);
  REQUIRE(source->open(std::nullopt));
  auto batches = drain(*source);
  CHECK(ids(flatten(batches)) == strings({1, 2, 3, 4, 5, 6, 7}));
  CHECK(batches[0].position == R"({"ts":"2025-03-14T08:00:00Z","id":3,"ts_text":"2025-03-14 08:00:00"})");

  // A cursor without ts_text (hand-written) is bound as "YYYY-MM-DD HH:MM:SS".
  auto resumed = testing::makeSource(conn, body, &clock);
  REQUIRE(resumed->open(std::string(R"({"ts":"2025-03-14T08:00:00Z","id":2})")));
  CHECK(ids(flatten(drain(*resumed))) == strings({3, 4, 5, 6, 7}));
}

TEST_CASE("quoted, mixed-case and Chinese identifiers reach the SQL intact", "[odbc][identifiers]") {
  onBothDatabases([](const Backend& b) {
    testing::Database db(b.connection);
    auto table = testing::uniqueName("Report Lines");
    db.exec("CREATE TABLE \"" + table +
            "\" (\"ID\" BIGINT PRIMARY KEY, 更新时间 TIMESTAMP NOT NULL, 报工数量 NUMERIC(12,3))");
    db.exec("INSERT INTO \"" + table + "\" VALUES (1, '2025-03-14 08:00:00', 12.5), (2, '2025-03-14 08:00:00', 7)");
    core::ManualClock clock(kNow);
    auto source = testing::makeSource(b.connection,
                                      "table: '\"" + table +
                                          "\"'\nmode: timestamp+incrementing\ntimestamp_column: 更新时间\n"
                                          "incrementing_column: '\"ID\"'\nbatch_rows: 1\npoll_interval: 0s\n",
                                      &clock);
    REQUIRE(source->open(std::nullopt));
    auto records = flatten(drain(*source));
    REQUIRE(records.size() == 2);
    CHECK(records[0].schema()->names() == std::vector<std::string>{"ID", "更新时间", "报工数量"});
    CHECK(column(records, "ID") == strings({1, 2}));
    CHECK(records[0].find("报工数量")->asDecimal() == *core::Decimal::parse("12.5"));
  });
}

TEST_CASE("SQLite: a locked database is Retryable and the next poll reads on", "[odbc][sqlite]") {
  auto conn = testing::sqliteConnection(testing::uniqueName("locked"));
  testing::Database db(conn);
  db.exec("CREATE TABLE r (id INTEGER PRIMARY KEY)");
  db.exec("INSERT INTO r VALUES (1)");
  core::ManualClock clock(kNow);
  // sqliteodbc waits Timeout milliseconds for a lock (default 100 s).
  auto source = testing::makeSource(
      conn + ";Timeout=200", "table: r\nmode: incrementing\nincrementing_column: id\npoll_interval: 0s\n", &clock);
  REQUIRE(source->open(std::nullopt));
  db.exec("BEGIN EXCLUSIVE");
  auto locked = source->poll(std::chrono::milliseconds(0));
  REQUIRE_FALSE(locked);
  CHECK(locked.error().kind == core::ErrorKind::Retryable);
  CHECK_THAT(locked.error().message, Catch::Contains("database is locked"));
  db.exec("COMMIT");
  auto read = source->poll(std::chrono::milliseconds(0));
  REQUIRE(read);
  CHECK(ids(read->records) == strings({1}));
}

TEST_CASE("SQLite: describe() reports the result columns with the types poll() gives them", "[odbc][describe][sqlite]") {
  auto conn = testing::sqliteConnection(testing::uniqueName("describe"));
  testing::Database db(conn);
  db.exec(
      "CREATE TABLE production_report (id INTEGER PRIMARY KEY, report_no VARCHAR(32) NOT NULL, "
      "good_qty NUMERIC(12,3) NOT NULL, scrap_qty_labor NUMERIC(12,3), labor_minutes INTEGER, shift_date DATE, "
      "ratio DOUBLE, accepted BOOLEAN, updated_at TIMESTAMP NOT NULL)");
  core::ManualClock clock(kNow);
  auto source = testing::makeSource(conn,
                                    "table: production_report\nmode: timestamp+incrementing\n"
                                    "timestamp_column: updated_at\nincrementing_column: id\n",
                                    &clock);
  REQUIRE(source->open(std::nullopt));
  auto described = source->describe();
  if (!described) FAIL(described.error().describe());
  REQUIRE(described->has_value());
  const core::SourceDescription& fields = **described;
  struct Want {
    const char* name;
    core::ValueType type;
    bool nullable;
  };
  // sqliteodbc answers SQL_NULLABLE for every column of a query, NOT NULL or not: a driver that
  // cannot promise a value gets a nullable field (the mapping must handle the null).
  const std::vector<Want> want = {
      {"id", core::ValueType::Int, true},
      {"report_no", core::ValueType::String, true},
      {"good_qty", core::ValueType::Decimal, true},
      {"scrap_qty_labor", core::ValueType::Decimal, true},
      {"labor_minutes", core::ValueType::Int, true},
      {"shift_date", core::ValueType::Date, true},
      {"ratio", core::ValueType::Double, true},
      {"accepted", core::ValueType::Bool, true},
      {"updated_at", core::ValueType::Timestamp, true},
  };
  REQUIRE(fields.size() == want.size());
  for (size_t i = 0; i < want.size(); ++i) {
    INFO(want[i].name);
    CHECK(fields[i].name == want[i].name);
    CHECK(core::toString(fields[i].type) == core::toString(want[i].type));
    CHECK(fields[i].nullable == want[i].nullable);
  }

  // What describe() promised is what poll() delivers.
  db.exec("INSERT INTO production_report VALUES (1, 'PR1', 12.5, NULL, 30, '2025-03-14', 0.5, 1, "
          "'2025-03-14 08:00:00')");
  auto records = flatten(drain(*source));
  REQUIRE(records.size() == 1);
  for (const auto& field : fields) {
    INFO(field.name);
    const core::Value* value = records[0].find(field.name);
    REQUIRE(value != nullptr);
    if (!value->isNull()) CHECK(core::toString(value->type()) == core::toString(field.type));
  }
}
