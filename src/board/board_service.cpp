#include "src/board/board_service.h"

#include <fmt/format.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mutex>
#include <thread>

#include "src/board/board_site.h"
#include "src/common/log.h"
#include "src/core/clock.h"
#include "src/mapping/contracts.h"
#include "src/web/web_server.h"

namespace dutybridge::board {
namespace {

namespace asio = boost::asio;
constexpr std::string_view kComponent = "board";

core::Timestamp wallNow() {
  return core::Timestamp{
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count()};
}

class BoardService final : public runtime::DaemonAttachment, public SnapshotSource {
 public:
  BoardService(asio::io_context& io, std::shared_ptr<const BoardPlan> plan, core::TopicFollowerFactory follow)
      : io_(io),
        plan_(std::move(plan)),
        follow_(std::move(follow)),
        model_(*plan_->calendar, plan_->options),
        timer_(io),
        sequence_(static_cast<uint64_t>(wallNow().micros / 1000)) {}

  ~BoardService() override { stopReader(); }

  core::Status start() {
    const config::BoardSettings& s = plan_->settings;
    web::ServerSettings server;
    server.site = "board";
    server.what = "board";
    server.listen = s.listen;
    if (s.tls) {
      server.tls_cert = s.tls->cert;
      server.tls_key = s.tls->key;
    }
    SiteOptions site;
    site.viewer_token = s.viewer_token;
    site.language = s.language;
    site.title = plan_->options.title.empty() ? plan_->options.plant : plan_->options.title;
    site.secure_cookie = s.tls.has_value();
    auto started = web::startServer(io_, makeBoardSite(*this, std::move(site)), server);
    if (!started) return core::fail(started.error());
    server_ = std::move(*started);
    if (!s.viewer_token) {
      log::warning(kComponent, "board.viewer_token is not set: the board is open to whoever reaches {}", s.listen);
    }
    reader_ = std::thread([this] { read(); });
    tick();
    return {};
  }

  void stop() override {
    if (server_) server_->stop();
    timer_.cancel();
    stopReader();
  }

  std::shared_ptr<const Snapshot> current() const override { return current_; }

 private:
  void stopReader() {
    stopping_.store(true);
    if (reader_.joinable()) reader_.join();
  }

  // A topic the reader thread follows into the model.
  struct Followed {
    std::string topic;
    bool (BoardModel::*apply)(const core::FollowedMessage&);
    bool from_start;  // the whole topic (the plan: rows are produced days before their shift)
    std::unique_ptr<core::TopicFollower> follower;
    std::string last_problem;
    bool caught_up = false;
  };

  // The reader thread: follows the facts topic (and the plan topic) into the model; retries a
  // cluster that does not answer.
  void read() {
    std::vector<Followed> topics;
    topics.push_back(Followed{plan_->settings.topic, &BoardModel::apply, false, nullptr, {}, false});
    if (plan_->settings.plan_topic) {
      topics.push_back(Followed{*plan_->settings.plan_topic, &BoardModel::applyPlan, true, nullptr, {}, false});
    }
    const auto wait = std::chrono::milliseconds(500 / static_cast<int>(topics.size()));
    while (!stopping_.load()) {
      // A pause only when no topic answers: a plan topic that does not exist yet must not slow
      // the facts down.
      bool failing = true;
      for (Followed& followed : topics) {
        if (poll(followed, wait)) failing = false;
      }
      if (failing) {
        for (int i = 0; i < 20 && !stopping_.load(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
      }
    }
  }

  // One poll of one topic; false when it failed (logged once per problem).
  bool poll(Followed& followed, std::chrono::milliseconds wait) {
    if (!followed.follower) {
      int64_t from = 0;
      if (!followed.from_start) {
        std::lock_guard lock(mutex_);
        from = model_.replayFromUnixMs(wallNow());
      }
      auto made = follow_(followed.topic, from);
      if (!made) {
        // Settings librdkafka refuses; `check` has tried them, so this is unexpected: say so.
        if (made.error().message != followed.last_problem) {
          log::error(kComponent, "cannot read {}: {}", followed.topic, made.error().message);
          followed.last_problem = made.error().message;
        }
        return false;
      }
      followed.follower = std::move(*made);
    }
    auto polled = followed.follower->poll(wait);
    if (!polled) {
      if (polled.error().message != followed.last_problem) {
        log::warning(kComponent, "{} (the board shows what it has and reads on when it can)", polled.error().message);
        followed.last_problem = polled.error().message;
      }
      if (polled.error().kind == core::ErrorKind::Fatal) followed.follower.reset();
      return false;
    }
    if (!followed.last_problem.empty()) {
      log::notice(kComponent, "reading {} again", followed.topic);
      followed.last_problem.clear();
    }
    std::lock_guard lock(mutex_);
    for (const auto& message : *polled) changed_ = (model_.*followed.apply)(message) || changed_;
    if (!followed.caught_up && followed.follower->caughtUp()) {
      followed.caught_up = true;
      changed_ = true;
      log::notice(kComponent, "read {} up to its end: {} facts and {} plan rows on the board", followed.topic,
                  model_.facts(), model_.planRows());
      caught_up_ = ++topics_caught_up_ == (plan_->settings.plan_topic ? 2 : 1);
    }
    return true;
  }

  // Every second on the event loop: a new snapshot when facts changed, or every 10 s for the
  // clock.
  void tick() {
    const auto now = std::chrono::steady_clock::now();
    bool rebuild = !current_ || now - built_ >= std::chrono::seconds(10);
    {
      std::lock_guard lock(mutex_);
      rebuild = rebuild || changed_;
      if (rebuild) {
        changed_ = false;
        const core::Timestamp wall = wallNow();
        if (now - pruned_ >= std::chrono::minutes(10)) {
          model_.prune(wall);
          pruned_ = now;
        }
        std::string json = model_.snapshot(wall, ++sequence_);
        if (!caught_up_) json.insert(json.size() - 1, ",\"reading\":true");
        current_ = makeSnapshot(sequence_, std::move(json));
      }
    }
    if (rebuild) built_ = now;
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_.load()) tick();
    });
  }

  asio::io_context& io_;
  std::shared_ptr<const BoardPlan> plan_;
  core::TopicFollowerFactory follow_;
  std::mutex mutex_;
  BoardModel model_;        // guarded by mutex_
  bool changed_ = true;     // guarded by mutex_
  bool caught_up_ = false;  // guarded by mutex_: every topic read up to its end once
  int topics_caught_up_ = 0;  // guarded by mutex_
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point built_{}, pruned_{};
  uint64_t sequence_;
  std::shared_ptr<const Snapshot> current_;  // event loop only
  std::unique_ptr<runtime::DaemonAttachment> server_;
  std::atomic<bool> stopping_{false};
  std::thread reader_;
};

std::filesystem::path relativeTo(const std::filesystem::path& config_file, const std::string& path) {
  std::filesystem::path p(path);
  if (p.is_absolute()) return p;
  return config_file.parent_path() / p;
}

}  // namespace

std::expected<std::shared_ptr<const BoardPlan>, std::string> prepareBoard(const config::BoardSettings& settings,
                                                                          const std::filesystem::path& config_file) {
  auto plan = std::make_shared<BoardPlan>();
  plan->settings = settings;
  std::string problems;
  auto calendars = calendar::loadCalendars(relativeTo(config_file, settings.calendars));
  if (!calendars) return std::unexpected(fmt::format("board.calendars: {}", calendars.error().format()));
  plan->calendars = *calendars;
  plan->calendar = plan->calendars->find(settings.calendar);
  if (!plan->calendar) {
    problems += fmt::format("{}: board.calendar: unknown calendar '{}' (calendars: {})\n", config_file.string(),
                            settings.calendar, fmt::join(plan->calendars->names(), ", "));
  }
  BoardOptions& options = plan->options;
  options.good_kpi = settings.good_kpi;
  options.scrap_kpi = settings.scrap_kpi;
  options.fpy_kpi = settings.fpy_kpi;
  options.employee_kpi = settings.employee_kpi.value_or("");
  options.behind_below = settings.behind_below;
  options.far_behind_below = settings.far_behind_below;
  options.stale_after = settings.stale_after;
  options.history_shifts = settings.history_shifts;
  options.show_employees = settings.show_employees;
  options.title = settings.title.value_or("");
  if (settings.catalog) {
    auto catalog = mapping::loadDutyCatalog(relativeTo(config_file, *settings.catalog));
    if (!catalog) {
      problems += "board.catalog: " + catalog.error().format();
    } else {
      options.plant = catalog->plant;
      auto kpi = catalog->kpis.find(settings.plan_kpi);
      if (kpi == catalog->kpis.end()) {
        problems += fmt::format("{}: board.plan_kpi: the duty catalog has no KPI '{}'\n", config_file.string(),
                                settings.plan_kpi);
      } else if (kpi->second.period != "SHIFT") {
        problems += fmt::format("{}: board.plan_kpi: '{}' is a {} KPI; the plan is spread from a SHIFT target\n",
                                config_file.string(), settings.plan_kpi, kpi->second.period);
      } else {
        auto definition = std::make_shared<const mapping::KpiDefinition>(kpi->second);
        options.shift_plan = [definition](core::Date day) -> std::optional<double> {
          auto target = definition->targetOn(day);
          if (!target) return std::nullopt;
          return std::strtod(target->toString().c_str(), nullptr);
        };
      }
    }
  }
  if (!problems.empty()) return std::unexpected(problems);
  return std::shared_ptr<const BoardPlan>(std::move(plan));
}

core::Result<std::unique_ptr<runtime::DaemonAttachment>> startBoard(asio::io_context& io,
                                                                    std::shared_ptr<const BoardPlan> plan,
                                                                    core::TopicFollowerFactory follow) {
  auto service = std::make_unique<BoardService>(io, std::move(plan), std::move(follow));
  if (auto started = service->start(); !started) return core::fail(started.error());
  return std::unique_ptr<runtime::DaemonAttachment>(std::move(service));
}

}  // namespace dutybridge::board
