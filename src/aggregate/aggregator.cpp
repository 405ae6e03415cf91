#include "src/aggregate/aggregator.h"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "src/codec/json_writer.h"
#include "src/codec/typed_json.h"

namespace dutybridge::aggregate {
namespace {

using core::Decimal;
using core::Value;
using core::ValueType;
using Json = nlohmann::json;

core::Result<Decimal> toDecimal(const Value& v) {
  switch (v.type()) {
    case ValueType::Int: return Decimal::fromInt(v.asInt());
    case ValueType::Decimal: return v.asDecimal();
    case ValueType::Double: return Decimal::fromDouble(v.asDouble());
    case ValueType::Bool: return Decimal::fromInt(v.asBool() ? 1 : 0);
    default: return core::fail(core::Error::permanent(fmt::format("a measure input must be a number, not {}", core::toString(v.type()))));
  }
}

// Numbers compare by value in multisets whatever their representation.
Value canonical(const Value& v) {
  if (v.type() == ValueType::Int) return Value(Decimal::fromInt(v.asInt()));
  if (v.type() == ValueType::Decimal) return Value(v.asDecimal().normalized());
  if (v.type() == ValueType::Double) {
    auto d = Decimal::fromDouble(v.asDouble());
    if (d) return Value(d->normalized());
  }
  return v;
}

int typeRank(ValueType t) {
  // Numbers share one rank: canonical() makes them decimals before they reach a multiset.
  return t == ValueType::Int || t == ValueType::Double ? static_cast<int>(ValueType::Decimal) : static_cast<int>(t);
}

size_t valueBytes(const Value& v) {
  size_t bytes = sizeof(Value);
  if (v.type() == ValueType::String && v.asString().size() > 15) bytes += v.asString().capacity();
  return bytes;
}

}  // namespace

std::optional<MeasureKind> parseMeasureKind(std::string_view name) {
  if (name == "sum") return MeasureKind::Sum;
  if (name == "count") return MeasureKind::Count;
  if (name == "count_distinct") return MeasureKind::CountDistinct;
  if (name == "min") return MeasureKind::Min;
  if (name == "max") return MeasureKind::Max;
  if (name == "ratio") return MeasureKind::RatioOfSums;
  if (name == "weighted_avg") return MeasureKind::WeightedAvg;
  return std::nullopt;
}

std::string_view measureKindName(MeasureKind kind) {
  switch (kind) {
    case MeasureKind::Sum: return "sum";
    case MeasureKind::Count: return "count";
    case MeasureKind::CountDistinct: return "count_distinct";
    case MeasureKind::Min: return "min";
    case MeasureKind::Max: return "max";
    case MeasureKind::RatioOfSums: return "ratio";
    case MeasureKind::WeightedAvg: return "weighted_avg";
  }
  return "?";
}

size_t measureArity(MeasureKind kind) {
  return kind == MeasureKind::RatioOfSums || kind == MeasureKind::WeightedAvg ? 2 : 1;
}

bool Window::valueLess(const Value& a, const Value& b) {
  int ra = typeRank(a.type());
  int rb = typeRank(b.type());
  if (ra != rb) return ra < rb;
  switch (a.type()) {
    case ValueType::Null: return false;
    case ValueType::Bool: return a.asBool() < b.asBool();
    case ValueType::Decimal: return a.asDecimal() < b.asDecimal();
    case ValueType::String: return a.asString() < b.asString();
    case ValueType::Timestamp: return a.asTimestamp() < b.asTimestamp();
    case ValueType::Date: return a.asDate() < b.asDate();
    default: return a.toText() < b.toText();
  }
}

std::string windowKey(const WindowRef& ref) {
  std::string key;
  key.reserve(48);
  for (const auto& v : ref.group) {
    if (v.isNull()) {
      key += "\\N";
    } else {
      std::string text = v.type() == ValueType::String ? v.asString() : v.toText();
      for (char c : text) {
        if (c == '|' || c == '\\') key += '\\';
        key += c;
      }
    }
    key += '|';
  }
  key += ref.period_type;
  key += '|';
  key += ref.period_id;
  return key;
}

void Aggregator::markSource(const std::string& key, Source* source) {
  if (source) {
    if (source->dirty) return;
    source->dirty = true;
  }
  dirty_sources_.push_back(key);
}

void Aggregator::markWindow(Window& window) {
  if (window.dirty) return;
  window.dirty = true;
  dirty_windows_.push_back(window.key);
}

Aggregator::Aggregator(AggregatorOptions options) : options_(std::move(options)) {}
Aggregator::~Aggregator() = default;

Window& Aggregator::windowFor(const WindowRef& ref) {
  std::string key = windowKey(ref);
  auto it = windows_.find(key);
  if (it != windows_.end()) return *it->second;
  auto window = std::make_shared<Window>();
  window->key = key;
  window->ref = ref;
  window->acc.resize(options_.measures.size());
  if (rolling()) {
    // The row's day is its part's, not the window's: a rolling window never closes or goes.
    window->ref.shift_date = core::Date{};
  } else {
    core::Timestamp close{ref.end.micros + options_.grace_micros};
    closing_.emplace(close, key);
    evicting_.emplace(core::Timestamp{close.micros + options_.retain_micros}, key);
  }
  Window& out = *window;
  windows_.emplace(std::move(key), std::move(window));
  markWindow(out);
  return out;
}

core::Status Aggregator::add(Window& window, const std::vector<MeasureInput>& inputs, int sign) {
  for (size_t m = 0; m < options_.measures.size() && m < inputs.size(); ++m) {
    const MeasureSpec& spec = options_.measures[m];
    Window::Accumulator& acc = window.acc[m];
    const Value& x = inputs[m][0];
    if (x.isNull()) continue;
    auto fold = [&](Decimal& into, const Decimal& d) -> core::Status {
      auto r = sign > 0 ? into.add(d) : into.subtract(d);
      if (!r) return core::fail(core::Error::permanent(fmt::format("measure {}: {}", spec.name, r.error().message)));
      into = *r;
      return {};
    };
    switch (spec.kind) {
      case MeasureKind::Sum: {
        auto d = toDecimal(x);
        if (!d) return core::fail(core::Error::permanent(fmt::format("measure {}: {}", spec.name, d.error().message)));
        if (auto s = fold(acc.a, *d); !s) return s;
        break;
      }
      case MeasureKind::Count:
        if (x.type() == ValueType::Bool && !x.asBool()) continue;
        break;
      case MeasureKind::CountDistinct:
      case MeasureKind::Min:
      case MeasureKind::Max: {
        Value c = canonical(x);
        if (sign > 0) {
          ++acc.multiset[c];
        } else if (auto it = acc.multiset.find(c); it != acc.multiset.end() && --it->second == 0) {
          acc.multiset.erase(it);
        }
        break;
      }
      case MeasureKind::RatioOfSums:
      case MeasureKind::WeightedAvg: {
        const Value& y = inputs[m][1];
        if (y.isNull()) continue;
        auto a = toDecimal(x);
        auto b = toDecimal(y);
        if (!a || !b) {
          return core::fail(core::Error::permanent(
              fmt::format("measure {}: {}", spec.name, (!a ? a.error() : b.error()).message)));
        }
        Decimal first = *a;
        if (spec.kind == MeasureKind::WeightedAvg) {
          auto product = a->multiply(*b);
          if (!product) return core::fail(core::Error::permanent(fmt::format("measure {}: {}", spec.name, product.error().message)));
          first = *product;
        }
        if (auto s = fold(acc.a, first); !s) return s;
        if (auto s = fold(acc.b, *b); !s) return s;
        break;
      }
    }
    acc.n += sign;
  }
  window.rows += sign;
  window.changed = true;
  changed_.insert(&window);
  return {};
}

std::vector<Value> Aggregator::values(const Window& window) const {
  std::vector<Value> out;
  out.reserve(options_.measures.size());
  for (size_t m = 0; m < options_.measures.size(); ++m) {
    const MeasureSpec& spec = options_.measures[m];
    const Window::Accumulator& acc = window.acc[m];
    switch (spec.kind) {
      case MeasureKind::Sum: out.emplace_back(acc.a.normalized()); break;
      case MeasureKind::Count: out.emplace_back(acc.n); break;
      case MeasureKind::CountDistinct: out.emplace_back(static_cast<int64_t>(acc.multiset.size())); break;
      case MeasureKind::Min: out.push_back(acc.multiset.empty() ? Value() : acc.multiset.begin()->first); break;
      case MeasureKind::Max: out.push_back(acc.multiset.empty() ? Value() : acc.multiset.rbegin()->first); break;
      case MeasureKind::RatioOfSums:
      case MeasureKind::WeightedAvg: {
        if (acc.b.sign() == 0) {
          out.emplace_back();
          break;
        }
        auto q = acc.a.divide(acc.b, spec.scale);
        out.push_back(q ? Value(q->normalized()) : Value());
        break;
      }
    }
  }
  return out;
}

constexpr int64_t kDayMicros = 86'400'000'000;

core::Date Aggregator::plantDay(core::Timestamp now) {
  if (now >= day_from_ && now < day_to_) return day_;
  // The zone was checked when the mapping loaded; a failure here (a tz database gone) falls back
  // to UTC days rather than losing rows.
  auto local = core::utcToLocal(now, options_.time_zone);
  int64_t micros = local ? *local : now.micros;
  int64_t days = micros / kDayMicros - (micros % kDayMicros < 0 ? 1 : 0);
  day_ = core::Date{static_cast<int32_t>(days)};
  day_from_ = plantMidnight(day_);
  day_to_ = plantMidnight(core::Date{day_.days + 1});
  if (!(now >= day_from_ && now < day_to_)) day_from_ = day_to_ = now;  // not cached
  return day_;
}

core::Timestamp Aggregator::plantMidnight(core::Date day) const {
  int64_t local = static_cast<int64_t>(day.days) * kDayMicros;
  auto instant = core::localToUtc(local, options_.time_zone);
  return instant ? *instant : core::Timestamp{local};
}

void Aggregator::notePart(const Part& part, int sign) {
  if (!rolling()) return;
  auto it = parts_by_day_.try_emplace(part.day, 0).first;
  it->second += sign;
  if (it->second <= 0) parts_by_day_.erase(it);
}

void Aggregator::ageOut(core::Timestamp now) {
  const core::Date first = windowFirst(now);
  if (first.days <= swept_first_) return;
  swept_first_ = first.days;
  // Once per plant day: a sweep over the rows, as eviction does for calendar periods.
  boost::unordered::erase_if(sources_, [&](auto& entry) {
    auto& parts = entry.second.parts;
    const auto before = parts.size();
    if (before == 0) {  // a row that no longer counts: forgotten once its day left the window
      if (entry.second.seen_day >= first.days) return false;
      markSource(entry.first, nullptr);
      return true;
    }
    std::erase_if(parts, [&](const Part& p) {
      if (p.day >= first.days) return false;
      // Subtracting what was added cannot overflow: the totals held it before.
      if (auto s = add(*p.window, p.inputs, -1); !s) return false;
      return true;
    });
    if (parts.size() == before) return false;
    if (parts.empty()) {
      markSource(entry.first, nullptr);
      return true;
    }
    markSource(entry.first, &entry.second);
    return false;
  });
  parts_by_day_.erase(parts_by_day_.begin(), parts_by_day_.lower_bound(first.days));
}

core::Result<ApplyOutcome> Aggregator::apply(std::string_view source_id, std::string_view part, const Value& version,
                                             const std::optional<WindowRef>& window, std::vector<MeasureInput> inputs,
                                             core::Timestamp now, std::string_view position) {
  bool before_window = false;
  if (window && rolling()) {
    before_window = window->shift_date < windowFirst(now);
  } else if (window) {
    int64_t evict_at = window->end.micros + options_.grace_micros + options_.retain_micros;
    if (now.micros >= evict_at) {
      return core::fail(core::Error::permanent(fmt::format(
          "period {} {} ended {} and is past its grace and retention, so its fact can no longer be corrected; "
          "raise aggregate.retain to accept corrections this late",
          window->period_type, window->period_id, core::formatTimestamp(window->end))));
    }
  }
  key_buffer_.assign(source_id);
  auto [it, inserted] = sources_.try_emplace(key_buffer_);
  if (before_window && inserted) {  // history read at a first start: nothing to retract, nothing to keep
    sources_.erase(it);
    ++rows_before_window_;
    return ApplyOutcome::BeforeWindow;
  }
  Source& source = it->second;
  bool versioned = !version.isNull();
  if (!inserted && versioned && !source.version.isNull()) {
    if (Window::valueLess(canonical(version), canonical(source.version))) return ApplyOutcome::Stale;
    if (Window::valueLess(canonical(source.version), canonical(version))) {
      for (auto& p : source.parts) {
        if (auto s = add(*p.window, p.inputs, -1); !s) return core::fail(s.error());
        notePart(p, -1);
      }
      source.parts.clear();
    }
  }
  source.version = version;
  auto existing = std::find_if(source.parts.begin(), source.parts.end(), [&](const Part& p) { return p.part == part; });
  if (existing != source.parts.end()) {
    if (auto s = add(*existing->window, existing->inputs, -1); !s) return core::fail(s.error());
    notePart(*existing, -1);
    source.parts.erase(existing);
  }
  if (window && !before_window) {
    Window& target = windowFor(*window);
    if (auto s = add(target, inputs, +1); !s) {
      if (source.parts.empty() && !versioned) sources_.erase(it);
      return core::fail(s.error());
    }
    source.parts.push_back(
        Part{std::string(part), &target, std::move(inputs), rolling() ? window->shift_date.days : 0});
    notePart(source.parts.back(), +1);
    if (!position.empty()) target.last_position.assign(position);
  }
  if (rolling() && source.parts.empty()) source.seen_day = plantDay(now).days;
  markSource(it->first, &source);
  if (before_window) {
    ++rows_before_window_;
    return ApplyOutcome::BeforeWindow;
  }
  return ApplyOutcome::Applied;
}

bool Aggregator::expect(const WindowRef& window, core::Timestamp now) {
  if (now.micros >= window.end.micros + options_.grace_micros + options_.retain_micros) return false;
  if (windows_.contains(windowKey(window))) return false;
  windowFor(window);
  return true;
}

void Aggregator::collect(core::Timestamp now, std::vector<Revision>& out) {
  auto emit = [&](Window& w, bool closing) {
    std::vector<Value> current = values(w);
    w.changed = false;
    if (!closing && current == w.emitted) return;  // e.g. a replayed or edited-back row
    w.revision += 1;
    ++revisions_emitted_;
    if (!closing && w.closed) ++corrections_after_close_;
    if (closing) w.closed = true;
    w.last_emit = now;
    w.emitted = current;
    markWindow(w);
    out.push_back(Revision{w.shared_from_this(), w.revision, w.closed, std::move(current), w.rows, {}, {}});
    if (rolling()) {
      out.back().window_last = plantDay(now);
      out.back().window_first = windowFirst(now);
    }
  };
  if (rolling()) ageOut(now);
  while (!closing_.empty() && closing_.begin()->first <= now) {
    auto node = closing_.extract(closing_.begin());
    auto it = windows_.find(node.value().second);
    if (it == windows_.end() || it->second->closed) continue;
    changed_.erase(it->second.get());
    emit(*it->second, true);
  }
  // By window key, so the order of revisions does not depend on pointer values.
  std::vector<Window*> due;
  for (Window* w : changed_) {
    bool limited = !w->closed && options_.min_interval_micros > 0 && w->last_emit &&
                   now.micros - w->last_emit->micros < options_.min_interval_micros;
    if (!limited) due.push_back(w);
  }
  std::sort(due.begin(), due.end(), [](const Window* a, const Window* b) { return a->key < b->key; });
  for (Window* w : due) {
    emit(*w, false);
    changed_.erase(w);
  }
  evict(now);
}

std::optional<core::Timestamp> Aggregator::nextDeadline() const {
  std::optional<core::Timestamp> next;
  auto consider = [&](core::Timestamp t) {
    if (!next || t < *next) next = t;
  };
  if (!closing_.empty()) consider(closing_.begin()->first);
  if (!evicting_.empty()) consider(evicting_.begin()->first);
  for (const Window* w : changed_) {
    if (w->last_emit) consider(core::Timestamp{w->last_emit->micros + options_.min_interval_micros});
  }
  // The plant midnight at which the earliest rows of a rolling window age out.
  if (!parts_by_day_.empty()) {
    consider(plantMidnight(core::Date{static_cast<int32_t>(parts_by_day_.begin()->first + options_.rolling_days)}));
  }
  return next;
}

void Aggregator::evict(core::Timestamp now) {
  if (evicting_.empty() || evicting_.begin()->first > now) return;
  std::unordered_set<const Window*> gone;
  while (!evicting_.empty() && evicting_.begin()->first <= now) {
    auto node = evicting_.extract(evicting_.begin());
    auto it = windows_.find(node.value().second);
    if (it == windows_.end()) continue;
    gone.insert(it->second.get());
  }
  if (gone.empty()) return;
  // Rows of evicted windows go with them; a sweep over the rows is cheap next to how rarely
  // windows end (once per period).
  boost::unordered::erase_if(sources_, [&](auto& entry) {
    auto& parts = entry.second.parts;
    auto before = parts.size();
    std::erase_if(parts, [&](const Part& p) { return gone.contains(p.window); });
    // Rows left without parts (declined, filtered out) are forgotten here too, so their
    // versions do not accumulate forever.
    if (parts.empty()) {
      markSource(entry.first, nullptr);
      return true;
    }
    if (parts.size() != before) markSource(entry.first, &entry.second);
    return false;
  });
  for (const Window* w : gone) {
    changed_.erase(const_cast<Window*>(w));
    dirty_windows_.push_back(w->key);
    windows_.erase(w->key);
  }
}

std::string Aggregator::encodeSource(const Source& source) const {
  std::string out = "{\"v\":";
  codec::appendTyped(out, source.version);
  out += ",\"parts\":[";
  for (size_t i = 0; i < source.parts.size(); ++i) {
    const Part& p = source.parts[i];
    if (i > 0) out += ',';
    out += "{\"p\":";
    codec::appendJsonString(out, p.part);
    out += ",\"w\":";
    codec::appendJsonString(out, p.window->key);
    if (rolling()) out += fmt::format(",\"d\":{}", p.day);
    out += ",\"in\":[";
    for (size_t m = 0; m < p.inputs.size(); ++m) {
      if (m > 0) out += ',';
      out += '[';
      codec::appendTyped(out, p.inputs[m][0]);
      out += ',';
      codec::appendTyped(out, p.inputs[m][1]);
      out += ']';
    }
    out += "]}";
  }
  out += ']';
  if (rolling() && source.parts.empty()) out += fmt::format(",\"sd\":{}", source.seen_day);
  out += '}';
  return out;
}

std::optional<bool> Aggregator::storedWindowClosed(std::string_view value) {
  auto j = Json::parse(value, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto closed = j.find("closed");
  if (closed == j.end() || !closed->is_boolean()) return std::nullopt;
  return closed->get<bool>();
}

std::string Aggregator::encodeWindow(const Window& w) const {
  std::string out = "{\"g\":[";
  for (size_t i = 0; i < w.ref.group.size(); ++i) {
    if (i > 0) out += ',';
    codec::appendTyped(out, w.ref.group[i]);
  }
  out += "],\"pt\":";
  codec::appendJsonString(out, w.ref.period_type);
  out += ",\"pid\":";
  codec::appendJsonString(out, w.ref.period_id);
  out += fmt::format(",\"sd\":{},\"sc\":", w.ref.shift_date.days);
  codec::appendJsonString(out, w.ref.shift_code);
  out += fmt::format(",\"start\":{},\"end\":{},\"rev\":{},\"closed\":{},\"emitted\":[", w.ref.start.micros,
                     w.ref.end.micros, w.revision, w.closed);
  for (size_t i = 0; i < w.emitted.size(); ++i) {
    if (i > 0) out += ',';
    codec::appendTyped(out, w.emitted[i]);
  }
  out += ']';
  if (w.last_emit) out += fmt::format(",\"last\":{}", w.last_emit->micros);
  if (!w.last_position.empty()) {
    out += ",\"lp\":";
    codec::appendJsonString(out, w.last_position);
  }
  out += '}';
  return out;
}

void Aggregator::takeStateChanges(std::vector<StateChange>& out) {
  // Windows first: a restore attaches rows to windows it already knows.
  for (const auto& key : dirty_windows_) {
    auto it = windows_.find(key);
    if (it == windows_.end()) {
      out.push_back({"w/" + key, std::string()});
    } else if (it->second->dirty) {
      it->second->dirty = false;
      out.push_back({"w/" + key, encodeWindow(*it->second)});
    }
  }
  for (const auto& id : dirty_sources_) {
    auto it = sources_.find(id);
    if (it == sources_.end()) {
      out.push_back({"s/" + id, std::string()});
    } else if (it->second.dirty) {
      it->second.dirty = false;
      bool gone = it->second.parts.empty() && it->second.version.isNull();
      out.push_back({"s/" + id, gone ? std::string() : encodeSource(it->second)});
    }
  }
  dirty_windows_.clear();
  dirty_sources_.clear();
}

core::Status Aggregator::restore(const std::vector<StateChange>& entries) {
  try {
    for (const auto& entry : entries) {
      if (!entry.key.starts_with("w/") || entry.value.empty()) continue;
      Json j = Json::parse(entry.value);
      WindowRef ref;
      for (const auto& v : j.at("g")) ref.group.push_back(codec::decodeTyped(v));
      ref.period_type = j.at("pt").get<std::string>();
      ref.period_id = j.at("pid").get<std::string>();
      ref.shift_date = codec::storedDate(j.at("sd"));
      ref.shift_code = j.at("sc").get<std::string>();
      ref.start = core::Timestamp{codec::storedInt(j.at("start"))};
      ref.end = core::Timestamp{codec::storedInt(j.at("end"))};
      Window& w = windowFor(ref);
      if (w.key != entry.key.substr(2)) {
        // Named by its period only: the key holds the group values (employee numbers).
        return core::fail(core::Error::fatal(fmt::format("aggregation state: a window entry of {} {} does not match its key",
                                                         ref.period_type, ref.period_id)));
      }
      w.revision = codec::storedInt(j.at("rev"));
      w.closed = j.at("closed").get<bool>();
      for (const auto& v : j.at("emitted")) w.emitted.push_back(codec::decodeTyped(v));
      if (j.contains("last")) w.last_emit = core::Timestamp{codec::storedInt(j.at("last"))};
      if (j.contains("lp")) w.last_position = j.at("lp").get<std::string>();
    }
    for (const auto& entry : entries) {
      if (!entry.key.starts_with("s/") || entry.value.empty()) continue;
      Json j = Json::parse(entry.value);
      Source& source = sources_[entry.key.substr(2)];
      source.version = codec::decodeTyped(j.at("v"));
      if (j.contains("sd")) source.seen_day = codec::storedDate(j.at("sd")).days;
      for (const auto& p : j.at("parts")) {
        auto it = windows_.find(p.at("w").get<std::string>());
        if (it == windows_.end()) {
          return core::fail(core::Error::fatal(
              "aggregation state: a row entry refers to a window that has no entry"));
        }
        std::vector<MeasureInput> inputs;
        for (const auto& in : p.at("in")) inputs.push_back({codec::decodeTyped(in.at(0)), codec::decodeTyped(in.at(1))});
        if (auto s = add(*it->second, inputs, +1); !s) return core::fail(core::Error::fatal(s.error().message));
        // "d" (a rolling row's day) is stored only by rolling engines; older entries lack it.
        int32_t day = p.contains("d") ? codec::storedDate(p.at("d")).days : 0;
        source.parts.push_back(Part{p.at("p").get<std::string>(), it->second.get(), std::move(inputs), day});
        notePart(source.parts.back(), +1);
      }
    }
  } catch (const std::exception& e) {
    return core::fail(core::Error::fatal(std::string("aggregation state cannot be read: ") + e.what()));
  }
  // What was restored is exactly what is stored, so nothing is dirty. A window owes a revision
  // when its rows no longer give what it last emitted (rows changed after that revision was
  // delivered, e.g. a retraction whose revision was lost in the crash).
  dirty_windows_.clear();
  dirty_sources_.clear();
  for (auto& [key, w] : windows_) w->dirty = false;
  changed_.clear();
  for (auto& [key, w] : windows_) {
    w->changed = values(*w) != w->emitted && (w->rows > 0 || !w->emitted.empty());
    if (w->changed) changed_.insert(w.get());
  }
  return {};
}

std::optional<std::vector<Value>> Aggregator::valuesOf(const std::string& window_key) const {
  auto it = windows_.find(window_key);
  if (it == windows_.end()) return std::nullopt;
  return values(*it->second);
}

std::vector<std::string> Aggregator::windowKeys() const {
  std::vector<std::string> keys;
  for (const auto& [key, w] : windows_) keys.push_back(key);
  return keys;
}

AggregatorStats Aggregator::stats() const {
  AggregatorStats s;
  s.revisions_emitted = revisions_emitted_;
  s.corrections_after_close = corrections_after_close_;
  s.rows_before_window = rows_before_window_;
  s.windows = windows_.size();
  s.sources = sources_.size();
  for (const auto& [key, w] : windows_) {
    if (!w->closed) ++s.open_windows;
    s.approx_bytes += sizeof(Window) + key.capacity() * 2 + w->acc.size() * sizeof(Window::Accumulator) + 64;
    for (const auto& acc : w->acc) s.approx_bytes += acc.multiset.size() * (sizeof(Value) + 48);
    for (const auto& v : w->emitted) s.approx_bytes += valueBytes(v);
  }
  for (const auto& [id, source] : sources_) {
    s.approx_bytes += id.capacity() + sizeof(Source) + 48;
    for (const auto& p : source.parts) {
      ++s.rows;
      s.approx_bytes += sizeof(Part) + p.part.capacity() + p.inputs.capacity() * sizeof(MeasureInput);
    }
  }
  return s;
}

}  // namespace dutybridge::aggregate
