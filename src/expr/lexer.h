#pragma once
// Tokens of the expression language. The lexer never fails hard: a bad character, an
// unterminated string or invalid UTF-8 becomes an Error token carrying the message, and the
// parser reports it as a diagnostic.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace dutybridge::expr::detail {

enum class Tok {
  End,
  Error,
  Int,        // text = digits
  Decimal,    // text = digits with '.'
  Duration,   // text = number, unit = "ms" | "s" | "m" | "h" | "d"
  String,     // text = decoded UTF-8
  Timestamp,  // text after '@'
  Date,       // text after '@'
  Ident,      // plain or `quoted`; text = the name
  KwTrue,
  KwFalse,
  KwNull,
  KwAnd,
  KwOr,
  KwNot,
  KwIn,
  KwIf,
  KwThen,
  KwElse,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Dot,
  Question,
  Colon,
  QuestionQuestion,
  Bang,
  Plus,
  Minus,
  Star,
  Slash,
  Percent,
  EqEq,
  NotEq,
  Less,
  LessEq,
  Greater,
  GreaterEq,
};

struct Token {
  Tok kind = Tok::End;
  size_t offset = 0;  // byte offset of the first character in the expression text
  size_t length = 0;  // bytes of source text
  std::string text;   // decoded payload, or the message of an Error token
  std::string unit;   // duration unit
  std::string hint;   // Error tokens: optional hint
  bool quoted = false;  // Ident written in backticks
};

// Spelling of a token kind for messages: "')'", "end of expression", "identifier".
std::string_view describe(Tok kind);

// Splits the whole text into tokens, ending with End or with the first Error token.
std::vector<Token> tokenize(std::string_view text);

// Length in bytes of the valid UTF-8 sequence at text[i], or 0 when it is invalid.
size_t utf8SequenceLength(std::string_view text, size_t i);

// Appends code point `cp` (at most U+10FFFF) encoded as UTF-8.
void appendUtf8(std::string& out, uint32_t cp);

}  // namespace dutybridge::expr::detail
