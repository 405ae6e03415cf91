#include "src/web/web_server.h"

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

#include "src/common/log.h"

namespace dutybridge::web {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

void setCommonHeaders(http::response_header<>& out, const std::string& content_type,
                      const std::vector<std::pair<std::string, std::string>>& headers) {
  out.set(http::field::server, "dutybridge");
  out.set(http::field::content_type, content_type);
  out.set(http::field::cache_control, "no-store");
  out.set("X-Content-Type-Options", "nosniff");
  // Set-Cookie may come more than once; every other header once.
  for (const auto& [name, value] : headers) {
    if (name == "Set-Cookie") {
      out.insert(name, value);
    } else {
      out.set(name, value);
    }
  }
}

http::response<http::string_body> toHttp(const Response& response, unsigned version, bool keep_alive, bool head) {
  http::response<http::string_body> out{static_cast<http::status>(response.status), version};
  setCommonHeaders(out.base(), response.content_type, response.headers);
  out.keep_alive(keep_alive);
  out.body() = head ? std::string() : response.body;
  out.prepare_payload();
  if (head) out.content_length(response.body.size());
  return out;
}

class Server final : public runtime::DaemonAttachment {
 public:
  Server(asio::io_context& io, std::unique_ptr<Handler> handler, ServerSettings settings)
      : io_(io), handler_(std::move(handler)), settings_(std::move(settings)), acceptor_(io) {}

  core::Status start() {
    const ServerSettings& s = settings_;
    const auto colon = s.listen.rfind(':');
    std::string host = s.listen.substr(0, colon);
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
    const std::string port = colon == std::string::npos ? std::string() : s.listen.substr(colon + 1);
    if (s.tls_cert && s.tls_key) {
      tls_.emplace(ssl::context::tls_server);
      tls_->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                        ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
      boost::system::error_code ec;
      tls_->use_certificate_chain_file(*s.tls_cert, ec);
      if (ec)
        return core::fail(
            core::Error::invalidConfig(fmt::format("{}.tls.cert {}: {}", s.site, *s.tls_cert, ec.message())));
      tls_->use_private_key_file(*s.tls_key, ssl::context::pem, ec);
      if (ec)
        return core::fail(
            core::Error::invalidConfig(fmt::format("{}.tls.key {}: {}", s.site, *s.tls_key, ec.message())));
    }
    boost::system::error_code ec;
    tcp::resolver resolver(io_);
    auto endpoints = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
    if (ec || endpoints.empty()) {
      return core::fail(core::Error::invalidConfig(
          fmt::format("{}.listen {}: {}", s.site, s.listen, ec ? ec.message() : "no address")));
    }
    const tcp::endpoint endpoint = endpoints.begin()->endpoint();
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return core::fail(
          core::Error::invalidConfig(fmt::format("{}.listen {}: cannot listen: {}", s.site, s.listen, ec.message())));
    }
    const auto bound = acceptor_.local_endpoint();
    log::notice(s.site, "{} listening on {}://{}:{}", s.what, tls_ ? "https" : "http",
                bound.address().is_v6() ? "[" + bound.address().to_string() + "]" : bound.address().to_string(),
                bound.port());
    asio::co_spawn(io_, accept(), [this](std::exception_ptr error) { logException("accepting connections", error); });
    return {};
  }

  void stop() override {
    if (stopping_) return;
    stopping_ = true;
    boost::system::error_code ignored;
    acceptor_.close(ignored);
    // Connections waiting for a request end now; one being answered ends after its response,
    // a stream at its next poll.
    for (auto& connection : connections_) {
      if (connection.idle) connection.socket->close(ignored);
    }
  }

 private:
  struct Connection {
    tcp::socket* socket;
    bool idle = true;  // waiting for (the start of) a request
  };

  void logException(std::string_view what, std::exception_ptr error) const {
    if (!error) return;
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      log::error(settings_.site, "{}: {}", what, e.what());
    }
  }

  asio::awaitable<void> accept() {
    while (!stopping_) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) {
        if (stopping_ || ec == asio::error::operation_aborted) break;
        // E.g. out of file descriptors: say so, and give the process a moment instead of spinning.
        log::warning(settings_.site, "accepting a connection: {}", ec.message());
        asio::steady_timer pause(io_, std::chrono::milliseconds(100));
        co_await pause.async_wait(kTuple);
        continue;
      }
      asio::co_spawn(io_, session(std::move(socket)),
                     [this](std::exception_ptr error) { logException("serving a connection", error); });
    }
  }

  asio::awaitable<void> session(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    auto registered = connections_.insert(connections_.end(), Connection{&stream.socket()});
    if (tls_) {
      beast::ssl_stream<beast::tcp_stream&> secure(stream, *tls_);
      stream.expires_after(settings_.limits.read_timeout);
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

  template <class AsyncStream>
  asio::awaitable<void> serve(AsyncStream& stream, Connection& connection) {
    const ServerLimits& limits = settings_.limits;
    beast::flat_buffer buffer;
    auto& lowest = beast::get_lowest_layer(stream);
    bool first = true;
    while (!stopping_) {
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes));
      parser.body_limit(limits.body_bytes);
      connection.idle = true;
      lowest.expires_after(first ? limits.read_timeout : limits.idle_timeout);
      first = false;
      // The header first, so a slow client has read_timeout for the rest once it started.
      auto [ec, bytes] = co_await http::async_read_header(stream, buffer, parser, kTuple);
      (void)bytes;
      connection.idle = false;
      if (!ec && !parser.is_done()) {
        lowest.expires_after(limits.read_timeout);
        std::tie(ec, bytes) = co_await http::async_read(stream, buffer, parser, kTuple);
      }
      std::optional<Response> refusal;
      if (ec == http::error::header_limit) {
        refusal = errorResponse(431, fmt::format("request headers exceed {} bytes", limits.header_bytes));
      } else if (ec == http::error::body_limit) {
        refusal = errorResponse(413, fmt::format("request body exceeds {} bytes", limits.body_bytes));
      } else if (ec) {
        // The client went away, timed out (slow clients are cut off) or sent something that is
        // not HTTP: nothing to answer.
        if (ec != http::error::end_of_stream && ec != beast::error::timeout && ec != asio::error::operation_aborted &&
            ec != asio::error::connection_reset && ec != asio::error::eof) {
          log::debug(settings_.site, "connection closed: {}", ec.message());
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
        in.cookie = std::string(request[http::field::cookie]);
        in.accept_language = std::string(request[http::field::accept_language]);
        in.last_event_id = std::string(request["Last-Event-ID"]);
        in.body = request.body();
        Answer answer = handler_->answer(in);
        const bool keep_alive = request.keep_alive() && !stopping_;
        if (auto* streamed = std::get_if<Stream>(&answer)) {
          co_await writeStream(stream, *streamed, request.version());
          co_return;  // a streamed answer ends the connection
        }
        if (auto* deferred = std::get_if<Deferred>(&answer)) {
          // Answered once the work is done (a reload stops changed pipelines gracefully first,
          // which can take a while). No deadline runs while waiting.
          struct Pending {
            explicit Pending(asio::io_context& io) : wake(io, asio::steady_timer::time_point::max()) {}
            std::optional<Response> answer;
            asio::steady_timer wake;
          };
          auto pending = std::make_shared<Pending>(io_);
          (*deferred)([pending](Response done) {
            pending->answer = std::move(done);
            pending->wake.cancel();
          });
          while (!pending->answer) co_await pending->wake.async_wait(kTuple);
          response = toHttp(*pending->answer, request.version(), keep_alive, false);
        } else {
          response =
              toHttp(std::get<Response>(answer), request.version(), keep_alive, request.method() == http::verb::head);
        }
      }
      lowest.expires_after(limits.write_timeout);
      auto [write_ec, written] = co_await http::async_write(stream, response, kTuple);
      (void)written;
      if (write_ec || !response.keep_alive()) co_return;
    }
  }

  // A streamed answer: chunked, what next() gives every poll, until it is done, its timeout, a
  // failed write (the client went) or the server's stop.
  template <class AsyncStream>
  asio::awaitable<void> writeStream(AsyncStream& stream, Stream& plan, unsigned version) {
    struct Leave {
      Stream& plan;
      ~Leave() {
        if (plan.close) plan.close();
      }
    } leave{plan};
    auto& lowest = beast::get_lowest_layer(stream);
    http::response<http::empty_body> head{http::status::ok, version};
    setCommonHeaders(head.base(), plan.content_type, plan.headers);
    head.chunked(true);
    head.keep_alive(false);
    http::response_serializer<http::empty_body> serializer{head};
    lowest.expires_after(settings_.limits.write_timeout);
    if (auto [ec, n] = co_await http::async_write_header(stream, serializer, kTuple); ec) co_return;
    const auto started = std::chrono::steady_clock::now();
    asio::steady_timer timer(io_);
    auto written = started;
    // In milliseconds: plan.timeout may be milliseconds::max(), which overflows nanoseconds.
    auto elapsed = [&] {
      return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    };
    while (!stopping_ && elapsed() < plan.timeout) {
      StreamStep step = plan.next();
      const auto now = std::chrono::steady_clock::now();
      if (step.text.empty() && !plan.keepalive_text.empty() && now - written > plan.keepalive) {
        step.text = plan.keepalive_text;
      }
      if (!step.text.empty()) {
        written = now;
        lowest.expires_after(settings_.limits.write_timeout);
        if (auto [ec, n] = co_await asio::async_write(stream, http::make_chunk(asio::buffer(step.text)), kTuple); ec) {
          co_return;
        }
      }
      if (step.done) break;
      timer.expires_after(plan.poll_every);
      co_await timer.async_wait(kTuple);
    }
    const std::string end = plan.end ? plan.end() : std::string();
    lowest.expires_after(settings_.limits.write_timeout);
    if (!end.empty()) co_await asio::async_write(stream, http::make_chunk(asio::buffer(end)), kTuple);
    co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
  }

  asio::io_context& io_;
  std::unique_ptr<Handler> handler_;
  ServerSettings settings_;
  tcp::acceptor acceptor_;
  std::optional<ssl::context> tls_;
  std::list<Connection> connections_;
  bool stopping_ = false;
};

}  // namespace

core::Result<std::unique_ptr<runtime::DaemonAttachment>> startServer(asio::io_context& io,
                                                                     std::unique_ptr<Handler> handler,
                                                                     const ServerSettings& settings) {
  auto server = std::make_unique<Server>(io, std::move(handler), settings);
  if (auto started = server->start(); !started) return core::fail(started.error());
  return std::unique_ptr<runtime::DaemonAttachment>(std::move(server));
}

}  // namespace dutybridge::web
