#pragma once
// The board's HTTP site (docs/board.md), apart from transport: pages, assets, the JSON snapshot
// and the Server-Sent Events stream, the viewer token and the language.
//
//   GET /board/                       plant overview          (page)
//   GET /board/teams/{team}           a team's hour-by-hour board (page)
//   GET /board/tv?teams=A,B&rotate=S  TV mode, rotating through teams (page)
//   GET /board/assets/{file}          board.css, board.js, ... (embedded at build time)
//   GET /board/api/v1/snapshot        the snapshot (JSON)
//   GET /board/api/v1/events          the snapshot as SSE, again on every change (Last-Event-ID)
//
// Pages take ?lang=zh|en; else the first of zh/en in Accept-Language; else board.language.
// With a viewer token: a request carrying ?token=T (right) is redirected to the same URL without
// it and gets the token as an HttpOnly, SameSite=Lax cookie (Lax, not Strict: a link opened from
// a chat or a QR code is a cross-site navigation, whose redirect would arrive without a Strict
// cookie; the board has nothing but GET); everything but assets then needs the cookie (401
// otherwise, with no data). Every page carries a Content-Security-Policy without inline script
// or style.
//
// Threading: on the daemon's event loop, like every web::Handler; SnapshotSource::current() is
// called there too.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "src/web/http_types.h"

namespace dutybridge::board {

// One snapshot, serialised once and shared by every reader and stream.
struct Snapshot {
  uint64_t sequence = 0;
  std::string json;
  std::string event;  // the SSE frame: id, event and data lines
};

std::shared_ptr<const Snapshot> makeSnapshot(uint64_t sequence, std::string json);

class SnapshotSource {
 public:
  virtual ~SnapshotSource() = default;
  virtual std::shared_ptr<const Snapshot> current() const = 0;  // nullptr: none yet
};

struct SiteOptions {
  std::optional<std::string> viewer_token;
  std::string language = "zh";  // zh | en
  std::string title;
  size_t max_streams = 1000;  // open event streams beyond: 503
  bool secure_cookie = false;  // served over TLS: the cookie says Secure
};

// The Content-Security-Policy of every board page.
inline constexpr std::string_view kBoardCsp =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
inline constexpr std::string_view kBoardCookie = "dutybridge_board";

std::unique_ptr<web::Handler> makeBoardSite(const SnapshotSource& source, SiteOptions options);

}  // namespace dutybridge::board
