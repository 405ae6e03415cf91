// libFuzzer target for the mapping language: parse + check + evaluate. docs/fuzzing.md has
// the build and run commands.
//
// Byte 0 chooses the mode by its parity:
//   even ('0', 'M', ...): the rest is a whole mapping file. It is written to a temporary file
//     (loadMapping takes a path), loaded, its embedded tests run, and every loaded mapping is
//     applied to a few fixed records.
//   odd ('1', 'E', ...): the rest is a scope line "name: type; name: type?; ..." and, after the
//     first newline, one expression. It is compiled against that scope and evaluated on three
//     fixed sets of slot values (typical, null/zero/empty, extreme).
// Anything may be rejected with diagnostics; a crash, a sanitizer report, a leak or a hang is a
// bug.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/fuzz_support.h"
#include "src/core/clock.h"
#include "src/core/decimal.h"
#include "src/core/record.h"
#include "src/core/time.h"
#include "src/diagnostics/diagnostics.h"
#include "src/expr/expr.h"
#include "src/expr/reference_table.h"
#include "src/mapping/mapping.h"

namespace {

using dutybridge::core::Decimal;
using dutybridge::core::Record;
using dutybridge::core::RecordSchema;
using dutybridge::core::Timestamp;
using dutybridge::core::Value;
using dutybridge::core::ValueList;
using dutybridge::core::ValueMap;
using dutybridge::expr::Type;
using Kind = dutybridge::expr::Type::Kind;

const dutybridge::core::ManualClock kClock{Timestamp{1'741'939'200'000'000}};  // 2025-03-14T08:00:00Z

// The fuzzing process's directory, with a small CSV table mapping files may name.
const std::filesystem::path& workDir() {
  static const std::filesystem::path dir = [] {
    dutybridge::fuzz::writeFile("table.csv", "key,value\nB000123,E10023\nMOLD,moulding\n7,seven\n");
    return dutybridge::fuzz::workDir();
  }();
  return dir;
}

Decimal decimal(std::string_view text) {
  return *Decimal::parse(text);
}

// Slot values for a type: variant 0 typical, 1 null (when nullable) or zero/empty, 2 extreme.
Value valueFor(Type type, int variant) {
  if (variant == 1 && type.nullable) return Value();
  switch (type.kind) {
    case Kind::Null:
      return Value();
    case Kind::Bool:
      return Value(variant != 1);
    case Kind::Int:
      return variant == 0   ? Value(int64_t{42})
             : variant == 1 ? Value(int64_t{0})
                            : Value(std::numeric_limits<int64_t>::min());
    case Kind::Decimal:
      return variant == 0   ? Value(decimal("118.250"))
             : variant == 1 ? Value(decimal("0"))
                            : Value(decimal("-99999999999999999999999999999999999999"));
    case Kind::Double:
      return variant == 0 ? Value(2.5) : variant == 1 ? Value(0.0) : Value(std::numeric_limits<double>::max());
    case Kind::String:
      return variant == 0   ? Value("WO-2025-0042 注塑")
             : variant == 1 ? Value("")
                            : Value(std::string(300, 'a') + "\xe3\x80\x80");
    case Kind::Timestamp:
      return variant == 0   ? Value(Timestamp{1'741'939'200'000'000})
             : variant == 1 ? Value(Timestamp{0})
                            : Value(Timestamp{std::numeric_limits<int64_t>::max()});
    case Kind::Date:
      return variant == 2 ? Value(dutybridge::core::dateFromYmd(9999, 12, 31))
                          : Value(dutybridge::core::dateFromYmd(2025, 3, 14));
    case Kind::Duration:
      return variant == 0   ? Value(int64_t{5'400'000'000})
             : variant == 1 ? Value(int64_t{0})
                            : Value(std::numeric_limits<int64_t>::max());
    case Kind::List:
      return variant == 1 ? Value(ValueList{}) : Value(ValueList{Value("a"), Value(int64_t{1}), Value()});
    case Kind::Map:
      return variant == 1
                 ? Value(ValueMap{})
                 : Value(ValueMap{{"value", Value(int64_t{3})}, {"name", Value("x")}, {"inner", Value(ValueMap{})}});
    case Kind::Any:
      return variant == 0 ? Value("7") : variant == 1 ? Value(decimal("0.1")) : Value(ValueList{Value(true)});
  }
  return Value();
}

void fuzzExpression(std::string_view input) {
  size_t newline = input.find('\n');
  std::string_view scope_line = newline == std::string_view::npos ? std::string_view() : input.substr(0, newline);
  std::string_view text = newline == std::string_view::npos ? input : input.substr(newline + 1);

  dutybridge::expr::Scope scope;
  std::vector<Type> types;
  while (!scope_line.empty()) {
    size_t end = scope_line.find(';');
    std::string_view entry = scope_line.substr(0, end);
    scope_line = end == std::string_view::npos ? std::string_view() : scope_line.substr(end + 1);
    size_t colon = entry.find(':');
    if (colon == std::string_view::npos) continue;
    auto trim = [](std::string_view s) {
      while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
      while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
      return s;
    };
    std::string_view name = trim(entry.substr(0, colon));
    auto type = Type::parse(trim(entry.substr(colon + 1)));
    if (name.empty() || !type) continue;
    size_t slot = scope.add(std::string(name), *type);
    if (types.size() <= slot) types.resize(slot + 1);
    types[slot] = *type;
  }

  dutybridge::expr::FunctionEnv env;
  env.tables["workshop"] =
      dutybridge::expr::makeStaticTable("workshop", {{"MOLD", Value("moulding")}, {"7", Value("seven")}});
  env.tables["rate"] = dutybridge::expr::makeStaticTable("rate", {{"P1", Value(decimal("0.25"))}, {"P2", Value()}});
  env.hmac_keys["badge"] = "not-a-secret";

  dutybridge::diag::Diagnostics diagnostics;
  dutybridge::core::SourceLocation start{"expr.txt", 1, 1, ""};
  diagnostics.addSource("expr.txt", std::string(text));
  auto expr = dutybridge::expr::compileExpression(text, start, scope, env, diagnostics);
  std::string report = diagnostics.format();
  if (!expr) {
    if (diagnostics.empty()) std::abort();  // a rejected expression always says why
    return;
  }
  for (int variant = 0; variant < 3; ++variant) {
    std::vector<Value> slots;
    slots.reserve(types.size());
    for (const auto& type : types) slots.push_back(valueFor(type, variant));
    dutybridge::expr::EvalContext context{slots, &kClock, &env};
    auto result = expr->eval(context);
    if (result) {
      // A value of the wrong kind for the static type would be a checker bug.
      Type type = expr->type();
      if (result->isNull() && !type.nullable && type.kind != Kind::Any && type.kind != Kind::Null) std::abort();
      (void)result->toText();
    }
  }
}

// Records the mapping is applied to: the inputs of tests/golden/mappings and
// mappings/mes_report_output.yaml, as the odbc source would deliver them, plus an empty one.
const std::vector<Record>& fixedRecords() {
  static const std::vector<Record> records = [] {
    std::vector<Record> out;
    auto schema = std::make_shared<const RecordSchema>(
        std::vector<std::string>{"report_no", "operator_badge", "workshop_code", "good_qty", "scrap_qty_labor", "state",
                                 "updated_at", "shift_date", "labor_minutes", "meta"});
    Record typical(schema,
                   {Value("PR1"), Value("B000123"), Value("MOLD"), Value(decimal("10.5")), Value(), Value("ACCEPTED"),
                    Value(Timestamp{1'741'914'000'000'000}), Value(dutybridge::core::dateFromYmd(2025, 3, 14)),
                    Value(int64_t{90}), Value(ValueMap{{"event_time", Value("2025-03-14T01:00:00Z")}})});
    typical.meta.source_position = "{\"id\":1}";
    out.push_back(typical);
    Record text(schema, {Value("PR2"), Value(""), Value("7"), Value("lots"), Value("0.000"), Value("DECLINED"),
                         Value("2025-03-14T01:00:00+08:00"), Value("2025-02-30"), Value("1e3"), Value("x")});
    out.push_back(text);
    out.push_back(Record(std::make_shared<const RecordSchema>(std::vector<std::string>{}), {}));
    return out;
  }();
  return records;
}

void fuzzMappingFile(std::string_view input) {
  std::filesystem::path file = workDir() / "mapping.yaml";
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(input.data(), static_cast<std::streamsize>(input.size()));
  }
  auto mapping = dutybridge::mapping::loadMapping(file);
  if (!mapping) {
    if (mapping.error().empty()) std::abort();  // a refused file always says why
    (void)mapping.error().format();
    return;
  }
  (void)dutybridge::mapping::runMappingTests(**mapping);
  for (const auto& record : fixedRecords()) {
    auto binding = (*mapping)->bind(record.schema());
    auto outputs = (*mapping)->apply(record, binding, kClock);
    if (outputs) {
      for (const auto& output : *outputs) {
        for (const auto& value : output.record.values()) (void)value.toText();
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 1, size - 1);
  if (data[0] % 2 == 0) {
    fuzzMappingFile(input);
  } else {
    fuzzExpression(input);
  }
  return 0;
}
