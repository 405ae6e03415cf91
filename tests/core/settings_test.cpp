#include "src/core/settings.h"

#include <yaml-cpp/yaml.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "src/diagnostics/diagnostics.h"
#include "src/schema/secrets.h"
#include "src/schema/validator.h"

namespace dutybridge {
namespace {

using core::FieldSpec;
using core::FieldType;
using core::SettingsSchema;

enum class Colour { Red, Green };

struct Link {
  std::string address;
  std::chrono::milliseconds timeout{};
};

struct Tail {
  Link link;
  std::string path;
  int batch_rows = 0;
  std::chrono::milliseconds poll{};
  std::optional<std::string> tag;
  Colour colour = Colour::Red;
  std::vector<std::string> labels;
  size_t limit = 0;
};

const SettingsSchema<Link>& linkSettings() {
  static const SettingsSchema<Link> s = [] {
    SettingsSchema<Link> out;
    out.field(FieldSpec::make("address", FieldType::String).req(), &Link::address);
    out.field(FieldSpec::make("timeout", FieldType::Duration).def("2s"), &Link::timeout);
    return out;
  }();
  return s;
}

const SettingsSchema<Tail>& tailSettings() {
  static const SettingsSchema<Tail> s = [] {
    SettingsSchema<Tail> out;
    out.group(linkSettings(), &Tail::link);
    out.field(FieldSpec::make("path", FieldType::String).req(), &Tail::path);
    out.field(FieldSpec::make("batch_rows", FieldType::Int).def("1000").range(1, 100'000).formerly("batch_max"),
              &Tail::batch_rows);
    out.field(FieldSpec::make("poll", FieldType::Duration).def("1s"), &Tail::poll);
    out.field(FieldSpec::make("tag", FieldType::String), &Tail::tag);
    out.field(FieldSpec::make("colour", FieldType::Enum).def("red").oneOf({"red", "green"}), &Tail::colour,
              [](const std::string& text) { return text == "green" ? Colour::Green : Colour::Red; });
    out.field(FieldSpec::make("labels", FieldType::StringList), &Tail::labels);
    out.field(FieldSpec::make("limit", FieldType::Size).def("1KiB"), &Tail::limit,
              [](const size_t& bytes) -> core::Result<size_t> {
                if (bytes % 2 != 0) return core::fail(core::ErrorKind::InvalidConfig, "'limit' must be even");
                return bytes;
              });
    out.check([](const core::ConfigObject& config) {
      std::vector<core::ConfigProblem> problems;
      if (config.has("tag") && config.getString("tag") == "forbidden") problems.push_back({"tag", "tag is forbidden"});
      return problems;
    });
    return out;
  }();
  return s;
}

core::ConfigObject validate(const std::string& yaml, diag::Diagnostics& diagnostics) {
  schema::SecretResolver secrets([](const std::string&) { return std::nullopt; });
  schema::ValidationContext context{"tail.yaml", nullptr, &secrets, &diagnostics};
  return schema::validateObject(YAML::Load(yaml), tailSettings().schema(), "", context);
}

TEST_CASE("typed settings: each field is read into its member, defaults come from the schema alone", "[settings]") {
  diag::Diagnostics diagnostics;
  auto object = validate("{address: db:5432, path: /var/log/mes.log, colour: green, labels: [a, b]}", diagnostics);
  REQUIRE(diagnostics.empty());
  auto tail = tailSettings().read(object);
  REQUIRE(tail);
  CHECK(tail->link.address == "db:5432");
  CHECK(tail->link.timeout == std::chrono::seconds(2));  // the group's default
  CHECK(tail->path == "/var/log/mes.log");
  CHECK(tail->batch_rows == 1000);
  CHECK(tail->poll == std::chrono::seconds(1));
  CHECK_FALSE(tail->tag.has_value());  // absent optional field
  CHECK(tail->colour == Colour::Green);
  CHECK(tail->labels == std::vector<std::string>{"a", "b"});
  CHECK(tail->limit == 1024);

  // The group's fields are part of the schema the validator, docs and list-connectors see.
  CHECK(tailSettings().schema().find("address"));
  CHECK(tailSettings().schema().find("timeout"));
}

TEST_CASE("typed settings: cross-field rules run in the validator and renamed keys name the new key", "[settings]") {
  diag::Diagnostics diagnostics;
  validate("{address: x, path: p, tag: forbidden, batch_max: 5}", diagnostics);
  std::string text = diagnostics.format();
  CHECK_THAT(text, Catch::Contains("tag is forbidden"));
  CHECK_THAT(text, Catch::Contains("'batch_max' is now called 'batch_rows'"));
  CHECK(diagnostics.size() == 2);
}

TEST_CASE("typed settings: a key written without a value takes the schema's default", "[settings]") {
  // `batch_rows:` with nothing after it is null: before, the member kept its struct initialiser
  // (0), not the default (1000), and the bounds were never checked.
  diag::Diagnostics diagnostics;
  auto object = validate("{address: x, path: p, batch_rows: , poll: ~, timeout: }", diagnostics);
  REQUIRE(diagnostics.empty());
  auto tail = tailSettings().read(object);
  REQUIRE(tail);
  CHECK(tail->batch_rows == 1000);
  CHECK(tail->poll == std::chrono::seconds(1));
  CHECK(tail->link.timeout == std::chrono::seconds(2));
  // A required key without a value is still an error.
  diag::Diagnostics required;
  validate("{address: x, path: }", required);
  CHECK_THAT(required.format(), Catch::Contains("'path' is required but empty"));
}

TEST_CASE("typed settings: a converter's refusal names the field", "[settings]") {
  diag::Diagnostics diagnostics;
  auto object = validate("{address: x, path: p, limit: 1023}", diagnostics);
  REQUIRE(diagnostics.empty());
  auto tail = tailSettings().read(object);
  REQUIRE_FALSE(tail);
  CHECK(tail.error().kind == core::ErrorKind::InvalidConfig);
  CHECK(tail.error().message == "'limit' must be even");
}

TEST_CASE("typed settings: an optional field without a default must be bound to std::optional", "[settings]") {
  struct Plain {
    std::string tag;
  };
  SettingsSchema<Plain> s;
  CHECK_THROWS_AS(s.field(FieldSpec::make("tag", FieldType::String), &Plain::tag), std::logic_error);
  CHECK_NOTHROW(s.field(FieldSpec::make("tag", FieldType::String).def("x"), &Plain::tag));
}

TEST_CASE("typed settings: an integer outside the member's range is refused, not truncated", "[settings]") {
  struct Small {
    int8_t level = 0;
  };
  SettingsSchema<Small> s;
  s.field(FieldSpec::make("level", FieldType::Int).def("0"), &Small::level);
  schema::SecretResolver secrets([](const std::string&) { return std::nullopt; });
  diag::Diagnostics diagnostics;
  schema::ValidationContext context{"small.yaml", nullptr, &secrets, &diagnostics};
  auto object = schema::validateObject(YAML::Load("{level: 300}"), s.schema(), "", context);
  REQUIRE(diagnostics.empty());
  auto small = s.read(object);
  REQUIRE_FALSE(small);
  CHECK(small.error().message == "'level' is out of range");
}

}  // namespace
}  // namespace dutybridge
