#pragma once
// The daemon's HTTP/1.1 server (Boost.Beast) for its sites (the admin API, the supervisors'
// board), on the daemon's event loop: one coroutine per connection, keep-alive, a deadline on
// every read and write, header and body limits (431 and 413), optional TLS (OpenSSL) with the
// configured certificate and key. Requests go to a Handler (http_types.h); its answers are
// written as responses, streams or deferred responses. Beast is confined to web_server.cpp.
//
// Threading: the event loop is single-threaded (the daemon's main thread runs io_context::run),
// so connections need no strand; the Handler is called on that thread.

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "src/core/error.h"
#include "src/runtime/daemon_control.h"
#include "src/web/http_types.h"

namespace boost::asio {
class io_context;
}

namespace dutybridge::web {

// The limits every connection lives within.
struct ServerLimits {
  size_t header_bytes = 16 * 1024;                  // request line and headers; beyond: 431
  size_t body_bytes = 64 * 1024;                    // beyond: 413
  std::chrono::milliseconds read_timeout{10'000};   // a whole request, once its first byte came
  std::chrono::milliseconds idle_timeout{60'000};   // keep-alive: between requests
  std::chrono::milliseconds write_timeout{10'000};  // a whole response (a stream: each piece)
};

struct ServerSettings {
  std::string site;    // "admin", "board": names the listener in logs and errors ("admin.listen")
  std::string what;    // "admin API", "board": "<what> listening on http://..."
  std::string listen;  // host:port; [v6]:port; port 0 picks a free one
  std::optional<std::string> tls_cert, tls_key;  // both or neither: HTTPS
  ServerLimits limits;
};

// Binds settings.listen and serves `handler` until stop(). Errors (InvalidConfig): the address
// cannot be bound, or the TLS certificate or key cannot be loaded. The bound address is logged.
core::Result<std::unique_ptr<runtime::DaemonAttachment>> startServer(boost::asio::io_context& io,
                                                                     std::unique_ptr<Handler> handler,
                                                                     const ServerSettings& settings);

}  // namespace dutybridge::web
