#include "src/admin/admin_server.h"

#include <memory>
#include <variant>

#include "src/admin/admin_api.h"

namespace dutybridge::admin {
namespace {

// The tap's answer: a frame per record taken from the subscription, until the subscription's
// limit, its timeout, a failed write (the client went) or the server's stop.
web::Stream tapStream(TapPlan plan) {
  auto shared = std::make_shared<TapPlan>(std::move(plan));
  web::Stream out;
  out.content_type = shared->content_type();
  out.timeout = shared->timeout;
  if (shared->sse) out.keepalive_text = ": waiting for records\n\n";
  out.next = [shared] {
    web::StreamStep step;
    for (const auto& record : shared->subscription->take()) step.text += shared->frame(record);
    step.done = shared->subscription->exhausted();
    return step;
  };
  out.end = [shared] { return shared->end(); };
  out.close = [shared] { shared->close(); };
  return out;
}

class AdminHandler final : public web::Handler {
 public:
  AdminHandler(runtime::DaemonControl& control, const config::AdminSettings& settings) : api_(control, settings) {}

  web::Answer answer(const web::Request& request) override {
    if (AdminApi::isTap(request)) {
      auto tap = api_.tap(request);
      if (auto* plan = std::get_if<TapPlan>(&tap)) return tapStream(std::move(*plan));
      return std::get<Response>(std::move(tap));
    }
    if (AdminApi::isReload(request)) {
      return web::Deferred([this, request](std::function<void(Response)> done) {
        if (auto refused = api_.reload(request, done)) done(std::move(*refused));
      });
    }
    return api_.handle(request);
  }

 private:
  AdminApi api_;
};

}  // namespace

core::Result<std::unique_ptr<runtime::DaemonAttachment>> startAdminServer(boost::asio::io_context& io,
                                                                          runtime::DaemonControl& control,
                                                                          const config::AdminSettings& settings,
                                                                          ServerLimits limits) {
  web::ServerSettings server;
  server.site = "admin";
  server.what = "admin API";
  server.listen = settings.listen;
  if (settings.tls) {
    server.tls_cert = settings.tls->cert;
    server.tls_key = settings.tls->key;
  }
  server.limits = limits;
  return web::startServer(io, std::make_unique<AdminHandler>(control, settings), server);
}

}  // namespace dutybridge::admin
