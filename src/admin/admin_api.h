#pragma once
// The admin API's requests and answers, apart from HTTP transport (admin_server.h carries them
// over the daemon's HTTP server, src/web): one request in, one response out, so every endpoint is tested without a
// socket.
//
//   GET  /healthz                              liveness: 503 naming a wedged pipeline and its step
//   GET  /readyz                               readiness: 503 with a reason per pipeline not ready
//   GET  /metrics                              Prometheus text exposition (metrics.h)
//   GET  /api/v1/pipelines[/{name}]            state, last error, cursor, counters, lag, gauges
//   POST /api/v1/pipelines/{name}/stop|resume|restart                      (token)
//   GET|PUT|DELETE /api/v1/pipelines/{name}/cursor  PUT/DELETE only while stopped (token)
//   GET  /api/v1/pipelines/{name}/quarantine   held records: position, reason, age (no values)
//   POST /api/v1/pipelines/{name}/quarantine/retry                         (token)
//   GET  /api/v1/pipelines/{name}/tap?limit=N&stage=source|output&rate=R&timeout=S
//                                              live records, NDJSON or SSE (admin.tap)
//   POST /api/v1/reload                        validate and apply the config file again (token)
//
// Reads are open to whoever reaches the listener; every write needs `Authorization: Bearer
// <admin.token>` (compared in constant time). Errors are JSON: {"error": "..."}.
//
// Threading: handle() runs on the daemon's event loop (DaemonControl's thread).

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "src/config/daemon_config.h"
#include "src/runtime/daemon_control.h"
#include "src/web/http_types.h"

namespace dutybridge::admin {

using web::errorResponse;
using web::Request;
using web::Response;

// A tap the server streams: records taken from `subscription` every so often, each written as
// line() frames, until the limit, the deadline or the client goes; then unsubscribe.
struct TapPlan {
  std::shared_ptr<runtime::TapSubscription> subscription;
  std::shared_ptr<const runtime::PipelineStatus> status;  // whose hub to leave at the end
  bool sse = false;                                       // Server-Sent Events; else NDJSON
  std::chrono::milliseconds timeout{60'000};
  std::string content_type() const { return sse ? "text/event-stream" : "application/x-ndjson"; }
  // One record as the tap shows it (personal fields already masked): NDJSON line or SSE event.
  std::string frame(const core::Record& record) const;
  std::string end() const;  // the closing frame (SSE: "event: end"), or ""
  void close() const { status->tap.unsubscribe(subscription); }
};

class AdminApi {
 public:
  AdminApi(runtime::DaemonControl& control, const config::AdminSettings& settings);
  Response handle(const Request& request);
  // True for GET .../tap, which the server streams: tap() gives the plan or a refusal.
  static bool isTap(const Request& request);
  std::variant<TapPlan, Response> tap(const Request& request);
  // True for POST /api/v1/reload, which is answered once the daemon applied or refused the
  // configuration: reload() gives a refusal at once (token), or starts the reload and calls
  // `done` with the answer later, on the event loop.
  static bool isReload(const Request& request);
  std::optional<Response> reload(const Request& request, std::function<void(Response)> done);

 private:
  Response healthz() const;
  Response readyz() const;
  Response metrics() const;
  Response pipelines() const;
  Response pipeline(const runtime::PipelineView& view) const;
  Response quarantine(const runtime::PipelineView& view) const;
  Response cursor(const Request& request, const runtime::PipelineView& view);
  // Empty when the request may write; else the 401/403 answer.
  std::optional<Response> refuseWrite(const Request& request) const;

  runtime::DaemonControl& control_;
  std::optional<std::string> token_;
  bool tap_enabled_;
};

}  // namespace dutybridge::admin
