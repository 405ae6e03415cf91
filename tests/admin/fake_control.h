#pragma once
// A DaemonControl over pipelines that exist only as configs and statuses: the admin API's fake
// daemon. Control calls are recorded and answer as a daemon would.

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "src/runtime/daemon_control.h"

namespace dutybridge::testing {

class FakeControl final : public runtime::DaemonControl {
 public:
  struct Entry {
    config::PipelineConfig config;
    std::shared_ptr<runtime::PipelineStatus> status = std::make_shared<runtime::PipelineStatus>();
    bool running = true;
    bool stopped_by_admin = false;
    bool sink_stores_position = false;
    std::optional<std::string> cursor;
  };

  Entry& add(const std::string& name) {
    auto entry = std::make_unique<Entry>();
    entry->config.name = name;
    entry->config.source.type = "generate";
    entry->config.sink.type = "kafka";
    entries_.push_back(std::move(entry));
    return *entries_.back();
  }

  std::vector<runtime::PipelineView> pipelines() const override {
    std::vector<runtime::PipelineView> out;
    for (const auto& e : entries_) {
      out.push_back({&e->config, e->status, e->running, e->stopped_by_admin, e->sink_stores_position});
    }
    return out;
  }
  bool stopping() const override { return stopping_; }
  std::chrono::milliseconds stuckAfter() const override { return stuck_after; }

  runtime::ControlResult<> stopPipeline(std::string_view name) override {
    Entry* e = find(name);
    if (!e->running) return conflict("is not running");
    e->running = false;
    e->stopped_by_admin = true;
    e->status->setState(runtime::PipelineState::Stopped);
    calls.push_back("stop " + std::string(name));
    return {};
  }
  runtime::ControlResult<> resumePipeline(std::string_view name) override {
    Entry* e = find(name);
    if (e->running) return conflict("is running");
    e->running = true;
    e->stopped_by_admin = false;
    e->status->setState(runtime::PipelineState::Running);
    calls.push_back("resume " + std::string(name));
    return {};
  }
  runtime::ControlResult<> restartPipeline(std::string_view name) override {
    calls.push_back("restart " + std::string(name));
    return {};
  }
  runtime::ControlResult<std::optional<std::string>> readCursor(std::string_view name) override {
    return find(name)->cursor;
  }
  runtime::ControlResult<> writeCursor(std::string_view name, std::optional<std::string> position) override {
    Entry* e = find(name);
    if (e->running) return conflict("is running");
    if (position && position->find("bad") != std::string::npos) {
      return std::unexpected(runtime::ControlError{runtime::ControlError::Code::Invalid, "not a position: bad"});
    }
    e->cursor = std::move(position);
    calls.push_back("cursor " + std::string(name) + " " + e->cursor.value_or("(deleted)"));
    return {};
  }

  // Answers a reload with `reload_outcome`, at once or (reload_deferred) when the test calls
  // finishReload().
  void reload(std::function<void(const runtime::ReloadOutcome&)> done) override {
    calls.emplace_back("reload");
    if (reload_deferred) {
      pending_reload_ = std::move(done);
      return;
    }
    done(reload_outcome);
  }
  runtime::ReloadStats reloadStats() const override { return reload_stats; }
  void finishReload() {
    auto done = std::move(pending_reload_);
    pending_reload_ = nullptr;
    if (done) done(reload_outcome);
  }

  bool stopping_ = false;
  std::chrono::milliseconds stuck_after = std::chrono::hours(1);
  runtime::ReloadOutcome reload_outcome;
  runtime::ReloadStats reload_stats;
  bool reload_deferred = false;
  std::vector<std::string> calls;

 private:
  Entry* find(std::string_view name) {
    for (auto& e : entries_) {
      if (e->config.name == name) return e.get();
    }
    return nullptr;  // the API only calls with names it found in pipelines()
  }
  static std::unexpected<runtime::ControlError> conflict(std::string_view why) {
    return std::unexpected(runtime::ControlError{runtime::ControlError::Code::Conflict, std::string(why)});
  }
  std::vector<std::unique_ptr<Entry>> entries_;
  std::function<void(const runtime::ReloadOutcome&)> pending_reload_;
};

}  // namespace dutybridge::testing
