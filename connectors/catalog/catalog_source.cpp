#include "connectors/catalog/catalog_source.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "src/catalog/position_catalog.h"
#include "src/common/file_read.h"
#include "src/common/log.h"
#include "src/contract/contract_spec.h"
#include "src/core/settings.h"

namespace dutybridge::connectors {
namespace {

using core::ConfigObject;
using core::FieldSpec;
using core::FieldType;
using core::Value;
using core::ValueType;

// The record's fields: position_catalog.v1 as src/contract defines it (the HR store's
// position_catalog table has the same columns).
const std::vector<core::FieldDescription>& fields() {
  static const std::vector<core::FieldDescription> all = [] {
    std::vector<core::FieldDescription> out;
    for (const auto& f : contract::positionCatalog().fields) {
      ValueType type = ValueType::String;
      switch (f.type) {
        case contract::Type::Int:
          type = ValueType::Int;
          break;
        case contract::Type::Decimal:
          type = ValueType::Decimal;
          break;
        case contract::Type::Date:
          type = ValueType::Date;
          break;
        case contract::Type::Timestamp:
          type = ValueType::Timestamp;
          break;
        case contract::Type::Bool:
          type = ValueType::Bool;
          break;
        default:
          type = ValueType::String;
          break;
      }
      out.push_back({f.path, type, f.nullable});
    }
    return out;
  }();
  return all;
}

template <class T>
Value optional(const std::optional<T>& v) {
  return v ? Value(*v) : Value();
}

// The element's fields without revision and computed_at, as one line: what the digest covers.
std::vector<Value> elementValues(const std::string& plant, const catalog::CatalogElement& e) {
  return {Value(e.key),
          Value(plant),
          Value(e.element_type),
          Value(e.code),
          optional(e.department_code),
          optional(e.position_code),
          optional(e.duty_code),
          optional(e.kpi_code),
          optional(e.requirement_type),
          e.level ? Value(static_cast<int64_t>(*e.level)) : Value(),
          optional(e.min_hours),
          optional(e.title_zh),
          optional(e.title_en),
          optional(e.responsibility),
          optional(e.unit),
          optional(e.period_type),
          optional(e.direction),
          optional(e.target),
          Value(e.valid.from),
          e.valid.to ? Value(*e.valid.to) : Value()};
}

struct Cursor {
  std::string digest;
  int64_t revision = 0;
};

core::Result<Cursor> parseCursor(std::string_view text) {
  auto json = nlohmann::json::parse(text, nullptr, false);
  if (json.is_discarded() || !json.is_object() || !json.contains("digest") || !json["digest"].is_string() ||
      !json.contains("revision") || !json["revision"].is_number_integer() || json["revision"].get<int64_t>() < 0) {
    return core::fail(
        core::ErrorKind::Permanent,
        "a position_catalog position is {\"digest\": \"<sha256 hex>\", \"revision\": <publication revision>}");
  }
  return Cursor{json["digest"].get<std::string>(), json["revision"].get<int64_t>()};
}

std::string cursorText(const Cursor& c) {
  return nlohmann::json{{"digest", c.digest}, {"revision", c.revision}}.dump();
}

class PositionCatalogSource final : public core::Source {
 public:
  PositionCatalogSource(std::filesystem::path file, std::chrono::microseconds poll_interval, const core::Clock* clock,
                        std::string component)
      : file_(std::move(file)), poll_interval_(poll_interval), clock_(clock), component_(std::move(component)) {
    std::vector<std::string> names;
    for (const auto& f : fields()) names.push_back(f.name);
    schema_ = std::make_shared<core::RecordSchema>(std::move(names));
  }

  core::Status checkPosition(std::string_view position) const override {
    auto c = parseCursor(position);
    if (!c) return core::fail(c.error());
    return {};
  }

  core::Status open(const std::optional<std::string>& position) override {
    cursor_ = Cursor{};
    if (position) {
      auto c = parseCursor(*position);
      if (!c) return core::fail(core::ErrorKind::Fatal, "stored cursor: " + c.error().message);
      cursor_ = *c;
    }
    next_look_ = {};
    // Reopened from an older position (a batch not delivered): look at the file afresh, so the
    // publication the position lacks is made again.
    last_stamp_.clear();
    last_error_.clear();
    return {};
  }

  core::Result<core::SourceBatch> poll(std::chrono::milliseconds max_wait) override {
    core::SourceBatch batch;
    auto now = std::chrono::steady_clock::now();
    if (now < next_look_) {
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(max_wait, next_look_ - now));
      return batch;
    }
    next_look_ = now + poll_interval_;
    auto stamp = fileStamp();
    if (stamp && *stamp == last_stamp_ && !last_error_.empty()) {
      return core::fail(core::ErrorKind::Retryable, last_error_);
    }
    if (stamp && *stamp == last_stamp_) return batch;  // unchanged since the last look
    auto loaded = catalog::loadPositionCatalog(file_);
    last_stamp_ = stamp.value_or(std::string());
    if (!loaded) {
      const auto& first = loaded.error().items().front();
      std::string text = loaded.error().format();
      if (text != logged_) {
        log::warning(component_, "the position catalog {} does not load; the last good publication stays:\n{}",
                     file_.string(), text);
        logged_ = text;
      }
      last_error_ = fmt::format("the position catalog {} does not load ({} problems; first: {})", file_.string(),
                                loaded.error().size(), first.message);
      return core::fail(core::ErrorKind::Retryable, last_error_);
    }
    last_error_.clear();
    logged_.clear();
    auto elements = catalog::catalogElements(*loaded);
    std::vector<std::vector<Value>> rows;
    std::string canonical;
    for (const auto& e : elements) {
      rows.push_back(elementValues(loaded->plant, e));
      for (const auto& v : rows.back()) {
        canonical += v.isNull() ? std::string("\x01") : v.toText();
        canonical += '\x1f';
      }
      canonical += '\n';
    }
    std::string digest = files::sha256Hex(canonical);
    if (digest == cursor_.digest) return batch;
    core::Timestamp computed_at = clock_->now();
    Cursor next{digest, std::max(computed_at.micros, cursor_.revision + 1)};
    std::string position = cursorText(next);
    for (auto& row : rows) {
      std::vector<Value> values;
      values.reserve(fields().size());
      values.push_back(row[0]);
      values.push_back(Value(next.revision));
      for (size_t i = 1; i < row.size(); ++i) values.push_back(std::move(row[i]));
      values.push_back(Value(computed_at));
      core::Record record(schema_, std::move(values));
      record.meta.key = record.value(0).asString();
      record.meta.source_position = position;
      record.meta.event_time = computed_at;
      batch.records.push_back(std::move(record));
    }
    batch.position = position;
    log::notice(component_, "publishing the position catalog: {} elements, revision {}", batch.records.size(),
                next.revision);
    cursor_ = next;
    return batch;
  }

  core::Status commit(std::string_view) override { return {}; }

  core::Result<std::optional<core::SourceDescription>> describe() override {
    return std::optional<core::SourceDescription>(fields());
  }

  void close() override {}

 private:
  // Size and modification time: enough to notice an edit without reading the file.
  std::optional<std::string> fileStamp() const {
    std::error_code ec;
    auto size = std::filesystem::file_size(file_, ec);
    if (ec) return std::nullopt;
    auto time = std::filesystem::last_write_time(file_, ec);
    if (ec) return std::nullopt;
    return fmt::format("{}/{}", size, time.time_since_epoch().count());
  }

  std::filesystem::path file_;
  std::chrono::microseconds poll_interval_;
  const core::Clock* clock_;
  std::string component_;
  std::shared_ptr<const core::RecordSchema> schema_;
  Cursor cursor_;
  std::chrono::steady_clock::time_point next_look_{};
  std::string last_stamp_;
  std::string last_error_;
  std::string logged_;
};

struct CatalogSettings {
  std::string file;
  std::chrono::microseconds poll_interval{};
};

const core::SettingsSchema<CatalogSettings>& catalogSettings() {
  static const core::SettingsSchema<CatalogSettings> settings = [] {
    core::SettingsSchema<CatalogSettings> s;
    s.field(FieldSpec::make("file", FieldType::String)
                .req()
                .doc("The position catalog (e.g. duties.yaml), relative to this config file's folder."),
            &CatalogSettings::file);
    s.field(FieldSpec::make("poll_interval", FieldType::Duration)
                .def("10s")
                .range(100'000, 86'400'000'000)
                .doc("How often the file is looked at for changes (size and modification time)."),
            &CatalogSettings::poll_interval);
    return s;
  }();
  return settings;
}

class PositionCatalogFactory final : public core::SourceFactory {
 public:
  std::string_view name() const override { return "position_catalog"; }
  std::string_view description() const override {
    return "The position catalog's elements (departments, positions, duties, KPIs, requirements, skills), "
           "published again whenever the file changes.";
  }
  const core::ConfigSchema& configSchema() const override { return catalogSettings().schema(); }

  core::Result<std::unique_ptr<core::Source>> create(const ConfigObject& config,
                                                     const core::ConnectorContext& context) const override {
    auto s = catalogSettings().read(config);
    if (!s) return core::fail(s.error());
    std::filesystem::path file = s->file;
    if (file.is_relative()) {
      const auto* entry = config.find("file");
      std::filesystem::path base = entry && !entry->location.file.empty()
                                       ? std::filesystem::path(entry->location.file).parent_path()
                                       : std::filesystem::path();
      file = base / file;
    }
    auto loaded = catalog::loadPositionCatalog(file);
    if (!loaded) {
      return core::fail(core::ErrorKind::InvalidConfig,
                        "the position catalog does not load:\n" + loaded.error().format());
    }
    static const core::SystemClock system_clock;
    return std::make_unique<PositionCatalogSource>(
        file, s->poll_interval, context.clock ? context.clock : &system_clock, "source/" + context.pipeline_name);
  }
};

}  // namespace

void registerPositionCatalogSource(core::Registry& registry) {
  registry.add(std::make_unique<PositionCatalogFactory>());
}

}  // namespace dutybridge::connectors
