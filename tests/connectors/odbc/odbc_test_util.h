#pragma once
// Helpers for the odbc source tests: configs through the real validator, a source built by the
// registered factory, a plain ODBC connection to set up tables, and polling until caught up.

#include <fmt/format.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "connectors/odbc/odbc_source.h"
#include "src/core/clock.h"
#include "src/core/time.h"
#include "src/odbc/odbc_handles.h"
#include "src/schema/validator.h"
#include "tests/support/env.h"
#include "tests/support/files.h"

namespace dutybridge::testing {

inline const core::Registry& odbcRegistry() {
  static const core::Registry registry = [] {
    core::Registry r;
    connectors::registerOdbcSource(r);
    return r;
  }();
  return registry;
}

inline std::string yamlQuote(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

struct Validated {
  core::ConfigObject config;
  std::string diagnostics;  // formatted; empty when valid
};

// `body` is YAML for the source's keys except type and connection.
inline Validated validate(const std::string& connection, const std::string& body) {
  std::string yaml = "type: odbc\nconnection: " + yamlQuote(connection) + "\n" + body;
  diag::Diagnostics diagnostics;
  diagnostics.addSource("test.yaml", yaml);
  schema::SecretResolver secrets([](const std::string&) -> std::optional<std::string> { return std::nullopt; });
  schema::ValidationContext context{"test.yaml", &odbcRegistry(), &secrets, &diagnostics};
  Validated out;
  out.config = schema::validateConnector(YAML::Load(yaml), core::Direction::Source, "source", context);
  if (!diagnostics.empty()) out.diagnostics = diagnostics.format();
  return out;
}

inline std::unique_ptr<core::Source> makeSource(const std::string& connection, const std::string& body,
                                                const core::Clock* clock, const std::string& pipeline = "test") {
  auto validated = validate(connection, body);
  INFO(validated.diagnostics);
  REQUIRE(validated.diagnostics.empty());
  const auto* factory = odbcRegistry().findSource("odbc");
  REQUIRE(factory != nullptr);
  core::ConnectorContext context;
  context.pipeline_name = pipeline;
  context.clock = clock;
  auto source = factory->create(validated.config, context);
  if (!source) FAIL(source.error().describe());
  return std::move(*source);
}

class Database {
 public:
  explicit Database(std::string connection) : connection_string_(std::move(connection)) {
    auto env = odbc::Environment::create();
    REQUIRE(env);
    env_ = std::move(*env);
    auto connection_or = odbc::Connection::connect(env_, connection_string_);
    if (!connection_or) FAIL(connection_or.error().describe());
    connection_ = std::move(*connection_or);
  }
  const std::string& connectionString() const { return connection_string_; }

  void exec(const std::string& sql) {
    auto statement = connection_.statement();
    REQUIRE(statement);
    auto done = statement->execute(sql);
    INFO(sql);
    if (!done) FAIL(done.error().describe());
  }

  std::optional<std::string> scalar(const std::string& sql) {
    auto statement = connection_.statement();
    REQUIRE(statement);
    auto done = statement->execute(sql);
    if (!done) FAIL(done.error().describe());
    auto row = statement->fetch();
    REQUIRE(row);
    REQUIRE(*row);
    auto text = statement->getText(1);
    REQUIRE(text);
    return *text;
  }

 private:
  std::string connection_string_;
  odbc::Environment env_;
  odbc::Connection connection_;
};

inline std::string sqliteConnection(const std::string& name) {
  auto file = std::filesystem::temp_directory_path() / ("dutybridge-odbc-" + name + ".db");
  std::filesystem::remove(file);
  return "Driver=SQLite3;Database=" + file.string();
}

inline std::string sqliteFile(const std::string& connection) {
  return connection.substr(connection.find("Database=") + 9);
}

// Polls until a poll returns no records (poll_interval must be 0s in these configs), at most
// `max_polls` times. Every batch is kept.
inline std::vector<core::SourceBatch> drain(core::Source& source, int max_polls = 100) {
  std::vector<core::SourceBatch> batches;
  for (int i = 0; i < max_polls; ++i) {
    auto batch = source.poll(std::chrono::milliseconds(0));
    if (!batch) FAIL(batch.error().describe());
    if (batch->records.empty()) return batches;
    batches.push_back(std::move(*batch));
  }
  FAIL("the source never caught up");
  return batches;
}

inline std::vector<core::Record> flatten(const std::vector<core::SourceBatch>& batches) {
  std::vector<core::Record> out;
  for (const auto& b : batches) out.insert(out.end(), b.records.begin(), b.records.end());
  return out;
}

inline std::vector<std::string> column(const std::vector<core::Record>& records, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& r : records) {
    const core::Value* v = r.find(name);
    out.push_back(v ? v->toText() : std::string("<missing>"));
  }
  return out;
}

// Usable in static initializers (no Catch2 assertion): throws on a malformed literal.
inline core::Timestamp ts(const char* text) {
  return core::parseTimestamp(text).value();
}

}  // namespace dutybridge::testing
