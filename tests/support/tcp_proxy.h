#pragma once
// A TCP forwarder on 127.0.0.1 for outage tests: clients connect to port(), bytes go to the
// target port. open() starts listening (again), close() stops listening and cuts every
// connection, so a service "goes away" and "comes back" without touching the real one.
// Runs on its own thread.

#include <catch2/catch.hpp>

#include <boost/asio.hpp>
#include <array>
#include <future>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "tests/support/process.h"

namespace dutybridge::testing {

class TcpProxy {
 public:
  explicit TcpProxy(int target_port) : target_port_(target_port), port_(freePort()), work_(io_.get_executor()) {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~TcpProxy() {
    close();
    work_.reset();
    io_.stop();
    thread_.join();
  }
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return port_; }

  void open() {
    std::promise<std::string> done;
    boost::asio::post(io_, [this, &done] {
      boost::system::error_code ec;
      acceptor_.emplace(io_);
      const boost::asio::ip::tcp::endpoint endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                    static_cast<unsigned short>(port_));
      acceptor_->open(endpoint.protocol(), ec);
      if (!ec) acceptor_->set_option(boost::asio::socket_base::reuse_address(true), ec);
      if (!ec) acceptor_->bind(endpoint, ec);
      if (!ec) acceptor_->listen(64, ec);
      if (!ec) accept();
      done.set_value(ec ? ec.message() : std::string());
    });
    const std::string error = done.get_future().get();
    if (!error.empty()) FAIL("proxy cannot listen on " << port_ << ": " << error);
  }

  void close() {
    std::promise<void> done;
    boost::asio::post(io_, [this, &done] {
      boost::system::error_code ignored;
      if (acceptor_) acceptor_->close(ignored);
      acceptor_.reset();
      for (const auto& socket : sockets_) socket->close(ignored);
      sockets_.clear();
      done.set_value();
    });
    done.get_future().get();
  }

 private:
  using Socket = boost::asio::ip::tcp::socket;

  void accept() {
    acceptor_->async_accept([this](boost::system::error_code ec, Socket client) {
      if (ec) return;
      auto from = std::make_shared<Socket>(std::move(client));
      auto to = std::make_shared<Socket>(io_);
      sockets_.insert(from);
      sockets_.insert(to);
      to->async_connect(boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"),
                                                       static_cast<unsigned short>(target_port_)),
                        [this, from, to](boost::system::error_code connect_ec) {
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
  int port_;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::set<std::shared_ptr<Socket>> sockets_;
  std::thread thread_;
};

}  // namespace dutybridge::testing
