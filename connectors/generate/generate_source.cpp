#include "connectors/generate/generate_source.h"

#include <fmt/format.h>

#include <charconv>
#include <thread>

#include "src/core/settings.h"

namespace dutybridge::connectors {
namespace {

using core::ConfigObject;
using core::FieldSpec;
using core::FieldType;
using core::Value;

uint64_t mix(uint64_t x) {
  // splitmix64: a well-distributed hash of the record index.
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

class GenerateSource final : public core::Source {
 public:
  GenerateSource(int64_t count, int64_t rate, int64_t batch_rows, uint64_t seed, core::Timestamp start)
      : count_(count), rate_(rate), batch_rows_(batch_rows), seed_(seed), start_(start) {
    schema_ = std::make_shared<core::RecordSchema>(std::vector<std::string>{
        "report_no", "work_order_no", "operation_code", "product_code", "workstation_code", "workshop_code",
        "team_code", "operator_badge", "shift_code", "shift_date", "good_qty", "scrap_qty_labor", "scrap_qty_mat",
        "uom", "labor_minutes", "state", "updated_at"});
  }

  core::Status checkPosition(std::string_view position) const override {
    int64_t next = 0;
    auto [ptr, ec] = std::from_chars(position.data(), position.data() + position.size(), next);
    if (ec != std::errc() || ptr != position.data() + position.size() || next < 0) {
      return core::fail(core::ErrorKind::Permanent,
                        "a generate position is the number of the next row (e.g. \"1200\")");
    }
    return {};
  }

  core::Status open(const std::optional<std::string>& position) override {
    next_ = 0;
    if (position) {
      auto [ptr, ec] = std::from_chars(position->data(), position->data() + position->size(), next_);
      if (ec != std::errc() || ptr != position->data() + position->size()) {
        return core::fail(core::ErrorKind::Fatal, "stored generate cursor is not a number");
      }
    }
    started_ = std::chrono::steady_clock::now();
    emitted_since_start_ = 0;
    return {};
  }

  core::Result<core::SourceBatch> poll(std::chrono::milliseconds max_wait) override {
    core::SourceBatch batch;
    int64_t n = batch_rows_;
    if (count_ > 0) n = std::min<int64_t>(n, count_ - next_);
    if (rate_ > 0) {
      // Release records at the configured rate, waiting at most max_wait for the next one.
      auto elapsed = std::chrono::steady_clock::now() - started_;
      int64_t allowed = static_cast<int64_t>(std::chrono::duration<double>(elapsed).count() * static_cast<double>(rate_)) -
                        emitted_since_start_;
      if (allowed <= 0) {
        std::this_thread::sleep_for(std::min<std::chrono::milliseconds>(
            max_wait, std::chrono::milliseconds(1 + 1000 / std::max<int64_t>(rate_, 1))));
        return batch;
      }
      n = std::min(n, allowed);
    }
    batch.records.reserve(static_cast<size_t>(std::max<int64_t>(n, 0)));
    for (int64_t i = 0; i < n; ++i) batch.records.push_back(make(next_++));
    emitted_since_start_ += n;
    batch.position = std::to_string(next_);
    batch.end_of_input = count_ > 0 && next_ >= count_;
    return batch;
  }

  core::Status commit(std::string_view) override { return {}; }
  void close() override {}

  core::Result<std::optional<core::SourceDescription>> describe() override {
    // In the order make() fills them; every field always has a value.
    static constexpr core::ValueType kTypes[] = {
        core::ValueType::String, core::ValueType::String,  core::ValueType::String,  core::ValueType::String,
        core::ValueType::String, core::ValueType::String,  core::ValueType::String,  core::ValueType::String,
        core::ValueType::String, core::ValueType::Date,    core::ValueType::Decimal, core::ValueType::Decimal,
        core::ValueType::Decimal, core::ValueType::String, core::ValueType::Int,     core::ValueType::String,
        core::ValueType::Timestamp};
    static_assert(std::size(kTypes) == 17);
    core::SourceDescription fields;
    for (size_t i = 0; i < schema_->size(); ++i) fields.push_back({schema_->names()[i], kTypes[i], false});
    return std::optional<core::SourceDescription>(std::move(fields));
  }

 private:
  core::Record make(int64_t index) const {
    uint64_t h = mix(seed_ ^ static_cast<uint64_t>(index));
    static constexpr const char* kWorkshops[] = {"MACH", "MOLD", "ASSY"};
    static constexpr const char* kShifts[] = {"A", "B", "C"};
    const char* workshop = kWorkshops[h % 3];
    int64_t updated = start_.micros + index * 1'000'000;  // one report per second of plant time
    int64_t good_thousandths = static_cast<int64_t>((h >> 8) % 500'000);
    int64_t scrap_labor = static_cast<int64_t>((h >> 28) % 3'000);
    int64_t scrap_mat = static_cast<int64_t>((h >> 40) % 2'000);
    std::vector<Value> values;
    values.reserve(schema_->size());
    values.emplace_back(fmt::format("PR{:010d}", index));
    values.emplace_back(fmt::format("WO{:07d}", (h >> 4) % 200'000));
    values.emplace_back(fmt::format("OP{:02d}", (h >> 12) % 40));
    values.emplace_back(fmt::format("P-{:05d}", (h >> 16) % 3'000));
    values.emplace_back(fmt::format("{}-WS{:02d}", workshop, (h >> 20) % 30));
    values.emplace_back(workshop);
    values.emplace_back(fmt::format("{}-T{}", workshop, (h >> 24) % 8));
    values.emplace_back(fmt::format("B{:06d}", (h >> 32) % 300));
    values.emplace_back(kShifts[(h >> 36) % 3]);
    values.emplace_back(core::Date{static_cast<int32_t>(updated / 86'400'000'000)});
    values.emplace_back(*core::Decimal::fromParts(good_thousandths, 3));
    values.emplace_back(*core::Decimal::fromParts(scrap_labor, 3));
    values.emplace_back(*core::Decimal::fromParts(scrap_mat, 3));
    values.emplace_back("PCS");
    values.emplace_back(static_cast<int64_t>((h >> 44) % 480));
    values.emplace_back((h >> 50) % 20 == 0 ? "DECLINED" : "ACCEPTED");
    values.emplace_back(core::Timestamp{updated});
    core::Record record(schema_, std::move(values));
    record.meta.source_position = std::to_string(index + 1);
    record.meta.event_time = core::Timestamp{updated};
    return record;
  }

  int64_t count_;
  int64_t rate_;
  int64_t batch_rows_;
  uint64_t seed_;
  core::Timestamp start_;
  std::shared_ptr<core::RecordSchema> schema_;
  int64_t next_ = 0;
  std::chrono::steady_clock::time_point started_;
  int64_t emitted_since_start_ = 0;
};

struct GenerateSettings {
  int64_t count = 0;
  int64_t rate = 0;
  int64_t batch_rows = 0;
  uint64_t seed = 0;
  core::Timestamp start{};
};

const core::SettingsSchema<GenerateSettings>& generateSettings() {
  static const core::SettingsSchema<GenerateSettings> settings = [] {
    core::SettingsSchema<GenerateSettings> s;
    s.field(FieldSpec::make("count", FieldType::Int)
                .def("0")
                .range(0, INT64_MAX)
                .doc("Records to generate before ending; 0 generates forever."),
            &GenerateSettings::count);
    s.field(FieldSpec::make("rate", FieldType::Int)
                .def("0")
                .range(0, 10'000'000)
                .doc("Records per second; 0 generates as fast as the sink takes them."),
            &GenerateSettings::rate);
    s.field(FieldSpec::make("batch_rows", FieldType::Int).def("1000").range(1, 100'000).doc("Records per batch."),
            &GenerateSettings::batch_rows);
    s.field(FieldSpec::make("seed", FieldType::Int)
                .def("1")
                .range(0, INT64_MAX)
                .doc("Seed: the same seed gives the same records."),
            &GenerateSettings::seed);
    s.field(FieldSpec::make("start", FieldType::String)
                .def("2025-03-14T00:00:00Z")
                .doc("updated_at of the first record (RFC 3339); each next record is one second later."),
            &GenerateSettings::start, [](const std::string& text) -> core::Result<core::Timestamp> {
              auto start = core::parseTimestamp(text);
              if (!start) return core::fail(core::ErrorKind::InvalidConfig, start.error().message);
              return *start;
            });
    s.check([](const ConfigObject& config) {
      std::vector<core::ConfigProblem> problems;
      if (config.has("start") && !core::parseTimestamp(config.getString("start"))) {
        problems.push_back({"start", "'start' must be an RFC 3339 timestamp such as 2025-03-14T00:00:00Z"});
      }
      return problems;
    });
    return s;
  }();
  return settings;
}

class GenerateFactory final : public core::SourceFactory {
 public:
  std::string_view name() const override { return "generate"; }
  std::string_view description() const override {
    return "Synthetic MES production reports (deterministic), for smoke tests and benchmarks.";
  }
  const core::ConfigSchema& configSchema() const override { return generateSettings().schema(); }

  core::Result<std::unique_ptr<core::Source>> create(const ConfigObject& config,
                                                     const core::ConnectorContext&) const override {
    auto s = generateSettings().read(config);
    if (!s) return core::fail(s.error());
    return std::make_unique<GenerateSource>(s->count, s->rate, s->batch_rows, s->seed, s->start);
  }
};

}  // namespace

void registerGenerateSource(core::Registry& registry) {
  registry.add(std::make_unique<GenerateFactory>());
}

}  // namespace dutybridge::connectors
