// Effective-dated reference tables: validity boundaries, overlap errors located at their CSV
// row, lookup(..., at: ts) in expressions, and refresh with an atomic swap.

#include "src/expr/reference_table.h"

#include <fmt/format.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "src/core/registry.h"
#include "src/mapping/mapping.h"
#include "tests/expr/expr_harness.h"
#include "tests/support/files.h"

using namespace dutybridge;
using namespace dutybridge::mapping;
using namespace dutybridge::expr;
using core::Value;

namespace {

int64_t at(std::string_view text) {
  if (text.size() == 10) return core::parseDate(text)->days * int64_t{86'400'000'000};
  return core::parseTimestamp(text)->micros;
}

TableRow row(std::string key, std::string value, std::string from, std::string to, int line = 0) {
  TableRow r;
  r.key = std::move(key);
  r.value = Value(std::move(value));
  r.valid_from = std::move(from);
  r.valid_to = std::move(to);
  r.where = r.validity_where = core::SourceLocation{"badges.csv", line, 1, ""};
  return r;
}

std::shared_ptr<const ReferenceTable> badges() {
  std::vector<TableRow> rows;
  rows.push_back(row("B000123", "E10023", "2025-01-01", "2025-03-15", 2));
  rows.push_back(row("B000123", "E10031", "2025-03-15", "", 3));
  rows.push_back(row("B000124", "E10024", "", "", 4));
  rows.push_back(row("B000125", "E10025", "2025-03-01T06:00:00+08:00", "2025-04-01", 5));
  auto built = ReferenceTable::build(std::move(rows), true);
  REQUIRE(built);
  return *built;
}

std::string text(const Value* v) { return v ? v->asString() : "(none)"; }

using dutybridge::testing::TempDir;

}  // namespace

TEST_CASE("effective-dated table boundaries", "[mapping][tables]") {
  auto table = badges();
  CHECK(table->dated());
  // valid_from is inclusive, valid_to exclusive: the reassignment day belongs to the new owner.
  CHECK(text(table->find("B000123", at("2025-03-14T23:59:59.999999Z"))) == "E10023");
  CHECK(text(table->find("B000123", at("2025-03-15"))) == "E10031");
  CHECK(text(table->find("B000123", at("2025-01-01"))) == "E10023");
  CHECK(text(table->find("B000123", at("2024-12-31T23:59:59Z"))) == "(none)");
  // Open-ended on both sides.
  CHECK(text(table->find("B000123", at("2099-01-01"))) == "E10031");
  CHECK(text(table->find("B000124", at("1970-01-01"))) == "E10024");
  CHECK(text(table->find("B000124", at("2400-01-01"))) == "E10024");
  // Timestamp bounds keep their offset.
  CHECK(text(table->find("B000125", at("2025-02-28T21:59:59Z"))) == "(none)");
  CHECK(text(table->find("B000125", at("2025-02-28T22:00:00Z"))) == "E10025");
  CHECK(text(table->find("B999999", at("2025-03-15"))) == "(none)");
  // Undated lookups do not guess on a dated table.
  CHECK(table->find("B000124") == nullptr);
}

TEST_CASE("date bounds follow the table's time zone", "[mapping][tables]") {
  std::vector<TableRow> rows;
  rows.push_back(row("T1", "E1", "2025-03-15", "", 2));
  auto table = ReferenceTable::build(std::move(rows), true, "Asia/Shanghai");
  REQUIRE(table);
  // 2025-03-15 00:00 in Shanghai is 2025-03-14T16:00Z.
  CHECK(text((*table)->find("T1", at("2025-03-14T15:59:59Z"))) == "(none)");
  CHECK(text((*table)->find("T1", at("2025-03-14T16:00:00Z"))) == "E1");
  CHECK((*table)->dayStart(*core::parseDate("2025-03-15")) == at("2025-03-14T16:00:00Z"));
}

TEST_CASE("overlapping or empty validity ranges are located errors", "[mapping][tables]") {
  std::vector<TableRow> rows;
  rows.push_back(row("B1", "E1", "2025-01-01", "2025-03-16", 2));
  rows.push_back(row("B2", "E2", "2025-01-01", "", 3));
  rows.push_back(row("B1", "E3", "2025-03-15", "", 4));
  rows.push_back(row("B3", "E4", "2025-03-15", "2025-03-15", 5));
  rows.push_back(row("B4", "E5", "15.03.2025", "", 6));
  auto built = ReferenceTable::build(std::move(rows), true);
  REQUIRE_FALSE(built);
  REQUIRE(built.error().size() == 3);
  std::vector<std::string> messages;
  for (const auto& p : built.error()) {
    messages.push_back(fmt::format("{}:{}: {}", p.where.file, p.where.line, p.message));
    // Keys and values are personal data: never in messages.
    CHECK(p.message.find("B1") == std::string::npos);
    CHECK(p.message.find("E1") == std::string::npos);
  }
  CHECK_THAT(messages[0], Catch::Equals("badges.csv:5: valid_from is not before valid_to"));
  CHECK_THAT(messages[1], Catch::StartsWith("badges.csv:6: a validity bound is neither a date"));
  CHECK_THAT(messages[2], Catch::Equals("badges.csv:4: validity overlaps the row at badges.csv:2:1 for the same key"));

  std::vector<TableRow> undated;
  undated.push_back(row("K", "1", "", "", 2));
  undated.push_back(row("K", "2", "", "", 3));
  auto duplicate = ReferenceTable::build(std::move(undated), false);
  REQUIRE_FALSE(duplicate);
  CHECK_THAT(duplicate.error().front().message, Catch::Contains("duplicate key (first at badges.csv:2:1)"));
}

TEST_CASE("lookup with at: in expressions", "[mapping][tables]") {
  expr::testing::Harness h;
  h.env.tables["badge_employee"] = std::make_shared<TableHandle>("badge_employee", badges());
  h.env.tables["workcenters"] = makeStaticTable("workcenters", {{"WC-10", Value("Moulding")}});
  h.field("badge", "string", Value("B000123"));
  h.field("shift_date", "date", Value(*core::parseDate("2025-03-14")));
  h.field("reported_at", "timestamp", Value(*core::parseTimestamp("2025-03-15T00:00:00Z")));
  h.field("missing_at", "timestamp?", Value());
  h.field("note", "string", Value("x"));
  CHECK(h.value(R"(lookup("badge_employee", badge, at: shift_date))").asString() == "E10023");
  CHECK(h.value(R"(lookup("badge_employee", badge, at: shift_date + days(1)))").asString() == "E10031");
  CHECK(h.value(R"(lookup("badge_employee", badge, at: reported_at))").asString() == "E10031");
  CHECK(h.value(R"(lookup("badge_employee", "B000123", at: @2025-03-15T00:00:00Z - seconds(1)))").asString() ==
        "E10023");
  CHECK(h.value(R"(lookup("badge_employee", "B404", at: reported_at))").isNull());
  CHECK(h.value(R"(lookup("badge_employee", badge, at: missing_at))").isNull());
  CHECK(h.type(R"(lookup("badge_employee", badge, at: shift_date))") == Type{Type::Kind::String, true});
  // `at` on an undated table is allowed and ignored.
  CHECK(h.value(R"(lookup("workcenters", "WC-10", at: shift_date))").asString() == "Moulding");

  auto missing = h.errors(R"(lookup("badge_employee", badge))");
  CHECK_THAT(missing, Catch::Contains("lookup table 'badge_employee' is effective-dated"));
  CHECK_THAT(missing, Catch::Contains("hint: say when: lookup(\"badge_employee\", key, at: event_time)"));
  CHECK_THAT(h.errors(R"(lookup("badge_employee", badge, at: note))"),
             Catch::Contains("'at' of lookup must be a timestamp or a date, not string"));
  CHECK_THAT(h.errors(R"(lookup("badge_employee", badge, when: shift_date))"),
             Catch::Contains("lookup has no parameter 'when'"));
  CHECK_THAT(h.errors(R"(lookup("badge_employee", badge, at: shift_date, at: shift_date))"),
             Catch::Contains("parameter 'at' is given twice"));
  CHECK_THAT(h.errors(R"(lookup("badge_employee", at: shift_date, badge))"),
             Catch::Contains("a positional argument cannot follow a named one"));
  CHECK_THAT(h.errors(R"(upper(s: note))"), Catch::Contains("upper has no parameter 's'"));
  CHECK_THAT(h.errors(R"(lookup("badge_employee", at: shift_date))"), Catch::Contains("lookup takes 2 to 3 arguments, not 1"));
  CHECK_THAT(h.errors(R"(lookup("badge_employee", badge, shift_date, at: shift_date))"),
             Catch::Contains("lookup is given 'at' twice"));
  // The positional form, for unquoted YAML values.
  CHECK(h.value(R"(lookup("badge_employee", badge, shift_date))").asString() == "E10023");
  // The conditional's ':' still parses inside arguments.
  CHECK(h.value(R"(lookup("workcenters", true ? "WC-10" : "x", at: shift_date))").asString() == "Moulding");
}

TEST_CASE("CSV tables in mapping files: columns, validity, located overlap", "[mapping][tables]") {
  TempDir dir("tables");
  dir.write("badges.csv",
            "badge,employee_no,valid_from,valid_to\n"
            "B000123,E10023,2025-01-01,2025-03-15\n"
            "B000123,E10031,2025-03-15,\n"
            "B000124,E10024,,\n");
  dir.write("mapping.yaml", R"(name: t
input: {badge: string, day: date}
tables:
  badge_employee:
    csv: badges.csv
    key: badge
    value: employee_no
    valid_from: valid_from
    valid_to: valid_to
  inline_dated:
    rows:
      - {key: B1, value: E1, valid_from: 2025-01-01, valid_to: 2025-03-15}
      - {key: B1, value: E2, valid_from: 2025-03-15}
emit:
  - fields:
      employee_no: 'lookup("badge_employee", badge, at: day)'
      inline: lookup("inline_dated", "B1", day)
)");
  auto loaded = loadMapping(dir.path() / "mapping.yaml");
  INFO((loaded ? std::string() : loaded.error().format()));
  REQUIRE(loaded);
  auto run = [&](const char* day) {
    core::Record input = recordFromMap(Value(core::ValueMap{{"badge", Value("B000123")}, {"day", Value(day)}}));
    core::ManualClock clock(core::Timestamp{0});
    auto out = (*loaded)->apply(input, (*loaded)->bind(input.schema()), clock);
    REQUIRE(out);
    return (*out)[0].record.find("employee_no")->asString() + "/" + (*out)[0].record.find("inline")->asString();
  };
  CHECK(run("2025-03-14") == "E10023/E1");
  CHECK(run("2025-03-15") == "E10031/E2");

  dir.write("badges.csv",
            "badge,employee_no,valid_from,valid_to\n"
            "B000123,E10023,2025-01-01,2025-03-16\n"
            "B000123,E10031,2025-03-15,\n");
  auto overlap = loadMapping(dir.path() / "mapping.yaml");
  REQUIRE_FALSE(overlap);
  std::string report = overlap.error().format();
  std::string csv = (dir.path() / "badges.csv").string();
  CHECK_THAT(report, Catch::Contains(csv + ":3:16: error: validity overlaps the row at " + csv + ":2:1 for the same key"));
  // Cited by line and column only: the row holds a badge and an employee number.
  CHECK_THAT(report, !Catch::Contains("B000123"));
  CHECK_THAT(report, !Catch::Contains("E10031"));
  CHECK(overlap.error().size() == 1);

  dir.write("badges.csv", "badge,employee\nB1,E1\n");
  auto columns = loadMapping(dir.path() / "mapping.yaml");
  REQUIRE_FALSE(columns);
  CHECK_THAT(columns.error().format(), Catch::Contains("no column 'employee_no' (value) in the table source"));
  CHECK_THAT(columns.error().format(), Catch::Contains("hint: columns: badge, employee"));
}

TEST_CASE("CSV is read by RFC 4180: quoted fields, a BOM, and located errors that quote no value",
          "[mapping][tables][hostile]") {
  TempDir dir("tables");
  auto load = [&](const std::string& content) {
    dir.write("t.csv", content);
    return CsvTableLoader(dir.path() / "t.csv").load();
  };
  std::string file = (dir.path() / "t.csv").string();

  // A BOM before the header, a quoted field with a comma, a line break and a doubled quote, CRLF.
  auto good = load("\xEF\xBB\xBFkey,value\r\nK1,\"a, \"\"b\"\"\nc\"\r\nK2,plain\r\n");
  REQUIRE(good);
  REQUIRE(good->columns == std::vector<std::string>{"key", "value"});
  REQUIRE(good->rows.size() == 2);
  CHECK(*good->rows[0].cells[1] == "a, \"b\"\nc");
  CHECK(good->rows[1].where.line == 4);  // the quoted line break counts
  CHECK(*good->rows[1].cells[1] == "plain");

  auto unbalanced = load("key,value\nK1,\"E10023,E10024\nK2,E1\n");
  REQUIRE_FALSE(unbalanced);
  CHECK(unbalanced.error().message == file + ":2:4: unbalanced quote: the quoted field opened here never closes");

  auto short_row = load("key,value\nK1\n");
  REQUIRE_FALSE(short_row);
  CHECK(short_row.error().message == file + ":2:1: the row has 1 field(s), the header has 2");
  auto long_row = load("key,value\nK1,E1,E2\n");
  REQUIRE_FALSE(long_row);
  CHECK(long_row.error().message == file + ":2:1: the row has 3 field(s), the header has 2");

  auto bad_utf8 = load("key,value\nK1,E\xff" "1\n");
  REQUIRE_FALSE(bad_utf8);
  CHECK(bad_utf8.error().message == file + ":2:5: invalid UTF-8 (byte 0xff)");

  auto stray_quote = load("key,value\nK1,E\"1\n");
  REQUIRE_FALSE(stray_quote);
  CHECK_THAT(stray_quote.error().message, Catch::StartsWith(file + ":2:5: a quote inside an unquoted field"));
  auto after_quote = load("key,value\nK1,\"E1\"x\n");
  REQUIRE_FALSE(after_quote);
  CHECK_THAT(after_quote.error().message, Catch::StartsWith(file + ":2:8: text after the closing quote of a field"));
  for (const auto* error : {&unbalanced, &short_row, &long_row, &bad_utf8, &stray_quote, &after_quote}) {
    CHECK_THAT((*error).error().message, !Catch::Contains("E1"));
  }

  auto missing = CsvTableLoader(dir.path() / "absent.csv").load();
  REQUIRE_FALSE(missing);
  CHECK(missing.error().kind == core::ErrorKind::InvalidConfig);  // a start-up error, not retried forever
}

TEST_CASE("refresh swaps the table atomically and keeps it on failure", "[mapping][tables]") {
  TempDir dir("tables");
  dir.write("badges.csv", "badge,employee_no,valid_from,valid_to\nB1,E1,2025-01-01,\n");
  dir.write("mapping.yaml", R"(name: t
input: {badge: string, day: date}
tables:
  badge_employee:
    csv: badges.csv
    key: badge
    value: employee_no
    valid_from: valid_from
    valid_to: valid_to
    refresh: 10m
emit:
  - fields:
      employee_no: >-
        lookup("badge_employee", badge, at: day)
)");
  auto loaded = loadMapping(dir.path() / "mapping.yaml");
  INFO((loaded ? std::string() : loaded.error().format()));
  REQUIRE(loaded);
  const Mapping& mapping = **loaded;
  REQUIRE(mapping.table_refreshers.size() == 1);
  TableRefresher& refresher = *mapping.table_refreshers[0];
  core::Record input = recordFromMap(Value(core::ValueMap{{"badge", Value("B1")}, {"day", Value("2025-03-20")}}));
  auto binding = mapping.bind(input.schema());
  core::ManualClock clock(core::Timestamp{0});
  auto employee = [&] {
    auto out = mapping.apply(input, binding, clock);
    REQUIRE(out);
    const Value* v = (*out)[0].record.find("employee_no");
    return v->isNull() ? std::string("null") : v->asString();
  };
  CHECK(employee() == "E1");
  CHECK(refresher.generation() == 0);

  // The badge is reassigned in the file; nothing changes until the interval has passed.
  dir.write("badges.csv", "badge,employee_no,valid_from,valid_to\nB1,E1,2025-01-01,2025-03-15\nB1,E2,2025-03-15,\n");
  core::Timestamp t0{1'741'939'200'000'000};
  CHECK_FALSE(refresher.maybeRefresh(t0));  // starts the clock
  CHECK_FALSE(refresher.maybeRefresh(core::Timestamp{t0.micros + 599'000'000}));
  CHECK(employee() == "E1");
  CHECK(refresher.maybeRefresh(core::Timestamp{t0.micros + 600'000'000}));
  CHECK(refresher.generation() == 1);
  CHECK(employee() == "E2");

  // A broken file (overlap) keeps the old table and the generation.
  dir.write("badges.csv", "badge,employee_no,valid_from,valid_to\nB1,E3,2025-01-01,\nB1,E4,2025-02-01,\n");
  auto status = refresher.refreshNow();
  REQUIRE_FALSE(status);
  CHECK_THAT(status.error().message, Catch::Contains("badges.csv:3:"));
  CHECK(status.error().message.find("E3") == std::string::npos);
  CHECK_FALSE(refresher.maybeRefresh(core::Timestamp{t0.micros + 1'200'000'000}));
  CHECK(refresher.generation() == 1);
  CHECK(employee() == "E2");

  // A missing file too.
  std::filesystem::remove(dir.path() / "badges.csv");
  CHECK_FALSE(refresher.refreshNow());
  CHECK(employee() == "E2");
}

TEST_CASE("a table handle survives swaps while readers hold the old version", "[mapping][tables]") {
  auto handle = makeStaticTable("t", {{"k", Value("old")}});
  auto held = handle->current();
  handle->swap(makeStaticTable("t", {{"k", Value("new")}})->current());
  CHECK(handle->generation() == 1);
  CHECK(held->find("k")->asString() == "old");
  CHECK(handle->current()->find("k")->asString() == "new");
}

TEST_CASE("table sources and keys are checked at load", "[mapping][tables]") {
  TempDir dir("tables");
  dir.write("mapping.yaml", R"(name: t
input: {badge: string}
tables:
  a:
    odbc: {connection: "DSN=x", query: "SELECT 1"}
  b:
    rows: {X: "1"}
    refresh: 5m
  c:
    csv: x.csv
    rows: {X: "1"}
  d:
    csv: x.csv
    refresh: soon
emit:
  - fields: {x: badge}
)");
  auto loaded = loadMapping(dir.path() / "mapping.yaml");
  REQUIRE_FALSE(loaded);
  std::string report = loaded.error().format();
  CHECK_THAT(report, Catch::Contains("no loader for 'odbc' table sources here"));
  CHECK_THAT(report, Catch::Contains("inline rows cannot be refreshed"));
  CHECK_THAT(report, Catch::Contains("table 'c' has several sources (rows, csv); keep one"));
  CHECK_THAT(report, Catch::Contains("'refresh' must be a duration like 250ms, 5s, 2m or 1h, found 'soon'"));

  // A registered table source is used with its validated settings, secrets resolved.
  struct Fixed final : TableLoader {
    core::Result<RawTable> load() override {
      RawTable raw;
      raw.columns = {"k", "v"};
      raw.rows.push_back({{std::string("X"), std::string("Y")}, {}, {}});
      return raw;
    }
    std::string describe() const override { return "fixed"; }
  };
  struct FixedSource final : core::TableSourceFactory {
    mutable std::string query;
    mutable std::string connection;
    std::string_view name() const override { return "odbc"; }
    std::string_view description() const override { return "fixed rows"; }
    const core::ConfigSchema& configSchema() const override {
      static const core::ConfigSchema schema(std::vector<core::FieldSpec>{
          core::FieldSpec::make("connection", core::FieldType::String).req().secret(),
          core::FieldSpec::make("query", core::FieldType::String).req(),
          core::FieldSpec::make("timeout", core::FieldType::Duration).def("30s").range(1'000'000, 600'000'000),
      });
      return schema;
    }
    core::Result<std::unique_ptr<TableLoader>> create(const core::ConfigObject& config,
                                                      const core::TableSourceContext& context) const override {
      if (context.table != "a") return core::fail(core::ErrorKind::InvalidConfig, "wrong table");
      query = config.getString("query");
      connection = config.getString("connection");
      return std::make_unique<Fixed>();
    }
  };
  core::Registry registry;
  registry.add(std::make_unique<FixedSource>());
  const auto& source = static_cast<const FixedSource&>(*registry.findTableSource("odbc"));
  ::setenv("DUTYBRIDGE_TEST_TABLE_PW", "pw-1234", 1);
  dir.write("ok.yaml", R"(name: t
input: {badge: string}
tables:
  a:
    odbc: {connection: "DSN=x;Pwd=${env:DUTYBRIDGE_TEST_TABLE_PW}", query: "SELECT k, v FROM t"}
    refresh: 1h
emit:
  - fields: {x: 'lookup("a", badge)'}
)");
  auto ok = loadMapping(dir.path() / "ok.yaml", MappingLoadOptions{&registry});
  INFO((ok ? std::string() : ok.error().format()));
  REQUIRE(ok);
  CHECK(source.query == "SELECT k, v FROM t");
  CHECK(source.connection == "DSN=x;Pwd=pw-1234");
  CHECK((*ok)->table_refreshers.size() == 1);

  // The block is checked by the one validator against the source's schema: unknown keys, types,
  // bounds, missing keys and secret references, each at file:line:column with its YAML path.
  dir.write("bad.yaml", R"(name: t
input: {badge: string}
tables:
  roster:
    odbc:
      connection: "DSN=x;Pwd=${env:DUTYBRIDGE_TEST_NO_SUCH_VAR}"
      qeury: "SELECT 1"
      timeout: 2h
  other:
    odbc: {query: [1, 2]}
emit:
  - fields: {x: badge}
)");
  auto bad = loadMapping(dir.path() / "bad.yaml", MappingLoadOptions{&registry});
  REQUIRE_FALSE(bad);
  std::string problems = bad.error().format();
  INFO(problems);
  const std::string file = (dir.path() / "bad.yaml").string();
  CHECK_THAT(problems, Catch::Contains(file + ":7:7: error: unknown key 'qeury'") &&
                           Catch::Contains("(at tables.roster.odbc.qeury)") &&
                           Catch::Contains("did you mean 'query'?"));
  CHECK_THAT(problems,
             Catch::Contains("DUTYBRIDGE_TEST_NO_SUCH_VAR") && Catch::Contains("(at tables.roster.odbc.connection)"));
  CHECK_THAT(problems, Catch::Contains(file + ":8:16:") && Catch::Contains("(at tables.roster.odbc.timeout)"));
  CHECK_THAT(problems, Catch::Contains("missing required key 'query'") && Catch::Contains("(at tables.roster.odbc)"));
  CHECK_THAT(problems,
             Catch::Contains("(at tables.other.odbc.query)") && Catch::Contains("missing required key 'connection'"));
  CHECK(problems.find("pw-1234") == std::string::npos);
}
