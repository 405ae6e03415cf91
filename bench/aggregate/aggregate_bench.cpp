// Aggregation cost per record: 1,000,000 MES reports over 500 employees and 30 days, through
// the engine alone (Aggregator::apply + collect per batch, what the pipeline calls) and through
// the KPI 1 mapping's contribute path (input conversion, where, let with an effective-dated
// lookup, group and measure expressions, engine). Prints CPU-seconds, microseconds per record
// and the engine's state size. Run: build/release/bench/dutybridge_aggregate_bench [rows]
// (docs/benchmarks.md).

#include <sys/resource.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>

#include "src/aggregate/aggregator.h"
#include "src/core/clock.h"
#include "src/mapping/aggregate_stage.h"
#include "src/mapping/mapping.h"

namespace {

using namespace dutybridge;

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long peakRssKib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

constexpr int kEmployees = 500;
constexpr int kDays = 30;
constexpr int64_t kHour = 3'600'000'000;
constexpr int32_t kFirstDay = 20161;  // 2025-03-14

struct Report {
  std::string id;
  int employee;
  int day;
  int shift;
  int64_t good;
  int64_t scrap;
  int64_t version;
};

// Reports in arrival order: mostly in time order, 5 % edits of an earlier report (a newer
// version), 1 % declines.
std::vector<Report> makeReports(size_t n) {
  std::mt19937_64 rng(42);
  std::vector<Report> reports;
  reports.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    int pick = static_cast<int>(rng() % 100);
    if (pick < 6 && i > 100) {
      Report edit = reports[i - 1 - rng() % 100];
      edit.version += 1;
      edit.good = pick == 0 ? -1 : static_cast<int64_t>(rng() % 500);  // -1: declined
      reports.push_back(edit);
      continue;
    }
    int day = static_cast<int>(i * kDays / n);
    reports.push_back(Report{"PR-" + std::to_string(i), static_cast<int>(rng() % kEmployees), day,
                             static_cast<int>(rng() % 2), static_cast<int64_t>(rng() % 500),
                             static_cast<int64_t>(rng() % 10), 1});
  }
  return reports;
}

aggregate::WindowRef window(const Report& r) {
  aggregate::WindowRef ref;
  ref.group = {core::Value("E" + std::to_string(10000 + r.employee))};
  ref.period_type = "SHIFT";
  ref.shift_date = core::Date{kFirstDay + r.day};
  ref.shift_code = r.shift == 0 ? "D" : "N";
  ref.period_id = core::formatDate(ref.shift_date) + "/" + ref.shift_code;
  ref.start = core::Timestamp{(kFirstDay + r.day) * 24 * kHour + (r.shift == 0 ? 0 : 12) * kHour};
  ref.end = core::Timestamp{ref.start.micros + 12 * kHour};
  return ref;
}

void engineBench(const std::vector<Report>& reports) {
  aggregate::AggregatorOptions options;
  options.measures = {{"good", aggregate::MeasureKind::Sum},
                      {"reports", aggregate::MeasureKind::Count},
                      {"yield", aggregate::MeasureKind::RatioOfSums, 4}};
  options.grace_micros = 2 * kHour;
  options.retain_micros = 1000 * 24 * kHour;  // keep everything: the worst case for memory
  aggregate::Aggregator engine(options);
  std::vector<aggregate::Revision> revisions;
  std::vector<aggregate::StateChange> changes;
  size_t emitted = 0;
  core::Timestamp now{kFirstDay * 24 * kHour};
  // The callers' part (building window references and inputs, what the mapping evaluates) is
  // prepared first, so the timing is the engine's alone.
  std::vector<std::optional<aggregate::WindowRef>> refs;
  std::vector<std::vector<aggregate::MeasureInput>> all_inputs;
  refs.reserve(reports.size());
  all_inputs.reserve(reports.size());
  for (const auto& r : reports) {
    if (r.good >= 0) {
      core::Value good(core::Decimal::fromInt(r.good));
      all_inputs.push_back({{good, {}}, {core::Value(true), {}}, {good, core::Value(core::Decimal::fromInt(r.good + r.scrap))}});
      refs.push_back(window(r));
    } else {
      all_inputs.emplace_back();
      refs.emplace_back();
    }
  }
  double start = cpuSeconds();
  double state_cpu = 0;
  double collect_cpu = 0;
  for (size_t i = 0; i < reports.size(); ++i) {
    const Report& r = reports[i];
    auto applied = engine.apply(r.id, "", core::Value(r.version), refs[i], std::move(all_inputs[i]), now);
    if (!applied) {
      std::fprintf(stderr, "apply failed: %s\n", applied.error().message.c_str());
      std::exit(1);
    }
    if (i % 1000 == 999) {  // one pipeline batch
      double t0 = cpuSeconds();
      engine.collect(now, revisions);
      emitted += revisions.size();
      revisions.clear();
      double t1 = cpuSeconds();
      engine.takeStateChanges(changes);
      changes.clear();
      collect_cpu += t1 - t0;
      state_cpu += cpuSeconds() - t1;
    }
  }
  engine.collect(now, revisions);
  double cpu = cpuSeconds() - start;
  auto stats = engine.stats();
  double n = static_cast<double>(reports.size());
  std::printf("engine:  %zu records, %.2f CPU-s, %.3f us/record (apply %.3f, revisions %.3f, state encoding %.3f), "
              "%zu revisions, %zu windows, %zu rows, state %.1f MiB\n",
              reports.size(), cpu, cpu * 1e6 / n, (cpu - collect_cpu - state_cpu) * 1e6 / n, collect_cpu * 1e6 / n,
              state_cpu * 1e6 / n, emitted + revisions.size(), stats.windows, stats.rows,
              static_cast<double>(stats.approx_bytes) / (1 << 20));
}

void mappingBench(const std::vector<Report>& reports, const std::string& mapping_file) {
  auto loaded = mapping::loadMapping(mapping_file);
  if (!loaded) {
    std::fprintf(stderr, "%s", loaded.error().format().c_str());
    std::exit(1);
  }
  const mapping::Mapping& m = **loaded;
  mapping::AggregateStage stage(m);
  auto schema = std::make_shared<core::RecordSchema>(std::vector<std::string>{
      "report_no", "work_order_no", "operation_code", "product_code", "workshop_code", "team_code", "operator_badge",
      "shift_code", "shift_date", "good_qty", "scrap_qty_labor", "scrap_qty_mat", "uom", "state", "updated_at"});
  const char* teams[] = {"MACH-T1", "MACH-T2", "MOLD-T1", "ASSY-T1"};
  std::vector<core::Record> records;
  records.reserve(reports.size());
  for (const auto& r : reports) {
    records.emplace_back(schema, std::vector<core::Value>{
        core::Value(r.id), core::Value("WO-1"), core::Value("OP010"), core::Value("HSG-2201"), core::Value("MACH"),
        core::Value(teams[r.employee % 4]), core::Value("B000124"), core::Value(r.shift == 0 ? "D" : "N"),
        core::Value(core::Date{kFirstDay + r.day}), core::Value(core::Decimal::fromInt(r.good < 0 ? 0 : r.good)),
        core::Value(core::Decimal::fromInt(r.scrap)), core::Value(), core::Value("PCS"),
        core::Value(r.good < 0 ? "DECLINED" : "ACCEPTED"), core::Value(core::Timestamp{r.version})});
  }
  core::ManualClock clock(core::Timestamp{kFirstDay * 24 * kHour});
  auto binding = m.bind(schema);
  std::vector<core::Record> outputs;
  std::vector<core::DeadLetter> dead_letters;
  std::vector<core::StateEntry> changes;
  double start = cpuSeconds();
  size_t failed = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!stage.add(records[i], binding, clock)) ++failed;
    if (i % 1000 == 999) {
      stage.tick(clock, outputs, dead_letters);
      outputs.clear();
      dead_letters.clear();
      stage.takeStateChanges(changes);
      changes.clear();
    }
  }
  double cpu = cpuSeconds() - start;
  std::printf(
      "mapping: %zu records, %.2f CPU-s, %.3f us/record (contribute, revisions as duty_kpi.v1 records, state "
      "encoding), %zu dead letters, state %.1f MiB\n",
      records.size(), cpu, cpu * 1e6 / static_cast<double>(records.size()), failed,
      static_cast<double>(stage.aggregator().stats().approx_bytes) / (1 << 20));
}

}  // namespace

int main(int argc, char** argv) {
  size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 1'000'000;
  auto reports = makeReports(n);
  engineBench(reports);
  mappingBench(reports, DUTYBRIDGE_SOURCE_DIR "/mappings/tl_daily_good_output.yaml");
  std::printf("peak RSS %.1f MiB (both runs and their inputs)\n", static_cast<double>(peakRssKib()) / 1024);
  return 0;
}
