#include "src/admin/admin_server.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <list>
#include <optional>
#include <string>
#include <variant>

#include "src/admin/admin_api.h"
#include "src/common/log.h"

namespace dutybridge::admin {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr std::string_view kComponent = "admin";
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

http::response<http::string_body> toHttp(const Response& response, unsigned version, bool keep_alive, bool head) {
  http::response<http::string_body> out{static_cast<http::status>(response.status), version};
  out.set(http::field::server, "dutybridge");
  out.set(http::field::content_type, response.content_type);
  out.set(http::field::cache_control, "no-store");
  for (const auto& [name, value] : response.headers) out.set(name, value);
  out.keep_alive(keep_alive);
  out.body() = head ? std::string() : response.body;
  out.prepare_payload();
  if (head) out.content_length(response.body.size());
  return out;
}

class Server final : public runtime::DaemonAttachment {
 public:
  Server(asio::io_context& io, runtime::DaemonControl& control, const config::AdminSettings& settings,
         ServerLimits limits)
      : io_(io), api_(control, settings), limits_(limits), acceptor_(io) {}

  core::Status start(const config::AdminSettings& settings) {
    const auto colon = settings.listen.rfind(':');
    std::string host = settings.listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string port = settings.listen.substr(colon + 1);
    if (settings.tls) {
      tls_.emplace(ssl::context::tls_server);
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      boost::system::error_code ec;
      tls_->use_certificate_chain_file(settings.tls->cert, ec);
      if (ec)
        return core::fail(
            core::Error::invalidConfig(fmt::format("admin.tls.cert {}: {}", settings.tls->cert, ec.message())));
      tls_->use_private_key_file(settings.tls->key, ssl::context::pem, ec);
      if (ec)
        return core::fail(
            core::Error::invalidConfig(fmt::format("admin.tls.key {}: {}", settings.tls->key, ec.message())));
    }
    boost::system::error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || endpoints.empty()) {
      return core::fail(core::Error::invalidConfig(
          fmt::format("admin.listen {}: {}", settings.listen, ec ? ec.message() : "no address")));
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return core::fail(
          core::Error::invalidConfig(fmt::format("admin.listen {}: cannot listen: {}", settings.listen, ec.message())));
    }
    const auto bound = acceptor_.local_endpoint();
    log::notice(kComponent, "admin API listening on {}://{}:{}", tls_ ? "https" : "http",
                bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string(),
                bound.port());
    asio::co_spawn(io_, accept(), [](std::exception_ptr error) { logException("accepting connections", error); });
    return {};
  }

  void stop() override {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    // Connections waiting for a request end now; one being answered ends after its response.
    for (auto& connection : connections_) {
      if (connection.idle) connection.socket->close(ignored);
    }
  }

 private:
  struct Connection {
    tcp::socket* socket;
    bool idle = true;  // waiting for (the start of) a request
  };

  static void logException(std::string_view what, std::exception_ptr error) {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log::error(kComponent, "{}: {}", what, e.what());
    }
  }

  asio::awaitable<void> accept() {
    while (!stopping_) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        // E.g. out of file descriptors: say so, and give the process a moment instead of spinning.
        log::warning(kComponent, "accepting a connection: {}", ec.message());
        asio::steady_timer pause(io_, std::chrono::milliseconds(100));
        co_await pause.async_wait(kTuple);
        continue;
      }
      asio::co_spawn(io_, session(std::move(socket)),
                     [](std::exception_ptr error) { logException("serving a connection", error); });
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    auto registered = connections_.insert(connections_.end(), Connection{&stream.socket()});
    if (tls_) {
      beast::ssl_stream<beast::tcp_stream&> secure(stream, *tls_);
      stream.expires_after(limits_.read_timeout);
      auto [ec] = co_await secure.async_handshake(ssl::stream_base::server, kTuple);
      if (!ec) {
        co_await serve(secure, *registered);
        stream.expires_after(std::chrono::seconds(2));
        co_await secure.async_shutdown(kTuple);
      }
    } else {
      co_await serve(stream, *registered);
      boost::system::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    }
    connections_.erase(registered);
  }

  template <class Stream>
  asio::awaitable<void> serve(Stream& stream, Connection& connection) {
    beast::flat_buffer buffer;
    auto& lowest = beast::get_lowest_layer(stream);
    bool first = true;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits_.header_bytes));
      parser.body_limit(limits_.body_bytes);
      connection.idle = true;
      lowest.expires_after(first ? limits_.read_timeout : limits_.idle_timeout);
      first = false;
      // The header first, so a slow client has read_timeout for the rest once it started.
      auto [ec, bytes] = co_await http::async_read_header(stream, buffer, parser, kTuple);
      (void)bytes;
      connection.idle = false;
      if (!ec && !parser.is_done()) {
        lowest.expires_after(limits_.read_timeout);
        std::tie(ec, bytes) = co_await http::async_read(stream, buffer, parser, kTuple);
      }
      std::optional<Response> refusal;
      if (ec == http::error::header_limit) {
        refusal = errorResponse(431, fmt::format("request headers exceed {} bytes", limits_.header_bytes));
      } else if (ec == http::error::body_limit) {
        refusal = errorResponse(413, fmt::format("request body exceeds {} bytes", limits_.body_bytes));
      } else if (ec) {
        // The client went away, timed out (slow clients are cut off) or sent something that is
        // not HTTP: nothing to answer.
        if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::operation_aborted &&
            ec != asio::error::connection_reset && ec != asio::error::eof) {
          log::debug(kComponent, "connection closed: {}", ec.message());
        }
        const bool malformed = ec.category() == http::make_error_code(http::error::bad_method).category() &&
                               ec != http::error::end_of_stream && ec != http::error::partial_message;
        if (malformed) {
          refusal = errorResponse(400, "malformed HTTP request");
        } else {
          co_return;
        }
      }
      http::response<http::string_body> response;
      if (refusal) {
        response = toHttp(*refusal, 11, false, false);
      } else {
        const auto& request = parser.get();
        Request in;
        in.method = std::string(request.method_string());
        in.target = std::string(request.target());
        in.authorization = std::string(request[http::field::authorization]);
        in.accept = std::string(request[http::field::accept]);
        in.body = request.body();
        if (AdminApi::isTap(in)) {
          auto tap = api_.tap(in);
          if (auto* plan = std::get_if<TapPlan>(&tap)) {
            connection.idle = false;
            co_await streamTap(stream, *plan, request.version());
            co_return;  // a streamed answer ends the connection
          }
          response = toHttp(std::get<Response>(tap), request.version(), request.keep_alive() && !stopping_, false);
        } else if (AdminApi::isReload(in)) {
          // Answered once the daemon applied (or refused) the file: the changed pipelines stop
          // gracefully first, which can take a while. No deadline runs while waiting.
          struct Pending {
            explicit Pending(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
            std::optional<Response> answer;
            asio::steady_timer wake;
          };
          auto pending = std::make_shared<Pending>(io_);
          if (auto refused = api_.reload(in, [pending](Response answer) {
                pending->answer = std::move(answer);
                pending->wake.cancel();
              })) {
            pending->answer = std::move(*refused);
          }
          while (!pending->answer) co_await pending->wake.async_wait(kTuple);
          response = toHttp(*pending->answer, request.version(), request.keep_alive() && !stopping_, false);
        } else {
          Response out = api_.handle(in);
          response =
              toHttp(out, request.version(), request.keep_alive() && !stopping_, request.method() == http::verb::head);
        }
      }
      lowest.expires_after(limits_.write_timeout);
      auto [write_ec, written] = co_await http::async_write(stream, response, kTuple);
      (void)written;
      if (write_ec || !response.keep_alive()) co_return;
    }
  }

  // The tap's answer: chunked, a frame per record, until the subscription's limit, its timeout,
  // a failed write (the client went) or the server's stop.
  template <class Stream>
  asio::awaitable<void> streamTap(Stream& stream, TapPlan& plan, unsigned version) {
    struct Leave {
      TapPlan& plan;
      ~Leave() { plan.close(); }
    } leave{plan};
    auto& lowest = beast::get_lowest_layer(stream);
    http::response<http::empty_body> head{http::status::ok, version};
    head.set(http::field::server, "dutybridge");
    head.set(http::field::content_type, plan.content_type());
    head.set(http::field::cache_control, "no-store");
    head.chunked(true);
    head.keep_alive(false);
    http::response_serializer<http::empty_body> serializer{head};
    lowest.expires_after(limits_.write_timeout);
    if (auto [ec, n] = co_await http::async_write_header(stream, serializer, kTuple); ec) co_return;
    const auto deadline = std::chrono::steady_clock::now() + plan.timeout;
    asio::steady_timer timer(io_);
    auto keepalive = std::chrono::steady_clock::now();
    while (!stopping_ && std::chrono::steady_clock::now() < deadline) {
      std::string text;
      for (const auto& record : plan.subscription->take()) text += plan.frame(record);
      const bool done = plan.subscription->exhausted();
      if (text.empty() && plan.sse && std::chrono::steady_clock::now() - keepalive > std::chrono::seconds(5)) {
        text = ": waiting for records\n\n";  // an SSE comment: finds a client that went away
      }
      if (!text.empty()) {
        keepalive = std::chrono::steady_clock::now();
        lowest.expires_after(limits_.write_timeout);
        if (auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(text)), kTuple); ec) {
          co_return;
        }
      }
      if (done) break;
      timer.expires_after(std::chrono::milliseconds(100));
      co_await timer.async_wait(kTuple);
    }
    const std::string end = plan.end();
    lowest.expires_after(limits_.write_timeout);
    if (!end.empty()) co_await asio::async_write(stream, http::make_chunk(asio::buffer(end)), kTuple);
    co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
  }

  asio::io_context& io_;
  AdminApi api_;
  ServerLimits limits_;
  tcp::acceptor acceptor_;
  std::optional<ssl::context> tls_;
  std::list<Connection> connections_;
  bool stopping_ = false;
};

}  // namespace

core::Result<std::unique_ptr<runtime::DaemonAttachment>> startAdminServer(asio::io_context& io,
                                                                          runtime::DaemonControl& control,
                                                                          const config::AdminSettings& settings,
                                                                          ServerLimits limits) {
  auto server = std::make_unique<Server>(io, control, settings, limits);
  if (auto started = server->start(settings); !started) return core::fail(started.error());
  return std::unique_ptr<runtime::DaemonAttachment>(std::move(server));
}

}  // namespace dutybridge::admin
