#pragma once
// The daemon's HTTP sites apart from HTTP transport: one request in, an answer out, so every
// endpoint is tested without a socket. web_server.h carries them over Beast. Two sites use it:
// the admin API (src/admin) and the supervisors' board (src/board).
//
// An answer is one of
//   - a Response, written at once;
//   - a Stream: a response whose body is written piece by piece (Server-Sent Events, NDJSON)
//     until the stream says it is done, its timeout passes, the client goes or the server
//     stops; the server asks next() every `poll_every` and writes what it returns;
//   - a Deferred response: the handler starts the work and calls `done` later, on the event
//     loop (the admin API's reload).
//
// Threading: a Handler runs on the daemon's event loop (one thread); so do a Stream's functions
// and a Deferred's `done`.

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace dutybridge::web {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string target;  // path and query, as sent
  std::string authorization;
  std::string accept;           // text/event-stream asks a stream for SSE
  std::string cookie;           // the Cookie header, as sent
  std::string accept_language;  // the Accept-Language header
  std::string last_event_id;    // Last-Event-ID: where a reconnecting SSE client left off
  std::string body;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra (WWW-Authenticate, Allow, Set-Cookie...)
};

// A JSON error answer: {"error": message}.
Response errorResponse(int status, std::string_view message);

struct StreamStep {
  std::string text;   // to write now; empty: nothing new
  bool done = false;  // the stream ends after `text`
};

struct Stream {
  std::string content_type;
  std::vector<std::pair<std::string, std::string>> headers;
  std::chrono::milliseconds poll_every{100};
  std::chrono::milliseconds timeout = std::chrono::milliseconds::max();
  // Written when nothing was written for `keepalive` (an SSE comment finds a client that went
  // away and keeps proxies from closing the connection); empty: none.
  std::string keepalive_text;
  std::chrono::milliseconds keepalive{5'000};
  std::function<StreamStep()> next;
  std::function<std::string()> end;  // the closing text (may be empty); may be unset
  std::function<void()> close;       // called once when the stream ends, however; may be unset
};

using Deferred = std::function<void(std::function<void(Response)> done)>;

using Answer = std::variant<Response, Stream, Deferred>;

class Handler {
 public:
  virtual ~Handler() = default;
  virtual Answer answer(const Request& request) = 0;
};

// The value of cookie `name` in a Cookie header, or "".
std::string cookieValue(std::string_view header, std::string_view name);

}  // namespace dutybridge::web
