// Cost of writing records as JSON, per record, on the release preset:
//   ./build/release/bench/dutybridge_json_bench --benchmark_repetitions=3
// The kafka sink's writer (RecordJsonWriter: every record the sink produces), codec::appendJson
// (stdout sink, `dutybridge map`) and the typed JSON of stored state (codec::encodeTypedRecord).
// Records look like the MES production reports of the first-pipeline benchmark: 18 fields, codes,
// decimals, timestamps, one string in five with Chinese text and one in fifty with a quote or a
// newline. Figures and the command are in docs/benchmarks.md ("## JSON writing").

#include <benchmark/benchmark.h>

#include <cstdio>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "src/codec/json.h"
#include "src/codec/json_writer.h"
#include "src/codec/typed_json.h"
#include "src/core/decimal.h"
#include "src/core/record.h"
#include "src/core/time.h"

namespace {

using dutybridge::core::Decimal;
using dutybridge::core::Record;
using dutybridge::core::RecordSchema;
using dutybridge::core::Timestamp;
using dutybridge::core::Value;

constexpr size_t kRecords = 1024;

std::string numbered(const char* prefix, int width, int64_t n) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%s%0*lld", prefix, width, static_cast<long long>(n));
  return buffer;
}

std::vector<Record> reports() {
  auto schema = std::make_shared<const RecordSchema>(std::vector<std::string>{
      "report_id", "report_no", "work_order_no", "operation_code", "product_code", "workstation_code", "workshop_code",
      "team_code", "operator_badge", "shift_code", "shift_date", "good_qty", "scrap_qty", "uom", "labor_minutes",
      "state", "remark", "updated_at"});
  std::mt19937_64 random(42);
  std::vector<Record> out;
  out.reserve(kRecords);
  for (size_t i = 0; i < kRecords; ++i) {
    const int64_t n = static_cast<int64_t>(i);
    const uint64_t pick = random() % 50;
    std::string remark = pick == 0 ? "rework \"urgent\"\nsee line 2" : pick <= 10 ? "二号线换模后首件检验合格" : "ok";
    std::vector<Value> values{
        Value(n + 1),
        Value(numbered("R", 9, n)),
        Value(numbered("WO-2025-", 6, n / 20)),
        Value(numbered("OP", 3, n % 40)),
        Value(numbered("P-", 5, n % 300)),
        Value(numbered("WS-", 3, n % 60)),
        Value(std::string("MOULDING")),
        Value(numbered("T", 2, n % 12)),
        Value(numbered("B", 6, n % 3000)),
        Value(std::string(n % 2 == 0 ? "DAY" : "NIGHT")),
        Value(dutybridge::core::Date{20'161}),
        Value(*Decimal::fromParts(1000 + n % 97, 3)),
        Value(*Decimal::fromParts(n % 7, 3)),
        Value(std::string("PCS")),
        Value(*Decimal::fromParts(4500 + n % 300, 2)),
        Value(std::string("CONFIRMED")),
        Value(std::move(remark)),
        Value(Timestamp{1'741'939'200'000'000 + n * 1'000'123}),
    };
    out.emplace_back(schema, std::move(values));
  }
  return out;
}

void BM_KafkaRecordJson(benchmark::State& state) {
  auto records = reports();
  dutybridge::codec::RecordJsonWriter writer;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    auto text = writer.write(records[i++ % kRecords]);
    bytes += text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_KafkaRecordJson);

void BM_CodecAppendJson(benchmark::State& state) {
  auto records = reports();
  std::string out;
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    out.clear();
    dutybridge::codec::appendJson(records[i++ % kRecords], out);
    bytes += out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_CodecAppendJson);

void BM_TypedStateJson(benchmark::State& state) {
  auto records = reports();
  size_t i = 0, bytes = 0;
  for (auto _ : state) {
    std::string text = dutybridge::codec::encodeTypedRecord(records[i++ % kRecords]);
    bytes += text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}
BENCHMARK(BM_TypedStateJson);

}  // namespace

BENCHMARK_MAIN();
