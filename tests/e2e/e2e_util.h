#pragma once
// End-to-end helpers: the real `dutybridge` binary as a child process, PostgreSQL through psql,
// and a Kafka reader that drains a topic from the beginning. Services come from scripts/test.

#include <fmt/format.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "src/core/decimal.h"
#include "tests/support/env.h"
#include "tests/support/files.h"
#include "tests/support/kafka.h"
#include "tests/support/process.h"
#include "tests/support/psql.h"

namespace dutybridge::e2e {

using testing::consumer;
using testing::highWatermark;
using testing::Message;
using testing::psql;
using testing::psqlRows;
using testing::readFile;
using testing::readTopic;
using testing::replaceOnce;
using testing::requireHighWatermark;
using testing::uniqueName;
using testing::waitForMessages;

// The binary under test: the build's, or another (the installed /usr/bin/dutybridge in the
// package install test) named by DUTYBRIDGE_BINARY_UNDER_TEST.
inline const std::filesystem::path kBinary = testing::envString("DUTYBRIDGE_BINARY_UNDER_TEST", DUTYBRIDGE_BINARY);
inline const std::filesystem::path kSourceDir = DUTYBRIDGE_SOURCE_DIR;

inline std::filesystem::path tempDir(const std::string& name) {
  return testing::makeTempDir("e2e-" + name);
}

// The dutybridge binary under test (DUTYBRIDGE_BINARY), run as a user runs it.
class Daemon : public testing::Daemon {
 public:
  Daemon(const std::filesystem::path& config, const std::filesystem::path& log, bool once)
      : testing::Daemon(kBinary, config, log, once) {}
};

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

// The KPI 1 fact (tl_daily_good_output) of one leader and shift as the report table says it
// should be, from SQL alone: Σ good_qty and the number of the ACCEPTED reports of the leader's
// team, per "employee|SHIFT|<shift date>/<code>". Leaders as config/reference/team_leader.csv has
// them for shift dates after 2025-03-15.
struct ExpectedFact {
  core::Decimal value;
  int64_t reports = 0;
};

inline std::map<std::string, ExpectedFact> expectedLeaderFacts(const testing::Pg& pg, const std::string& table) {
  auto rows = testing::psqlRows(pg, fmt::format(R"(
SELECT l.employee_no, to_char(r.shift_date, 'YYYY-MM-DD') || '/' || r.shift_code,
  coalesce(sum(r.good_qty) FILTER (WHERE r.state = 'ACCEPTED'), 0), count(*) FILTER (WHERE r.state = 'ACCEPTED')
FROM {} r
JOIN (VALUES ('MACH-T1', 'E10011'), ('MACH-T2', 'E10015'), ('MOLD-T1', 'E10013'), ('ASSY-T1', 'E10014'))
  AS l(team_code, employee_no) USING (team_code)
GROUP BY 1, 2;
)",
                                                table));
  std::map<std::string, ExpectedFact> out;
  for (const auto& row : rows) {
    REQUIRE(row.size() == 4);
    auto value = core::Decimal::parse(row[2]);
    REQUIRE(value);
    out[row[0] + "|SHIFT|" + row[1]] = ExpectedFact{*value, std::stol(row[3])};
  }
  return out;
}

}  // namespace dutybridge::e2e
