// The pipeline: what is not a case. Delivery, backpressure, cursors, retries, dead letters,
// restored transform state and exactly-once commits are scenario files
// (tests/scenarios/pipeline/*.test); here: runs stopped from another thread while the sink holds
// everything back, the connector registry, and from_source mappings compiled at start.

#include "src/runtime/pipeline.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <thread>

#include "connectors/builtin.h"
#include "src/core/clock.h"
#include "src/core/registry.h"
#include "src/mapping/mapping.h"
#include "src/mapping/mapping_transform.h"
#include "src/runtime/memory_state_store.h"
#include "tests/fakes/fakes.h"

using namespace dutybridge;
using testing::FakeSink;
using testing::FakeSource;

namespace {

runtime::PipelineOptions fastOptions() {
  runtime::PipelineOptions options;
  options.poll_wait = std::chrono::milliseconds(0);
  options.backoff_initial = std::chrono::milliseconds(1);
  options.backoff_max = std::chrono::milliseconds(2);
  return options;
}

}  // namespace

TEST_CASE("the cursor never passes an undelivered record", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(100, 10);
  source->end_when_done = false;
  auto sink = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  snk->hold = true;  // the broker never acknowledges
  auto options = fastOptions();
  options.flush_timeout = std::chrono::milliseconds(1);
  options.stop_timeout = std::chrono::milliseconds(1);
  runtime::Pipeline pipeline("hold", std::move(source), std::move(sink), state, options);
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.request_stop();
  });
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(snk->delivered.empty());
  CHECK_FALSE(state.get("cursor/hold").value().has_value());
}

TEST_CASE("registering a connector twice is a programming error", "[runtime][registry]") {
  core::Registry registry;
  connectors::registerBuiltinConnectors(registry);
  CHECK(registry.findSource("generate") != nullptr);
  CHECK(registry.findSink("stdout") != nullptr);
  CHECK(registry.findSource("stdout") == nullptr);
  CHECK_THROWS_AS(connectors::registerBuiltinConnectors(registry), std::logic_error);
}

TEST_CASE("the source pauses once max_in_flight records await acknowledgement", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(10'000, 100);
  FakeSource* src = source.get();
  auto sink = std::make_unique<FakeSink>(100'000);
  FakeSink* snk = sink.get();
  snk->hold = true;
  auto options = fastOptions();
  options.max_in_flight_records = 300;
  options.flush_timeout = std::chrono::milliseconds(1);
  options.stop_timeout = std::chrono::milliseconds(1);
  runtime::Pipeline pipeline("cap", std::move(source), std::move(sink), state, options);
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop.request_stop();
  });
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(src->polls == 3);
  CHECK(snk->max_queue == 300);
  CHECK(pipeline.stats().records_read == 300);
}

TEST_CASE("while the dead-letter sink cannot deliver, the batch is not written and its position not stored",
          "[runtime][pipeline][dlq]") {
  runtime::MemoryStateStore state;
  auto sink = std::make_unique<FakeSink>(1000);
  auto dlq = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  dlq->unreachable = true;
  runtime::Pipeline pipeline("map", std::make_unique<FakeSource>(100, 16), std::move(sink), state, fastOptions(),
                             std::make_unique<testing::FakeTransform>());
  pipeline.setDeadLetterSink(std::move(dlq));
  std::stop_source stop;
  std::thread runner([&] { CHECK(pipeline.run(stop.get_token())); });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  stop.request_stop();
  runner.join();
  CHECK(snk->delivered.empty());           // the first batch has dead letters: never handed on
  CHECK(!state.get("cursor/map").value());  // so it is read again after a restart
  CHECK(pipeline.stats().retries > 0);
}

TEST_CASE("records the sink refuses while writing are dead-lettered by the next run, the rest delivered once",
          "[runtime][pipeline][dlq]") {
  runtime::MemoryStateStore state;
  auto options = fastOptions();
  options.dlq_topic = "test.dlq";
  runtime::Pipeline::WriteRefusals carried;
  {
    auto sink = std::make_unique<FakeSink>(1000);
    FakeSink* snk = sink.get();
    snk->refuse_on_write = {20, 21};
    runtime::Pipeline pipeline("wr", std::make_unique<FakeSource>(100, 16), std::move(sink), state, options);
    pipeline.setDeadLetterSink(std::make_unique<FakeSink>(1000));
    std::stop_source stop;
    auto status = pipeline.run(stop.get_token());
    REQUIRE_FALSE(status);
    CHECK(status.error().kind == core::ErrorKind::Abortable);
    CHECK(snk->delivered.size() == 16);  // batch 1; batch 2 (16..31) was refused whole
    CHECK(*state.get("cursor/wr").value() == "16");
    carried = pipeline.takeWriteRefusals();
    CHECK(carried.reasons.size() == 2);
    CHECK(carried.reasons.contains("20#0"));
  }
  // The daemon's next run: from the stored cursor, the two records become dead letters before
  // their batch is written, and everything else is delivered.
  auto sink = std::make_unique<FakeSink>(1000);
  auto dlq = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  FakeSink* dlq_sink = dlq.get();
  runtime::Pipeline pipeline("wr", std::make_unique<FakeSource>(100, 16), std::move(sink), state, options);
  pipeline.setDeadLetterSink(std::move(dlq));
  pipeline.carryWriteRefusals(std::move(carried));
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(snk->delivered.size() == 82);  // 16..99 without 20 and 21
  CHECK(std::find(snk->delivered.begin(), snk->delivered.end(), 20) == snk->delivered.end());
  REQUIRE(dlq_sink->dead_letter_records.size() == 2);
  CHECK(dlq_sink->dead_letter_records[0].find("error_class")->asString() == "sink");
  CHECK(dlq_sink->dead_letter_records[0].find("source_position")->asString() == "20");
  CHECK(dlq_sink->dead_letter_records[1].find("error")->asString() ==
        "column n violates check constraint n_check (test)");
  CHECK(*state.get("cursor/wr").value() == "100");
  // Kept, with their letters confirmed: read again after another restart, they get no second one.
  auto kept = pipeline.takeWriteRefusals();
  CHECK(kept.reasons.size() == 2);
  CHECK(kept.lettered.size() == 2);
}

TEST_CASE("a refused record read again after a later refusal is dropped again, its dead letter sent once",
          "[runtime][pipeline][dlq]") {
  // Run 1 finds 20 and 21; run 2 dead-letters them, then the sink refuses 25 of the same batch,
  // so nothing of it is stored and run 3 reads 20 and 21 again: they must not reach the sink
  // (it would refuse them again) nor get a second letter.
  runtime::MemoryStateStore state;
  auto options = fastOptions();
  options.dlq_topic = "test.dlq";
  runtime::Pipeline::WriteRefusals carried;
  size_t letters = 0;
  for (int run = 1; run <= 3; ++run) {
    INFO("run " << run);
    auto sink = std::make_unique<FakeSink>(1000);
    auto dlq = std::make_unique<FakeSink>(1000);
    FakeSink* snk = sink.get();
    FakeSink* dlq_sink = dlq.get();
    snk->refuse_on_write = run == 1 ? std::vector<int64_t>{20, 21} : std::vector<int64_t>{20, 21, 25};
    runtime::Pipeline pipeline("wr3", std::make_unique<FakeSource>(100, 16), std::move(sink), state, options);
    pipeline.setDeadLetterSink(std::move(dlq));
    pipeline.carryWriteRefusals(std::move(carried));
    std::stop_source stop;
    auto status = pipeline.run(stop.get_token());
    letters += dlq_sink->dead_letter_records.size();
    carried = pipeline.takeWriteRefusals();
    if (run < 3) {
      REQUIRE_FALSE(status);
      CHECK(status.error().kind == core::ErrorKind::Abortable);
      CHECK(*state.get("cursor/wr3").value() == "16");
    } else {
      if (!status) FAIL(status.error().message);
      CHECK(std::find(snk->delivered.begin(), snk->delivered.end(), 20) == snk->delivered.end());
      CHECK(*state.get("cursor/wr3").value() == "100");
    }
  }
  CHECK(letters == 3);  // 20 and 21 in run 2, 25 in run 3
}

TEST_CASE("a record a sink refuses within write() is named from the batch and dead-lettered by the next run",
          "[runtime][pipeline][dlq]") {
  runtime::MemoryStateStore state;
  auto options = fastOptions();
  options.dlq_topic = "test.dlq";
  runtime::Pipeline::WriteRefusals carried;
  {
    auto sink = std::make_unique<FakeSink>(1000);
    sink->refuse_on_write = {37};
    sink->refuse_by_index = true;
    runtime::Pipeline pipeline("wi", std::make_unique<FakeSource>(100, 16), std::move(sink), state, options);
    pipeline.setDeadLetterSink(std::make_unique<FakeSink>(1000));
    std::stop_source stop;
    auto status = pipeline.run(stop.get_token());
    REQUIRE_FALSE(status);
    CHECK(status.error().kind == core::ErrorKind::Abortable);
    carried = pipeline.takeWriteRefusals();
    REQUIRE(carried.reasons.size() == 1);
    CHECK(carried.reasons.begin()->first == "37#0");
    CHECK(carried.reasons.begin()->second == "the message is too large (test)");
  }
  auto sink = std::make_unique<FakeSink>(1000);
  auto dlq = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  FakeSink* dlq_sink = dlq.get();
  runtime::Pipeline pipeline("wi", std::make_unique<FakeSource>(100, 16), std::move(sink), state, options);
  pipeline.setDeadLetterSink(std::move(dlq));
  pipeline.carryWriteRefusals(std::move(carried));
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(std::find(snk->delivered.begin(), snk->delivered.end(), 37) == snk->delivered.end());
  CHECK(std::find(snk->delivered.begin(), snk->delivered.end(), 99) != snk->delivered.end());
  REQUIRE(dlq_sink->dead_letter_records.size() == 1);
  CHECK(dlq_sink->dead_letter_records[0].find("source_position")->asString() == "37");
  CHECK(*state.get("cursor/wi").value() == "100");
}

TEST_CASE(
    "a record refused while writing that is not recognised when read again stops the pipeline, not a restart loop",
    "[runtime][pipeline][dlq]") {
  runtime::MemoryStateStore state;
  auto options = fastOptions();
  options.dlq_topic = "test.dlq";
  auto sink = std::make_unique<FakeSink>(1000);
  sink->refuse_on_write = {20};
  runtime::Pipeline pipeline("wr2", std::make_unique<FakeSource>(100, 16), std::move(sink), state, options);
  pipeline.setDeadLetterSink(std::make_unique<FakeSink>(1000));
  pipeline.carryWriteRefusals({{{"elsewhere#0", "refused before (test)"}}, {}});
  std::stop_source stop;
  auto status = pipeline.run(stop.get_token());
  REQUIRE_FALSE(status);
  CHECK(status.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(status.error().message, Catch::Contains("were not found again when read again after the restart"));
}

TEST_CASE("transform state is not stored while its batch is undelivered", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(100, 10);
  source->end_when_done = false;
  auto sink = std::make_unique<FakeSink>(1000);
  sink->hold = true;
  auto options = fastOptions();
  options.flush_timeout = std::chrono::milliseconds(1);
  options.stop_timeout = std::chrono::milliseconds(1);
  auto transform = std::make_unique<testing::FakeStatefulTransform>();
  auto* t = transform.get();
  runtime::Pipeline pipeline("held", std::move(source), std::move(sink), state, options, std::move(transform));
  std::stop_source stop;
  std::jthread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    stop.request_stop();
  });
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(t->sum > 0);
  CHECK(t->ticks > 0);
  CHECK_FALSE(state.get("transform/held/sum").value().has_value());
}

namespace {

std::filesystem::path fromSourceMapping(const std::string& name) {
  auto dir = std::filesystem::temp_directory_path() / ("dutybridge_pipeline_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto path = dir / (name + ".yaml");
  std::ofstream(path) << "name: doubler\ninput: from_source\nemit:\n  - fields:\n      doubled: n * 2\n";
  return path;
}

std::unique_ptr<mapping::MappingTransform> offlineTransform(const std::string& name, const core::Clock& clock) {
  auto loaded = mapping::loadMapping(fromSourceMapping(name));
  if (!loaded) FAIL(loaded.error().format());
  REQUIRE_FALSE((*loaded)->runnable);
  return std::make_unique<mapping::MappingTransform>(std::shared_ptr<const mapping::Mapping>(std::move(*loaded)),
                                                     clock);
}

}  // namespace

TEST_CASE("a from_source mapping is compiled against the source's description at start", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  core::ManualClock clock(core::Timestamp{0});
  auto source = std::make_unique<FakeSource>(10, 4);
  FakeSource* src = source.get();
  source->description = core::SourceDescription{{"n", core::ValueType::Int, false}};
  auto sink = std::make_unique<FakeSink>(100);
  FakeSink* snk = sink.get();
  runtime::Pipeline pipeline("from-source", std::move(source), std::move(sink), state, fastOptions(),
                             offlineTransform("runs", clock));
  std::stop_source stop;
  auto ran = pipeline.run(stop.get_token());
  if (!ran) FAIL(ran.error().message);
  CHECK(src->describes == 1);
  CHECK(snk->delivered == std::vector<int64_t>{0, 2, 4, 6, 8, 10, 12, 14, 16, 18});
  CHECK(pipeline.stats().dead_letters == 0);
}

TEST_CASE("a from_source mapping that does not fit the source stops the pipeline before reading",
          "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  core::ManualClock clock(core::Timestamp{0});
  auto source = std::make_unique<FakeSource>(10, 4);
  FakeSource* src = source.get();
  std::string expected;
  SECTION("a type error against the description") {
    source->description = core::SourceDescription{{"n", core::ValueType::String, false}};
    expected = "(from the source's description)";
  }
  SECTION("a source that cannot describe itself") {
    expected = "this source cannot describe its records";
  }
  runtime::Pipeline pipeline("from-source", std::move(source), std::make_unique<FakeSink>(100), state, fastOptions(),
                             offlineTransform("stops", clock));
  std::stop_source stop;
  auto ran = pipeline.run(stop.get_token());
  REQUIRE_FALSE(ran);
  CHECK(ran.error().kind == core::ErrorKind::InvalidConfig);
  CHECK_THAT(ran.error().message, Catch::Contains(expected));
  CHECK_THAT(ran.error().message, Catch::Contains("stops.yaml"));
  CHECK(src->polls == 0);
  CHECK(src->closed);
}

namespace {

core::MetricSample counter(std::string name, double value) {
  return {std::move(name), {}, core::MetricKind::Counter, value, {}};
}

const core::MetricSample* findSample(const std::vector<core::MetricSample>& samples, std::string_view name,
                                     std::string_view role = {}) {
  for (const auto& s : samples) {
    if (s.name != name) continue;
    bool role_matches = role.empty();
    for (const auto& [label, value] : s.labels) role_matches = role_matches || (label == "role" && value == role);
    if (role_matches) return &s;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("connector metrics reach the status with the sink's role and counters survive a new run",
          "[runtime][pipeline][metrics]") {
  runtime::MemoryStateStore state;
  auto status = std::make_shared<runtime::PipelineStatus>();
  auto options = fastOptions();
  options.status = status;
  auto runOnce = [&](double source_count, double sink_count, bool with_gauge) {
    auto source = std::make_unique<FakeSource>(10, 5);
    source->reported.push_back(counter("src_total", source_count));
    if (with_gauge) source->reported.push_back({"src_gauge", {}, core::MetricKind::Gauge, 7, {}});
    auto sink = std::make_unique<FakeSink>(100);
    sink->reported.push_back(counter("snk_total", sink_count));
    auto letters = std::make_unique<FakeSink>(100);
    letters->reported.push_back(counter("snk_total", 1));
    runtime::Pipeline pipeline("metrics", std::move(source), std::move(sink), state, options);
    pipeline.setDeadLetterSink(std::move(letters));
    REQUIRE(pipeline.run(std::stop_token()));
  };
  runOnce(5, 3, true);
  auto first = status->metrics();
  REQUIRE(findSample(first, "src_total"));
  CHECK(findSample(first, "src_total")->value == 5);
  CHECK(findSample(first, "src_gauge")->value == 7);
  CHECK(findSample(first, "snk_total", "output")->value == 3);
  CHECK(findSample(first, "snk_total", "dead_letters")->value == 1);

  // A new run's connectors count from 0 again: what the status publishes only grows, and a
  // gauge the new run does not report is gone.
  runOnce(2, 4, false);
  auto second = status->metrics();
  CHECK(findSample(second, "src_total")->value == 7);
  CHECK(findSample(second, "snk_total", "output")->value == 7);
  CHECK(findSample(second, "snk_total", "dead_letters")->value == 2);
  CHECK(findSample(second, "src_gauge") == nullptr);
}
