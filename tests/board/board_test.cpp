// The board's numbers (BoardModel) and its site (BoardSite) without Kafka or sockets.
#include <fmt/format.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <future>
#include <nlohmann/json.hpp>
#include <thread>

#include "src/board/board_assets.h"
#include "src/board/board_model.h"
#include "src/board/board_site.h"
#include "src/web/web_server.h"
#include "tests/support/process.h"

namespace dutybridge {
namespace {

using json = nlohmann::json;

std::shared_ptr<const calendar::Calendars> plantCalendars() {
  static auto loaded = calendar::loadCalendars(DUTYBRIDGE_SOURCE_DIR "/config/calendars.yaml");
  REQUIRE(loaded);
  return *loaded;
}

core::Timestamp at(const char* text) {
  auto ts = core::parseTimestamp(text);
  REQUIRE(ts);
  return *ts;
}

board::BoardOptions options() {
  board::BoardOptions o;
  o.plant = "plant-01";
  o.good_kpi = "KPI.TL.HOURLY_GOOD_OUTPUT";
  o.scrap_kpi = "KPI.TL.HOURLY_SCRAP";
  o.fpy_kpi = "KPI.TL.HOURLY_FPY";
  o.history_shifts = 2;
  o.stale_after = std::chrono::minutes(5);
  o.shift_plan = [](core::Date) { return std::optional<double>(1200); };
  return o;
}

// A duty_kpi.v1 HOUR fact as the team-hourly-output mapping emits it.
core::FollowedMessage fact(const std::string& kpi, const std::string& team, const std::string& shift, int hour,
                           const std::string& value, int64_t revision, const std::string& computed_at,
                           const std::string& inputs = "{}") {
  const std::string date = shift.substr(0, 10);
  const std::string code = shift.substr(11);
  const std::string key = fmt::format("plant-01|{}|E-{}|HOUR|{}/{:02}", kpi, team, shift, hour);
  core::FollowedMessage m;
  m.key = key;
  m.value =
      fmt::format(R"({{"fact_key":"{}","revision":{},"employee_no":"E10011","org_unit":"{}","kpi_code":"{}",)"
                  R"("period":{{"type":"HOUR","id":"{}/{:02}","shift_date":"{}","shift_code":"{}"}},"value":"{}",)"
                  R"("inputs":{},"computed_at":"{}"}})",
                  key, revision, team, kpi, shift, hour, date, code, value, inputs, computed_at);
  return m;
}

const json& team(const json& snapshot, const std::string& name) {
  for (const auto& t : snapshot["teams"]) {
    if (t["team"] == name) return t;
  }
  FAIL("no team " << name << " in " << snapshot.dump());
  static json none;
  return none;
}

TEST_CASE("board: an 8 h shift has 8 hours labelled in plant time, a 12 h night shift 12 across midnight") {
  auto calendars = plantCalendars();
  board::BoardModel model(*calendars->find("plant-01"), options());
  auto shift = calendars->find("plant-01")->shiftOf(at("2025-03-14T01:30:00Z"));  // 09:30 Shanghai: shift A
  REQUIRE(shift);
  auto hours = model.hours(*shift);
  REQUIRE(hours.size() == 8);
  CHECK(hours.front().label == "08:00");
  CHECK(hours.back().label == "15:00");
  board::BoardModel night(*calendars->find("plant-01-12h"), options());
  auto n = calendars->find("plant-01-12h")->shiftOf(at("2025-03-14T17:00:00Z"));  // 01:00 on the 15th, N of the 14th
  REQUIRE(n);
  CHECK(core::formatDate(n->shift_date) == "2025-03-14");
  auto night_hours = night.hours(*n);
  REQUIRE(night_hours.size() == 12);
  CHECK(night_hours[4].label == "00:00");
}

TEST_CASE("board: hour by hour, cumulative, variance, plan to now pro rata, status, scrap and FPY") {
  auto calendars = plantCalendars();
  board::BoardModel model(*calendars->find("plant-01"), options());
  // Shift A of 2025-03-14 runs 00:00Z-08:00Z: 1200 over 8 hours is 150 an hour.
  CHECK(model.apply(
      fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 1, "140.000", 1, "2025-03-14T01:05:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 2, "120", 1, "2025-03-14T02:05:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_SCRAP", "MOLD-T1", "2025-03-14/A", 2, "4", 1, "2025-03-14T02:05:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_FPY", "MOLD-T1", "2025-03-14/A", 2, "96.774", 1, "2025-03-14T02:05:00Z",
                         R"({"numerator":"120","denominator":"124"})")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "ASSY-T1", "2025-03-14/A", 1, "150", 1, "2025-03-14T01:05:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "ASSY-T1", "2025-03-14/A", 2, "150", 1, "2025-03-14T02:05:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "ASSY-T1", "2025-03-14/A", 3, "50", 1, "2025-03-14T02:29:00Z")));
  const json s = json::parse(model.snapshot(at("2025-03-14T02:30:00Z"), 7));  // half of hour 3
  CHECK(s["sequence"] == 7);
  CHECK(s["shift"]["shift_code"] == "A");
  CHECK(s["shift"]["current_hour"] == 3);
  CHECK(s["shift"]["hours"].size() == 8);
  CHECK(s["stale"] == false);
  const json& mold = team(s, "MOLD-T1");
  CHECK(mold["plan_shift"] == 1200.0);
  CHECK(mold["plan_to_now"] == 375.0);  // 150 + 150 + 75
  CHECK(mold["actual"] == 260.0);
  CHECK(mold["percent"] == Approx(69.3));
  CHECK(mold["status"] == "far_behind");
  CHECK(mold["scrap"] == 4.0);
  CHECK(mold["fpy"] == Approx(96.8));
  const json& h2 = mold["hours"][1];
  CHECK(h2["plan"] == 150.0);
  CHECK(h2["actual"] == 120.0);
  CHECK(h2["cum_plan"] == 300.0);
  CHECK(h2["cum_actual"] == 260.0);
  CHECK(h2["variance"] == -40.0);
  CHECK(h2["fpy"] == Approx(96.8));
  CHECK(mold["hours"][2]["actual"] == 0.0);              // the current hour, nothing reported yet
  CHECK(mold["hours"][3]["actual"].is_null());           // the future
  CHECK(team(s, "ASSY-T1")["percent"] == Approx(93.3));  // 350 of 375
  CHECK(team(s, "ASSY-T1")["status"] == "behind");
  CHECK(team(s, "ASSY-T1")["newest_data_at"] == "2025-03-14T02:29:00Z");
  CHECK(s["newest_data_at"] == "2025-03-14T02:29:00Z");
}

core::FollowedMessage planRow(const std::string& work_order, const std::string& team, const std::string& shift,
                              int hour, const std::string& qty) {
  core::FollowedMessage m;
  m.key = fmt::format("{}|{}|{}|{}", work_order, team, shift.substr(0, 10) + "|" + shift.substr(11), hour);
  m.value = fmt::format(
      R"({{"work_order_no":"{}","team_code":"{}","shift_date":"{}","shift_code":"{}","hour":{},"planned_qty":"{}"}})",
      work_order, team, shift.substr(0, 10), shift.substr(11), hour, qty);
  return m;
}

TEST_CASE("board: plan rows of the MES plan per team and hour win over the catalog target, summed over work orders") {
  auto calendars = plantCalendars();
  board::BoardModel model(*calendars->find("plant-01"), options());
  CHECK(model.applyPlan(planRow("WO-1", "MOLD-T1", "2025-03-14/A", 1, "100.000")));
  CHECK(model.applyPlan(planRow("WO-2", "MOLD-T1", "2025-03-14/A", 1, "50")));
  CHECK(model.applyPlan(planRow("WO-1", "MOLD-T1", "2025-03-14/A", 2, "150")));
  CHECK(model.applyPlan(planRow("WO-1", "MOLD-T1", "2025-03-14/A", 3, "0")));    // a break
  CHECK(model.applyPlan(planRow("WO-9", "MOLD-T1", "2025-03-14/B", 1, "999")));  // another shift
  core::FollowedMessage bad = planRow("WO-1", "MOLD-T1", "2025-03-14/A", 4, "x");
  CHECK_FALSE(model.applyPlan(bad));
  CHECK(model.planRows() == 5);
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 1, "140", 1, "2025-03-14T01:05:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "ASSY-T1", "2025-03-14/A", 1, "140", 1, "2025-03-14T01:05:00Z")));
  json s = json::parse(model.snapshot(at("2025-03-14T02:30:00Z"), 1));
  const json& mold = team(s, "MOLD-T1");
  CHECK(mold["plan_shift"] == 300.0);
  CHECK(mold["hours"][0]["plan"] == 150.0);
  CHECK(mold["hours"][1]["plan"] == 150.0);
  CHECK(mold["hours"][2]["plan"] == 0.0);
  CHECK(mold["hours"][7]["plan"] == 0.0);
  CHECK(mold["hours"][7]["cum_plan"] == 300.0);
  CHECK(mold["plan_to_now"] == 300.0);                // hour 3 plans nothing
  CHECK(team(s, "ASSY-T1")["plan_shift"] == 1200.0);  // no plan rows: the catalog target
  CHECK(team(s, "ASSY-T1")["hours"][0]["plan"] == 150.0);
  // A withdrawn row (a tombstone on the plan topic).
  core::FollowedMessage gone = planRow("WO-2", "MOLD-T1", "2025-03-14/A", 1, "50");
  gone.value.reset();
  CHECK(model.applyPlan(gone));
  s = json::parse(model.snapshot(at("2025-03-14T02:30:00Z"), 2));
  CHECK(team(s, "MOLD-T1")["hours"][0]["plan"] == 100.0);
}

TEST_CASE("board: the highest revision wins in any order, a lowered value marks the hour corrected") {
  auto calendars = plantCalendars();
  board::BoardModel model(*calendars->find("plant-01"), options());
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 1, "140", 2, "2025-03-14T01:05:00Z")));
  CHECK_FALSE(
      model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 1, "90", 1, "2025-03-14T01:01:00Z")));
  json s = json::parse(model.snapshot(at("2025-03-14T01:30:00Z"), 1));
  CHECK(team(s, "MOLD-T1")["hours"][0]["actual"] == 140.0);
  CHECK(team(s, "MOLD-T1")["hours"][0]["corrected"] == false);
  // A declined report: revision 3 takes 40 away.
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 1, "100", 3, "2025-03-14T01:20:00Z")));
  s = json::parse(model.snapshot(at("2025-03-14T01:30:00Z"), 2));
  CHECK(team(s, "MOLD-T1")["hours"][0]["actual"] == 100.0);
  CHECK(team(s, "MOLD-T1")["hours"][0]["corrected"] == true);
}

TEST_CASE("board: a withdrawn fact leaves the board, a later revision brings it back") {
  auto calendars = plantCalendars();
  board::BoardModel model(*calendars->find("plant-01"), options());
  auto good = [](const std::string& value, int64_t revision, bool withdrawn) {
    auto m = fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 1, value, revision, "2025-03-14T01:05:00Z");
    if (withdrawn) m.value->insert(m.value->size() - 1, R"(,"status":"WITHDRAWN")");
    return m;
  };
  CHECK(model.apply(good("140", 1, false)));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 2, "10", 1, "2025-03-14T01:06:00Z")));
  CHECK(model.apply(good("0", 2, true)));  // hour 1's only report declined
  json s = json::parse(model.snapshot(at("2025-03-14T01:30:00Z"), 1));
  CHECK(team(s, "MOLD-T1")["hours"][0]["actual"] == 0.0);
  CHECK_FALSE(model.apply(good("140", 1, false)));  // an older revision after it changes nothing
  CHECK(model.apply(good("60", 3, false)));
  s = json::parse(model.snapshot(at("2025-03-14T01:30:00Z"), 2));
  CHECK(team(s, "MOLD-T1")["hours"][0]["actual"] == 60.0);
}

TEST_CASE("board: other KPIs, other periods and malformed messages are not board facts") {
  auto calendars = plantCalendars();
  board::BoardModel model(*calendars->find("plant-01"), options());
  core::FollowedMessage shift_fact =
      fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/A", 1, "1", 1, "2025-03-14T01:05:00Z");
  shift_fact.value->replace(shift_fact.value->find("\"HOUR\""), 6, "\"SHIFT\"");
  CHECK_FALSE(model.apply(shift_fact));
  CHECK_FALSE(
      model.apply(fact("KPI.OP.FIRST_PASS_YIELD", "MOLD-T1", "2025-03-14/A", 1, "1", 1, "2025-03-14T01:05:00Z")));
  core::FollowedMessage garbage;
  garbage.key = "k";
  garbage.value = "{not json";
  CHECK_FALSE(model.apply(garbage));
  core::FollowedMessage no_team =
      fact("KPI.TL.HOURLY_GOOD_OUTPUT", "", "2025-03-14/A", 1, "1", 1, "2025-03-14T01:05:00Z");
  CHECK_FALSE(model.apply(no_team));
  CHECK(model.ignored() == 4);
  CHECK(model.facts() == 0);
  const json s = json::parse(model.snapshot(at("2025-03-14T01:30:00Z"), 1));
  CHECK(s["teams"].empty());
}

TEST_CASE("board: stale data after stale_after, the last shifts for comparison, old shifts pruned") {
  auto calendars = plantCalendars();
  board::BoardOptions o = options();
  o.history_shifts = 3;
  board::BoardModel model(*calendars->find("plant-01"), o);
  // plant-01 runs C 00-08, A 08-16, B 16-24 Shanghai time; a shift belongs to the date it started.
  // At 08:04 on the 14th (00:04Z) the current shift is A of the 14th; before it C of the 14th,
  // B and A of the 13th.
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-13/A", 1, "900", 1, "2025-03-13T01:00:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-13/B", 3, "500", 1, "2025-03-13T11:00:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/C", 2, "700", 1, "2025-03-13T18:00:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-14/C", 5, "300", 1, "2025-03-13T21:00:00Z")));
  // A night crew: it worked C, never A, so it is not shown as behind in A.
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T3", "2025-03-14/C", 1, "650", 1, "2025-03-13T17:00:00Z")));
  CHECK(model.apply(fact("KPI.TL.HOURLY_GOOD_OUTPUT", "MOLD-T1", "2025-03-10/A", 1, "9", 1, "2025-03-10T01:00:00Z")));
  json s = json::parse(model.snapshot(at("2025-03-14T00:04:00Z"), 1));
  CHECK(s["stale"] == true);  // the newest fact came at 21:00Z, over 3 hours ago
  CHECK(s["stale_after_seconds"] == 300);
  REQUIRE(s["teams"].size() == 1);
  const json& history = team(s, "MOLD-T1")["history"];
  REQUIRE(history.size() == 3);
  CHECK(history[0]["shift_code"] == "C");
  CHECK(history[0]["actual"] == 1000.0);
  CHECK(history[0]["plan"] == 1200.0);
  CHECK(history[1]["shift_code"] == "B");
  CHECK(history[1]["actual"] == 500.0);
  CHECK(history[2]["shift_code"] == "A");
  CHECK(history[2]["actual"] == 900.0);
  CHECK(team(s, "MOLD-T1")["actual"] == 0.0);
  CHECK(team(s, "MOLD-T1")["status"] == "far_behind");  // 0 of the 10 planned in the first 4 minutes
  model.prune(at("2025-03-14T00:04:00Z"));
  CHECK(model.facts() == 5);
}

class FixedSource final : public board::SnapshotSource {
 public:
  std::shared_ptr<const board::Snapshot> current() const override { return snapshot; }
  std::shared_ptr<const board::Snapshot> snapshot = board::makeSnapshot(41, R"({"teams":[]})");
};

web::Request get(std::string target, std::string cookie = "", std::string accept_language = "") {
  web::Request r;
  r.method = "GET";
  r.target = std::move(target);
  r.cookie = std::move(cookie);
  r.accept_language = std::move(accept_language);
  return r;
}

web::Response response(web::Answer answer) {
  REQUIRE(std::holds_alternative<web::Response>(answer));
  return std::get<web::Response>(std::move(answer));
}

std::string header(const web::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return {};
}

TEST_CASE("board site: a token in the URL becomes an HttpOnly cookie, a wrong or missing one gets no data") {
  FixedSource source;
  board::SiteOptions options;
  options.viewer_token = "s3cret-viewer";
  auto site = board::makeBoardSite(source, options);
  auto redirect = response(site->answer(get("/board/teams/MOLD-T1?lang=en&token=s3cret-viewer")));
  CHECK(redirect.status == 303);
  CHECK(header(redirect, "Location") == "/board/teams/MOLD-T1?lang=en");
  const std::string cookie = header(redirect, "Set-Cookie");
  CHECK(cookie.starts_with("dutybridge_board=s3cret-viewer;"));
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Lax") != std::string::npos);
  CHECK(cookie.find("Secure") == std::string::npos);  // plain HTTP here

  // The key as the check decodes it: the redirect leaves no spelling of the token behind.
  auto encoded = response(site->answer(get("/board/?tok%65n=s3cret-viewer&lang=zh")));
  CHECK(encoded.status == 303);
  CHECK(header(encoded, "Location") == "/board/?lang=zh");

  auto wrong = response(site->answer(get("/board/?token=guess")));
  CHECK(wrong.status == 401);
  CHECK(header(wrong, "Set-Cookie").empty());
  auto api = response(site->answer(get("/board/api/v1/snapshot", "dutybridge_board=guess")));
  CHECK(api.status == 401);
  CHECK(api.body.find("teams") == std::string::npos);
  auto events = site->answer(get("/board/api/v1/events"));
  CHECK(response(std::move(events)).status == 401);

  auto ok = response(site->answer(get("/board/api/v1/snapshot", "other=1; dutybridge_board=s3cret-viewer")));
  CHECK(ok.status == 200);
  CHECK(ok.body == R"({"teams":[]})");
}

TEST_CASE("board site: pages carry a CSP without inline script, the language and an escaped team code") {
  FixedSource source;
  auto site = board::makeBoardSite(source, board::SiteOptions{});
  auto page = response(site->answer(get("/board/teams/%3Cb%3E\"x?lang=en")));
  CHECK(page.status == 200);
  CHECK(page.content_type.starts_with("text/html"));
  const std::string csp = header(page, "Content-Security-Policy");
  CHECK(csp.find("script-src 'self'") != std::string::npos);
  CHECK(csp.find("unsafe-inline") == std::string::npos);
  CHECK(header(page, "Referrer-Policy") == "no-referrer");
  CHECK(page.body.find("<b>") == std::string::npos);
  if (board::findAsset("board.html")) {
    CHECK(page.body.find("lang=\"en\"") != std::string::npos);
    CHECK(page.body.find("&lt;b&gt;&quot;x") != std::string::npos);
    auto zh = response(site->answer(get("/board/", "", "zh-CN,zh;q=0.9,en;q=0.8")));
    CHECK(zh.body.find("lang=\"zh\"") != std::string::npos);
    auto en = response(site->answer(get("/board/", "", "en-US,en;q=0.9")));
    CHECK(en.body.find("lang=\"en\"") != std::string::npos);
    auto script = response(site->answer(get("/board/assets/board.js")));
    CHECK(script.status == 200);
    CHECK(script.content_type.starts_with("text/javascript"));
  }
  CHECK(response(site->answer(get("/board/assets/nothing.js"))).status == 404);
  CHECK(response(site->answer(get("/board/assets/../../etc/passwd"))).status == 404);
  web::Request head = get("/board/api/v1/events");
  head.method = "HEAD";
  CHECK(std::holds_alternative<web::Response>(site->answer(head)));  // no stream held open for a probe
  web::Request post = get("/board/api/v1/snapshot");
  post.method = "POST";
  CHECK(response(site->answer(post)).status == 405);
}

TEST_CASE("board site: the event stream sends the snapshot once and again on change, not what Last-Event-ID has") {
  FixedSource source;
  auto site = board::makeBoardSite(source, board::SiteOptions{});
  web::Answer answer = site->answer(get("/board/api/v1/events"));
  REQUIRE(std::holds_alternative<web::Stream>(answer));
  web::Stream& stream = std::get<web::Stream>(answer);
  CHECK(stream.content_type.starts_with("text/event-stream"));
  web::StreamStep first = stream.next();
  CHECK(first.text.find("retry: 3000") != std::string::npos);
  CHECK(first.text.find("id: 41\nevent: snapshot\ndata: {\"teams\":[]}\n\n") != std::string::npos);
  CHECK(stream.next().text.empty());
  source.snapshot = board::makeSnapshot(42, R"({"teams":[1]})");
  CHECK(stream.next().text == "id: 42\nevent: snapshot\ndata: {\"teams\":[1]}\n\n");
  stream.close();

  web::Request again = get("/board/api/v1/events");
  again.last_event_id = "42";
  web::Answer resumed = site->answer(again);
  web::Stream& resumed_stream = std::get<web::Stream>(resumed);
  CHECK(resumed_stream.next().text.find("id: 42") == std::string::npos);
  resumed_stream.close();
}

// The event stream over a real socket, as a browser holds it: open past the first event, the
// next snapshot pushed on the same connection.
TEST_CASE("board site: over the HTTP server the event stream stays open and pushes each new snapshot") {
  namespace asio = boost::asio;
  FixedSource source;
  asio::io_context io;
  web::ServerSettings settings;
  settings.site = "board";
  settings.what = "board";
  const int port = testing::freePort();
  settings.listen = "127.0.0.1:" + std::to_string(port);
  auto started = web::startServer(io, board::makeBoardSite(source, board::SiteOptions{}), settings);
  REQUIRE(started);
  auto work = asio::make_work_guard(io);
  std::thread loop([&] { io.run(); });
  auto onLoop = [&](auto f) {
    std::promise<void> done;
    asio::post(io, [&] {
      f();
      done.set_value();
    });
    done.get_future().wait();
  };

  asio::io_context client_io;
  asio::ip::tcp::socket socket(client_io);
  socket.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  const timeval wait{1, 0};
  setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &wait, sizeof wait);
  const std::string request = "GET /board/api/v1/events HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n";
  asio::write(socket, asio::buffer(request));
  std::string received;
  // Reads until `text` arrived or 3 s passed; false when the server closed the connection.
  auto readUntil = [&](const std::string& text) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
    char buffer[4096];
    while (received.find(text) == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      const ssize_t n = ::recv(socket.native_handle(), buffer, sizeof buffer, 0);
      if (n == 0) return false;
      if (n > 0) received.append(buffer, static_cast<size_t>(n));
    }
    return received.find(text) != std::string::npos;
  };
  CHECK(readUntil("id: 41"));
  std::this_thread::sleep_for(std::chrono::milliseconds(600));  // past a few polls
  onLoop([&] { source.snapshot = board::makeSnapshot(42, R"({"teams":[2]})"); });
  CHECK(readUntil("id: 42"));
  CHECK(received.find("data: {\"teams\":[2]}") != std::string::npos);

  socket.close();
  onLoop([&] { (*started)->stop(); });
  work.reset();
  loop.join();
}

}  // namespace
}  // namespace dutybridge
