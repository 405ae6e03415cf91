#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <random>
#include <set>

#include "connectors/kafka/kafka_handles.h"
#include "tests/support/env.h"

using namespace dutybridge;

TEST_CASE("produce to and consume from the real Kafka broker", "[integration][kafka]") {
  std::string bootstrap = testing::kafkaBootstrap();
  std::string topic = "dutybridge.it.broker." + std::to_string(std::random_device{}());

  kafka::KafkaConfig producer_config;
  REQUIRE(producer_config.setAll({{"bootstrap.servers", bootstrap},
                                  {"enable.idempotence", "true"},
                                  {"acks", "all"},
                                  {"compression.codec", "lz4"}}));
  int delivered = 0;
  int failed = 0;
  struct Counters {
    int* delivered;
    int* failed;
  } counters{&delivered, &failed};
  rd_kafka_conf_set_opaque(producer_config.get(), &counters);
  rd_kafka_conf_set_dr_msg_cb(producer_config.get(), [](rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* c = static_cast<Counters*>(opaque);
    if (message->err) ++*c->failed;
    else ++*c->delivered;
  });
  auto producer = kafka::createClient(RD_KAFKA_PRODUCER, std::move(producer_config));
  REQUIRE(producer);

  constexpr int kMessages = 500;
  for (int i = 0; i < kMessages; ++i) {
    std::string key = "E" + std::to_string(i % 7);
    std::string value = R"({"n":)" + std::to_string(i) + R"(,"text":"注塑车间"})";
    rd_kafka_resp_err_t err = rd_kafka_producev(
        producer->get(), RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(key.data(), key.size()),
        RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_HEADER("ce_specversion", "1.0", 3), RD_KAFKA_V_END);
    REQUIRE(err == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_poll(producer->get(), 0);
  }
  REQUIRE(rd_kafka_flush(producer->get(), 60'000) == RD_KAFKA_RESP_ERR_NO_ERROR);
  CHECK(delivered == kMessages);
  CHECK(failed == 0);

  kafka::KafkaConfig consumer_config;
  REQUIRE(consumer_config.setAll({{"bootstrap.servers", bootstrap},
                                  {"group.id", "dutybridge-it-" + topic},
                                  {"auto.offset.reset", "earliest"},
                                  {"enable.auto.commit", "false"},
                                  {"isolation.level", "read_committed"}}));
  auto consumer = kafka::createClient(RD_KAFKA_CONSUMER, std::move(consumer_config));
  REQUIRE(consumer);
  rd_kafka_poll_set_consumer(consumer->get());
  kafka::PartitionList topics(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(topics.get(), topic.c_str(), RD_KAFKA_PARTITION_UA);
  REQUIRE(rd_kafka_subscribe(consumer->get(), topics.get()) == RD_KAFKA_RESP_ERR_NO_ERROR);

  std::set<int> seen;
  int with_header = 0;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (seen.size() < kMessages && std::chrono::steady_clock::now() < deadline) {
    kafka::MessagePtr message(rd_kafka_consumer_poll(consumer->get(), 500));
    if (!message || message->err) continue;
    std::string value(static_cast<const char*>(message->payload), message->len);
    REQUIRE_THAT(value, Catch::Contains("注塑车间"));
    seen.insert(std::stoi(value.substr(5)));
    rd_kafka_headers_t* headers = nullptr;
    const void* header_value = nullptr;
    size_t header_size = 0;
    if (rd_kafka_message_headers(message.get(), &headers) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        rd_kafka_header_get_last(headers, "ce_specversion", &header_value, &header_size) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        std::string(static_cast<const char*>(header_value), header_size) == "1.0") {
      ++with_header;
    }
  }
  rd_kafka_consumer_close(consumer->get());
  CHECK(seen.size() == kMessages);
  CHECK(with_header == kMessages);
}

TEST_CASE("invalid librdkafka properties are configuration errors", "[integration][kafka]") {
  kafka::KafkaConfig config;
  auto bad = config.set("no.such.property", "1");
  REQUIRE_FALSE(bad);
  CHECK(bad.error().kind == core::ErrorKind::InvalidConfig);
  auto secret = config.set("sasl.password.nonexistent", "hunter2");
  REQUIRE_FALSE(secret);
  CHECK_THAT(secret.error().message, !Catch::Contains("hunter2"));
}
