#pragma once
// The admin API's HTTP/1.1 server (Boost.Beast), on the daemon's event loop: one coroutine per
// connection, keep-alive, a deadline on every read and write, header and body limits (431 and
// 413), optional TLS (OpenSSL) with the configured certificate and key. Requests go to AdminApi.
// Beast is confined to admin_server.cpp.
//
// Threading: the event loop is single-threaded (the daemon's main thread runs io_context::run),
// so connections need no strand; AdminApi and DaemonControl are called on that thread.

#include <memory>

#include "src/config/daemon_config.h"
#include "src/core/error.h"
#include "src/runtime/daemon_control.h"

namespace boost::asio {
class io_context;
}

namespace dutybridge::admin {

// The limits every connection lives within.
struct ServerLimits {
  size_t header_bytes = 16 * 1024;                  // request line and headers; beyond: 431
  size_t body_bytes = 64 * 1024;                    // beyond: 413
  std::chrono::milliseconds read_timeout{10'000};   // a whole request, once its first byte came
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive: between requests
  std::chrono::milliseconds write_timeout{10'000};  // a whole response
};

// Binds admin.listen and serves until stop(). Errors (InvalidConfig): the address cannot be
// bound, or the TLS certificate or key cannot be loaded. The bound address is logged (a listen
// port 0 picks a free one).
core::Result<std::unique_ptr<runtime::DaemonAttachment>> startAdminServer(boost::asio::io_context& io,
                                                                          runtime::DaemonControl& control,
                                                                          const config::AdminSettings& settings,
                                                                          ServerLimits limits = {});

}  // namespace dutybridge::admin
