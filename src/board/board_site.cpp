#include "src/board/board_site.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <string_view>
#include <vector>

#include "src/board/board_assets.h"

namespace dutybridge::board {
namespace {

using web::Request;
using web::Response;

struct Target {
  std::string path;
  std::vector<std::pair<std::string, std::string>> query;  // decoded
  std::string param(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return v;
    }
    return {};
  }
  bool has(std::string_view name) const {
    for (const auto& [k, v] : query) {
      if (k == name) return true;
    }
    return false;
  }
};

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && hex(text[i + 1]) >= 0 && hex(text[i + 2]) >= 0) {
      out += static_cast<char>(hex(text[i + 1]) * 16 + hex(text[i + 2]));
      i += 2;
    } else if (text[i] == '+') {
      out += ' ';
    } else {
      out += text[i];
    }
  }
  return out;
}

Target parseTarget(std::string_view target) {
  Target out;
  const size_t question = target.find('?');
  out.path = percentDecode(target.substr(0, question));
  if (question == std::string_view::npos) return out;
  std::string_view query = target.substr(question + 1);
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t equals = pair.find('=');
    out.query.emplace_back(percentDecode(pair.substr(0, equals)),
                           equals == std::string_view::npos ? std::string() : percentDecode(pair.substr(equals + 1)));
  }
  return out;
}

// The URL again without the token parameter (the redirect after the token became a cookie).
std::string withoutToken(std::string_view target) {
  const size_t question = target.find('?');
  if (question == std::string_view::npos) return std::string(target);
  std::string out(target.substr(0, question));
  std::string_view query = target.substr(question + 1);
  char separator = '?';
  while (!query.empty()) {
    const size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    // The key as the check read it (decoded): ?tok%65n= is the token too.
    if (pair.empty() || percentDecode(pair.substr(0, pair.find('='))) == "token") continue;
    out += separator;
    out += pair;
    separator = '&';
  }
  return out;
}

std::string htmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool sameSecret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// zh or en from Accept-Language: the first of the two named (quality values are rarely used
// to put a language named later ahead).
std::optional<std::string> fromAcceptLanguage(std::string_view header) {
  std::string lower;
  for (char c : header) lower += static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  size_t pos = 0;
  while (pos < lower.size()) {
    size_t comma = lower.find(',', pos);
    std::string_view tag =
        std::string_view(lower).substr(pos, comma == std::string::npos ? std::string::npos : comma - pos);
    while (!tag.empty() && tag.front() == ' ') tag.remove_prefix(1);
    if (tag.starts_with("zh")) return "zh";
    if (tag.starts_with("en")) return "en";
    if (comma == std::string::npos) break;
    pos = comma + 1;
  }
  return std::nullopt;
}

Response pageHeaders(Response r) {
  r.headers.emplace_back("Content-Security-Policy", std::string(kBoardCsp));
  r.headers.emplace_back("X-Frame-Options", "DENY");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  return r;
}

class BoardSite final : public web::Handler {
 public:
  BoardSite(const SnapshotSource& source, SiteOptions options)
      : source_(source), options_(std::move(options)), streams_(std::make_shared<size_t>(0)) {}

  web::Answer answer(const Request& request) override {
    const Target target = parseTarget(request.target);
    if (request.method != "GET" && request.method != "HEAD") {
      Response r = web::errorResponse(405, "the board is read-only; allowed: GET, HEAD");
      r.headers.emplace_back("Allow", "GET, HEAD");
      return r;
    }
    if (target.path == "/" || target.path == "/board") return redirect("/board/");
    if (target.path.starts_with("/board/assets/")) return asset(target.path.substr(14));
    if (!target.path.starts_with("/board/")) return web::errorResponse(404, "no such page; the board is at /board/");
    const std::string lang = language(request, target);
    if (options_.viewer_token) {
      if (target.has("token")) {
        if (!sameSecret(target.param("token"), *options_.viewer_token)) return unauthorized(target, lang);
        Response r = redirect(withoutToken(request.target));
        r.headers.emplace_back(
            "Set-Cookie", fmt::format("{}={}; Path=/board; HttpOnly; SameSite=Lax; Max-Age=31536000{}", kBoardCookie,
                                      *options_.viewer_token, options_.secure_cookie ? "; Secure" : ""));
        return r;
      }
      if (!sameSecret(web::cookieValue(request.cookie, kBoardCookie), *options_.viewer_token)) {
        return unauthorized(target, lang);
      }
    }
    if (target.path == "/board/api/v1/snapshot") return snapshot();
    if (target.path == "/board/api/v1/events") {
      if (request.method == "HEAD") {
        Response head;
        head.content_type = "text/event-stream; charset=utf-8";
        return head;  // no stream for a HEAD: a probe must not hold one open
      }
      return events(request);
    }
    if (target.path == "/board/") return page("overview", "", lang);
    if (target.path == "/board/tv") return page("tv", "", lang);
    if (target.path.starts_with("/board/teams/") && target.path.size() > 13 &&
        target.path.find('/', 13) == std::string::npos) {
      return page("team", target.path.substr(13), lang);
    }
    return web::errorResponse(404, "no such page; the board is at /board/");
  }

 private:
  static Response redirect(std::string location) {
    Response r;
    r.status = 303;
    r.content_type = "text/plain; charset=utf-8";
    r.headers.emplace_back("Location", std::move(location));
    return r;
  }

  std::string language(const Request& request, const Target& target) const {
    const std::string asked = target.param("lang");
    if (asked == "zh" || asked == "en") return asked;
    if (auto accepted = fromAcceptLanguage(request.accept_language)) return *accepted;
    return options_.language;
  }

  Response unauthorized(const Target& target, const std::string& lang) const {
    if (target.path.starts_with("/board/api/")) {
      return web::errorResponse(401, "this board needs its viewer token: open the board's link with ?token=");
    }
    Response r = page("denied", "", lang);
    r.status = 401;
    return r;
  }

  Response page(std::string_view view, std::string_view team, const std::string& lang) const {
    const Asset* shell = findAsset("board.html");
    Response r;
    r.content_type = "text/html; charset=utf-8";
    std::string html(shell ? shell->body : std::string_view("<!doctype html><title>board</title>"));
    auto fill = [&html](std::string_view placeholder, const std::string& value) {
      for (size_t at = html.find(placeholder); at != std::string::npos;
           at = html.find(placeholder, at + value.size())) {
        html.replace(at, placeholder.size(), value);
      }
    };
    fill("{{lang}}", htmlEscape(lang));
    fill("{{view}}", htmlEscape(view));
    fill("{{team}}", htmlEscape(team));
    fill("{{title}}", htmlEscape(options_.title));
    r.body = std::move(html);
    return pageHeaders(std::move(r));
  }

  static Response asset(std::string_view name) {
    const Asset* found = findAsset(name);
    if (!found || name == "board.html") return web::errorResponse(404, "no such asset");
    Response r;
    r.content_type = std::string(found->content_type);
    r.body = std::string(found->body);
    return r;
  }

  Response snapshot() const {
    auto current = source_.current();
    if (!current) return web::errorResponse(503, "the board is still reading its facts");
    Response r;
    r.body = current->json;
    return r;
  }

  web::Answer events(const Request& request) {
    if (*streams_ >= options_.max_streams) {
      return web::errorResponse(503, fmt::format("{} boards are open already", options_.max_streams));
    }
    ++*streams_;
    struct State {
      uint64_t sent = 0;
      bool first = true;
    };
    auto state = std::make_shared<State>();
    // A reconnecting client names the last snapshot it has: it is not sent again.
    try {
      if (!request.last_event_id.empty()) state->sent = std::stoull(request.last_event_id);
    } catch (const std::exception&) {
      state->sent = 0;
    }
    web::Stream stream;
    stream.content_type = "text/event-stream; charset=utf-8";
    stream.headers.emplace_back("X-Accel-Buffering", "no");
    stream.poll_every = std::chrono::milliseconds(250);
    stream.keepalive = std::chrono::seconds(15);
    stream.keepalive_text = ": keepalive\n\n";
    const SnapshotSource& source = source_;
    stream.next = [state, &source] {
      web::StreamStep step;
      if (state->first) {
        step.text = "retry: 3000\n\n";
        state->first = false;
      }
      auto current = source.current();
      if (current && current->sequence != state->sent) {
        step.text += current->event;
        state->sent = current->sequence;
      }
      return step;
    };
    auto streams = streams_;
    stream.close = [streams] { --*streams; };
    return stream;
  }

  const SnapshotSource& source_;
  SiteOptions options_;
  std::shared_ptr<size_t> streams_;
};

}  // namespace

std::shared_ptr<const Snapshot> makeSnapshot(uint64_t sequence, std::string json) {
  auto out = std::make_shared<Snapshot>();
  out->sequence = sequence;
  out->event = fmt::format("id: {}\nevent: snapshot\ndata: {}\n\n", sequence, json);
  out->json = std::move(json);
  return out;
}

std::unique_ptr<web::Handler> makeBoardSite(const SnapshotSource& source, SiteOptions options) {
  return std::make_unique<BoardSite>(source, std::move(options));
}

}  // namespace dutybridge::board
