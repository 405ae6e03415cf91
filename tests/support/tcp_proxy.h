#pragma once
// A TCP forwarder on 127.0.0.1 for outage tests: clients connect to port(), bytes go to the
// target port while the proxy is open. It starts closed. close() cuts every connection and
// closes new ones at once (the listener stays bound, so no other socket can take its port in
// between), so a service "goes away" and "comes back" without touching the real one.
// Runs on its own thread.

#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <array>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

namespace dutybridge::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port), work_(io_.get_executor()), acceptor_(io_) {
    boost::system::error_code ec;
    const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(64, ec);
    if (ec) FAIL("proxy cannot listen: " << ec.message());
    port_ = acceptor_.local_endpoint().port();
    accept();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TcpProxy() {
    boost::asio::post(io_, [this] {
      boost::system::error_code ignored;
      acceptor_.close(ignored);
      cut();
    });
    work_.reset();
    thread_.join();
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }

  void open() {
    run([this] { open_ = true; });
  }
  void close() {
    run([this] {
      open_ = false;
      cut();
    });
  }

 private:
  using Socket = boost::asio::ip::tcp::socket;

  template <class F>
  void run(F f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().get();
  }

  void cut() {
    boost::system::error_code ignored;
    for (const auto& socket : sockets_) socket->close(ignored);
    sockets_.clear();
  }

  void accept() {
    acceptor_.async_accept([this](boost::system::error_code ec, Socket client) {
      if (ec) return;
      if (!open_) {
        boost::system::error_code ignored;
        client.close(ignored);
        accept();
        return;
      }
      auto from = std::make_shared<Socket>(std::move(client));
      auto to = std::make_shared<Socket>(io_);
      sockets_.insert(from);
      sockets_.insert(to);
      to->async_connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                       static_cast<unsigned short>(target_port_)),
                        [from, to, this](boost::system::error_code connect_ec) {
                          if (connect_ec) {
                            boost::system::error_code ignored;
                            from->close(ignored);
                            return;
                          }
                          pump(from, to);
                          pump(to, from);
                        });
      accept();
    });
  }

  void pump(std::shared_ptr<Socket> from, std::shared_ptr<Socket> to) {
    auto buffer = std::make_shared<std::array<char, 16384>>();
    from->async_read_some(boost::asio::buffer(*buffer), [this, from, to, buffer](boost::system::error_code ec, size_t n) {
      if (ec) {
        boost::system::error_code ignored;
        to->shutdown(Socket::shutdown_send, ignored);
        return;
      }
      boost::asio::async_write(*to, boost::asio::buffer(buffer->data(), n),
                               [this, from, to, buffer](boost::system::error_code write_ec, size_t) {
                                 if (!write_ec) pump(from, to);
                               });
    });
  }

  int target_port_;
  int port_ = 0;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  boost::asio::ip::tcp::acceptor acceptor_;
  bool open_ = false;  // on the proxy's thread
  std::set<std::shared_ptr<Socket>> sockets_;
  std::thread thread_;
};

}  // namespace dutybridge::testing
