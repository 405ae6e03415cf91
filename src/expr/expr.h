#pragma once
// The mapping expression language: parse + type-check + compile in one step, evaluate many
// times. docs/mapping-language.md is the user's reference.
//
// Types are checked at load: every field reference resolves to a slot of the Scope, every
// operator and function call is checked against its operand types, and nullability is tracked
// (`T?`). Operations that can fail on valid types (parsing a string, division by a
// non-constant) yield a nullable result (null on failure), so the checker forces the mapping
// to handle the failure: `x ?? default`, or `x!` which sends the record to the dead-letter
// path with a located error when x is null.
//
// Threading: a compiled Expr is immutable; eval() may run concurrently from several threads.
// Ownership: Expr owns its compiled tree; EvalContext borrows everything it points to.
// Errors: problems in the text are reported to Diagnostics (file:line:column, caret, hint) and
// compile returns nullptr. eval() returns Permanent errors only (a `!` on null, an overflow,
// ...): the record belongs in the dead-letter topic; the message never contains field values.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/clock.h"
#include "src/core/config_schema.h"
#include "src/core/value.h"
#include "src/diagnostics/diagnostics.h"
#include "src/expr/reference_table.h"

namespace dutybridge::calendar {
struct Calendars;
}

namespace dutybridge::calendar {
struct Calendars;
}

namespace dutybridge::expr {

struct RecordShape;

struct Type {
  // Duration values are carried as core::Value Int (microseconds); Any accepts every value
  // (used for untyped inputs and generic functions).
  enum class Kind { Null, Bool, Int, Decimal, Double, String, Timestamp, Date, Duration, List, Map, Any };
  Kind kind = Kind::Any;
  bool nullable = false;
  // For a map whose members are known (a record, e.g. the result of shift_of): `x.member` has
  // the member's type and an unknown member is an error. Points to static data; null: any map.
  const RecordShape* shape = nullptr;

  // "decimal", "string?", "list", "any"
  std::string toString() const;
  // Parses the spelling used in mapping files: bool, int, decimal, double, string, timestamp,
  // date, duration, list, map, any, each optionally followed by '?'.
  static std::optional<Type> parse(std::string_view text);
  bool operator==(const Type&) const = default;
};

struct RecordShape {
  std::string_view what;  // "a shift" in "a shift has no field 'x'"
  std::vector<std::pair<std::string_view, Type>> fields;
  const Type* find(std::string_view name) const;
};

// Names visible to expressions: input fields and `let` bindings, each with a slot index into
// EvalContext::slots and a type.
//
// Personal data (`pii:` in a mapping's input) is a compile-time property: an entry may be
// personal, and every compiled expression knows whether its value derives from a personal entry
// (Expr::personal()). Nothing of it exists at run time.
class Scope {
 public:
  // Returns the slot; a second add of the same name replaces its type (later `let` shadows).
  size_t add(const std::string& name, Type type, bool personal = false);
  struct Entry {
    size_t slot;
    Type type;
    bool personal = false;
  };
  std::optional<Entry> find(std::string_view name) const;
  std::vector<std::string> names() const;
  size_t size() const { return entries_.size(); }

  // An open scope answers a name it does not know as a field of type `any` instead of an
  // "unknown field" error, and remembers the name. It checks a mapping with `input: from_source`
  // offline, before the source has said which fields it has; what is compiled against an open
  // scope is only checked, never evaluated (those fields have no slot).
  void setOpen(bool open) { open_ = open; }
  bool isOpen() const { return open_; }
  // In an open scope, the entry for a name find() does not know; nullopt in a closed one.
  std::optional<Entry> openField(std::string_view name) const;
  // The names openField() answered, in order of first use.
  const std::vector<std::string>& openedFields() const { return opened_; }
  // Source fields that are personal although not (yet) in the scope: an open scope's fields
  // named by `input: {from_source: true, pii: ...}`.
  void addPersonalOpenField(const std::string& name) { personal_open_.push_back(name); }
  // `pii: drop` fields: in no scope, and an expression naming one is an error saying why.
  void addDropped(const std::string& name) { dropped_.push_back(name); }
  bool isDropped(std::string_view name) const;

  static constexpr size_t kNoSlot = SIZE_MAX;

 private:
  std::vector<std::pair<std::string, Entry>> entries_;
  bool open_ = false;
  std::vector<std::string> personal_open_;
  std::vector<std::string> dropped_;
  // Bookkeeping only (which source fields the expressions read), so find-like const lookups
  // may add to it.
  mutable std::vector<std::string> opened_;
};

// Reference data and keys expressions may use. The set of tables and keys is fixed at load; a
// table's contents may be swapped later through its handle (reference_table.h).
struct FunctionEnv {
  // lookup(table, key, at: ts): table name -> handle of its current version.
  std::map<std::string, std::shared_ptr<TableHandle>, std::less<>> tables;
  // hmac_sha256(value, key_name): key name -> key bytes (from a ${cred:...} secret).
  std::map<std::string, std::string, std::less<>> hmac_keys;
  // shift_of, period_start, ...: the mapping's `calendars:` file; null when it has none.
  std::shared_ptr<const calendar::Calendars> calendars;
};

struct EvalContext {
  std::span<const core::Value> slots;   // values by Scope slot
  const core::Clock* clock = nullptr;    // now()
  const FunctionEnv* env = nullptr;
};

class Expr {
 public:
  virtual ~Expr() = default;
  virtual Type type() const = 0;
  // Permanent error: the record goes to the dead-letter path.
  virtual core::Result<core::Value> eval(const EvalContext& context) const = 0;
  // Source location of the expression's first character (for runtime error messages).
  virtual const core::SourceLocation& location() const = 0;
  // The value derives from a personal field (through any operator, function, `let` or lookup)
  // and did not pass through hmac_sha256.
  virtual bool personal() const = 0;
};

// HMAC-SHA256 of text under key, as lower-case hex: what hmac_sha256() returns, and what a
// `pii: hmac(key)` input field holds. Empty on failure of the library.
std::string hmacSha256Hex(std::string_view key, std::string_view text);

struct CompileOptions {
  size_t max_length = 64 * 1024;  // characters of expression text
  size_t max_depth = 128;         // nesting of the syntax tree
};

// `text` starts at `start` in its file (line and column of its first character), so every
// diagnostic points into the mapping file. Returns nullptr after reporting problems.
std::unique_ptr<Expr> compileExpression(std::string_view text, const core::SourceLocation& start, const Scope& scope,
                                        const FunctionEnv& env, diag::Diagnostics& diagnostics,
                                        const CompileOptions& options = {});

// Every function name, for did-you-mean hints and docs.
std::vector<std::string> functionNames();

}  // namespace dutybridge::expr
