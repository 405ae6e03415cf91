// Fault injection with librdkafka's mock cluster: the sink under test is configured exactly as
// in production and only sees a bootstrap address; the test makes the "broker" answer Produce
// requests with errors or go down.

#include <catch2/catch.hpp>

#include "tests/connectors/kafka/kafka_mock_util.h"

using namespace dutybridge;
using namespace std::chrono_literals;
using testing::awaitError;
using testing::kProduceApi;
using testing::MockCluster;
using testing::SteadyClock;

TEST_CASE("mock: retriable produce errors are retried transparently", "[kafka][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("mock.retry", 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: mock.retry, key: [id]");
  auto sink = testing::openSink(config);

  rd_kafka_mock_push_request_errors(cluster.get(), kProduceApi, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
                                    RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  auto records = testing::testRecords(0, 50);
  testing::writeAll(*sink, records, 1);
  testing::awaitDelivered(*sink, 1);
  REQUIRE(sink->flush(SteadyClock::now() + 5s));
  auto messages = testing::consumeAll(cluster.bootstrap(), "mock.retry", 50, 10s);
  CHECK(messages.size() == 50);  // delivered once each: idempotence removed the retried duplicates
}

TEST_CASE("mock: a permanent produce error is a Permanent error from poll", "[kafka][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("mock.permanent", 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: mock.permanent", "mock-pipeline");
  auto sink = testing::openSink(config, "mock-pipeline");

  // Deliver one batch cleanly first: the error must hit the second one only.
  auto good = testing::testRecords(0, 5);
  testing::writeAll(*sink, good, 1);
  testing::awaitDelivered(*sink, 1);

  auto error_code = GENERATE(RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, RD_KAFKA_RESP_ERR_INVALID_RECORD);
  INFO(rd_kafka_err2name(error_code));
  rd_kafka_mock_push_request_errors(cluster.get(), kProduceApi, 1, error_code);
  auto bad = testing::testRecords(5, 1);
  testing::writeAll(*sink, bad, 2);
  core::Error error = awaitError(*sink, 2);
  CHECK(error.kind == core::ErrorKind::Permanent);
  CHECK_THAT(error.message, Catch::Contains(testing::sha256Hex("dutybridge/mock-pipeline\npos-5")));
  CHECK_THAT(error.message, Catch::Contains("batch 2"));
  CHECK_THAT(error.message, !Catch::Contains("注塑") && !Catch::Contains("装配"));
  // The error stays: the pipeline must not go on as if the batch had been delivered.
  auto again = sink->poll(0ms);
  REQUIRE_FALSE(again);
  CHECK(again.error().kind == core::ErrorKind::Permanent);
}

TEST_CASE("mock: a broken idempotence sequence is a Fatal error", "[kafka][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("mock.fatal", 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: mock.fatal");
  auto sink = testing::openSink(config);

  rd_kafka_mock_push_request_errors(cluster.get(), kProduceApi, 1, RD_KAFKA_RESP_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER);
  auto records = testing::testRecords(0, 3);
  testing::writeAll(*sink, records, 1);
  core::Error error = awaitError(*sink, 1);
  CHECK(error.kind == core::ErrorKind::Fatal);
  auto later = sink->write(records, 2);
  REQUIRE_FALSE(later);
  CHECK(later.error().kind == core::ErrorKind::Fatal);
  CHECK_FALSE(sink->flush(SteadyClock::now() + 1s));
}

TEST_CASE("mock: records wait through a broker outage and are delivered afterwards", "[kafka][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("mock.outage", 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: mock.outage");
  auto sink = testing::openSink(config);
  auto warm = testing::testRecords(0, 1);
  testing::writeAll(*sink, warm, 1);
  testing::awaitDelivered(*sink, 1);

  REQUIRE(rd_kafka_mock_broker_set_down(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto records = testing::testRecords(1, 100);
  testing::writeAll(*sink, records, 2);
  auto until = SteadyClock::now() + 2s;
  while (SteadyClock::now() < until) {
    auto polled = sink->poll(100ms);
    REQUIRE(polled);
    CHECK(*polled == 1);
  }
  auto flushed = sink->flush(SteadyClock::now() + 500ms);
  REQUIRE_FALSE(flushed);
  CHECK(flushed.error().kind == core::ErrorKind::Retryable);

  REQUIRE(rd_kafka_mock_broker_set_up(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  testing::awaitDelivered(*sink, 2, 60s);
  CHECK(testing::consumeAll(cluster.bootstrap(), "mock.outage", 101, 10s).size() == 101);
}

TEST_CASE("mock: a finite delivery_timeout gives up records as a Fatal error", "[kafka][mock]") {
  MockCluster cluster(1);
  cluster.createTopic("mock.timeout", 1);
  auto config = testing::sinkConfig(cluster.bootstrap(), "topic: mock.timeout, delivery_timeout: 1s");
  auto sink = testing::openSink(config);
  REQUIRE(rd_kafka_mock_broker_set_down(cluster.get(), 1) == RD_KAFKA_RESP_ERR_NO_ERROR);
  auto records = testing::testRecords(0, 3);
  testing::writeAll(*sink, records, 1);
  core::Error error = awaitError(*sink, 1);
  CHECK(error.kind == core::ErrorKind::Fatal);
  CHECK_THAT(error.message, Catch::Contains("delivery_timeout"));
}
