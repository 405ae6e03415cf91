// The admin API's HTTP server on real sockets: keep-alive, limits (431, 413), slow clients,
// TLS, and a stop that closes idle connections.

#include "src/admin/admin_server.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/admin/fake_control.h"
#include "tests/support/files.h"
#include "tests/support/http.h"
#include "tests/support/process.h"

using namespace dutybridge;

namespace {

// The server on its own event loop thread, as the daemon runs it.
class Served {
 public:
  static inline bool tap_on = false;
  explicit Served(config::AdminSettings settings, admin::ServerLimits limits = {}) {
    settings.tap = settings.tap || tap_on;
    settings.enabled = true;
    port_ = testing::freePort();
    settings.listen = "127.0.0.1:" + std::to_string(port_);
    status_ = control_.add("mes").status;
    auto started = admin::startAdminServer(io_, control_, settings, limits);
    if (!started) FAIL(started.error().describe());
    server_ = std::move(*started);
    work_ = std::make_unique<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>>(
        io_.get_executor());
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Served() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    boost::asio::post(io_, [this] { server_->stop(); });
    work_.reset();
    thread_.join();  // returns only when the server left no work on the loop
  }

  int port() const { return port_; }
  runtime::PipelineStatus& status() { return *status_; }
  // The fake daemon: touch it only on the loop (run()).
  testing::FakeControl& control() { return control_; }
  template <class F>
  void run(F f) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  std::shared_ptr<runtime::PipelineStatus> status_;
  boost::asio::io_context io_;
  testing::FakeControl control_;
  int port_ = 0;
  std::unique_ptr<runtime::DaemonAttachment> server_;
  std::unique_ptr<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("server: answers and keeps the connection alive and closes idle ones at stop", "[admin][server]") {
  Served served({});
  testing::HttpConnection connection(served.port());
  auto first = connection.request("GET", "/healthz");
  REQUIRE(first);
  CHECK(first->status == 200);
  CHECK(first->content_type == "application/json");
  auto second = connection.request("GET", "/api/v1/pipelines/mes");
  REQUIRE(second);
  CHECK(nlohmann::json::parse(second->body).at("name") == "mes");
  auto missing = connection.request("GET", "/nowhere");
  REQUIRE(missing);
  CHECK(missing->status == 404);
  auto head = connection.request("HEAD", "/metrics");
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->body.empty());
  served.stop();
  CHECK(connection.closedByServer(std::chrono::seconds(5)));
}

TEST_CASE("server: POST /api/v1/reload is answered once the daemon finished the reload", "[admin][server]") {
  config::AdminSettings settings;
  settings.token = "t0ken";
  Served served(settings);
  served.run([&] {
    served.control().reload_deferred = true;
    served.control().reload_outcome.result = runtime::ReloadOutcome::Result::Applied;
    served.control().reload_outcome.rebuilt = {"mes"};
  });
  auto reply = std::async(std::launch::async, [&] {
    return testing::httpRequest(served.port(), "POST", "/api/v1/reload", "", {{"Authorization", "Bearer t0ken"}});
  });
  // The changed pipelines are still stopping: no answer yet, and the server answers others.
  CHECK(reply.wait_for(std::chrono::milliseconds(300)) == std::future_status::timeout);
  CHECK(testing::httpGet(served.port(), "/healthz").status == 200);
  served.run([&] { served.control().finishReload(); });
  const auto answer = reply.get();
  INFO(answer.body);
  CHECK(answer.status == 200);
  CHECK(nlohmann::json::parse(answer.body).at("result") == "applied");
  CHECK(nlohmann::json::parse(answer.body).at("rebuilt") == nlohmann::json::array({"mes"}));
  // Without the token: refused at once.
  CHECK(testing::httpRequest(served.port(), "POST", "/api/v1/reload", "").status == 401);
}

TEST_CASE("server: oversized headers get 431 and oversized bodies 413", "[admin][server]") {
  admin::ServerLimits limits;
  limits.header_bytes = 1024;
  limits.body_bytes = 256;
  Served served({}, limits);
  auto headers = testing::httpRequest(served.port(), "GET", "/healthz", "", {{"X-Padding", std::string(4096, 'a')}});
  CHECK(headers.status == 431);
  CHECK(nlohmann::json::parse(headers.body).at("error") == "request headers exceed 1024 bytes");
  auto body = testing::httpRequest(served.port(), "PUT", "/api/v1/pipelines/mes/cursor",
                                   "{\"position\": \"" + std::string(1000, '1') + "\"}");
  CHECK(body.status == 413);
  // Garbage is not HTTP: 400, then the connection closes.
  testing::HttpConnection garbage(served.port());
  REQUIRE(garbage.send("NOT HTTP AT ALL\r\n\r\n"));
  auto answer = garbage.read();
  REQUIRE(answer);
  CHECK(answer->status == 400);
}

TEST_CASE("server: a slow client is cut off after the read timeout", "[admin][server]") {
  admin::ServerLimits limits;
  limits.read_timeout = std::chrono::milliseconds(300);
  limits.idle_timeout = std::chrono::milliseconds(300);
  Served served({}, limits);
  testing::HttpConnection slow(served.port());
  REQUIRE(slow.send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // never finishes its headers
  const auto start = std::chrono::steady_clock::now();
  CHECK(slow.closedByServer(std::chrono::seconds(5)));
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(4));
  // The server still answers others.
  CHECK(testing::httpGet(served.port(), "/healthz").status == 200);
}

TEST_CASE("server: TLS with the configured certificate and key", "[admin][server][tls]") {
  auto dir = testing::makeTempDir("admin-tls");
  const auto cert = dir / "cert.pem";
  const auto key = dir / "key.pem";
  auto made = testing::runShell("openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 -keyout " +
                                key.string() + " -out " + cert.string() + " 2>&1");
  INFO(made.output);
  REQUIRE(made.status == 0);
  config::AdminSettings settings;
  settings.tls = config::AdminTls{cert.string(), key.string()};
  Served served(settings);

  namespace asio = boost::asio;
  namespace beast = boost::beast;
  namespace http = beast::http;
  asio::io_context io;
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.load_verify_file(cert.string());
  context.set_verify_mode(asio::ssl::verify_peer);
  beast::ssl_stream<beast::tcp_stream> stream(io, context);
  beast::get_lowest_layer(stream).connect(
      asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(served.port())));
  stream.handshake(asio::ssl::stream_base::client);
  http::request<http::empty_body> request{http::verb::get, "/readyz", 11};
  request.set(http::field::host, "localhost");
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  CHECK(response.result_int() == 503);  // the fake's pipeline is still starting
  CHECK(nlohmann::json::parse(response.body()).at("reasons").at(0) == "mes: starting");

  // Plain HTTP to the TLS port gets no answer.
  testing::HttpConnection plain(served.port());
  CHECK(!plain.request("GET", "/healthz"));
}

TEST_CASE("server: a listen address in use is a clear error", "[admin][server]") {
  Served first({});
  boost::asio::io_context io;
  testing::FakeControl control;
  config::AdminSettings settings;
  settings.listen = "127.0.0.1:" + std::to_string(first.port());
  auto second = admin::startAdminServer(io, control, settings);
  REQUIRE(!second);
  CHECK(second.error().message.find("cannot listen") != std::string::npos);
  settings.tls = config::AdminTls{"/nonexistent/cert.pem", "/nonexistent/key.pem"};
  settings.listen = "127.0.0.1:0";
  auto no_cert = admin::startAdminServer(io, control, settings);
  REQUIRE(!no_cert);
  CHECK(no_cert.error().message.find("admin.tls.cert /nonexistent/cert.pem") != std::string::npos);
}

namespace {

core::Record reportRecord(int i) {
  static const auto schema = std::make_shared<core::RecordSchema>(std::vector<std::string>{"report_no", "badge"});
  core::Record record(schema, {core::Value("PR-" + std::to_string(i)), core::Value("B-SECRET-" + std::to_string(i))});
  record.meta.source_position = std::to_string(i);
  record.meta.topic = "mes.reports";
  return record;
}

// Offers records to the tap every 20 ms until stopped, masking the badge as a mapping would.
std::jthread feed(runtime::PipelineStatus& status, runtime::TapStage stage) {
  return std::jthread([&status, stage](std::stop_token stop) {
    for (int i = 1; !stop.stop_requested(); ++i) {
      std::vector<core::Record> batch{reportRecord(i)};
      if (status.tap.active(stage)) {
        status.tap.offer(stage, batch, [](core::Record& record) { record.value(1) = core::Value("***"); });
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
}

}  // namespace

TEST_CASE("server: the tap is off unless admin.tap is set", "[admin][server][tap]") {
  Served served({});
  auto refused = testing::httpGet(served.port(), "/api/v1/pipelines/mes/tap");
  CHECK(refused.status == 403);
  CHECK(refused.body.find("admin.tap") != std::string::npos);
}

TEST_CASE("server: the tap streams masked records as NDJSON up to its limit", "[admin][server][tap]") {
  config::AdminSettings settings;
  settings.tap = true;
  Served served(settings);
  auto feeder = feed(served.status(), runtime::TapStage::Output);
  auto sample = testing::httpGet(served.port(), "/api/v1/pipelines/mes/tap?limit=3&rate=100");
  REQUIRE(sample.status == 200);
  CHECK(sample.content_type == "application/x-ndjson");
  std::istringstream lines(sample.body);
  int count = 0;
  for (std::string line; std::getline(lines, line);) {
    auto json = nlohmann::json::parse(line);
    CHECK(json.at("topic") == "mes.reports");
    CHECK(json.at("value").at("badge") == "***");
    ++count;
  }
  CHECK(count == 3);
  CHECK(sample.body.find("SECRET") == std::string::npos);
  // The subscription is gone once the answer ended: the pipeline copies nothing any more.
  CHECK(testing::waitFor([&] { return !served.status().tap.active(runtime::TapStage::Output); },
                         std::chrono::seconds(2)));
  auto bad = testing::httpGet(served.port(), "/api/v1/pipelines/mes/tap?limit=0");
  CHECK(bad.status == 400);
  CHECK(testing::httpGet(served.port(), "/api/v1/pipelines/mes/tap?stage=middle").status == 400);
  CHECK(testing::httpGet(served.port(), "/api/v1/pipelines/other/tap").status == 404);
}

TEST_CASE("server: the tap speaks Server-Sent Events and ends at its timeout without records", "[admin][server][tap]") {
  config::AdminSettings settings;
  settings.tap = true;
  Served served(settings);
  {
    auto feeder = feed(served.status(), runtime::TapStage::Source);
    auto sample = testing::httpRequest(served.port(), "GET", "/api/v1/pipelines/mes/tap?stage=source&limit=2", "",
                                       {{"Accept", "text/event-stream"}});
    REQUIRE(sample.status == 200);
    CHECK(sample.content_type == "text/event-stream");
    CHECK(sample.body.starts_with("event: record\ndata: {\"position\":\""));
    CHECK(sample.body.find("event: end") != std::string::npos);
  }
  // Nobody offers anything: the answer ends empty after its timeout.
  const auto start = std::chrono::steady_clock::now();
  auto empty = testing::httpGet(served.port(), "/api/v1/pipelines/mes/tap?timeout=1");
  CHECK(empty.status == 200);
  CHECK(empty.body.empty());
  CHECK(std::chrono::steady_clock::now() - start < std::chrono::seconds(5));
}

TEST_CASE("tap hub: a subscriber gets at most its rate and limit and nothing when nobody taps", "[admin][tap]") {
  runtime::TapHub hub;
  std::vector<core::Record> batch;
  for (int i = 0; i < 100; ++i) batch.push_back(reportRecord(i));
  int masked = 0;
  auto mask = [&](core::Record&) { ++masked; };
  hub.offer(runtime::TapStage::Output, batch, mask);
  CHECK(masked == 0);
  auto subscription = hub.subscribe(runtime::TapStage::Output, 50, 5);
  CHECK(hub.active(runtime::TapStage::Output));
  CHECK(!hub.active(runtime::TapStage::Source));
  hub.offer(runtime::TapStage::Output, batch, mask);
  // The bucket starts with one second's worth: 5 records, not 100.
  CHECK(subscription->take().size() == 5);
  CHECK(masked == 5);
  hub.offer(runtime::TapStage::Output, batch, mask);
  CHECK(subscription->take().size() <= 1);
  hub.unsubscribe(subscription);
  CHECK(!hub.active(runtime::TapStage::Output));
}
