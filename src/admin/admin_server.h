#pragma once
// The admin API on the daemon's HTTP server (src/web/web_server.h): AdminApi's answers, the
// tap as a stream, a reload answered once the daemon applied or refused the file.
//
// Threading: the event loop is single-threaded (the daemon's main thread runs io_context::run);
// AdminApi and DaemonControl are called on that thread.

#include <memory>

#include "src/config/daemon_config.h"
#include "src/core/error.h"
#include "src/runtime/daemon_control.h"
#include "src/web/web_server.h"

namespace boost::asio {
class io_context;
}

namespace dutybridge::admin {

using web::ServerLimits;

// Binds admin.listen and serves until stop(). Errors (InvalidConfig): the address cannot be
// bound, or the TLS certificate or key cannot be loaded. The bound address is logged (a listen
// port 0 picks a free one).
core::Result<std::unique_ptr<runtime::DaemonAttachment>> startAdminServer(boost::asio::io_context& io,
                                                                          runtime::DaemonControl& control,
                                                                          const config::AdminSettings& settings,
                                                                          ServerLimits limits = {});

}  // namespace dutybridge::admin
