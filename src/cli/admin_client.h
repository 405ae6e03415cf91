#pragma once
// The CLI's client of a running daemon's admin API (docs/operations.md): one blocking HTTP/1.1
// request to admin.listen, over TLS when admin.tls is set. Beast stays in admin_client.cpp.
//
// TLS: the server's certificate must be the one configured in admin.tls.cert (it is loaded as
// the only trust anchor), so a self-signed certificate works and no other is accepted; the host
// name is not checked, since trusting exactly that certificate is stronger than a name.
// Listening on every address (0.0.0.0, ::) is asked for on loopback.

#include <chrono>
#include <expected>
#include <string>
#include <string_view>

#include "src/config/daemon_config.h"

namespace dutybridge::cli {

struct AdminReply {
  int status = 0;
  std::string body;
};

struct AdminUnreachable {
  // Connection refused: nothing listens there, so the daemon is not running (with this config).
  // False for every other failure (a timeout, a TLS error): then it cannot be told.
  bool nothing_listens = false;
  std::string message;
};

using AdminResult = std::expected<AdminReply, AdminUnreachable>;

struct AdminRequest {
  std::string method = "GET";
  std::string target;
  std::string token;  // sent as Authorization: Bearer <token> when not empty
  std::string body;
  // Bound on connecting, and on the whole exchange after it.
  std::chrono::milliseconds timeout{3000};
};

AdminResult adminRequest(const config::AdminSettings& settings, const AdminRequest& request);

// "http://127.0.0.1:8088" (or https), for messages.
std::string adminBaseUrl(const config::AdminSettings& settings);

}  // namespace dutybridge::cli
