// The sink opened while no broker runs at all: records queue, and a real broker started later
// (a second one, in its own state dir, so the shared broker of scripts/test is untouched)
// receives every one of them.

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "tests/connectors/kafka/kafka_test_util.h"
#include "tests/support/env.h"

using namespace dutybridge;
using namespace std::chrono_literals;
using testing::SteadyClock;

namespace {

std::string shellQuote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs scripts/kafka-local for a broker of our own on `port`; `clean` at destruction stops it
// and removes its state, whatever happened in between.
class LocalBroker {
 public:
  LocalBroker(std::string script, int port) : script_(std::move(script)), port_(port) {
    char pattern[] = "/tmp/dutybridge-kafka-outage.XXXXXX";
    REQUIRE(::mkdtemp(pattern));
    run_dir_ = pattern;
  }
  ~LocalBroker() {
    run("clean");
    std::error_code ec;
    std::filesystem::remove_all(run_dir_, ec);
  }
  int run(const std::string& command) const {
    std::string line = fmt::format("DUTYBRIDGE_RUN={} DUTYBRIDGE_KAFKA_PORT={} {} {} >&2", shellQuote(run_dir_), port_,
                                   shellQuote(script_), command);
    return std::system(line.c_str());
  }

 private:
  std::string script_;
  int port_;
  std::string run_dir_;
};

}  // namespace

TEST_CASE("records written while no broker runs are delivered once one starts", "[integration][kafka]") {
  std::string script = testing::requireEnv("DUTYBRIDGE_KAFKA_LOCAL");
  int port = testing::freePort();
  std::string bootstrap = fmt::format("127.0.0.1:{}", port);
  std::string topic = testing::uniqueName("dutybridge.it.outage");
  LocalBroker broker(script, port);

  auto config = testing::sinkConfig(bootstrap, fmt::format("topic: {}, key: [id]", topic));
  auto sink = testing::openSink(config);  // nothing listens: open still succeeds
  // A sink that creates its topic holds records back until the topic is confirmed.
  std::string created_topic = testing::uniqueName("dutybridge.it.outage-created");
  auto created_config = testing::sinkConfig(
      bootstrap,
      fmt::format("topic: {}, key: [id], create_topic: true, partitions: 2, compacted: true", created_topic));
  auto created = testing::openSink(created_config);
  auto held = testing::testRecords(0, 10);
  auto none = created->write(held, 1);
  REQUIRE(none);
  CHECK(*none == 0);

  constexpr int kPerBatch = 100;
  auto first = testing::testRecords(0, kPerBatch);
  auto second = testing::testRecords(kPerBatch, kPerBatch);
  CHECK(testing::writeAll(*sink, first, 1) == 0);  // queued, no backpressure yet
  CHECK(testing::writeAll(*sink, second, 2) == 0);
  auto until = SteadyClock::now() + 2s;
  while (SteadyClock::now() < until) {
    auto polled = sink->poll(100ms);
    REQUIRE(polled);
    CHECK(*polled == 0);
  }
  auto flushed = sink->flush(SteadyClock::now() + 500ms);
  REQUIRE_FALSE(flushed);
  CHECK(flushed.error().kind == core::ErrorKind::Retryable);

  REQUIRE(broker.run("start") == 0);
  testing::awaitDelivered(*sink, 2, 180s);
  REQUIRE(sink->flush(SteadyClock::now() + 10s));
  sink->close();

  testing::writeAll(*created, held, 1, 180s);
  testing::awaitDelivered(*created, 1);
  created->close();
  CHECK(testing::topicConfig(bootstrap, created_topic, "cleanup.policy") == "compact");
  auto created_messages = testing::consumeAll(bootstrap, created_topic, held.size());
  CHECK(created_messages.size() == held.size());
  std::set<int32_t> partitions;
  for (const auto& message : created_messages) partitions.insert(message.partition);
  CHECK(partitions.size() == 2);

  auto messages = testing::consumeAll(bootstrap, topic, 2 * kPerBatch);
  std::set<int64_t> ids;
  for (const auto& message : messages) ids.insert(nlohmann::json::parse(*message.value).at("id").get<int64_t>());
  CHECK(messages.size() == 2 * kPerBatch);
  CHECK(ids.size() == 2 * kPerBatch);
}
