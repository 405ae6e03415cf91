// Exactly-once delivery under injected faults: the transactional kafka sink, and a Pipeline
// driving it, against librdkafka's mock cluster. Each test injects one class of error from the
// contract in src/core/sink.h (Retryable / Abortable / Fatal) and checks the outcome: the error
// kind the sink or pipeline reports, what a read_committed consumer of the cluster sees, and the
// cursor the state store holds.
//
// The 2.0.2 mock keeps records of aborted transactions visible (see kafka_mock_util.h). So where a
// test checks "exactly once" across an abort, it arranges for the aborted transaction's records
// never to reach the log (their Produce request fails, or the broker is down while they queue);
// then what the mock shows is what a real broker shows a read_committed reader.

#include <nlohmann/json.hpp>

#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <thread>
#include <string>
#include <utility>
#include <vector>

#include "src/runtime/memory_state_store.h"
#include "src/runtime/pipeline.h"
#include "tests/connectors/kafka/kafka_mock_util.h"
#include "tests/fakes/fakes.h"

using namespace dutybridge;
using namespace std::chrono_literals;
using testing::MockCluster;
using testing::SteadyClock;

namespace {

const std::string kStateTopic = "dutybridge.state";

// The transactional sink as the daemon builds it for `delivery: exactly_once` (fallback false) or
// `delivery: auto` (fallback true).
std::unique_ptr<core::Sink> transactionalSink(const testing::SinkConfig& config, const std::string& pipeline,
                                              bool fallback = false) {
  core::ConnectorContext context;
  context.pipeline_name = pipeline;
  context.kafka = config.daemon->kafkaCluster();
  context.exactly_once = true;
  context.exactly_once_fallback = fallback;
  auto sink = testing::kafkaRegistry().findSink("kafka")->create(config.sink(), context);
  if (!sink) FAIL("create: " + sink.error().describe());
  return std::move(*sink);
}

std::unique_ptr<core::Sink> openTransactionalSink(const testing::SinkConfig& config, const std::string& pipeline) {
  auto sink = transactionalSink(config, pipeline);
  auto opened = sink->open();
  if (!opened) FAIL("open: " + opened.error().describe());
  REQUIRE(sink->transactional());
  return sink;
}

// Retries while the sink answers Retryable, as the pipeline does; returns the first other outcome.
core::Status commitRetrying(core::Sink& sink, const std::vector<core::StateEntry>& state, int* retries = nullptr,
                            std::chrono::seconds timeout = 20s) {
  auto deadline = SteadyClock::now() + timeout;
  while (true) {
    auto committed = sink.commitTransaction(state, SteadyClock::now() + 5s);
    if (committed || committed.error().kind != core::ErrorKind::Retryable || SteadyClock::now() > deadline) {
      return committed;
    }
    if (retries) ++*retries;
  }
}

core::Status abortRetrying(core::Sink& sink, std::chrono::seconds timeout = 20s) {
  auto deadline = SteadyClock::now() + timeout;
  while (true) {
    auto aborted = sink.abortTransaction(SteadyClock::now() + 5s);
    if (aborted || aborted.error().kind != core::ErrorKind::Retryable || SteadyClock::now() > deadline) return aborted;
  }
}

void requireCommitted(core::Sink& sink, const std::vector<core::StateEntry>& state) {
  auto committed = commitRetrying(sink, state);
  if (!committed) FAIL("commit: " + committed.error().describe());
}

// Everything a read_committed consumer sees in `topic`, read up to the end of every partition
// (waiting for the topic to exist).
std::vector<testing::Message> readCommitted(const std::string& bootstrap, const std::string& topic) {
  return testing::readCommitted(bootstrap, topic,
                                testing::ReadOptions{.timeout = 15s, .wait_for_topic = true, .fail_on_errors = false});
}

// How often each value of the integer field `field` occurs in the JSON values of `messages`.
std::map<int64_t, int> fieldCounts(const std::vector<testing::Message>& messages, const std::string& field) {
  std::map<int64_t, int> counts;
  for (const auto& message : messages) {
    REQUIRE(message.value);
    ++counts[nlohmann::json::parse(*message.value).at(field).get<int64_t>()];
  }
  return counts;
}

// {from: 1, ..., to - 1: 1}: each record exactly once.
std::map<int64_t, int> once(int64_t from, int64_t to) {
  std::map<int64_t, int> counts;
  for (int64_t i = from; i < to; ++i) counts[i] = 1;
  return counts;
}

// key=value of every state entry in the state topic, in log order.
std::vector<std::string> stateLog(const std::string& bootstrap) {
  std::vector<std::string> out;
  for (const auto& message : readCommitted(bootstrap, kStateTopic)) {
    out.push_back(message.key.value_or("") + "=" + message.value.value_or(""));
  }
  return out;
}

std::vector<core::StateEntry> cursor(const std::string& position) { return {{"cursor/txn", position}}; }

}  // namespace

TEST_CASE("transactions: retriable InitProducerId errors are retried until open succeeds",
          "[kafka][transactions][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.init", 1);
  cluster.createTopic(kStateTopic, 1);
  rd_kafka_mock_push_request_errors(cluster.get(), testing::kInitProducerIdApi, 3,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
                                    RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.init");
  auto sink = transactionalSink(config, "txn");
  auto deadline = SteadyClock::now() + 30s;
  core::Status opened = sink->open();
  while (!opened && opened.error().kind == core::ErrorKind::Retryable && SteadyClock::now() < deadline) {
    opened = sink->open();
  }
  INFO((opened ? "ok" : opened.error().describe()));
  REQUIRE(opened);
  REQUIRE(sink->transactional());

  auto records = testing::testRecords(0, 5);
  testing::writeAll(*sink, records, 1);
  requireCommitted(*sink, cursor("5"));
  CHECK(*sink->poll(0ms) == 1);
  CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.init"), "id") == once(0, 5));
  CHECK(stateLog(cluster.bootstrap()) == std::vector<std::string>{"cursor/txn=5"});
}

TEST_CASE("transactions: a cluster refusing the transactional id is InvalidConfig, or at-least-once with delivery: auto",
          "[kafka][transactions][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.refused", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.refused");
  rd_kafka_mock_push_request_errors(cluster.get(), testing::kInitProducerIdApi, 1,
                                    RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED);

  SECTION("delivery: exactly_once fails at open") {
    auto sink = transactionalSink(config, "txn", false);
    auto opened = sink->open();
    REQUIRE_FALSE(opened);
    INFO(opened.error().describe());
    CHECK(opened.error().kind == core::ErrorKind::InvalidConfig);
  }

  SECTION("delivery: auto goes on as an idempotent producer") {
    auto sink = transactionalSink(config, "txn", true);
    auto opened = sink->open();
    INFO((opened ? "ok" : opened.error().describe()));
    REQUIRE(opened);
    CHECK_FALSE(sink->transactional());
    auto records = testing::testRecords(0, 3);
    testing::writeAll(*sink, records, 1);
    testing::awaitDelivered(*sink, 1, 15s);  // at-least-once: delivered without any commit
    CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.refused"), "id") == once(0, 3));
  }
}

TEST_CASE("transactions: a non-retriable produce error is Abortable, after the abort nothing of it is visible",
          "[kafka][transactions][mock]") {
  auto error_code = GENERATE(RD_KAFKA_RESP_ERR_INVALID_RECORD, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
  INFO(rd_kafka_err2name(error_code));
  MockCluster cluster(1);
  cluster.createTopic("txn.produce", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.produce");
  auto sink = openTransactionalSink(config, "txn");

  auto first = testing::testRecords(0, 5);
  testing::writeAll(*sink, first, 1);
  requireCommitted(*sink, cursor("5"));

  rd_kafka_mock_push_request_errors(cluster.get(), testing::kProduceApi, 1, error_code);
  auto second = testing::testRecords(5, 5);
  testing::writeAll(*sink, second, 2);
  core::Error error = testing::awaitError(*sink, 2, 15s);
  INFO(error.describe());
  CHECK(error.kind == core::ErrorKind::Abortable);
  // The transaction cannot commit, and its state entry must not be written.
  auto committed = sink->commitTransaction(cursor("10"), SteadyClock::now() + 5s);
  REQUIRE_FALSE(committed);
  CHECK(committed.error().kind == core::ErrorKind::Abortable);
  REQUIRE(abortRetrying(*sink));
  CHECK(*sink->poll(0ms) == 1);

  // As the daemon does after Abortable: a new sink (same transactional id) sends the records after
  // the last committed cursor again.
  sink->close();
  sink = openTransactionalSink(config, "txn");
  testing::writeAll(*sink, second, 1);
  requireCommitted(*sink, cursor("10"));
  CHECK(*sink->poll(0ms) == 1);

  CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.produce"), "id") == once(0, 10));
  CHECK(stateLog(cluster.bootstrap()) == std::vector<std::string>{"cursor/txn=5", "cursor/txn=10"});
}

TEST_CASE("transactions: retriable produce errors are retried inside the transaction, which commits",
          "[kafka][transactions][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.retry", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.retry, key: [id]");
  auto sink = openTransactionalSink(config, "txn");

  rd_kafka_mock_push_request_errors(cluster.get(), testing::kProduceApi, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION);
  auto records = testing::testRecords(0, 20);
  testing::writeAll(*sink, records, 1);
  auto polled = sink->poll(200ms);
  REQUIRE(polled);
  CHECK(*polled == 0);  // delivered, but not committed: not yet reported
  requireCommitted(*sink, cursor("20"));
  CHECK(*sink->poll(0ms) == 1);
  CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.retry"), "id") == once(0, 20));
  CHECK(stateLog(cluster.bootstrap()) == std::vector<std::string>{"cursor/txn=20"});
}

TEST_CASE("transactions: retriable EndTxn errors, a Retryable commit tried again writes its state once",
          "[kafka][transactions][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.endtxn", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.endtxn");
  auto sink = openTransactionalSink(config, "txn");
  auto records = testing::testRecords(0, 10);
  testing::writeAll(*sink, records, 1);
  const std::vector<core::StateEntry> state{{"transform/txn/window-1", "{\"n\":10}"}, {"cursor/txn", "10"}};

  SECTION("retried inside librdkafka") {
    rd_kafka_mock_push_request_errors(cluster.get(), testing::kEndTxnApi, 3, RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                      RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS,
                                      RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS);
    int retries = 0;
    auto committed = commitRetrying(*sink, state, &retries);
    INFO((committed ? "ok" : committed.error().describe()) << ", Retryable " << retries << " times");
    REQUIRE(committed);
  }

  SECTION("answered after the commit deadline") {
    REQUIRE(rd_kafka_mock_broker_push_request_error_rtts(cluster.get(), 1, testing::kEndTxnApi, 1,
                                                         RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE,
                                                         1500) == RD_KAFKA_RESP_ERR_NO_ERROR);
    auto committed = sink->commitTransaction(state, SteadyClock::now() + 300ms);
    REQUIRE_FALSE(committed);
    INFO(committed.error().describe());
    REQUIRE(committed.error().kind == core::ErrorKind::Retryable);
    CHECK(*sink->poll(0ms) == 0);  // not committed yet: nothing reported delivered
    int retries = 0;
    auto again = commitRetrying(*sink, state, &retries);
    INFO((again ? "ok" : again.error().describe()) << ", Retryable " << retries << " more times");
    REQUIRE(again);
  }

  CHECK(*sink->poll(0ms) == 1);
  CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.endtxn"), "id") == once(0, 10));
  CHECK(stateLog(cluster.bootstrap()) ==
        std::vector<std::string>{"transform/txn/window-1={\"n\":10}", "cursor/txn=10"});
}

TEST_CASE("transactions: an abortable EndTxn error is Abortable, the abort succeeds and the next transaction commits",
          "[kafka][transactions][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.endtxn-abort", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.endtxn-abort");
  auto sink = openTransactionalSink(config, "txn");
  auto records = testing::testRecords(0, 5);
  testing::writeAll(*sink, records, 1);

  rd_kafka_mock_push_request_errors(cluster.get(), testing::kEndTxnApi, 1, RD_KAFKA_RESP_ERR_UNKNOWN_PRODUCER_ID);
  auto committed = commitRetrying(*sink, cursor("5"));
  REQUIRE_FALSE(committed);
  INFO(committed.error().describe());
  CHECK(committed.error().kind == core::ErrorKind::Abortable);
  REQUIRE(abortRetrying(*sink));
  CHECK(*sink->poll(0ms) == 0);

  testing::writeAll(*sink, records, 2);
  requireCommitted(*sink, cursor("5"));
  CHECK(*sink->poll(0ms) == 2);
  // The mock keeps the aborted transaction's records (appended before EndTxn failed) visible, so
  // only "the rewritten ones are there" can be checked here, not "exactly once".
  auto counts = fieldCounts(readCommitted(cluster.bootstrap(), "txn.endtxn-abort"), "id");
  for (int64_t i = 0; i < 5; ++i) CHECK(counts[i] >= 1);
}

TEST_CASE("transactions: a broker outage makes the commit Retryable or Abortable, after it nothing is lost or doubled",
          "[kafka][transactions][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.outage", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.outage");
  auto sink = openTransactionalSink(config, "txn");
  auto first = testing::testRecords(0, 5);
  testing::writeAll(*sink, first, 1);
  requireCommitted(*sink, cursor("5"));

  REQUIRE(rd_kafka_mock_broker_set_down(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto second = testing::testRecords(5, 10);
  testing::writeAll(*sink, second, 2);
  auto committed = sink->commitTransaction(cursor("15"), SteadyClock::now() + 1s);
  REQUIRE_FALSE(committed);
  INFO(committed.error().describe());
  const core::ErrorKind kind = committed.error().kind;
  REQUIRE((kind == core::ErrorKind::Retryable || kind == core::ErrorKind::Abortable));
  CHECK(*sink->poll(0ms) == 1);

  if (kind == core::ErrorKind::Retryable) {
    // Still down: still only Retryable, and no state entry produced twice.
    auto again = sink->commitTransaction(cursor("15"), SteadyClock::now() + 500ms);
    REQUIRE_FALSE(again);
    CHECK(again.error().kind == core::ErrorKind::Retryable);
    REQUIRE(rd_kafka_mock_broker_set_up(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    requireCommitted(*sink, cursor("15"));
    CHECK(*sink->poll(0ms) == 2);
  } else {
    REQUIRE(rd_kafka_mock_broker_set_up(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    REQUIRE(abortRetrying(*sink));
    testing::writeAll(*sink, second, 3);
    requireCommitted(*sink, cursor("15"));
    CHECK(*sink->poll(0ms) == 3);
  }
  CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.outage"), "id") == once(0, 15));
  CHECK(stateLog(cluster.bootstrap()) == std::vector<std::string>{"cursor/txn=5", "cursor/txn=15"});
}

TEST_CASE("transactions: a fenced producer is Fatal", "[kafka][transactions][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.fenced", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.fenced");
  auto sink = openTransactionalSink(config, "txn");
  auto records = testing::testRecords(0, 5);
  testing::writeAll(*sink, records, 1);
  requireCommitted(*sink, cursor("5"));

  // The mock does not fence a producer when a second one initialises the same transactional.id
  // (kafka_mock_util.h); the coordinator's and the partition leader's answer to a fenced
  // producer is injected instead.
  SECTION("the coordinator answers EndTxn with PRODUCER_FENCED") {
    testing::writeAll(*sink, records, 2);
    rd_kafka_mock_push_request_errors(cluster.get(), testing::kEndTxnApi, 1, RD_KAFKA_RESP_ERR_PRODUCER_FENCED);
    auto committed = commitRetrying(*sink, cursor("5"));
    REQUIRE_FALSE(committed);
    INFO(committed.error().describe());
    CHECK(committed.error().kind == core::ErrorKind::Fatal);
  }

  SECTION("the partition leader answers Produce with INVALID_PRODUCER_EPOCH") {
    rd_kafka_mock_push_request_errors(cluster.get(), testing::kProduceApi, 1,
                                      RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH);
    testing::writeAll(*sink, records, 2);
    core::Error error = testing::awaitError(*sink, 2, 15s);
    INFO(error.describe());
    CHECK(error.kind == core::ErrorKind::Fatal);
  }

  // Fatal stays: nothing more may be written or committed with this producer.
  auto later = sink->write(records, 3);
  REQUIRE_FALSE(later);
  CHECK(later.error().kind == core::ErrorKind::Fatal);
  auto polled = sink->poll(0ms);
  REQUIRE_FALSE(polled);
  CHECK(polled.error().kind == core::ErrorKind::Fatal);
}

namespace {

// FakeSource that runs `before_batch_from` just before it hands out the batch starting at
// `at` (a record count, as FakeSource positions are): where a test injects its fault.
class HookedSource final : public core::Source {
 public:
  HookedSource(int total, int batch) : inner_(total, batch) {}

  core::Status open(const std::optional<std::string>& position) override {
    next_ = position.value_or("0");
    return inner_.open(position);
  }
  core::Result<core::SourceBatch> poll(std::chrono::milliseconds wait) override {
    if (hook && next_ == std::to_string(at)) std::exchange(hook, nullptr)();
    auto batch = inner_.poll(wait);
    if (batch && !batch->position.empty()) next_ = batch->position;
    return batch;
  }
  core::Status commit(std::string_view position) override { return inner_.commit(position); }
  core::Result<std::optional<core::SourceDescription>> describe() override { return inner_.describe(); }
  void close() override { inner_.close(); }

  const std::optional<std::string>& openedFrom() const { return inner_.opened_from; }

  int at = -1;
  std::function<void()> hook;

 private:
  testing::FakeSource inner_;
  std::string next_;
};

}  // namespace

TEST_CASE("transactions: a pipeline whose transaction aborts resumes from the last commit, every record arrives once",
          "[kafka][transactions][mock][pipeline]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.pipeline", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.pipeline", "txn");
  runtime::MemoryStateStore state;
  runtime::PipelineOptions options;
  options.stop_when_idle = true;
  options.poll_wait = 10ms;
  options.backoff_initial = 10ms;
  options.backoff_max = 100ms;
  options.flush_timeout = 5s;
  options.stop_timeout = 5s;
  // One source batch per transaction: the injected Produce error then fails every record of the
  // aborted transaction, so none of them reaches the mock's log (which cannot hide aborted ones).
  options.commit_records = 10;
  options.commit_interval = 60s;

  // Run 1: transactions of records 0-9, ..., 30-39 commit; the one of 40-49 fails to produce.
  auto first_source = std::make_unique<HookedSource>(100, 10);
  first_source->at = 40;
  // Two errors: the transaction's records and its state entry go in separate Produce requests, in
  // either order; both fail, so nothing of the aborted transaction reaches the mock's log.
  first_source->hook = [&cluster] {
    rd_kafka_mock_push_request_errors(cluster.get(), testing::kProduceApi, 2, RD_KAFKA_RESP_ERR_INVALID_RECORD,
                                      RD_KAFKA_RESP_ERR_INVALID_RECORD);
  };
  runtime::Pipeline first("txn", std::move(first_source), transactionalSink(config, "txn"), state, options);
  auto outcome = first.run(std::stop_token{});
  REQUIRE_FALSE(outcome);
  INFO(outcome.error().describe());
  CHECK(outcome.error().kind == core::ErrorKind::Abortable);
  // Only what committed: never a cursor past a record of the aborted transaction.
  CHECK(state.get(first.cursorKey()).value() == std::optional<std::string>("40"));
  CHECK(first.stats().transactions.load() == 4);

  // An error the aborted transaction left unused must not hit run 2.
  rd_kafka_mock_clear_request_errors(cluster.get(), testing::kProduceApi);

  // Run 2, as the daemon rebuilds the pipeline after Abortable: fresh source, sink and transform,
  // the same state store.
  auto second_source = std::make_unique<HookedSource>(100, 10);
  auto* second_source_view = second_source.get();
  runtime::Pipeline second("txn", std::move(second_source), transactionalSink(config, "txn"), state, options);
  auto resumed = second.run(std::stop_token{});
  INFO((resumed ? "ok" : resumed.error().describe()));
  REQUIRE(resumed);
  CHECK(second_source_view->openedFrom() == std::optional<std::string>("40"));
  CHECK(state.get(second.cursorKey()).value() == std::optional<std::string>("100"));

  CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.pipeline"), "n") == once(0, 100));
}

namespace {

runtime::PipelineOptions outageOptions() {
  runtime::PipelineOptions options;
  options.stop_when_idle = true;
  options.poll_wait = 10ms;
  options.backoff_initial = 50ms;
  options.backoff_max = 200ms;
  options.flush_timeout = 500ms;
  options.stop_timeout = 500ms;
  options.commit_records = 10;
  options.commit_interval = 60s;
  return options;
}

}  // namespace

TEST_CASE("transactions: a pipeline retries its commit through a broker outage, every record arrives once",
          "[kafka][transactions][mock][pipeline]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.pipeline-outage", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.pipeline-outage", "txn");
  runtime::MemoryStateStore state;

  // The broker goes down just before records 40-49 are read, and comes back 2 s later.
  std::jthread restore;
  auto source = std::make_unique<HookedSource>(100, 10);
  source->at = 40;
  source->hook = [&] {
    REQUIRE(rd_kafka_mock_broker_set_down(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    restore = std::jthread([&cluster] {
      std::this_thread::sleep_for(2s);
      rd_kafka_mock_broker_set_up(cluster.get(), 1);
    });
  };
  runtime::Pipeline pipeline("txn", std::move(source), transactionalSink(config, "txn"), state, outageOptions());
  auto outcome = pipeline.run(std::stop_token{});
  INFO((outcome ? "ok" : outcome.error().describe()));
  REQUIRE(outcome);
  CHECK(pipeline.stats().retries.load() > 0);  // the commit was Retryable while the broker was down
  CHECK(state.get(pipeline.cursorKey()).value() == std::optional<std::string>("100"));
  CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.pipeline-outage"), "n") == once(0, 100));
}

// A stop requested while a transactional pipeline's commit is Retryable (the cluster is down)
// ends the run without error (Retryable errors never end a run); nothing of the transaction is
// visible, and the next run resumes from the last commit, which the second half checks.
TEST_CASE("transactions: a stop requested while the cluster is down ends the run cleanly, the next run resumes",
          "[kafka][transactions][mock][pipeline]") {
  MockCluster cluster(1);
  cluster.createTopic("txn.pipeline-stop", 1);
  cluster.createTopic(kStateTopic, 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: txn.pipeline-stop", "txn");
  runtime::MemoryStateStore state;

  std::stop_source stop;
  std::jthread stopper;
  auto source = std::make_unique<HookedSource>(100, 10);
  source->at = 40;
  source->hook = [&] {
    REQUIRE(rd_kafka_mock_broker_set_down(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
    stopper = std::jthread([&stop] {
      std::this_thread::sleep_for(1500ms);
      stop.request_stop();
    });
  };
  runtime::Pipeline first("txn", std::move(source), transactionalSink(config, "txn"), state, outageOptions());
  auto outcome = first.run(stop.get_token());
  stopper = {};
  CHECK(state.get(first.cursorKey()).value() == std::optional<std::string>("40"));

  REQUIRE(rd_kafka_mock_broker_set_up(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto second_source = std::make_unique<HookedSource>(100, 10);
  auto* second_source_view = second_source.get();
  runtime::Pipeline second("txn", std::move(second_source), transactionalSink(config, "txn"), state, outageOptions());
  auto resumed = second.run(std::stop_token{});
  INFO((resumed ? "ok" : resumed.error().describe()));
  REQUIRE(resumed);
  CHECK(second_source_view->openedFrom() == std::optional<std::string>("40"));
  CHECK(fieldCounts(readCommitted(cluster.bootstrap(), "txn.pipeline-stop"), "n") == once(0, 100));

  // Last, so that the delivery checks above run whatever this says.
  INFO((outcome ? "ok" : outcome.error().describe()));
  CHECK(outcome);
}
