#include "src/web/http_types.h"

#include "src/codec/json_writer.h"

namespace dutybridge::web {

Response errorResponse(int status, std::string_view message) {
  Response out;
  out.status = status;
  std::string body = "{\"error\":";
  codec::appendJsonString(body, message);
  body += "}";
  out.body = std::move(body);
  return out;
}

std::string cookieValue(std::string_view header, std::string_view name) {
  while (!header.empty()) {
    const size_t semicolon = header.find(';');
    std::string_view pair = header.substr(0, semicolon);
    header = semicolon == std::string_view::npos ? std::string_view() : header.substr(semicolon + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    const size_t equals = pair.find('=');
    if (equals == std::string_view::npos || pair.substr(0, equals) != name) continue;
    std::string_view value = pair.substr(equals + 1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
    return std::string(value);
  }
  return {};
}

}  // namespace dutybridge::web
