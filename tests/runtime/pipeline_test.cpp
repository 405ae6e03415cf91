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

TEST_CASE("a bounded source is delivered completely and its cursor stored", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(1000, 64);
  auto sink = std::make_unique<FakeSink>(10'000);
  FakeSource* src = source.get();
  FakeSink* snk = sink.get();
  runtime::Pipeline pipeline("p", std::move(source), std::move(sink), state, fastOptions());
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  REQUIRE(snk->delivered.size() == 1000);
  for (int i = 0; i < 1000; ++i) REQUIRE(snk->delivered[static_cast<size_t>(i)] == i);
  CHECK(*state.get("cursor/p").value() == "1000");
  CHECK(src->commits.back() == "1000");
  CHECK(pipeline.stats().records_delivered == 1000);
  CHECK(src->closed);
}

TEST_CASE("a full sink queue pauses the source and memory stays bounded", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(5000, 100);
  auto sink = std::make_unique<FakeSink>(30);
  FakeSink* snk = sink.get();
  runtime::Pipeline pipeline("bp", std::move(source), std::move(sink), state, fastOptions());
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(snk->delivered.size() == 5000);
  CHECK(snk->max_queue <= 30);
  CHECK(snk->queue_full_events > 0);
}

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

TEST_CASE("a restart resumes from the stored cursor", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  REQUIRE(state.put("cursor/r", "40"));
  auto source = std::make_unique<FakeSource>(50, 7);
  FakeSource* src = source.get();
  auto sink = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  runtime::Pipeline pipeline("r", std::move(source), std::move(sink), state, fastOptions());
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(src->opened_from == std::optional<std::string>("40"));
  REQUIRE(snk->delivered.size() == 10);
  CHECK(snk->delivered.front() == 40);
}

TEST_CASE("retryable source errors are retried with backoff", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(20, 5);
  source->fail_next_polls = 3;
  auto sink = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  runtime::Pipeline pipeline("retry", std::move(source), std::move(sink), state, fastOptions());
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(snk->delivered.size() == 20);
  CHECK(pipeline.stats().retries == 3);
}

TEST_CASE("registering a connector twice is a programming error", "[runtime][registry]") {
  core::Registry registry;
  connectors::registerBuiltinConnectors(registry);
  CHECK(registry.findSource("generate") != nullptr);
  CHECK(registry.findSink("stdout") != nullptr);
  CHECK(registry.findSource("stdout") == nullptr);
  CHECK_THROWS_AS(connectors::registerBuiltinConnectors(registry), std::logic_error);
}

TEST_CASE("stop_when_idle ends the run once the source has caught up", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(250, 100);
  source->end_when_done = false;  // an endless source, like a database table
  auto sink = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  auto options = fastOptions();
  options.stop_when_idle = true;
  runtime::Pipeline pipeline("once", std::move(source), std::move(sink), state, options);
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(snk->delivered.size() == 250);
  CHECK(*state.get("cursor/once").value() == "250");
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

TEST_CASE("with a dead-letter sink, dead letters go there and the sink gets only the mapped records",
          "[runtime][pipeline][dlq]") {
  runtime::MemoryStateStore state;
  auto sink = std::make_unique<FakeSink>(1000);
  auto dlq = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  FakeSink* dlq_sink = dlq.get();
  auto options = fastOptions();
  options.dlq_topic = "test.dlq";
  runtime::Pipeline pipeline("map", std::make_unique<FakeSource>(100, 16), std::move(sink), state, options,
                             std::make_unique<testing::FakeTransform>());
  pipeline.setDeadLetterSink(std::move(dlq));
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  REQUIRE(snk->delivered.size() == 50);
  CHECK(std::count(snk->delivered.begin(), snk->delivered.end(), -1) == 0);
  REQUIRE(dlq_sink->delivered.size() == 50);
  CHECK(std::count(dlq_sink->delivered.begin(), dlq_sink->delivered.end(), -1) == 50);
  CHECK(dlq_sink->dead_letter_topics.front() == "test.dlq");
  CHECK(*state.get("cursor/map").value() == "100");
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

TEST_CASE("mapped records and dead letters together account for every input", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(100, 16);
  auto sink = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  auto options = fastOptions();
  options.dlq_topic = "test.dlq";
  runtime::Pipeline pipeline("map", std::move(source), std::move(sink), state, options,
                             std::make_unique<testing::FakeTransform>());
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  REQUIRE(snk->delivered.size() == 100);
  CHECK(std::count(snk->delivered.begin(), snk->delivered.end(), -1) == 50);
  CHECK(snk->dead_letter_topics.size() == 50);
  CHECK(snk->dead_letter_topics.front() == "test.dlq");
  CHECK(pipeline.stats().records_mapped == 50);
  CHECK(pipeline.stats().dead_letters == 50);
  CHECK(*state.get("cursor/map").value() == "100");
}

TEST_CASE("records the source cannot decode become dead letters (stage source), the rest goes on",
          "[runtime][pipeline][dlq]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(100, 16);
  source->fail_every = 10;
  auto sink = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  auto options = fastOptions();
  options.dlq_topic = "test.dlq";
  runtime::Pipeline pipeline("src", std::move(source), std::move(sink), state, options);
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  REQUIRE(snk->delivered.size() == 100);
  CHECK(std::count(snk->delivered.begin(), snk->delivered.end(), -1) == 10);
  REQUIRE(snk->dead_letter_records.size() == 10);
  const core::Record& letter = snk->dead_letter_records[1];
  CHECK(letter.find("error_class")->asString() == "source");
  CHECK(letter.find("source_position")->asString() == "10");
  CHECK(letter.find("error")->asString() == "column n cannot be decoded (test)");
  CHECK(letter.find("pipeline")->asString() == "src");
  CHECK(pipeline.stats().dead_letters == 10);
  CHECK(pipeline.stats().records_read == 100);
  CHECK(*state.get("cursor/src").value() == "100");
}

TEST_CASE("records the sink refuses become dead letters (stage sink), delivered before their batch",
          "[runtime][pipeline][dlq]") {
  runtime::MemoryStateStore state;
  auto sink = std::make_unique<FakeSink>(1000);
  auto dlq = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  FakeSink* dlq_sink = dlq.get();
  snk->refuse_multiples_of = 7;
  auto options = fastOptions();
  options.dlq_topic = "test.dlq";
  runtime::Pipeline pipeline("snk", std::make_unique<FakeSource>(100, 16), std::move(sink), state, options);
  pipeline.setDeadLetterSink(std::move(dlq));
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  CHECK(snk->delivered.size() == 85);  // 0, 7, ..., 98: 15 refused
  CHECK(std::count_if(snk->delivered.begin(), snk->delivered.end(), [](int64_t n) { return n % 7 == 0; }) == 0);
  REQUIRE(dlq_sink->dead_letter_records.size() == 15);
  CHECK(dlq_sink->dead_letter_records[2].find("error_class")->asString() == "sink");
  CHECK(dlq_sink->dead_letter_records[2].find("source_position")->asString() == "14");
  CHECK(*state.get("cursor/snk").value() == "100");
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
    CHECK(carried.size() == 2);
    CHECK(carried.contains("20#0"));
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
  CHECK(pipeline.takeWriteRefusals().empty());
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
    REQUIRE(carried.size() == 1);
    CHECK(carried.begin()->first == "37#0");
    CHECK(carried.begin()->second == "the message is too large (test)");
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
  pipeline.carryWriteRefusals({{"elsewhere#0", "refused before (test)"}});
  std::stop_source stop;
  auto status = pipeline.run(stop.get_token());
  REQUIRE_FALSE(status);
  CHECK(status.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(status.error().message, Catch::Contains("were not found again when read again after the restart"));
}

TEST_CASE("dead letters beyond dead_letter_limit stop the pipeline before the batch that crossed it",
          "[runtime][pipeline][dlq]") {
  runtime::MemoryStateStore state;
  auto source = std::make_unique<FakeSource>(100, 16);
  source->fail_every = 2;  // 8 dead letters per batch of 16
  auto sink = std::make_unique<FakeSink>(1000);
  FakeSink* snk = sink.get();
  auto options = fastOptions();
  options.dead_letter_limit = {20, std::chrono::minutes(1)};
  runtime::Pipeline pipeline("flood", std::move(source), std::move(sink), state, options);
  std::stop_source stop;
  auto status = pipeline.run(stop.get_token());
  REQUIRE(!status);
  CHECK(status.error().kind == core::ErrorKind::Permanent);
  CHECK_THAT(status.error().message, Catch::Contains("24 dead letters within 60 s exceed dead_letter_limit (20 per 60 s)"));
  CHECK_THAT(status.error().message, Catch::Contains("column n cannot be decoded (test)"));
  // Batches 1 and 2 (16 dead letters) went through; batch 3 was not written.
  CHECK(*state.get("cursor/flood").value() == "32");
  CHECK(std::count(snk->delivered.begin(), snk->delivered.end(), -1) == 16);
  CHECK(std::none_of(snk->delivered.begin(), snk->delivered.end(), [](int64_t n) { return n >= 32; }));
}

TEST_CASE("a stateful transform's state is stored with the delivered cursor and restored", "[runtime][pipeline]") {
  runtime::MemoryStateStore state;
  {
    auto transform = std::make_unique<testing::FakeStatefulTransform>();
    runtime::Pipeline pipeline("agg", std::make_unique<FakeSource>(10, 4), std::make_unique<FakeSink>(1000), state,
                               fastOptions(), std::move(transform));
    std::stop_source stop;
    REQUIRE(pipeline.run(stop.get_token()));
  }
  CHECK(state.get("transform/agg/sum").value() == std::optional<std::string>("45"));
  CHECK(state.get("cursor/agg").value() == std::optional<std::string>("10"));

  auto transform = std::make_unique<testing::FakeStatefulTransform>();
  auto* t = transform.get();
  auto source = std::make_unique<FakeSource>(12, 4);
  runtime::Pipeline pipeline("agg", std::move(source), std::make_unique<FakeSink>(1000), state, fastOptions(),
                             std::move(transform));
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  REQUIRE(t->restored.size() == 1);
  CHECK(t->restored[0].key == "sum");
  CHECK(t->sum == 45 + 10 + 11);
  CHECK(state.get("transform/agg/sum").value() == std::optional<std::string>("66"));
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

// The cursor committed in a transaction's state entries, if any.
std::optional<std::string> committedCursor(const std::vector<core::StateEntry>& entries, const std::string& pipeline) {
  std::optional<std::string> cursor;
  for (const auto& e : entries) {
    if (e.key == "cursor/" + pipeline) cursor = e.value;
  }
  return cursor;
}

}  // namespace

TEST_CASE("exactly-once: records, transform state and cursor commit together, the cursor never passes an uncommitted record",
          "[runtime][pipeline][transactions]") {
  runtime::MemoryStateStore state;
  auto sink = std::make_unique<testing::FakeTransactionalSink>();
  auto* snk = sink.get();
  auto options = fastOptions();
  options.commit_records = 100;
  options.commit_interval = std::chrono::hours(1);
  runtime::Pipeline pipeline("eos", std::make_unique<FakeSource>(1000, 64), std::move(sink), state, options,
                             std::make_unique<testing::FakeStatefulTransform>());
  std::stop_source stop;
  REQUIRE(pipeline.run(stop.get_token()));
  REQUIRE(snk->visible.size() == 1000);
  for (int64_t i = 0; i < 1000; ++i) CHECK(snk->visible[static_cast<size_t>(i)] == i);
  CHECK(snk->commits.size() > 5);  // every 100 records (two batches of 64), not once at the end
  size_t visible_so_far = 0;
  int64_t last_sum = -1;
  for (const auto& entries : snk->commits) {
    auto cursor = committedCursor(entries, "eos");
    REQUIRE(cursor);
    // Each commit's cursor is exactly the records made visible by it and before it.
    visible_so_far = static_cast<size_t>(std::stoll(*cursor));
    bool has_sum = false;
    for (const auto& e : entries) {
      if (e.key == "transform/eos/sum") {
        has_sum = true;
        CHECK(std::stoll(e.value) > last_sum);
        last_sum = std::stoll(e.value);
      }
    }
    CHECK(has_sum);
  }
  CHECK(visible_so_far == 1000);
  CHECK(last_sum == 999 * 1000 / 2);
  // The store remembers what was committed, for status and for a restart in this process.
  CHECK(state.get("cursor/eos").value() == std::optional<std::string>("1000"));
  CHECK(state.get("transform/eos/sum").value() == std::optional<std::string>(std::to_string(last_sum)));
  CHECK(pipeline.stats().transactions == snk->commits.size());
}

TEST_CASE("exactly-once: an aborted transaction leaves the last commit, a rerun delivers the rest exactly once",
          "[runtime][pipeline][transactions]") {
  runtime::MemoryStateStore state;
  auto options = fastOptions();
  options.commit_records = 100;
  options.commit_interval = std::chrono::hours(1);
  std::vector<int64_t> seen;
  {
    auto sink = std::make_unique<testing::FakeTransactionalSink>();
    auto* snk = sink.get();
    snk->fail_commit_number = 3;
    runtime::Pipeline pipeline("abort", std::make_unique<FakeSource>(1000, 64), std::move(sink), state, options,
                               std::make_unique<testing::FakeStatefulTransform>());
    std::stop_source stop;
    auto ran = pipeline.run(stop.get_token());
    REQUIRE_FALSE(ran);
    CHECK(ran.error().kind == core::ErrorKind::Abortable);
    CHECK(snk->aborts == 1);
    REQUIRE(snk->commits.size() == 2);
    seen = snk->visible;
    // The stored cursor is the second commit's, which covers exactly the visible records.
    auto cursor = state.get("cursor/abort").value();
    REQUIRE(cursor);
    CHECK(*cursor == *committedCursor(snk->commits.back(), "abort"));
    CHECK(static_cast<size_t>(std::stoll(*cursor)) == seen.size());
  }
  // What the daemon does next: a fresh pipeline from the last commit.
  auto sink = std::make_unique<testing::FakeTransactionalSink>();
  auto* snk = sink.get();
  auto transform = std::make_unique<testing::FakeStatefulTransform>();
  auto* t = transform.get();
  runtime::Pipeline rerun("abort", std::make_unique<FakeSource>(1000, 64), std::move(sink), state, options,
                          std::move(transform));
  std::stop_source stop;
  REQUIRE(rerun.run(stop.get_token()));
  for (int64_t n : snk->visible) seen.push_back(n);
  REQUIRE(seen.size() == 1000);
  for (int64_t i = 0; i < 1000; ++i) CHECK(seen[static_cast<size_t>(i)] == i);
  CHECK(t->sum == 999 * 1000 / 2);  // restored from the committed state, not double counted
}

TEST_CASE("exactly-once: a Fatal commit (fenced) stops the pipeline and aborts nothing more",
          "[runtime][pipeline][transactions]") {
  runtime::MemoryStateStore state;
  auto sink = std::make_unique<testing::FakeTransactionalSink>();
  auto* snk = sink.get();
  snk->fail_commit_number = 1;
  snk->fail_kind = core::ErrorKind::Fatal;
  runtime::Pipeline pipeline("fenced", std::make_unique<FakeSource>(300, 64), std::move(sink), state, fastOptions());
  std::stop_source stop;
  auto ran = pipeline.run(stop.get_token());
  REQUIRE_FALSE(ran);
  CHECK(ran.error().kind == core::ErrorKind::Fatal);
  CHECK(snk->visible.empty());
  CHECK_FALSE(state.get("cursor/fenced").value().has_value());
}
