#pragma once
// The board in the daemon (docs/board.md): its settings checked and prepared at load (so `check`,
// `run` and a reload refuse the same mistakes), then, at run, a reader thread following the
// facts topic into the BoardModel, a snapshot rebuilt on the event loop when facts changed (at
// most every second) and every 10 s for the clock (plan to now, current hour, stale data), and
// the board's site on a listener of its own.
//
// Threading: prepareBoard on any thread; startBoard and the attachment's stop() on the event
// loop. The reader thread touches only the model, under its mutex.
// Errors: prepareBoard returns every problem (unknown calendar, unreadable catalog, a plan KPI
// the catalog does not have) as one message; startBoard fails with InvalidConfig when the
// listener cannot be bound. A cluster that does not answer is logged and retried, never fatal.

#include <expected>
#include <filesystem>
#include <memory>
#include <string>

#include "src/board/board_model.h"
#include "src/calendar/calendar.h"
#include "src/config/daemon_config.h"
#include "src/core/topic_follower.h"
#include "src/runtime/daemon_control.h"

namespace boost::asio {
class io_context;
}

namespace dutybridge::board {

struct BoardPlan {
  config::BoardSettings settings;
  std::shared_ptr<const calendar::Calendars> calendars;
  const calendar::Calendar* calendar = nullptr;  // in calendars
  BoardOptions options;
};

// Relative paths in the settings are relative to the config file's folder.
std::expected<std::shared_ptr<const BoardPlan>, std::string> prepareBoard(const config::BoardSettings& settings,
                                                                          const std::filesystem::path& config_file);

core::Result<std::unique_ptr<runtime::DaemonAttachment>> startBoard(boost::asio::io_context& io,
                                                                    std::shared_ptr<const BoardPlan> plan,
                                                                    core::TopicFollowerFactory follow);

}  // namespace dutybridge::board
