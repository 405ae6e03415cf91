#pragma once
// Recursive-descent parser. Depth is bounded (CompileOptions::max_depth) both for recursion and
// for the height of the tree built by left-associative loops, so no input can exhaust the
// stack. The first syntax error stops parsing.

#include <optional>
#include <string>
#include <string_view>

#include "src/expr/ast.h"

namespace dutybridge::expr::detail {

struct ParseError {
  size_t offset = 0;
  std::string message;
  std::string hint;
};

struct ParseResult {
  AstPtr root;  // null when error is set
  std::optional<ParseError> error;
};

ParseResult parse(std::string_view text, size_t max_depth);

}  // namespace dutybridge::expr::detail
