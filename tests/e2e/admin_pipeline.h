#pragma once
// One pipeline with the admin API on, for the e2e tests of the admin API and the operations
// CLI: a PostgreSQL table of rows stamped "now" (UTC), read by an odbc source into a sink the
// test chooses, the daemon's admin API on a free port with a bearer token, and the CLI run
// against the same config.

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <map>

#include "tests/e2e/e2e_util.h"
#include "tests/support/http.h"

namespace dutybridge::e2e {

inline constexpr const char* kAdminToken = "e2e-admin-token";

// A PostgreSQL table of rows stamped "now" (UTC), read by one pipeline with the admin API on.
struct AdminPipeline {
  testing::Pg pg = testing::Pg::fromEnv();
  std::string table = uniqueName("e2e_admin");
  std::string pipeline;
  std::string topic = "e2e." + table;
  std::filesystem::path dir;
  std::filesystem::path config;
  std::filesystem::path log;
  int port = testing::freePort();
  long next_id = 1;
  std::string delivery = "at_least_once";  // written by writeConfig

  explicit AdminPipeline(const std::string& name) : dir(tempDir(name)) {
    pipeline = table;
    std::replace(pipeline.begin(), pipeline.end(), '_', '-');
    config = dir / "dutybridge.yaml";
    log = dir / "dutybridge.log";
    ::setenv("DUTYBRIDGE_E2E_ADMIN_TOKEN", kAdminToken, 1);
    testing::psql(pg, fmt::format("CREATE TABLE {} (id bigint PRIMARY KEY, qty integer NOT NULL, "
                                  "updated_at timestamp NOT NULL)",
                                  table));
  }

  // `sink` is the YAML of the sink block; `admin_extra` more admin keys.
  void writeConfig(const std::string& bootstrap, const std::string& sink, const std::string& admin_extra = "") {
    std::ofstream(config) << fmt::format(R"(kafka:
  bootstrap_servers: {0}
  state_topic: e2e.{1}.state
  dlq_topic: e2e.{1}.dlq
admin:
  enabled: true
  listen: 127.0.0.1:{2}
  token: ${{env:DUTYBRIDGE_E2E_ADMIN_TOKEN}}
{3}log:
  level: info
pipelines:
  - name: {4}
    delivery: {7}
    source:
      type: odbc
      connection: "{5}"
      table: {1}
      mode: timestamp+incrementing
      timestamp_column: updated_at
      incrementing_column: id
      timestamp_zone: UTC
      commit_lag: 0s
      poll_interval: 100ms
    sink:
{6})",
                                         bootstrap, table, port, admin_extra, pipeline, pg.odbc(), sink, delivery);
  }

  std::string kafkaSink() const {
    return fmt::format("      type: kafka\n      topic: {}\n      key: [id]\n      create_topic: true\n", topic);
  }

  void insertRows(int count) {
    testing::psql(pg, fmt::format("INSERT INTO {} SELECT i, i % 7, now() AT TIME ZONE 'UTC' FROM generate_series({}, "
                                  "{}) i",
                                  table, next_id, next_id + count - 1));
    next_id += count;
  }

  // The reply, or status 0 while nothing listens yet.
  testing::HttpReply get(const std::string& target) const {
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket probe(io);
    boost::system::error_code ec;
    probe.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)}, ec);
    if (ec) return {};
    return testing::httpGet(port, target);
  }
  nlohmann::json pipelineStatus() const { return nlohmann::json::parse(get("/api/v1/pipelines/" + pipeline).body); }

  testing::HttpReply write(const std::string& method, const std::string& target, const std::string& body = "",
                           bool with_token = true) const {
    std::vector<std::pair<std::string, std::string>> headers;
    if (with_token) headers.emplace_back("Authorization", std::string("Bearer ") + kAdminToken);
    return testing::httpRequest(port, method, target, body, headers);
  }

  std::string logText() const { return testing::readFile(log); }

  // `dutybridge ARGS -c config`: stdout in the outcome, stderr (the log) in last_err.
  testing::Outcome cli(const std::string& args) const {
    const auto err = dir / "cli.err";
    auto out =
        testing::runShell(fmt::format("'{}' {} -c '{}' 2>'{}'", kBinary.string(), args, config.string(), err.string()));
    last_err = testing::readFile(err);
    return out;
  }
  mutable std::string last_err;

  // How often each id of the table reached the pipeline's topic.
  std::map<long, int> idsInTopic() const {
    std::map<long, int> seen;
    for (const auto& message : readTopic(testing::kafkaBootstrap(), topic)) ++seen[message.json.at("id").get<long>()];
    return seen;
  }
};

}  // namespace dutybridge::e2e
