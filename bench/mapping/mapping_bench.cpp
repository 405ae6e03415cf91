// Cost of Mapping::applyInto() (the pipeline path) per record, on the release preset:
//   ./build/release/bench/dutybridge_mapping_bench --benchmark_repetitions=3
// Each iteration maps one pre-built record (a batch of 1024 is cycled), so "Time" is
// nanoseconds per record and "CPU" its CPU time. Figures and the command are in
// docs/benchmarks.md ("## Mapping").

#include <benchmark/benchmark.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "src/core/clock.h"
#include "src/core/decimal.h"
#include "src/core/record.h"
#include "src/core/time.h"
#include "src/mapping/mapping.h"

namespace {

using dutybridge::core::Decimal;
using dutybridge::core::Record;
using dutybridge::core::RecordSchema;
using dutybridge::core::Timestamp;
using dutybridge::core::Value;
using dutybridge::mapping::Binding;
using dutybridge::mapping::Mapping;

constexpr size_t kRecords = 1024;
constexpr int kBadges = 3000;
constexpr int kParts = 300;
constexpr int64_t kMicros = 1'000'000;

const dutybridge::core::ManualClock kClock{Timestamp{1'741'939'200'000'000}};  // 2025-03-14T08:00:00Z

std::string numbered(const char* prefix, int width, int64_t n) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%s%0*lld", prefix, width, static_cast<long long>(n));
  return buffer;
}

Decimal decimal(int64_t coefficient, int scale) {
  return *Decimal::fromParts(coefficient, scale);
}

// A temporary directory, removed when the benchmark exits.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "dutybridge-mapping-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::exit(1);
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::unique_ptr<Mapping> load(const std::filesystem::path& file) {
  auto mapping = dutybridge::mapping::loadMapping(file);
  if (!mapping) {
    std::fprintf(stderr, "%s", mapping.error().format().c_str());
    std::exit(1);
  }
  for (const auto& failure : dutybridge::mapping::runMappingTests(**mapping)) {
    std::fprintf(stderr, "%s: embedded test failed:\n%s\n", file.c_str(), failure.c_str());
    std::exit(1);
  }
  return std::move(*mapping);
}

struct Workload {
  std::unique_ptr<Mapping> mapping;
  Binding binding;
  std::vector<Record> records;
};

// The MES tables: badge B000000.. -> employee E10000.., part P-1000.. -> a piece rate.
void writeTables(const std::filesystem::path& dir) {
  std::ofstream badges(dir / "badge_employee.csv");
  badges << "badge,employee_no\n";
  for (int i = 0; i < kBadges; ++i) badges << numbered("B", 6, i) << ',' << numbered("E", 5, 10000 + i) << '\n';
  std::ofstream rates(dir / "part_rate.csv");
  rates << "part_no,piece_rate\n";
  for (int i = 0; i < kParts; ++i)
    rates << "P-" << 1000 + i << ',' << decimal(1000 + (i % 50) * 500, 4).toString() << '\n';
  if (!badges || !rates) {
    std::fprintf(stderr, "cannot write the lookup tables into %s\n", dir.c_str());
    std::exit(1);
  }
}

// Rows as the odbc source delivers them: NUMERIC as exact decimals, timestamps in UTC, plus
// columns the mapping does not read.
std::vector<Record> mesReports() {
  auto schema = std::make_shared<const RecordSchema>(std::vector<std::string>{
      "id", "report_no", "work_order_no", "part_no", "operator_badge", "work_center", "shift_code", "good_qty",
      "scrap_qty", "scrap_qty_mat", "started_at", "finished_at", "state", "updated_at"});
  static const char* const kCenters[] = {"MOLD-01", "MOLD-02", "MOLD-03", "MACH-11", "MACH-12", "ASSY-21"};
  std::mt19937_64 random(20250314);
  auto pick = [&](int64_t n) { return static_cast<int64_t>(random() % static_cast<uint64_t>(n)); };
  const int64_t day_start = 1'741'881'600 * kMicros;  // 2025-03-13T16:00:00Z, 00:00 in Shanghai
  std::vector<Record> records;
  records.reserve(kRecords);
  for (size_t i = 0; i < kRecords; ++i) {
    int64_t id = 880'000 + static_cast<int64_t>(i);
    // 3% of the badges are not in the table, 30% of the reports have no scrap, 5% are declined.
    int64_t badge = pick(100) < 3 ? kBadges + pick(500) : pick(kBadges);
    int64_t started = day_start + pick(16 * 3600) * kMicros;
    int64_t finished = started + (1800 + pick(6 * 3600)) * kMicros;
    std::vector<Value> values{
        Value(id),
        Value(numbered("PR-2025-", 6, id)),
        Value(numbered("WO-2025-", 4, 40 + pick(200))),
        Value("P-" + std::to_string(1000 + pick(kParts))),
        Value(numbered("B", 6, badge)),
        Value(kCenters[pick(6)]),
        Value(pick(2) == 0 ? "A" : "B"),
        Value(decimal(pick(500'000), 3)),
        pick(10) < 3 ? Value() : Value(decimal(pick(20'000), 3)),
        Value(decimal(pick(3'000), 3)),
        Value(Timestamp{started}),
        Value(Timestamp{finished}),
        Value(pick(100) < 5 ? "DECLINED" : "ACCEPTED"),
        Value(Timestamp{finished + pick(120) * kMicros}),
    };
    Record record(schema, std::move(values));
    record.meta.source_position = "{\"ts\":\"2025-03-14T00:00:01Z\",\"id\":" + std::to_string(id) + "}";
    record.meta.event_time = Timestamp{finished};
    records.push_back(std::move(record));
  }
  return records;
}

std::vector<Record> badgeRecords() {
  auto schema = std::make_shared<const RecordSchema>(std::vector<std::string>{"operator_badge"});
  std::vector<Record> records;
  records.reserve(kRecords);
  for (size_t i = 0; i < kRecords; ++i) {
    Record record(schema, {Value(numbered("B", 6, static_cast<int64_t>(i * 7 % kBadges)))});
    record.meta.source_position = std::to_string(i);
    records.push_back(std::move(record));
  }
  return records;
}

Workload& fieldCopy() {
  static Workload workload = [] {
    Workload w;
    w.mapping = load(std::filesystem::path(DUTYBRIDGE_BENCH_MAPPING_DIR) / "field_copy.yaml");
    w.records = badgeRecords();
    w.binding = w.mapping->bind(w.records.front().schema());
    return w;
  }();
  return workload;
}

Workload& mesProductionReport() {
  static TempDir dir;
  static Workload workload = [] {
    Workload w;
    std::filesystem::copy_file(std::filesystem::path(DUTYBRIDGE_BENCH_MAPPING_DIR) / "mes_production_report.yaml",
                               dir.path() / "mes_production_report.yaml");
    writeTables(dir.path());
    w.mapping = load(dir.path() / "mes_production_report.yaml");
    w.records = mesReports();
    w.binding = w.mapping->bind(w.records.front().schema());
    return w;
  }();
  return workload;
}

void run(benchmark::State& state, const Workload& w) {
  // Every record must map (no dead letters); count what the filter keeps.
  int64_t emitted = 0;
  for (const auto& record : w.records) {
    auto outputs = w.mapping->apply(record, w.binding, kClock);
    if (!outputs) {
      state.SkipWithError(("dead letter: " + outputs.error().message).c_str());
      return;
    }
    emitted += static_cast<int64_t>(outputs->size());
  }
  // The pipeline's path (MappingTransform): outputs appended to a batch vector that is reused.
  size_t i = 0;
  std::vector<Record> outputs;
  outputs.reserve(1024);
  for (auto _ : state) {
    auto status = w.mapping->applyInto(w.records[i], w.binding, kClock, outputs);
    benchmark::DoNotOptimize(status);
    if (outputs.size() >= 1024) outputs.clear();
    if (++i == w.records.size()) i = 0;
  }
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations()));
  state.counters["kept"] = static_cast<double>(emitted) / static_cast<double>(w.records.size());
}

void BM_FieldCopy(benchmark::State& state) {
  run(state, fieldCopy());
}
void BM_MesProductionReport(benchmark::State& state) {
  run(state, mesProductionReport());
}

}  // namespace

BENCHMARK(BM_FieldCopy);
BENCHMARK(BM_MesProductionReport);

BENCHMARK_MAIN();
