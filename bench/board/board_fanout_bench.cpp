// SSE fan-out of the shop-floor board (docs/benchmarks.md, "Board: 200 open boards"): one server
// process as the daemon runs the board (the board site on the HTTP server, a snapshot rebuilt
// every second from a model of 20 teams that receives new facts as a busy plant's MES does),
// and N clients holding the event stream open, in another process. Reports the server's CPU
// (user + system, getrusage in the server process) per wall second and per million events
// delivered, and what every client received.
//
//   dutybridge_board_fanout_bench [CLIENTS=200] [SECONDS=60] [FACTS_PER_SECOND=20]

#include <fmt/format.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "src/board/board_model.h"
#include "src/board/board_site.h"
#include "src/web/web_server.h"

namespace {

using namespace dutybridge;
namespace asio = boost::asio;

core::Timestamp wallNow() {
  return core::Timestamp{
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count()};
}

class Current final : public board::SnapshotSource {
 public:
  std::shared_ptr<const board::Snapshot> current() const override { return snapshot; }
  std::shared_ptr<const board::Snapshot> snapshot;
};

double cpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// The server: the board site, a snapshot every second after `facts_per_second` new revisions.
int serve(int port, int seconds, int facts_per_second, int report_fd) {
  auto calendars = calendar::loadCalendars(DUTYBRIDGE_SOURCE_DIR "/config/calendars.yaml");
  if (!calendars) return 1;
  const calendar::Calendar& cal = *(*calendars)->find("plant-01-12h");
  board::BoardOptions options;
  options.plant = "plant-01";
  options.good_kpi = "KPI.TL.HOURLY_GOOD_OUTPUT";
  options.scrap_kpi = "KPI.TL.HOURLY_SCRAP";
  options.fpy_kpi = "KPI.TL.HOURLY_FPY";
  options.shift_plan = [](core::Date) { return std::optional<double>(1300); };
  board::BoardModel model(cal, options);
  auto shift = cal.shiftOf(wallNow());
  if (!shift) return 1;
  const std::string shift_id = core::formatDate(shift->shift_date) + "/" + shift->shift_code;
  int64_t revision = 0;
  auto feed = [&](int count) {
    for (int i = 0; i < count; ++i) {
      ++revision;
      const int team = static_cast<int>(revision % 20);
      const int hour = static_cast<int>(revision / 20 % 12) + 1;
      const char* kpi = revision % 3 == 0   ? "KPI.TL.HOURLY_GOOD_OUTPUT"
                        : revision % 3 == 1 ? "KPI.TL.HOURLY_SCRAP"
                                            : "KPI.TL.HOURLY_FPY";
      core::FollowedMessage m;
      m.key = fmt::format("plant-01|{}|E{}|HOUR|{}/{:02}", kpi, 10000 + team, shift_id, hour);
      m.value = fmt::format(
          R"({{"fact_key":"{}","revision":{},"org_unit":"TEAM-{:02}","kpi_code":"{}","period":{{"type":"HOUR",)"
          R"("id":"{}/{:02}","shift_date":"{}","shift_code":"{}"}},"value":"{}","inputs":{{"numerator":"98",)"
          R"("denominator":"100"}},"computed_at":"{}"}})",
          m.key, revision, team, kpi, shift_id, hour, core::formatDate(shift->shift_date), shift->shift_code,
          revision % 150, core::formatTimestamp(wallNow()));
      model.apply(m);
    }
  };
  feed(20 * 12 * 3);  // every hour of the shift so far, all teams
  Current source;
  uint64_t sequence = 1;
  source.snapshot = board::makeSnapshot(sequence, model.snapshot(wallNow(), sequence));
  asio::io_context io;
  web::ServerSettings settings;
  settings.site = "board";
  settings.what = "board";
  settings.listen = "127.0.0.1:" + std::to_string(port);
  auto server = web::startServer(io, board::makeBoardSite(source, board::SiteOptions{}), settings);
  if (!server) return 1;
  asio::steady_timer tick(io);
  const double cpu_start = cpuSeconds();
  const auto started = std::chrono::steady_clock::now();
  size_t snapshot_bytes = source.snapshot->event.size();
  std::function<void()> every_second = [&] {
    tick.expires_after(std::chrono::seconds(1));
    tick.async_wait([&](const boost::system::error_code& ec) {
      if (ec) return;
      feed(facts_per_second);
      ++sequence;
      source.snapshot = board::makeSnapshot(sequence, model.snapshot(wallNow(), sequence));
      snapshot_bytes = source.snapshot->event.size();
      if (std::chrono::steady_clock::now() - started >= std::chrono::seconds(seconds)) {
        (*server)->stop();
        io.stop();
        return;
      }
      every_second();
    });
  };
  every_second();
  io.run();
  const double cpu = cpuSeconds() - cpu_start;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::string report = fmt::format("{} {} {} {}\n", cpu, wall, sequence - 1, snapshot_bytes);
  if (write(report_fd, report.data(), report.size()) < 0) return 1;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const int clients = argc > 1 ? std::atoi(argv[1]) : 200;
  const int seconds = argc > 2 ? std::atoi(argv[2]) : 60;
  const int facts_per_second = argc > 3 ? std::atoi(argv[3]) : 20;
  // A free port: bind 0, read it, close (the server binds it a moment later).
  int port = 0;
  {
    asio::io_context io;
    asio::ip::tcp::acceptor probe(io, asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  int report[2];
  if (pipe(report) != 0) return 1;
  const pid_t child = fork();
  if (child == 0) {
    close(report[0]);
    _exit(serve(port, seconds, facts_per_second, report[1]));
  }
  close(report[1]);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));

  // The clients: raw sockets holding GET /board/api/v1/events open, counting events.
  std::vector<int> fds;
  std::vector<size_t> events(static_cast<size_t>(clients), 0);
  std::vector<std::string> tails(static_cast<size_t>(clients));
  const std::string request = "GET /board/api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
  for (int i = 0; i < clients; ++i) {
    asio::io_context io;
    asio::ip::tcp::socket socket(io);
    socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    const int fd = socket.release();
    if (write(fd, request.data(), request.size()) < 0) return 1;
    fds.push_back(fd);
  }
  std::vector<pollfd> polls;
  for (int fd : fds) polls.push_back({fd, POLLIN, 0});
  size_t open = fds.size();
  std::vector<char> buffer(1 << 16);
  while (open > 0) {
    if (::poll(polls.data(), polls.size(), 1000) < 0) break;
    for (size_t i = 0; i < polls.size(); ++i) {
      if (polls[i].fd < 0 || !(polls[i].revents & (POLLIN | POLLHUP))) continue;
      const ssize_t n = read(polls[i].fd, buffer.data(), buffer.size());
      if (n <= 0) {
        close(polls[i].fd);
        polls[i].fd = -1;
        --open;
        continue;
      }
      // Count "event: snapshot" lines, also when one is split across reads.
      std::string& tail = tails[i];
      tail.append(buffer.data(), static_cast<size_t>(n));
      size_t at = 0;
      while ((at = tail.find("event: snapshot", at)) != std::string::npos) {
        ++events[i];
        at += 15;
      }
      tail = tail.size() > 15 ? tail.substr(tail.size() - 15) : tail;
    }
  }
  int status = 0;
  waitpid(child, &status, 0);
  char text[256] = {};
  const ssize_t got = read(report[0], text, sizeof text - 1);
  if (got <= 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "the server failed\n");
    return 1;
  }
  double cpu = 0, wall = 0;
  unsigned long snapshots = 0, bytes = 0;
  std::sscanf(text, "%lf %lf %lu %lu", &cpu, &wall, &snapshots, &bytes);
  size_t total = 0, fewest = events.empty() ? 0 : events[0];
  for (size_t e : events) {
    total += e;
    fewest = std::min(fewest, e);
  }
  std::printf("clients %d, %.1f s, %lu snapshots of %lu bytes, %d new facts a second\n", clients, wall, snapshots,
              bytes, facts_per_second);
  std::printf("events delivered %zu (fewest per client %zu)\n", total, fewest);
  std::printf("server CPU %.3f s = %.2f %% of one core; %.1f CPU-s per million events delivered\n", cpu,
              100.0 * cpu / wall, total ? cpu / static_cast<double>(total) * 1e6 : 0.0);
  return fewest + 2 >= snapshots ? 0 : 1;
}
