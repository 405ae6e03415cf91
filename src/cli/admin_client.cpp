#include "src/cli/admin_client.h"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <exception>
#include <optional>

namespace dutybridge::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Endpoint {
  std::string host;
  std::string port;
};

// admin.listen is validated as host:port by the config; [v6]:port keeps its brackets off.
Endpoint endpointOf(const config::AdminSettings& settings) {
  const std::string& listen = settings.listen.empty() ? std::string("127.0.0.1:8088") : settings.listen;
  const auto colon = listen.rfind(':');
  Endpoint out{listen.substr(0, colon), listen.substr(colon + 1)};
  if (out.host.size() >= 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  if (out.host == "0.0.0.0" || out.host.empty()) out.host = "127.0.0.1";
  if (out.host == "::") out.host = "::1";
  return out;
}

AdminUnreachable failure(const Endpoint& at, std::string_view what, const boost::system::error_code& ec) {
  return AdminUnreachable{ec == asio::error::connection_refused,
                          fmt::format("admin API at {}:{}: {}: {}", at.host, at.port, what, ec.message())};
}

template <class Stream>
asio::awaitable<AdminResult> exchange(Stream& stream, const Endpoint& at, const AdminRequest& request) {
  http::request<http::string_body> req{http::string_to_verb(request.method), request.target, 11};
  req.set(http::field::host, at.host);
  req.set(http::field::user_agent, "dutybridge-cli");
  req.set(http::field::connection, "close");
  if (!request.token.empty()) req.set(http::field::authorization, "Bearer " + request.token);
  if (!request.body.empty()) req.set(http::field::content_type, "application/json");
  req.body() = request.body;
  req.prepare_payload();
  auto [written_ec, written] = co_await http::async_write(stream, req, kTuple);
  (void)written;
  if (written_ec) co_return std::unexpected(failure(at, "sending the request", written_ec));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);  // a status of many pipelines, never unbounded
  auto [read_ec, read] = co_await http::async_read(stream, buffer, parser, kTuple);
  (void)read;
  if (read_ec) co_return std::unexpected(failure(at, "reading the answer", read_ec));
  co_return AdminReply{static_cast<int>(parser.get().result_int()), std::move(parser.get().body())};
}

asio::awaitable<AdminResult> run(asio::io_context& io, const config::AdminSettings& settings,
                                 const AdminRequest& request) {
  const Endpoint at = endpointOf(settings);
  tcp::resolver resolver(io);
  auto [resolve_ec, results] = co_await resolver.async_resolve(at.host, at.port, kTuple);
  if (resolve_ec) co_return std::unexpected(failure(at, "resolving", resolve_ec));
  beast::tcp_stream stream(io);
  stream.expires_after(request.timeout);
  auto [connect_ec, connected] = co_await stream.async_connect(results, kTuple);
  (void)connected;
  if (connect_ec) co_return std::unexpected(failure(at, "connecting", connect_ec));
  stream.expires_after(request.timeout);
  if (!settings.tls) co_return co_await exchange(stream, at, request);

  ssl::context context(ssl::context::tls_client);
  boost::system::error_code ec;
  context.load_verify_file(settings.tls->cert, ec);
  if (ec) {
    co_return std::unexpected(
        AdminUnreachable{false, fmt::format("admin API: reading admin.tls.cert {} to verify the server: {}",
                                            settings.tls->cert, ec.message())});
  }
  context.set_verify_mode(ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream&> secure(stream, context);
  auto [handshake_ec] = co_await secure.async_handshake(ssl::stream_base::client, kTuple);
  if (handshake_ec) co_return std::unexpected(failure(at, "TLS handshake", handshake_ec));
  co_return co_await exchange(secure, at, request);
}

}  // namespace

AdminResult adminRequest(const config::AdminSettings& settings, const AdminRequest& request) {
  asio::io_context io;
  std::optional<AdminResult> result;
  std::exception_ptr thrown;
  asio::co_spawn(io, run(io, settings, request), [&](std::exception_ptr error, AdminResult value) {
    thrown = error;
    if (!error) result = std::move(value);
  });
  io.run();
  if (thrown || !result) {
    // Beast and Asio report through error codes here; an exception is a bug worth its text.
    std::string what = "no answer";
    try {
      if (thrown) std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
      what = e.what();
    }
    return std::unexpected(AdminUnreachable{false, "admin API: " + what});
  }
  return std::move(*result);
}

std::string adminBaseUrl(const config::AdminSettings& settings) {
  const Endpoint at = endpointOf(settings);
  const bool v6 = at.host.find(':') != std::string::npos;
  return fmt::format("{}://{}{}{}:{}", settings.tls ? "https" : "http", v6 ? "[" : "", at.host, v6 ? "]" : "", at.port);
}

}  // namespace dutybridge::cli
