#include "connectors/stdout/stdout_sink.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "src/codec/json.h"
#include "src/core/settings.h"

namespace dutybridge::connectors {
namespace {

using core::ConfigObject;
using core::FieldSpec;
using core::FieldType;

class StdoutSink final : public core::Sink {
 public:
  explicit StdoutSink(std::string path) : path_(std::move(path)) {}
  ~StdoutSink() override { close(); }

  core::Status open() override {
    if (path_ == "-") {
      file_ = stdout;
      return {};
    }
    file_ = std::fopen(path_.c_str(), "ab");
    if (!file_) return core::fail(core::ErrorKind::Retryable, "cannot open " + path_ + ": " + std::strerror(errno));
    return {};
  }

  core::Result<size_t> write(std::span<const core::Record> records, uint64_t sequence) override {
    buffer_.clear();
    for (const auto& record : records) {
      codec::appendJson(record, buffer_);
      buffer_ += '\n';
    }
    if (std::fwrite(buffer_.data(), 1, buffer_.size(), file_) != buffer_.size() || std::fflush(file_) != 0) {
      return core::fail(core::ErrorKind::Retryable, std::string("write failed: ") + std::strerror(errno));
    }
    delivered_ = sequence;
    return records.size();
  }

  core::Result<uint64_t> poll(std::chrono::milliseconds) override { return delivered_; }
  core::Status flush(std::chrono::steady_clock::time_point) override { return {}; }

  void close() override {
    if (file_ && file_ != stdout) std::fclose(file_);
    file_ = nullptr;
  }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  std::string buffer_;
  uint64_t delivered_ = 0;
};

struct StdoutSettings {
  std::string path;
};

const core::SettingsSchema<StdoutSettings>& stdoutSettings() {
  static const core::SettingsSchema<StdoutSettings> settings = [] {
    core::SettingsSchema<StdoutSettings> s;
    s.field(FieldSpec::make("path", FieldType::String)
                .def("-")
                .doc("File to append JSON lines to; '-' is standard output."),
            &StdoutSettings::path);
    return s;
  }();
  return settings;
}

class StdoutFactory final : public core::SinkFactory {
 public:
  std::string_view name() const override { return "stdout"; }
  std::string_view description() const override { return "JSON lines to standard output or a file, for debugging."; }
  const core::ConfigSchema& configSchema() const override { return stdoutSettings().schema(); }

  core::Result<std::unique_ptr<core::Sink>> create(const ConfigObject& config,
                                                   const core::ConnectorContext&) const override {
    auto s = stdoutSettings().read(config);
    if (!s) return core::fail(s.error());
    return std::make_unique<StdoutSink>(s->path);
  }
};

}  // namespace

void registerStdoutSink(core::Registry& registry) {
  registry.add(std::make_unique<StdoutFactory>());
}

}  // namespace dutybridge::connectors
