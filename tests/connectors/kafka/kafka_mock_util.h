#pragma once
// librdkafka's in-process mock cluster for fault injection (kafka_mock_test.cpp,
// kafka_transaction_test.cpp): the code under test only sees a bootstrap address; the test makes
// the "brokers" answer requests with errors, delay them, or go down.
//
// Limits of the mock in librdkafka 2.0.2 (Debian 12) that shape these tests:
// - No transaction markers and no read_committed filtering: Fetch answers LastStableOffset =
//   high watermark and no aborted transactions, and EndTxn only checks the producer id. A record
//   appended inside a transaction that is later aborted stays visible to every consumer. So a
//   test can only check "nothing of an aborted transaction is visible" when none of its records
//   reached the log (they failed or were still queued when it aborted).
// - No fencing: InitProducerId for a transactional.id already in use hands out a new producer
//   id and leaves the old one valid, so a second producer with the same transactional.id does
//   not fence the first. Fencing is injected as an error code instead.

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <string>

#include "tests/connectors/kafka/kafka_test_util.h"

// After kafka_test_util.h: rdkafka_mock.h needs rdkafka.h first.
#include <librdkafka/rdkafka_mock.h>

namespace dutybridge::testing {

// Kafka protocol API keys (librdkafka keeps its RD_KAFKAP_* constants private).
constexpr int16_t kProduceApi = 0;
constexpr int16_t kInitProducerIdApi = 22;
constexpr int16_t kAddPartitionsToTxnApi = 24;
constexpr int16_t kEndTxnApi = 26;

class MockCluster {
 public:
  explicit MockCluster(int brokers) {
    kafka::KafkaConfig config;
    REQUIRE(config.set("log_level", "3"));
    auto host = kafka::createClient(RD_KAFKA_PRODUCER, std::move(config));
    REQUIRE(host);
    host_ = std::move(*host);
    cluster_ = rd_kafka_mock_cluster_new(host_.get(), brokers);
    REQUIRE(cluster_);
  }
  ~MockCluster() { rd_kafka_mock_cluster_destroy(cluster_); }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  rd_kafka_mock_cluster_t* get() const { return cluster_; }
  std::string bootstrap() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }
  void createTopic(const std::string& topic, int partitions) {
    REQUIRE(rd_kafka_mock_topic_create(cluster_, topic.c_str(), partitions, 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  kafka::KafkaHandle host_;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

// Polls until poll() fails; returns the error (fails the test if `sequence` is reported
// delivered first).
inline core::Error awaitError(core::Sink& sink, uint64_t sequence,
                              std::chrono::seconds timeout = std::chrono::seconds(30)) {
  auto deadline = SteadyClock::now() + timeout;
  while (SteadyClock::now() < deadline) {
    auto polled = sink.poll(std::chrono::milliseconds(100));
    if (!polled) return polled.error();
    if (*polled >= sequence) FAIL("sequence " << sequence << " was reported delivered despite the injected error");
  }
  FAIL("no error within the timeout");
  return core::Error{};
}

}  // namespace dutybridge::testing
