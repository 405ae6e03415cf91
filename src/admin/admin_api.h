#pragma once
// The admin API's requests and answers, apart from HTTP transport (admin_server.h carries them
// over Beast): one request in, one response out, so every endpoint is tested without a socket.
//
//   GET  /healthz                              liveness: 503 naming a wedged pipeline and its step
//   GET  /readyz                               readiness: 503 with a reason per pipeline not ready
//   GET  /metrics                              Prometheus text exposition (metrics.h)
//   GET  /api/v1/pipelines[/{name}]            state, last error, cursor, counters, lag, gauges
//   POST /api/v1/pipelines/{name}/stop|resume|restart                      (token)
//   GET|PUT|DELETE /api/v1/pipelines/{name}/cursor  PUT/DELETE only while stopped (token)
//
// Reads are open to whoever reaches the listener; every write needs `Authorization: Bearer
// <admin.token>` (compared in constant time). Errors are JSON: {"error": "..."}.
//
// Threading: handle() runs on the daemon's event loop (DaemonControl's thread).

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "src/config/daemon_config.h"
#include "src/runtime/daemon_control.h"

namespace dutybridge::admin {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string authorization;
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra (WWW-Authenticate, Allow)
};

// A JSON error answer: {"error": message}.
Response errorResponse(int status, std::string_view message);

class AdminApi {
 public:
  AdminApi(runtime::DaemonControl& control, const config::AdminSettings& settings);
  Response handle(const Request& request);

 private:
  Response healthz() const;
  Response readyz() const;
  Response metrics() const;
  Response pipelines() const;
  Response pipeline(const runtime::PipelineView& view) const;
  Response cursor(const Request& request, const runtime::PipelineView& view);
  // Empty when the request may write; else the 401/403 answer.
  std::optional<Response> refuseWrite(const Request& request) const;

  runtime::DaemonControl& control_;
  std::optional<std::string> token_;
  std::chrono::milliseconds stuck_after_;
};

}  // namespace dutybridge::admin
