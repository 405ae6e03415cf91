// The plant-calendar functions (shift_of, shift_date, ..., period_id, period_start,
// period_end; docs/expression-language.md). The calendar name and the period type are string
// literals resolved at compile time against the mapping's `calendars:` file; the nodes keep the
// calendars alive and only evaluate the remaining arguments per record.

#include <fmt/format.h>

#include <algorithm>

#include "src/calendar/calendar.h"
#include "src/diagnostics/diagnostics.h"
#include "src/expr/compiler.h"

namespace dutybridge::expr::detail {
namespace {

using Kind = Type::Kind;
using Args = std::span<const Value>;
using calendar::PeriodType;

// shift_of()'s result: a map with these members, so `shift_of(...).shift_date` is a date.
const RecordShape kShiftShape{"a shift",
                              {{"shift_date", Type{Kind::Date, false}},
                               {"shift_code", Type{Kind::String, false}},
                               {"start", Type{Kind::Timestamp, false}},
                               {"end", Type{Kind::Timestamp, false}},
                               {"day_type", Type{Kind::String, false}}}};

std::unexpected<core::Error> runtimeError(const std::string& where, std::string_view message) {
  return std::unexpected(core::Error::permanent(where + std::string(message)));
}

std::unexpected<core::Error> wrongType(const std::string& where, std::string_view function, size_t index,
                                       std::string_view expected, const Value& got) {
  return runtimeError(where, fmt::format("argument {} of {} must be {}, not {}", index + 1, function, expected,
                                         core::toString(got.type())));
}

std::optional<std::string> stringLiteral(CallSite& site, size_t i, std::string_view what, std::string_view why) {
  const auto* c = dynamic_cast<const ConstNode*>(site.args[i].node.get());
  if (!c || c->value().type() != ValueType::String || site.args[i].ast->kind != NodeKind::StringLit) {
    site.checker.error(site.args[i].ast->begin, fmt::format("{} of {} must be a string literal", what, site.call.text),
                       std::string(why));
    return std::nullopt;
  }
  return c->value().asString();
}

// The calendar named by the literal argument i, with the calendars that own it.
struct CalendarRef {
  std::shared_ptr<const calendar::Calendars> all;
  const calendar::Calendar* calendar = nullptr;
};

std::optional<CalendarRef> requireCalendar(CallSite& site, size_t i) {
  auto name = stringLiteral(site, i, "the calendar name", "name a calendar of the mapping's calendars file");
  if (!name) return std::nullopt;
  const auto& all = site.checker.env().calendars;
  const calendar::Calendar* found = all ? all->find(*name) : nullptr;
  if (!found) {
    std::vector<std::string> names = all ? all->names() : std::vector<std::string>{};
    std::string best = diag::suggest(*name, names);
    site.checker.error(site.args[i].ast->begin, fmt::format("unknown calendar '{}'", *name),
                       !best.empty()    ? fmt::format("did you mean '{}'?", best)
                       : !all          ? std::string("no calendars are configured: add calendars: "
                                                     "../config/calendars.yaml to the mapping")
                       : names.empty() ? std::string("the calendars file did not load (see its errors)")
                                       : fmt::format("calendars: {}", fmt::join(names, ", ")));
    return std::nullopt;
  }
  return CalendarRef{all, found};
}

std::optional<PeriodType> requirePeriodType(CallSite& site, size_t i) {
  auto text = stringLiteral(site, i, "the period type", "write \"SHIFT\", \"DAY\", \"WEEK\" or \"MONTH\"");
  if (!text) return std::nullopt;
  auto type = calendar::parsePeriodType(*text);
  if (!type) {
    std::string best = diag::suggest(*text, {"SHIFT", "DAY", "WEEK", "MONTH"});
    std::string upper = *text;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    if (calendar::parsePeriodType(upper)) best = upper;
    site.checker.error(site.args[i].ast->begin, fmt::format("unknown period type '{}'", *text),
                       best.empty() ? std::string("period types: SHIFT, DAY, WEEK, MONTH")
                                    : fmt::format("did you mean '{}'?", best));
  } else if (*type == PeriodType::Hour) {
    // An HOUR period is a slot of a shift: these functions have no argument for the slot.
    site.checker.error(site.args[i].ast->begin, fmt::format("{} has no HOUR periods", site.call.text),
                       "HOUR facts come from an aggregate: period: HOUR with time: (docs/aggregation.md)");
    return std::nullopt;
  }
  return type;
}

// The arguments evaluated at run time: those not listed in `literals`.
std::vector<NodePtr> runtimeArgs(CallSite& site, std::initializer_list<size_t> literals) {
  std::vector<NodePtr> out;
  for (size_t i = 0; i < site.args.size(); ++i) {
    if (std::find(literals.begin(), literals.end(), i) == literals.end()) out.push_back(std::move(site.args[i].node));
  }
  return out;
}

// What a shift_* function returns from the shift instance.
enum class ShiftPart { Record, Date, Code, Start, End, DayType };

Value partOf(const calendar::ShiftInstance& s, ShiftPart part) {
  switch (part) {
    case ShiftPart::Record:
      return Value(core::ValueMap{{"shift_date", Value(s.shift_date)},
                                  {"shift_code", Value(s.shift_code)},
                                  {"start", Value(s.start)},
                                  {"end", Value(s.end)},
                                  {"day_type", Value(s.day_type)}});
    case ShiftPart::Date: return Value(s.shift_date);
    case ShiftPart::Code: return Value(s.shift_code);
    case ShiftPart::Start: return Value(s.start);
    case ShiftPart::End: return Value(s.end);
    case ShiftPart::DayType: return Value(s.day_type);
  }
  return Value();
}

std::optional<Typed> shiftFunction(CallSite& site, ShiftPart part, Type type, bool accepts_date) {
  auto ref = requireCalendar(site, 0);
  bool ok = accepts_date ? site.checker.expectArg(site, 1, {Kind::Timestamp, Kind::Date}, "a timestamp or date")
                         : site.checker.expectArg(site, 1, {Kind::Timestamp}, "a timestamp");
  if (!ref || !ok) return std::nullopt;
  type.nullable = site.args[1].type.nullable;
  std::string where = site.checker.where(site.call.name_offset);
  std::string name = site.call.text;
  Typed t;
  t.type = type;
  t.node = makeCall(runtimeArgs(site, {0}), true,
                    [ref = *ref, part, where, name, accepts_date](Args v, const EvalContext&) -> Result<Value> {
                      if (accepts_date && v[0].type() == ValueType::Date) {
                        return Value(ref.calendar->dayType(v[0].asDate()));
                      }
                      if (v[0].type() != ValueType::Timestamp) {
                        return wrongType(where, name, 1, accepts_date ? "a timestamp or date" : "a timestamp", v[0]);
                      }
                      auto shift = ref.calendar->shiftOf(v[0].asTimestamp());
                      if (!shift) return runtimeError(where, fmt::format("{}: {}", name, shift.error().message));
                      return partOf(*shift, part);
                    });
  return t;
}

std::optional<Typed> fShiftOf(CallSite& s) {
  Type type{Kind::Map, false};
  type.shape = &kShiftShape;
  return shiftFunction(s, ShiftPart::Record, type, false);
}
std::optional<Typed> fShiftDate(CallSite& s) { return shiftFunction(s, ShiftPart::Date, {Kind::Date, false}, false); }
std::optional<Typed> fShiftCode(CallSite& s) { return shiftFunction(s, ShiftPart::Code, {Kind::String, false}, false); }
std::optional<Typed> fShiftStart(CallSite& s) {
  return shiftFunction(s, ShiftPart::Start, {Kind::Timestamp, false}, false);
}
std::optional<Typed> fShiftEnd(CallSite& s) { return shiftFunction(s, ShiftPart::End, {Kind::Timestamp, false}, false); }
std::optional<Typed> fDayType(CallSite& s) { return shiftFunction(s, ShiftPart::DayType, {Kind::String, false}, true); }

// Checks shift_date (argument i) and shift_code (i + 1, needed for SHIFT only; ignored
// otherwise, so a null code does not make a DAY period null). Returns the literal indexes to
// leave out of the runtime arguments.
bool checkPeriodArgs(CallSite& site, size_t i, std::optional<PeriodType> type) {
  bool ok = site.checker.expectArg(site, i, {Kind::Date}, "a date (the shift date)");
  if (site.args.size() > i + 1) ok = site.checker.expectArg(site, i + 1, {Kind::String}, "a string (the shift code)") && ok;
  if (type == PeriodType::Shift && site.args.size() <= i + 1) {
    site.checker.error(site.call.name_offset, fmt::format("{} of a SHIFT period needs the shift code", site.call.text),
                       fmt::format("write {}", site.call.text == "period_id"
                                                   ? "period_id(\"SHIFT\", shift_date, shift_code)"
                                                   : site.call.text + "(calendar, \"SHIFT\", shift_date, shift_code)"));
    ok = false;
  }
  return ok;
}

bool nullableArgs(const CallSite& site, size_t first, size_t last) {
  for (size_t i = first; i <= last && i < site.args.size(); ++i) {
    if (site.args[i].type.nullable) return true;
  }
  return false;
}

std::optional<Typed> fPeriodId(CallSite& site) {
  auto type = requirePeriodType(site, 0);
  bool ok = checkPeriodArgs(site, 1, type);
  if (!type || !ok) return std::nullopt;
  bool shift = *type == PeriodType::Shift;
  std::string where = site.checker.where(site.call.name_offset);
  Typed t;
  t.type = Type{Kind::String, nullableArgs(site, 1, shift ? 2 : 1)};
  t.node = makeCall(shift ? runtimeArgs(site, {0}) : runtimeArgs(site, {0, 2}), true,
                    [type = *type, where](Args v, const EvalContext&) -> Result<Value> {
                      if (v[0].type() != ValueType::Date) return wrongType(where, "period_id", 1, "a date", v[0]);
                      if (type == PeriodType::Shift && v[1].type() != ValueType::String) {
                        return wrongType(where, "period_id", 2, "a string", v[1]);
                      }
                      return Value(calendar::periodId(type, v[0].asDate(),
                                                      type == PeriodType::Shift ? v[1].asString() : ""));
                    });
  return t;
}

std::optional<Typed> fPeriodBound(CallSite& site, bool end) {
  auto ref = requireCalendar(site, 0);
  auto type = requirePeriodType(site, 1);
  bool ok = checkPeriodArgs(site, 2, type);
  if (!ref || !type || !ok) return std::nullopt;
  bool shift = *type == PeriodType::Shift;
  std::string where = site.checker.where(site.call.name_offset);
  std::string name = site.call.text;
  Typed t;
  t.type = Type{Kind::Timestamp, nullableArgs(site, 2, shift ? 3 : 2)};
  t.node = makeCall(shift ? runtimeArgs(site, {0, 1}) : runtimeArgs(site, {0, 1, 3}), true,
                    [ref = *ref, type = *type, end, where, name](Args v, const EvalContext&) -> Result<Value> {
                      if (v[0].type() != ValueType::Date) return wrongType(where, name, 2, "a date", v[0]);
                      std::string_view code;
                      if (type == PeriodType::Shift) {
                        if (v[1].type() != ValueType::String) return wrongType(where, name, 3, "a string", v[1]);
                        code = v[1].asString();
                        // Checked here so the message can leave the value out.
                        if (!ref.calendar->findShift(code)) {
                          return runtimeError(where, fmt::format("{}: the shift code is not a shift of calendar '{}'",
                                                                 name, ref.calendar->name()));
                        }
                      }
                      auto bounds = ref.calendar->periodBounds(type, v[0].asDate(), code);
                      if (!bounds) return runtimeError(where, fmt::format("{}: {}", name, bounds.error().message));
                      return Value(end ? bounds->end : bounds->start);
                    });
  return t;
}
std::optional<Typed> fPeriodStart(CallSite& s) { return fPeriodBound(s, false); }
std::optional<Typed> fPeriodEnd(CallSite& s) { return fPeriodBound(s, true); }

}  // namespace

const std::vector<FunctionSpec>& calendarFunctionTable() {
  static const std::vector<FunctionSpec> kTable = {
      {"shift_of", 2, 2, "shift_of(\"calendar\", ts)", fShiftOf},
      {"shift_date", 2, 2, "shift_date(\"calendar\", ts)", fShiftDate},
      {"shift_code", 2, 2, "shift_code(\"calendar\", ts)", fShiftCode},
      {"shift_start", 2, 2, "shift_start(\"calendar\", ts)", fShiftStart},
      {"shift_end", 2, 2, "shift_end(\"calendar\", ts)", fShiftEnd},
      {"day_type", 2, 2, "day_type(\"calendar\", ts_or_shift_date)", fDayType},
      {"period_id", 2, 3, "period_id(\"SHIFT|DAY|WEEK|MONTH\", shift_date, shift_code?)", fPeriodId},
      {"period_start", 3, 4, "period_start(\"calendar\", \"SHIFT|DAY|WEEK|MONTH\", shift_date, shift_code?)",
       fPeriodStart},
      {"period_end", 3, 4, "period_end(\"calendar\", \"SHIFT|DAY|WEEK|MONTH\", shift_date, shift_code?)", fPeriodEnd},
  };
  return kTable;
}

}  // namespace dutybridge::expr::detail
