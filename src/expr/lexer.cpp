#include "src/expr/lexer.h"

#include <fmt/format.h>

#include <optional>

namespace dutybridge::expr::detail {
namespace {

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool isIdentChar(char c) { return isIdentStart(c) || isDigit(c); }


class Lexer {
 public:
  explicit Lexer(std::string_view text) : text_(text) {}

  std::vector<Token> run() {
    std::vector<Token> tokens;
    while (true) {
      Token t = next();
      bool stop = t.kind == Tok::End || t.kind == Tok::Error;
      tokens.push_back(std::move(t));
      if (stop) break;
    }
    return tokens;
  }

 private:
  char peek(size_t ahead = 0) const { return pos_ + ahead < text_.size() ? text_[pos_ + ahead] : '\0'; }
  bool atEnd(size_t ahead = 0) const { return pos_ + ahead >= text_.size(); }

  Token make(Tok kind, size_t start, std::string text = {}) {
    Token t;
    t.kind = kind;
    t.offset = start;
    t.length = pos_ - start;
    t.text = std::move(text);
    return t;
  }

  Token error(size_t at, std::string message, std::string hint = {}) {
    Token t;
    t.kind = Tok::Error;
    t.offset = at;
    t.length = 1;
    t.text = std::move(message);
    t.hint = std::move(hint);
    return t;
  }

  Token next() {
    while (!atEnd()) {
      char c = peek();
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        ++pos_;
      } else if (c == '#') {  // comment to end of line
        while (!atEnd() && peek() != '\n') ++pos_;
      } else {
        break;
      }
    }
    size_t start = pos_;
    if (atEnd()) return make(Tok::End, start);
    char c = peek();
    if (isDigit(c)) return number();
    if (isIdentStart(c)) return identifier();
    switch (c) {
      case '"':
      case '\'': return string();
      case '`': return quotedIdentifier();
      case '@': return timeLiteral();
      case '(': ++pos_; return make(Tok::LParen, start);
      case ')': ++pos_; return make(Tok::RParen, start);
      case '[': ++pos_; return make(Tok::LBracket, start);
      case ']': ++pos_; return make(Tok::RBracket, start);
      case ',': ++pos_; return make(Tok::Comma, start);
      case '.': ++pos_; return make(Tok::Dot, start);
      case ':': ++pos_; return make(Tok::Colon, start);
      case '+': ++pos_; return make(Tok::Plus, start);
      case '-': ++pos_; return make(Tok::Minus, start);
      case '*': ++pos_; return make(Tok::Star, start);
      case '/': ++pos_; return make(Tok::Slash, start);
      case '%': ++pos_; return make(Tok::Percent, start);
      case '?':
        ++pos_;
        if (peek() == '?') {
          ++pos_;
          return make(Tok::QuestionQuestion, start);
        }
        return make(Tok::Question, start);
      case '!':
        ++pos_;
        if (peek() == '=') {
          ++pos_;
          return make(Tok::NotEq, start);
        }
        return make(Tok::Bang, start);
      case '=':
        if (peek(1) == '=') {
          pos_ += 2;
          return make(Tok::EqEq, start);
        }
        return error(start, "unexpected '='", "compare with '=='");
      case '<':
        ++pos_;
        if (peek() == '=') {
          ++pos_;
          return make(Tok::LessEq, start);
        }
        return make(Tok::Less, start);
      case '>':
        ++pos_;
        if (peek() == '=') {
          ++pos_;
          return make(Tok::GreaterEq, start);
        }
        return make(Tok::Greater, start);
      case '&':
        return error(start, "unexpected '&'", "write 'and'");
      case '|':
        return error(start, "unexpected '|'", "write 'or'");
      default: break;
    }
    auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x80) {
      size_t len = utf8SequenceLength(text_, pos_);
      if (len == 0) return error(start, fmt::format("invalid UTF-8 byte 0x{:02x}", byte));
      return error(start, fmt::format("unexpected character '{}'", text_.substr(pos_, len)),
                   "quote names that are not plain ASCII in backticks: `name`");
    }
    if (byte < 0x20 || byte == 0x7F) return error(start, fmt::format("unexpected control character U+{:04X}", byte));
    return error(start, fmt::format("unexpected character '{}'", c));
  }

  Token number() {
    size_t start = pos_;
    while (isDigit(peek())) ++pos_;
    bool decimal = false;
    if (peek() == '.' && isDigit(peek(1))) {
      decimal = true;
      ++pos_;
      while (isDigit(peek())) ++pos_;
    }
    std::string digits(text_.substr(start, pos_ - start));
    if (isIdentStart(peek())) {
      size_t unit_start = pos_;
      while (isIdentChar(peek())) ++pos_;
      std::string unit(text_.substr(unit_start, pos_ - unit_start));
      if (unit == "ms" || unit == "s" || unit == "m" || unit == "h" || unit == "d") {
        Token t = make(Tok::Duration, start, digits);
        t.unit = unit;
        return t;
      }
      return error(unit_start, fmt::format("unknown duration unit '{}'", unit), "units are ms, s, m, h and d");
    }
    return make(decimal ? Tok::Decimal : Tok::Int, start, digits);
  }

  Token identifier() {
    size_t start = pos_;
    while (isIdentChar(peek())) ++pos_;
    std::string_view word = text_.substr(start, pos_ - start);
    static constexpr std::pair<std::string_view, Tok> kKeywords[] = {
        {"true", Tok::KwTrue}, {"false", Tok::KwFalse}, {"null", Tok::KwNull}, {"and", Tok::KwAnd},
        {"or", Tok::KwOr},     {"not", Tok::KwNot},     {"in", Tok::KwIn},     {"if", Tok::KwIf},
        {"then", Tok::KwThen}, {"else", Tok::KwElse}};
    for (const auto& [spelling, kind] : kKeywords) {
      if (word == spelling) return make(kind, start, std::string(word));
    }
    return make(Tok::Ident, start, std::string(word));
  }

  Token quotedIdentifier() {
    size_t start = pos_++;
    std::string name;
    while (true) {
      if (atEnd()) return error(start, "unterminated `quoted name`");
      char c = peek();
      if (c == '`') {
        ++pos_;
        break;
      }
      if (c == '\n') return error(start, "unterminated `quoted name`");
      size_t len = utf8SequenceLength(text_, pos_);
      if (len == 0) return error(pos_, fmt::format("invalid UTF-8 byte 0x{:02x}", static_cast<unsigned char>(c)));
      if (static_cast<unsigned char>(c) < 0x20) return error(pos_, "control character in `quoted name`");
      name.append(text_.substr(pos_, len));
      pos_ += len;
    }
    if (name.empty()) return error(start, "empty `quoted name`");
    Token t = make(Tok::Ident, start, std::move(name));
    t.quoted = true;
    return t;
  }

  Token string() {
    size_t start = pos_;
    char quote = peek();
    ++pos_;
    std::string out;
    while (true) {
      if (atEnd()) return error(start, "unterminated string literal", fmt::format("close it with {}", quote));
      char c = peek();
      if (c == quote) {
        ++pos_;
        return make(Tok::String, start, std::move(out));
      }
      if (c == '\\') {
        size_t escape_at = pos_;
        ++pos_;
        if (atEnd()) return error(start, "unterminated string literal", fmt::format("close it with {}", quote));
        char e = peek();
        ++pos_;
        switch (e) {
          case 'n': out += '\n'; break;
          case 't': out += '\t'; break;
          case 'r': out += '\r'; break;
          case '\\': out += '\\'; break;
          case '"': out += '"'; break;
          case '\'': out += '\''; break;
          case 'u': {
            auto cp = hex4();
            if (!cp) return error(escape_at, "invalid \\u escape: expected 4 hex digits");
            uint32_t code = *cp;
            if (code >= 0xD800 && code <= 0xDBFF) {
              std::optional<uint32_t> low;
              if (peek() == '\\' && peek(1) == 'u') {
                pos_ += 2;
                low = hex4();
              }
              if (!low || *low < 0xDC00 || *low > 0xDFFF) {
                return error(escape_at, "invalid \\u escape: unpaired surrogate");
              }
              code = 0x10000 + ((code - 0xD800) << 10) + (*low - 0xDC00);
            } else if (code >= 0xDC00 && code <= 0xDFFF) {
              return error(escape_at, "invalid \\u escape: unpaired surrogate");
            }
            appendUtf8(out, code);
            break;
          }
          default:
            return error(escape_at, "unknown escape sequence in string", "escapes are \\n \\t \\r \\\\ \\\" \\' \\uXXXX");
        }
        continue;
      }
      size_t len = utf8SequenceLength(text_, pos_);
      if (len == 0) return error(pos_, fmt::format("invalid UTF-8 byte 0x{:02x}", static_cast<unsigned char>(c)));
      out.append(text_.substr(pos_, len));
      pos_ += len;
    }
  }

  std::optional<uint32_t> hex4() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      char h = peek();
      uint32_t digit;
      if (h >= '0' && h <= '9') digit = static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') digit = static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') digit = static_cast<uint32_t>(h - 'A' + 10);
      else return std::nullopt;
      value = value * 16 + digit;
      ++pos_;
    }
    return value;
  }

  // @YYYY-MM-DD or @YYYY-MM-DDTHH:MM:SS[.ffffff](Z|+HH:MM|-HH:MM); validated by the parser.
  Token timeLiteral() {
    size_t start = pos_++;
    size_t body = pos_;
    while (isDigit(peek()) || peek() == '-') ++pos_;
    if (peek() != 'T' && peek() != 't') {
      if (pos_ == body) return error(start, "expected a date or timestamp after '@'", "write @2025-03-14 or @2025-03-14T08:00:00Z");
      return make(Tok::Date, start, std::string(text_.substr(body, pos_ - body)));
    }
    ++pos_;
    while (isDigit(peek()) || peek() == ':' || peek() == '.') ++pos_;
    if (peek() == 'Z' || peek() == 'z') {
      ++pos_;
    } else if (peek() == '+' || peek() == '-') {
      ++pos_;
      while (isDigit(peek()) || peek() == ':') ++pos_;
    }
    return make(Tok::Timestamp, start, std::string(text_.substr(body, pos_ - body)));
  }

  std::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

void appendUtf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

size_t utf8SequenceLength(std::string_view text, size_t i) {
  auto at = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  unsigned char b = at(i);
  if (b < 0x80) return 1;
  size_t len;
  uint32_t cp;
  if (b >= 0xC2 && b <= 0xDF) {
    len = 2;
    cp = b & 0x1F;
  } else if (b >= 0xE0 && b <= 0xEF) {
    len = 3;
    cp = b & 0x0F;
  } else if (b >= 0xF0 && b <= 0xF4) {
    len = 4;
    cp = b & 0x07;
  } else {
    return 0;
  }
  if (i + len > text.size()) return 0;
  for (size_t k = 1; k < len; ++k) {
    if ((at(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (at(i + k) & 0x3F);
  }
  if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return len;
}

std::string_view describe(Tok kind) {
  switch (kind) {
    case Tok::End: return "end of expression";
    case Tok::Error: return "error";
    case Tok::Int: return "integer";
    case Tok::Decimal: return "decimal";
    case Tok::Duration: return "duration";
    case Tok::String: return "string";
    case Tok::Timestamp: return "timestamp";
    case Tok::Date: return "date";
    case Tok::Ident: return "name";
    case Tok::KwTrue: return "'true'";
    case Tok::KwFalse: return "'false'";
    case Tok::KwNull: return "'null'";
    case Tok::KwAnd: return "'and'";
    case Tok::KwOr: return "'or'";
    case Tok::KwNot: return "'not'";
    case Tok::KwIn: return "'in'";
    case Tok::KwIf: return "'if'";
    case Tok::KwThen: return "'then'";
    case Tok::KwElse: return "'else'";
    case Tok::LParen: return "'('";
    case Tok::RParen: return "')'";
    case Tok::LBracket: return "'['";
    case Tok::RBracket: return "']'";
    case Tok::Comma: return "','";
    case Tok::Dot: return "'.'";
    case Tok::Question: return "'?'";
    case Tok::Colon: return "':'";
    case Tok::QuestionQuestion: return "'?\?'";
    case Tok::Bang: return "'!'";
    case Tok::Plus: return "'+'";
    case Tok::Minus: return "'-'";
    case Tok::Star: return "'*'";
    case Tok::Slash: return "'/'";
    case Tok::Percent: return "'%'";
    case Tok::EqEq: return "'=='";
    case Tok::NotEq: return "'!='";
    case Tok::Less: return "'<'";
    case Tok::LessEq: return "'<='";
    case Tok::Greater: return "'>'";
    case Tok::GreaterEq: return "'>='";
  }
  return "token";
}

std::vector<Token> tokenize(std::string_view text) { return Lexer(text).run(); }

}  // namespace dutybridge::expr::detail
