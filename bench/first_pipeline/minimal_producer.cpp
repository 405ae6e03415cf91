// The floor for the first-pipeline benchmark: librdkafka alone producing N messages of a given
// value size, with the same key size, header set and producer settings as dutybridge's kafka
// sink (idempotence, acks=all, lz4, 5 ms linger), counting delivery reports. No database, no
// conversion, no JSON: whatever dutybridge costs above this is its own.
//
//   minimal_producer BOOTSTRAP TOPIC COUNT VALUE_BYTES

#include <librdkafka/rdkafka.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int g_delivered = 0;
int g_failed = 0;

void onDelivery(rd_kafka_t*, const rd_kafka_message_t* message, void*) {
  if (message->err) ++g_failed;
  else ++g_delivered;
}

bool set(rd_kafka_conf_t* conf, const char* name, const char* value) {
  char errstr[256];
  if (rd_kafka_conf_set(conf, name, value, errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
    std::fprintf(stderr, "%s: %s\n", name, errstr);
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s BOOTSTRAP TOPIC COUNT VALUE_BYTES\n", argv[0]);
    return 2;
  }
  const char* topic = argv[2];
  int count = std::atoi(argv[3]);
  size_t value_bytes = static_cast<size_t>(std::atol(argv[4]));
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  if (!set(conf, "bootstrap.servers", argv[1]) || !set(conf, "enable.idempotence", "true") ||
      !set(conf, "acks", "all") || !set(conf, "compression.codec", "lz4") || !set(conf, "linger.ms", "5") ||
      !set(conf, "queue.buffering.max.kbytes", "65536")) {
    return 2;
  }
  rd_kafka_conf_set_dr_msg_cb(conf, onDelivery);
  char errstr[256];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
  if (!producer) {
    std::fprintf(stderr, "%s\n", errstr);
    return 2;
  }
  // Realistic, compressible payload: repeated JSON-ish text of the measured size.
  std::string pattern = R"({"report_no":"PR00012345","work_order_no":"WO123","good_qty":"123.456","remark":"注塑车间 12345"})";
  std::string value;
  while (value.size() < value_bytes) value += pattern;
  value.resize(value_bytes);
  std::string ce_id(64, 'a');
  for (int i = 0; i < count; ++i) {
    char key[16];
    int key_len = std::snprintf(key, sizeof key, "PR%08d", i);
    value[static_cast<size_t>(i) % value.size()] = static_cast<char>('0' + i % 10);
    while (true) {
      rd_kafka_resp_err_t err = rd_kafka_producev(
          producer, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, static_cast<size_t>(key_len)),
          RD_KAFKA_V_VALUE(value.data(), value.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
          RD_KAFKA_V_HEADER("ce_specversion", "1.0", 3), RD_KAFKA_V_HEADER("ce_id", ce_id.data(), 64),
          RD_KAFKA_V_HEADER("ce_source", "dutybridge/bench", 16),
          RD_KAFKA_V_HEADER("ce_type", "dutybridge.record.v1", 20),
          RD_KAFKA_V_HEADER("ce_time", "2025-03-14T00:00:00Z", 20),
          RD_KAFKA_V_HEADER("content-type", "application/json", 16), RD_KAFKA_V_END);
      if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        rd_kafka_poll(producer, 10);
        continue;
      }
      if (err) {
        std::fprintf(stderr, "produce: %s\n", rd_kafka_err2str(err));
        return 1;
      }
      break;
    }
    rd_kafka_poll(producer, 0);
  }
  rd_kafka_flush(producer, 120'000);
  rd_kafka_destroy(producer);
  std::printf("delivered %d failed %d\n", g_delivered, g_failed);
  return g_delivered == count ? 0 : 1;
}
