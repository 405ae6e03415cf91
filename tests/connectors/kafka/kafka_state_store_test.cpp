#include "connectors/kafka/kafka_state_store.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "tests/connectors/kafka/kafka_test_util.h"
#include "tests/support/env.h"

using namespace dutybridge;
using namespace std::chrono_literals;
using testing::SteadyClock;

namespace {

std::unique_ptr<core::StateStore> openStore(const testing::SinkConfig& config, std::string_view suffix = "state") {
  auto store = connectors::openKafkaStateStore(config.kafka(), suffix);
  if (!store) FAIL("open: " + store.error().describe());
  return std::move(*store);
}

std::optional<std::string> read(core::StateStore& store, std::string_view key) {
  auto value = store.get(key);
  if (!value) FAIL("get: " + value.error().describe());
  return *value;
}

}  // namespace

TEST_CASE("the Kafka state store survives a restart, tombstones included", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string state_topic = testing::uniqueName("dutybridge.it.state");
  auto config = testing::sinkConfig(bootstrap, "topic: unused", "it", state_topic);

  {
    auto store = openStore(config);
    CHECK_FALSE(read(*store, "cursor/mes-reports"));
    REQUIRE(store->put("cursor/mes-reports", "2025-03-14T12:00:00Z|4711"));
    REQUIRE(store->put("cursor/erp-purchases", "po-1"));
    REQUIRE(store->put("cursor/erp-purchases", "po-2"));  // the latest value wins
    REQUIRE(store->put("cursor/crm", "c-1"));
    REQUIRE(store->put("cursor/crm", ""));                  // tombstone
    CHECK(read(*store, "cursor/erp-purchases") == "po-2");  // visible at once, before flush
    CHECK_FALSE(read(*store, "cursor/crm"));
    REQUIRE(store->flush(SteadyClock::now() + 30s));
  }
  CHECK(testing::topicConfig(bootstrap, state_topic, "cleanup.policy") == "compact");

  {
    auto store = openStore(config);
    CHECK(read(*store, "cursor/mes-reports") == "2025-03-14T12:00:00Z|4711");
    CHECK(read(*store, "cursor/erp-purchases") == "po-2");
    CHECK_FALSE(read(*store, "cursor/crm"));
    REQUIRE(store->put("cursor/mes-reports", ""));
    REQUIRE(store->put("cursor/erp-purchases", "po-3"));
    REQUIRE(store->flush(SteadyClock::now() + 30s));
  }

  auto store = openStore(config);
  CHECK_FALSE(read(*store, "cursor/mes-reports"));
  CHECK(read(*store, "cursor/erp-purchases") == "po-3");
}

TEST_CASE("the Kafka state store is thread-safe", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string state_topic = testing::uniqueName("dutybridge.it.state-threads");
  auto config = testing::sinkConfig(bootstrap, "topic: unused", "it", state_topic);
  {
    auto store = openStore(config);
    std::atomic<int> failures{0};  // Catch assertions are not thread-safe
    {
      std::vector<std::jthread> threads;
      for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&store, &failures, t] {
          std::string key = fmt::format("cursor/p{}", t);
          for (int i = 1; i <= 200; ++i) {
            if (!store->put(key, std::to_string(i))) ++failures;
            auto value = store->get(key);
            if (!value || *value != std::to_string(i)) ++failures;
          }
          if (!store->flush(SteadyClock::now() + 30s)) ++failures;
        });
      }
    }
    CHECK(failures == 0);
  }
  auto store = openStore(config);
  for (int t = 0; t < 4; ++t) CHECK(read(*store, fmt::format("cursor/p{}", t)) == "200");
}

TEST_CASE("opening the state store without a reachable cluster is retryable", "[integration][kafka]") {
  auto config = testing::sinkConfig(fmt::format("127.0.0.1:{}", testing::freePort()), "topic: unused");
  auto started = SteadyClock::now();
  auto store = connectors::openKafkaStateStore(config.kafka(), "state", connectors::KafkaStateStoreOptions{2s});
  auto took = SteadyClock::now() - started;
  REQUIRE_FALSE(store);
  CHECK(store.error().kind == core::ErrorKind::Retryable);
  CHECK_THAT(store.error().message, Catch::Contains("dutybridge.state"));
  CHECK(took < 10s);
}
