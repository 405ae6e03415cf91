#include "src/admin/admin_api.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <string_view>

#include "src/admin/metrics.h"
#include "src/codec/json.h"
#include "src/codec/json_writer.h"
#include "src/common/log.h"
#include "src/core/time.h"
#include "src/runtime/health.h"

#ifndef DUTYBRIDGE_VERSION
#define DUTYBRIDGE_VERSION "0.0.0"
#endif

namespace dutybridge::admin {
namespace {

using nlohmann::json;
using runtime::PipelineState;
using runtime::PipelineView;

Response jsonResponse(int status, const json& body) {
  Response r;
  r.status = status;
  r.body = body.dump(2) + "\n";
  return r;
}

std::string formatUnixMillis(int64_t ms) {
  return core::formatTimestamp(core::Timestamp{ms * 1000});
}

// Equal tokens, compared in constant time: both are hashed first so neither the content nor
// the length of the configured token leaks through timing.
bool sameToken(std::string_view given, std::string_view expected) {
  unsigned char a[SHA256_DIGEST_LENGTH];
  unsigned char b[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(given.data()), given.size(), a);
  SHA256(reinterpret_cast<const unsigned char*>(expected.data()), expected.size(), b);
  return CRYPTO_memcmp(a, b, sizeof a) == 0;
}

json pipelineJson(const PipelineView& view) {
  const auto& status = *view.status;
  const auto& stats = status.stats;
  const auto& config = *view.config;
  const int64_t now_ms = runtime::unixMillisNow();
  json out = {{"name", config.name},
              {"state", runtime::toString(status.state())},
              {"stopped_by_admin", view.stopped_by_admin},
              {"delivery", config::deliveryName(config.delivery)},
              {"source", config.source.type},
              {"sink", config.sink.type},
              {"mapping", config.mapping ? json(config.mapping->string()) : json(nullptr)}};
  if (auto error = status.lastError()) {
    out["last_error"] = {
        {"kind", error->kind}, {"message", error->message}, {"since", formatUnixMillis(error->since_unix_ms)}};
  } else {
    out["last_error"] = nullptr;
  }
  std::string retry = status.retryReason();
  out["retrying"] = retry.empty() ? json(nullptr) : json(retry);
  const auto step = status.currentStep();
  out["step"] =
      step.name ? json{{"name", step.name}, {"for_seconds", std::chrono::duration<double>(step.running_for).count()}}
                : json(nullptr);
  json cursor = {{"stored_by", view.sink_stores_position ? "sink" : "state_store"}};
  auto value = status.cursor();
  cursor["value"] = value ? json(*value) : json(nullptr);
  if (const int64_t stored = stats.cursor_stored_unix_ms.load(std::memory_order_relaxed); stored > 0) {
    cursor["stored_at"] = formatUnixMillis(stored);
    cursor["age_seconds"] = static_cast<double>(now_ms - stored) / 1000.0;
  } else {
    cursor["stored_at"] = nullptr;
    cursor["age_seconds"] = nullptr;
  }
  out["cursor"] = std::move(cursor);
  const int64_t newest = stats.newest_event_unix_ms.load(std::memory_order_relaxed);
  out["lag_seconds"] = newest > 0 ? json(static_cast<double>(now_ms - newest) / 1000.0) : json(nullptr);
  auto load = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  json dead = json::object();
  for (size_t i = 0; i < runtime::kDeadLetterStages.size(); ++i) {
    dead[std::string(runtime::kDeadLetterStages[i])] = load(stats.dead_letters_by_stage[i]);
  }
  out["counters"] = {{"records_read", load(stats.records_read)},
                     {"records_mapped", load(stats.records_mapped)},
                     {"records_delivered", load(stats.records_delivered)},
                     {"dead_letters", std::move(dead)},
                     {"batches", load(stats.batches_committed)},
                     {"transactions_committed", load(stats.transactions)},
                     {"transactions_aborted", load(stats.transactions_aborted)},
                     {"retries", load(stats.retries)},
                     {"restarts", load(stats.restarts)}};
  json gauges = json::object();
  for (const auto& [name, gauge] : status.gauges()) gauges[name] = gauge;
  out["gauges"] = std::move(gauges);
  return out;
}

// The records a pipeline's quarantine holds, or nullopt when it has none (no `quarantine:`).
std::optional<int64_t> heldCount(const PipelineView& view) {
  for (const auto& [name, value] : view.status->gauges()) {
    if (name == "quarantined") return value;
  }
  return std::nullopt;
}

int httpStatus(runtime::ControlError::Code code) {
  switch (code) {
    case runtime::ControlError::Code::NotFound:
      return 404;
    case runtime::ControlError::Code::Conflict:
      return 409;
    case runtime::ControlError::Code::Invalid:
      return 400;
    case runtime::ControlError::Code::Unavailable:
      return 503;
  }
  return 500;
}

// "/api/v1/pipelines/mes/cursor?x=1" -> {"api","v1","pipelines","mes","cursor"}.
std::vector<std::string_view> pathSegments(std::string_view target) {
  target = target.substr(0, target.find('?'));
  std::vector<std::string_view> out;
  while (!target.empty()) {
    if (target.front() == '/') {
      target.remove_prefix(1);
      continue;
    }
    auto slash = target.find('/');
    out.push_back(target.substr(0, slash));
    target = slash == std::string_view::npos ? std::string_view() : target.substr(slash);
  }
  return out;
}

// "?a=1&b=x" -> {("a","1"), ("b","x")}; no percent-decoding (the values are plain words and numbers).
std::vector<std::pair<std::string, std::string>> queryParameters(std::string_view target) {
  std::vector<std::pair<std::string, std::string>> out;
  const auto question = target.find('?');
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    out.emplace_back(std::string(pair.substr(0, eq)),
                     eq == std::string_view::npos ? std::string() : std::string(pair.substr(eq + 1)));
  }
  return out;
}

Response methodNotAllowed(std::string_view allow) {
  Response r = errorResponse(405, fmt::format("method not allowed here; allowed: {}", allow));
  r.headers.emplace_back("Allow", std::string(allow));
  return r;
}

}  // namespace

AdminApi::AdminApi(runtime::DaemonControl& control, const config::AdminSettings& settings)
    : control_(control), token_(settings.token), tap_enabled_(settings.tap) {}

bool AdminApi::isTap(const Request& request) {
  const auto path = pathSegments(request.target);
  return path.size() == 5 && path[0] == "api" && path[1] == "v1" && path[2] == "pipelines" && path[4] == "tap" &&
         request.method == "GET";
}

bool AdminApi::isReload(const Request& request) {
  const auto path = pathSegments(request.target);
  return path.size() == 3 && path[0] == "api" && path[1] == "v1" && path[2] == "reload" && request.method == "POST";
}

std::optional<Response> AdminApi::reload(const Request& request, std::function<void(Response)> done) {
  if (auto refused = refuseWrite(request)) return refused;
  log::notice("admin", "configuration reload requested through the admin API");
  control_.reload([done = std::move(done)](const runtime::ReloadOutcome& outcome) {
    json body = {{"result", runtime::toString(outcome.result)},
                 {"rebuilt", outcome.rebuilt},
                 {"added", outcome.added},
                 {"removed", outcome.removed},
                 {"unchanged", outcome.unchanged},
                 {"notes", outcome.notes}};
    int status = 200;
    if (outcome.result == runtime::ReloadOutcome::Result::Invalid) {
      status = 422;
      body["error"] = "the configuration has errors; the running one stays unchanged";
      body["errors"] = outcome.message;
    } else if (outcome.result == runtime::ReloadOutcome::Result::Refused) {
      status = 409;
      body["error"] = outcome.message;
    }
    done(jsonResponse(status, body));
  });
  return std::nullopt;
}

std::variant<TapPlan, Response> AdminApi::tap(const Request& request) {
  if (!tap_enabled_) return errorResponse(403, "the tap is off: set admin.tap: true to sample live records");
  const auto path = pathSegments(request.target);
  std::shared_ptr<const runtime::PipelineStatus> status;
  for (const auto& view : control_.pipelines()) {
    if (view.config->name == path[3]) status = view.status;
  }
  if (!status) return errorResponse(404, fmt::format("no pipeline named '{}'", path[3]));
  size_t limit = 10;
  double rate = 10;
  int64_t timeout_seconds = 60;
  runtime::TapStage stage = runtime::TapStage::Output;
  bool sse = request.accept.find("text/event-stream") != std::string::npos;
  for (const auto& [name, value] : queryParameters(request.target)) {
    auto number = [&](int64_t low, int64_t high) -> std::optional<int64_t> {
      int64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc() || ptr != value.data() + value.size() || n < low || n > high) return std::nullopt;
      return n;
    };
    if (name == "limit") {
      auto n = number(1, 1000);
      if (!n) return errorResponse(400, "limit must be a number of records from 1 to 1000");
      limit = static_cast<size_t>(*n);
    } else if (name == "rate") {
      auto n = number(1, 100);
      if (!n) return errorResponse(400, "rate must be records per second from 1 to 100");
      rate = static_cast<double>(*n);
    } else if (name == "timeout") {
      auto n = number(1, 600);
      if (!n) return errorResponse(400, "timeout must be seconds from 1 to 600");
      timeout_seconds = *n;
    } else if (name == "stage") {
      if (value == "source")
        stage = runtime::TapStage::Source;
      else if (value == "output")
        stage = runtime::TapStage::Output;
      else
        return errorResponse(400, "stage must be source or output");
    } else if (name == "format") {
      if (value == "sse")
        sse = true;
      else if (value == "ndjson")
        sse = false;
      else
        return errorResponse(400, "format must be ndjson or sse");
    } else {
      return errorResponse(400, fmt::format("unknown parameter '{}' (limit, stage, rate, timeout, format)", name));
    }
  }
  TapPlan plan;
  plan.subscription = status->tap.subscribe(stage, limit, rate);
  plan.status = std::move(status);
  plan.sse = sse;
  plan.timeout = std::chrono::seconds(timeout_seconds);
  return plan;
}

std::string TapPlan::frame(const core::Record& record) const {
  std::string json;
  if (subscription->stage() == runtime::TapStage::Output) {
    json = codec::envelopeJson(record);
  } else {
    json = "{\"position\":";
    codec::appendJsonString(json, record.meta.source_position);
    json += ",\"value\":";
    codec::appendJson(record, json);
    json += '}';
  }
  return sse ? "event: record\ndata: " + json + "\n\n" : json + "\n";
}

std::string TapPlan::end() const {
  return sse ? "event: end\ndata: {}\n\n" : std::string();
}

Response AdminApi::handle(const Request& request) {
  const auto path = pathSegments(request.target);
  const bool get = request.method == "GET" || request.method == "HEAD";
  if (path.size() == 1 && (path[0] == "healthz" || path[0] == "readyz" || path[0] == "metrics")) {
    if (!get) return methodNotAllowed("GET, HEAD");
    return path[0] == "healthz" ? healthz() : path[0] == "readyz" ? readyz() : metrics();
  }
  if (path.size() == 3 && path[0] == "api" && path[1] == "v1" && path[2] == "reload") {
    return methodNotAllowed("POST");  // POST is answered once applied (reload())
  }
  if (path.size() < 3 || path[0] != "api" || path[1] != "v1" || path[2] != "pipelines") {
    return errorResponse(404, "no such endpoint; see docs/operations.md for the admin API");
  }
  if (path.size() == 3) return get ? pipelines() : methodNotAllowed("GET, HEAD");
  const auto views = control_.pipelines();
  const PipelineView* view = nullptr;
  for (const auto& v : views) {
    if (v.config->name == path[3]) view = &v;
  }
  if (!view) return errorResponse(404, fmt::format("no pipeline named '{}'", path[3]));
  if (path.size() == 4) return get ? pipeline(*view) : methodNotAllowed("GET, HEAD");
  if (path.size() == 5 && path[4] == "cursor") return cursor(request, *view);
  if (path.size() == 5 && path[4] == "tap") return methodNotAllowed("GET");  // GET is streamed (tap())
  if (path.size() == 5 && path[4] == "quarantine") return get ? quarantine(*view) : methodNotAllowed("GET, HEAD");
  if (path.size() == 6 && path[4] == "quarantine" && path[5] == "retry") {
    if (request.method != "POST") return methodNotAllowed("POST");
    if (auto refused = refuseWrite(request)) return *refused;
    auto held = heldCount(*view);
    if (!held) return errorResponse(409, fmt::format("pipeline {} has no quarantine", view->config->name));
    view->status->requestHeldRetry();
    log::notice("admin", "pipeline {}: quarantine retry requested through the admin API ({} held)",
                view->config->name, *held);
    return jsonResponse(202, json{{"pipeline", view->config->name}, {"retry", "requested"}, {"held", *held}});
  }
  if (path.size() == 5 && (path[4] == "stop" || path[4] == "resume" || path[4] == "restart")) {
    if (request.method != "POST") return methodNotAllowed("POST");
    if (auto refused = refuseWrite(request)) return *refused;
    const std::string name = view->config->name;
    auto done = path[4] == "stop"     ? control_.stopPipeline(name)
                : path[4] == "resume" ? control_.resumePipeline(name)
                                      : control_.restartPipeline(name);
    if (!done) return errorResponse(httpStatus(done.error().code), done.error().message);
    for (const auto& v : control_.pipelines()) {
      if (v.config->name == name) return jsonResponse(202, pipelineJson(v));
    }
  }
  return errorResponse(404, "no such endpoint; see docs/operations.md for the admin API");
}

std::optional<Response> AdminApi::refuseWrite(const Request& request) const {
  if (!token_) {
    return errorResponse(403, "writes are disabled: admin.token is not configured");
  }
  constexpr std::string_view kBearer = "Bearer ";
  if (request.authorization.empty()) {
    Response r = errorResponse(401, "this endpoint needs Authorization: Bearer <admin token>");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"dutybridge\"");
    return r;
  }
  if (!request.authorization.starts_with(kBearer) ||
      !sameToken(std::string_view(request.authorization).substr(kBearer.size()), *token_)) {
    Response r = errorResponse(401, "the bearer token is not the admin token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"dutybridge\", error=\"invalid_token\"");
    return r;
  }
  return std::nullopt;
}

Response AdminApi::healthz() const {
  const auto limit = control_.stuckAfter();
  json stuck = json::array();
  for (const auto& step : runtime::stuckSteps(control_.pipelines(), limit)) {
    stuck.push_back({{"pipeline", step.pipeline},
                     {"step", step.step},
                     {"for_seconds", std::chrono::duration<double>(step.running_for).count()}});
  }
  if (stuck.empty()) return jsonResponse(200, json{{"status", "ok"}});
  return jsonResponse(503, json{{"status", "unhealthy"},
                                {"stuck_after_seconds", std::chrono::duration<double>(limit).count()},
                                {"stuck", std::move(stuck)}});
}

Response AdminApi::readyz() const {
  auto reasons = runtime::notReadyReasons(control_.pipelines(), control_.stopping());
  if (reasons.empty()) return jsonResponse(200, json{{"status", "ready"}});
  return jsonResponse(503, json{{"status", "not ready"}, {"reasons", std::move(reasons)}});
}

Response AdminApi::metrics() const {
  Response r;
  r.content_type = "text/plain; version=0.0.4; charset=utf-8";
  r.body = renderMetrics(control_.pipelines(), control_.reloadStats(), DUTYBRIDGE_VERSION);
  return r;
}

Response AdminApi::pipelines() const {
  json list = json::array();
  for (const auto& view : control_.pipelines()) list.push_back(pipelineJson(view));
  return jsonResponse(200, json{{"pipelines", std::move(list)}});
}

Response AdminApi::pipeline(const PipelineView& view) const {
  return jsonResponse(200, pipelineJson(view));
}

Response AdminApi::quarantine(const PipelineView& view) const {
  const int64_t now_ms = runtime::unixMillisNow();
  json records = json::array();
  for (const auto& held : view.status->held()) {
    records.push_back({{"position", held.position},
                       {"reason", held.reason},
                       {"since", core::formatTimestamp(held.since)},
                       {"age_seconds", static_cast<double>(now_ms - held.since.micros / 1000) / 1000.0}});
  }
  const auto held = heldCount(view);
  return jsonResponse(200, json{{"pipeline", view.config->name},
                                {"quarantine", held.has_value()},
                                {"held", held.value_or(0)},
                                {"shown", records.size()},
                                {"records", std::move(records)}});
}

Response AdminApi::cursor(const Request& request, const PipelineView& view) {
  const std::string& name = view.config->name;
  if (request.method == "GET" || request.method == "HEAD") {
    auto stored = control_.readCursor(name);
    if (!stored) return errorResponse(httpStatus(stored.error().code), stored.error().message);
    return jsonResponse(200, json{{"pipeline", name},
                                  {"stored_by", view.sink_stores_position ? "sink" : "state_store"},
                                  {"position", *stored ? json(**stored) : json(nullptr)}});
  }
  if (request.method != "PUT" && request.method != "DELETE") return methodNotAllowed("GET, HEAD, PUT, DELETE");
  if (auto refused = refuseWrite(request)) return *refused;
  std::optional<std::string> position;
  if (request.method == "PUT") {
    auto body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("position")) {
      return errorResponse(400,
                           "the body must be a JSON object {\"position\": ...}: the position as the cursor "
                           "shows it (a string, or the JSON object a JSON position is)");
    }
    const json& given = body["position"];
    if (given.is_string())
      position = given.get<std::string>();
    else if (given.is_object() || given.is_array() || given.is_number())
      position = given.dump();
    else
      return errorResponse(400, "position must be a string or a JSON object; to delete the cursor use DELETE");
  }
  auto written = control_.writeCursor(name, position);
  if (!written) return errorResponse(httpStatus(written.error().code), written.error().message);
  return jsonResponse(
      200,
      json{{"pipeline", name}, {"stored_by", "state_store"}, {"position", position ? json(*position) : json(nullptr)}});
}

}  // namespace dutybridge::admin
