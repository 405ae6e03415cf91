#pragma once
// A blocking HTTP/1.1 client for tests of the admin API (Boost.Beast): one request per call,
// or several on one kept-alive connection (HttpConnection). Fails the test when it cannot connect.

#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/time.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace dutybridge::testing {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers) {
      if (boost::beast::iequals(n, name)) return v;
    }
    return {};
  }
};

class HttpConnection {
 public:
  explicit HttpConnection(int port, std::chrono::seconds timeout = std::chrono::seconds(10)) : stream_(io_) {
    boost::system::error_code ec;
    stream_.connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                   static_cast<unsigned short>(port)),
                    ec);
    if (ec) FAIL("cannot connect to 127.0.0.1:" << port << ": " << ec.message());
    receiveTimeout(timeout);
  }

  // Sync reads do not see Beast's expiry: the socket's own receive timeout bounds them.
  void receiveTimeout(std::chrono::seconds timeout) {
    timeval tv{static_cast<time_t>(timeout.count()), 0};
    ::setsockopt(stream_.socket().native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }

  // The reply, or nullopt when the server closed the connection without one.
  std::optional<HttpReply> request(const std::string& method, const std::string& target, const std::string& body = "",
                                   std::vector<std::pair<std::string, std::string>> headers = {}) {
    namespace http = boost::beast::http;
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = body;
    req.prepare_payload();
    boost::system::error_code ec;
    // A signal (SIGCHLD of a psql the test runs) interrupts a blocking call: go on.
    do {
      http::write(stream_, req, ec);
    } while (ec == boost::asio::error::interrupted);
    if (ec) {
      error_ = "writing: " + ec.message();
      return std::nullopt;
    }
    return read(method == "HEAD");
  }

  // `head`: the answer to a HEAD request (a Content-Length but no body).
  std::optional<HttpReply> read(bool head = false) {
    namespace http = boost::beast::http;
    http::response_parser<http::string_body> parser;
    parser.skip(head);
    parser.body_limit(64 * 1024 * 1024);
    boost::system::error_code ec;
    do {
      http::read(stream_, buffer_, parser, ec);
    } while (ec == boost::asio::error::interrupted);
    if (ec) {
      error_ = "reading: " + ec.message();
      return std::nullopt;
    }
    HttpReply reply;
    reply.status = static_cast<int>(parser.get().result_int());
    reply.body = parser.get().body();
    reply.content_type = std::string(parser.get()[http::field::content_type]);
    for (const auto& field : parser.get()) {
      reply.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    return reply;
  }

  // Raw bytes, for malformed and oversized requests.
  bool send(const std::string& bytes) {
    boost::system::error_code ec;
    boost::asio::write(stream_.socket(), boost::asio::buffer(bytes), ec);
    return !ec;
  }

  // True when the server closed the connection (a read returns end of stream or reset).
  bool closedByServer(std::chrono::seconds within) {
    receiveTimeout(within);
    char byte;
    boost::system::error_code ec;
    do {
      stream_.socket().read_some(boost::asio::buffer(&byte, 1), ec);
    } while (ec == boost::asio::error::interrupted);
    return ec == boost::asio::error::eof || ec == boost::asio::error::connection_reset;
  }

  // Why the last request() or read() returned nullopt.
  const std::string& error() const { return error_; }

 private:
  std::string error_;
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
};

inline HttpReply httpRequest(int port, const std::string& method, const std::string& target,
                             const std::string& body = "",
                             std::vector<std::pair<std::string, std::string>> headers = {}) {
  HttpConnection connection(port);
  auto reply = connection.request(method, target, body, std::move(headers));
  if (!reply) {
    FAIL("no HTTP reply from 127.0.0.1:" << port << " to " << method << " " << target << ": " << connection.error());
  }
  return *reply;
}

inline HttpReply httpGet(int port, const std::string& target) { return httpRequest(port, "GET", target); }

}  // namespace dutybridge::testing
