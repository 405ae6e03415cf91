// The database-independent parts of the odbc source: identifiers, generated SQL per dialect,
// cursors, timestamp text and zone conversion, and the config cross-checks.

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "connectors/odbc/odbc_cursor.h"
#include "connectors/odbc/odbc_dialect.h"
#include "tests/connectors/odbc/odbc_test_util.h"

using namespace dutybridge;
using namespace dutybridge::odbc;

TEST_CASE("identifiers: bare, quoted and qualified names pass, anything else is rejected", "[odbc][unit]") {
  auto pg = detectDialect("PostgreSQL", "\"");
  auto mysql = detectDialect("MySQL", "`");
  auto id = parseIdentifier("mes.production_report");
  REQUIRE(id);
  CHECK(id->render(pg) == "mes.production_report");
  id = parseIdentifier("\"Report Lines\".updated_at");
  REQUIRE(id);
  CHECK(id->render(pg) == "\"Report Lines\".updated_at");
  CHECK(id->render(mysql) == "`Report Lines`.updated_at");
  id = parseIdentifier("[dbo].[报工单]");
  REQUIRE(id);
  CHECK(id->render(pg) == "\"dbo\".\"报工单\"");
  id = parseIdentifier("报工时间");
  REQUIRE(id);
  CHECK(id->render(pg) == "报工时间");

  for (const char* bad : {"", "a;drop table x", "a b", "1abc", "a.", ".a", "\"a\"\"b\"", "\"unterminated", "a--", "a'b",
                          "x)", "\"\"", "a.b.c.d.e"}) {
    INFO(bad);
    auto parsed = parseIdentifier(bad);
    REQUIRE_FALSE(parsed);
    CHECK(parsed.error().kind == core::ErrorKind::InvalidConfig);
  }

  id = parseIdentifier("UpdatedAt");
  REQUIRE(id);
  CHECK(id->matchesColumn("updatedat", false));
  CHECK_FALSE(id->matchesColumn("updatedat", true));
  id = parseIdentifier("\"UpdatedAt\"");
  REQUIRE(id);
  CHECK_FALSE(id->matchesColumn("updatedat", false));
  CHECK(id->matchesColumn("UpdatedAt", false));
}

TEST_CASE("dialects come from SQL_DBMS_NAME", "[odbc][unit]") {
  CHECK(detectDialect("PostgreSQL", "\"").kind == DialectKind::PostgreSQL);
  CHECK(detectDialect("PostgreSQL", "\"").set_time_zone);
  CHECK(detectDialect("SQLite", "\"").text_timestamps);
  CHECK(detectDialect("MySQL", "`").limit_keyword);
  CHECK(detectDialect("MariaDB", "`").quote_open == "`");
  CHECK(detectDialect("Microsoft SQL Server", "\"").kind == DialectKind::SqlServer);
  CHECK_FALSE(detectDialect("Microsoft SQL Server", "\"").limit_keyword);
  CHECK(detectDialect("Oracle", "\"").kind == DialectKind::Other);
  CHECK(detectDialect("Informix", " ").quote_open == "\"");
}

TEST_CASE("keyset queries per mode, kind and dialect", "[odbc][unit]") {
  auto pg = detectDialect("PostgreSQL", "\"");
  auto sqlite = detectDialect("SQLite", "\"");
  auto mssql = detectDialect("Microsoft SQL Server", "\"");
  QueryShape shape;
  shape.table = *parseIdentifier("production_report");
  shape.timestamp_column = *parseIdentifier("updated_at");
  shape.incrementing_column = *parseIdentifier("id");
  shape.limit = 500;

  shape.mode = Mode::TimestampIncrementing;
  auto q = buildQuery(shape, pg, QueryKind::Next);
  CHECK(
      q.sql ==
      "SELECT * FROM production_report WHERE updated_at >= ? AND (updated_at > ? OR id > ?) AND updated_at < ? AND id "
      "IS NOT NULL ORDER BY updated_at, id LIMIT 500");
  CHECK(q.params ==
        std::vector<Param>{Param::CursorTimestamp, Param::CursorTimestamp, Param::CursorId, Param::UpperTimestamp});
  q = buildQuery(shape, pg, QueryKind::First);
  CHECK(q.sql ==
        "SELECT * FROM production_report WHERE updated_at < ? AND id IS NOT NULL ORDER BY updated_at, id LIMIT 500");
  CHECK(q.params == std::vector<Param>{Param::UpperTimestamp});
  // SQLite: no lag bound in SQL (text comparison); the source applies it to parsed values.
  q = buildQuery(shape, sqlite, QueryKind::Next);
  CHECK(q.sql ==
        "SELECT * FROM production_report WHERE updated_at >= ? AND (updated_at > ? OR id > ?) AND id IS NOT NULL "
        "ORDER BY updated_at, id LIMIT 500");
  q = buildQuery(shape, sqlite, QueryKind::First);
  CHECK(q.sql ==
        "SELECT * FROM production_report WHERE updated_at IS NOT NULL AND id IS NOT NULL ORDER BY updated_at, id LIMIT "
        "500");
  q = buildQuery(shape, mssql, QueryKind::Next);
  CHECK_THAT(q.sql, Catch::EndsWith("ORDER BY updated_at, id OFFSET 0 ROWS FETCH NEXT 500 ROWS ONLY"));

  shape.mode = Mode::Timestamp;
  q = buildQuery(shape, pg, QueryKind::Next);
  CHECK(q.sql ==
        "SELECT * FROM production_report WHERE updated_at > ? AND updated_at < ? ORDER BY updated_at LIMIT 500");
  q = buildQuery(shape, pg, QueryKind::TimestampGroup);
  CHECK(q.sql == "SELECT * FROM production_report WHERE updated_at = ?");
  CHECK(q.params == std::vector<Param>{Param::CursorTimestamp});

  shape.mode = Mode::Incrementing;
  q = buildQuery(shape, pg, QueryKind::First);
  CHECK(q.sql == "SELECT * FROM production_report WHERE id > ? ORDER BY id LIMIT 500");
  CHECK(q.params == std::vector<Param>{Param::CursorId});

  shape.table.reset();
  shape.query =
      "SELECT r.*, w.workshop_name FROM production_report r JOIN workshop w USING (workshop_code) "
      "WHERE r.state = 'ACCEPTED' -- only accepted";
  q = buildQuery(shape, mssql, QueryKind::Next);
  CHECK(q.sql ==
        "SELECT * FROM (" + shape.query + "\n) q WHERE id > ? ORDER BY id OFFSET 0 ROWS FETCH NEXT 500 ROWS ONLY");
}

TEST_CASE("cursors are JSON that nlohmann reads back and malformed ones are Fatal", "[odbc][unit]") {
  Cursor c;
  c.ts = testing::ts("2025-03-14T12:00:00.123456Z");
  c.id = 123;
  CHECK(encodeCursor(c) == R"({"ts":"2025-03-14T12:00:00.123456Z","id":123})");
  c.ts_text = "2025-03-14 20:00:00.123456\"\\\x01";
  auto json = nlohmann::json::parse(encodeCursor(c));
  CHECK(json["ts_text"] == c.ts_text);
  auto back = decodeCursor(encodeCursor(c), Mode::TimestampIncrementing);
  REQUIRE(back);
  CHECK(back->ts == c.ts);
  CHECK(back->id == c.id);
  CHECK(back->ts_text == c.ts_text);

  c = Cursor{};
  c.id = INT64_MIN;
  CHECK(nlohmann::json::parse(encodeCursor(c))["id"].get<int64_t>() == INT64_MIN);
  c.id = INT64_MAX;
  CHECK(decodeCursor(encodeCursor(c), Mode::Incrementing)->id == INT64_MAX);

  // Same text as core::formatTimestamp, for instants before and after the epoch.
  for (int64_t micros : {int64_t{0}, int64_t{-1}, int64_t{1'741'953'600'000'000}, int64_t{-86'400'000'001},
                         int64_t{253'402'300'799'999'999}, int64_t{951'782'400'000'000}}) {
    std::string mine;
    appendTimestamp(mine, core::Timestamp{micros});
    CHECK(mine == core::formatTimestamp(core::Timestamp{micros}));
  }

  for (const char* bad : {"", "42", "[]", "{", R"({"id":"7"})", R"({"id":1.5})", R"({"ts":"yesterday","id":1})",
                          R"({"ts":"2025-03-14T12:00:00Z"})", R"({"id":18446744073709551615})"}) {
    INFO(bad);
    auto decoded = decodeCursor(bad, Mode::TimestampIncrementing);
    REQUIRE_FALSE(decoded);
    CHECK(decoded.error().kind == core::ErrorKind::Fatal);
    CHECK_THAT(decoded.error().message, Catch::Contains("stored odbc cursor"));
  }
  CHECK_FALSE(decodeCursor(R"({"id":5})", Mode::Timestamp));
  CHECK(decodeCursor(R"({"ts":"2025-03-14T12:00:00Z"})", Mode::Timestamp));
}

TEST_CASE("timestamp text as databases print it", "[odbc][unit]") {
  auto local = [](const char* text) {
    auto p = parseTimestampText(text);
    REQUIRE(p);
    CHECK_FALSE(p->has_offset);
    return core::Timestamp{p->micros};
  };
  CHECK(local("2025-03-14 12:00:00") == testing::ts("2025-03-14T12:00:00Z"));
  CHECK(local("2025-03-14T12:00:00.5") == testing::ts("2025-03-14T12:00:00.5Z"));
  CHECK(local("2025-03-14 12:00:00.123456789") == testing::ts("2025-03-14T12:00:00.123456Z"));
  CHECK(local("2025-03-14 12:00") == testing::ts("2025-03-14T12:00:00Z"));
  CHECK(local("2025-03-14") == testing::ts("2025-03-14T00:00:00Z"));
  CHECK(local("2024-02-29 23:59:59") == testing::ts("2024-02-29T23:59:59Z"));
  auto offset = parseTimestampText("2025-03-14 20:00:00+08");
  REQUIRE(offset);
  CHECK(offset->has_offset);
  CHECK(offset->micros == testing::ts("2025-03-14T12:00:00Z").micros);
  CHECK(parseTimestampText("2025-03-14T20:00:00.25+0800")->micros == testing::ts("2025-03-14T12:00:00.25Z").micros);
  CHECK(parseTimestampText("2025-03-14T04:00:00-08:00")->micros == testing::ts("2025-03-14T12:00:00Z").micros);
  CHECK(parseTimestampText("2025-03-14T12:00:00Z")->has_offset);
  for (const char* bad : {"", "1741953600", "2025-02-29", "2025-13-01 00:00:00", "2025-03-14 24:00:00",
                          "2025-03-14 12:00:00.", "2025-03-14 12:00:00 ", "2025/03/14", "2025-03-14 12"}) {
    INFO(bad);
    CHECK_FALSE(parseTimestampText(bad));
  }
  CHECK(formatLocalText(testing::ts("2025-03-14T12:00:00Z").micros) == "2025-03-14 12:00:00");
  CHECK(formatLocalText(testing::ts("2025-03-14T12:00:00.0005Z").micros) == "2025-03-14 12:00:00.000500");
}

TEST_CASE("the zone converter's hour cache agrees with core::localToUtc, DST included", "[odbc][unit]") {
  for (const char* zone : {"America/New_York", "Australia/Lord_Howe", "Asia/Shanghai", "Europe/Berlin", "UTC"}) {
    INFO(zone);
    ZoneConverter converter(zone);
    // Two days around each 2025 transition, every 7 minutes 13.5 seconds, twice (cold and warm cache).
    for (const char* day : {"2025-03-08T00:00:00Z", "2025-11-01T00:00:00Z", "2025-04-05T00:00:00Z",
                            "2025-10-04T00:00:00Z", "2025-03-29T00:00:00Z", "2025-10-25T00:00:00Z"}) {
      int64_t start = testing::ts(day).micros;
      for (int pass = 0; pass < 2; ++pass) {
        for (int64_t t = start; t < start + 3 * 86'400'000'000; t += 433'500'000) {
          auto expected = core::localToUtc(t, zone);
          auto got = converter.toUtc(t);
          REQUIRE(expected);
          REQUIRE(got);
          REQUIRE(got->micros == expected->micros);
        }
      }
    }
  }
}

TEST_CASE("config: the schema's cross-checks", "[odbc][unit]") {
  const std::string conn = "Driver=SQLite3;Database=/nonexistent/x.db";
  auto problems = [&](const std::string& body) { return testing::validate(conn, body).diagnostics; };
  CHECK(problems("table: t\nmode: incrementing\nincrementing_column: id\n").empty());
  CHECK(problems("query: SELECT * FROM t WHERE a = 1;\nmode: timestamp\ntimestamp_column: ts\n").empty());
  CHECK_THAT(problems("table: t\nquery: SELECT 1\nmode: incrementing\nincrementing_column: id\n"),
             Catch::Contains("set either 'table' or 'query', not both"));
  CHECK_THAT(problems("mode: incrementing\nincrementing_column: id\n"),
             Catch::Contains("set 'table' (a table or view to read) or 'query'"));
  CHECK_THAT(problems("table: t\nmode: timestamp+incrementing\ntimestamp_column: ts\n"),
             Catch::Contains("mode 'timestamp+incrementing' needs 'incrementing_column'"));
  CHECK_THAT(problems("table: t\nmode: timestamp\ntimestamp_column: ts\nincrementing_column: id\n"),
             Catch::Contains("'incrementing_column' is not used by mode 'timestamp'"));
  CHECK_THAT(problems("table: t;drop table x\nmode: incrementing\nincrementing_column: id\n"),
             Catch::Contains("not a valid identifier"));
  CHECK_THAT(problems("table: t\nmode: incrementing\nincrementing_column: \"id) OR (1=1\"\n"),
             Catch::Contains("not a valid identifier"));
  CHECK_THAT(problems("query: SELECT * FROM t\nmode: incrementing\nincrementing_column: t.id\n"),
             Catch::Contains("without a table prefix"));
  CHECK_THAT(problems("table: t\nmode: incrementing\nincrementing_column: id\ntimestamp_zone: Mars/Olympus\n"),
             Catch::Contains("unknown time zone 'Mars/Olympus'"));
  CHECK_THAT(problems("table: t\nmode: sometimes\n"), Catch::Contains("must be one of"));
  CHECK_THAT(problems("table: t\nmode: incrementing\nincrementing_column: id\nbatch_rows: 0\n"),
             Catch::Contains("batch_rows"));

  // The connection string is sensitive: the validated entry is marked secret.
  auto validated = testing::validate("Driver=SQLite3;Database=/x.db;Pwd=hunter2",
                                     "table: t\nmode: incrementing\nincrementing_column: id\n");
  REQUIRE(validated.config.find("connection") != nullptr);
  CHECK(validated.config.find("connection")->secret);

  // Defaults.
  CHECK(validated.config.getInt("batch_rows") == 1000);
  CHECK(validated.config.getDuration("commit_lag") == std::chrono::seconds(5));
  CHECK(validated.config.getDuration("poll_interval") == std::chrono::seconds(1));
  CHECK(validated.config.getString("timestamp_zone") == "UTC");
  CHECK(validated.config.getSize("max_text_bytes") == 8192);
}
