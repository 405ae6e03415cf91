#include "connectors/kafka/record_json.h"

#include <charconv>
#include <cstring>

#include "src/codec/json.h"

namespace dutybridge::kafka {
namespace {

constexpr int64_t kMicrosPerDay = 86'400'000'000;

struct CivilDate {
  int64_t year;
  unsigned month;
  unsigned day;
};

// Howard Hinnant's days_from_civil inverse (the algorithm behind date::year_month_day).
CivilDate civilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<uint64_t>(z - era * 146097);
  const uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const uint64_t mp = (5 * doy + 2) / 153;
  const auto day = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  const auto month = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  return {static_cast<int64_t>(yoe) + era * 400 + (month <= 2), month, day};
}

inline void put2(char* p, unsigned v) {
  p[0] = static_cast<char>('0' + v / 10);
  p[1] = static_cast<char>('0' + v % 10);
}

inline void put4(char* p, unsigned v) {
  put2(p, v / 100);
  put2(p + 2, v % 100);
}

// "YYYY-MM-DD" for years 0..9999; 0 when the year needs the general formatter.
size_t formatDateTo(int64_t days, char* out) {
  CivilDate d = civilFromDays(days);
  if (d.year < 0 || d.year > 9999) return 0;
  put4(out, static_cast<unsigned>(d.year));
  out[4] = '-';
  put2(out + 5, d.month);
  out[7] = '-';
  put2(out + 8, d.day);
  return 10;
}

void appendDecimal(const core::Decimal& value, std::string& out) {
  core::Int128 coefficient = value.coefficient();
  __extension__ typedef unsigned __int128 UInt128;
  auto magnitude = static_cast<UInt128>(coefficient < 0 ? -coefficient : coefficient);
  char digits[48];
  char* end = digits + sizeof digits;
  char* begin = end;
  if (magnitude <= UINT64_MAX) {
    char buffer[24];
    auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, static_cast<uint64_t>(magnitude));
    size_t n = static_cast<size_t>(ptr - buffer);
    begin -= n;
    std::memcpy(begin, buffer, n);
  } else {
    do {
      *--begin = static_cast<char>('0' + static_cast<int>(magnitude % 10));
      magnitude /= 10;
    } while (magnitude != 0);
  }
  auto length = static_cast<int>(end - begin);
  int scale = value.scale();
  if (coefficient < 0) out += '-';
  if (scale <= 0) {
    out.append(begin, static_cast<size_t>(length));
    return;
  }
  if (length <= scale) {
    out += "0.";
    out.append(static_cast<size_t>(scale - length), '0');
    out.append(begin, static_cast<size_t>(length));
    return;
  }
  out.append(begin, static_cast<size_t>(length - scale));
  out += '.';
  out.append(end - scale, static_cast<size_t>(scale));
}

void appendInt(int64_t value, std::string& out) {
  char buffer[24];
  auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, static_cast<size_t>(ptr - buffer));
}

void appendTimestamp(core::Timestamp ts, std::string& out) {
  char buffer[48];
  out.append(buffer, formatTimestampTo(ts, buffer));
}

void appendDate(core::Date date, std::string& out) {
  char buffer[16];
  size_t n = formatDateTo(date.days, buffer);
  if (n == 0) {
    out += core::formatDate(date);
  } else {
    out.append(buffer, n);
  }
}

// True when nlohmann would write the text unchanged: printable ASCII without '"' or '\'.
bool plainAscii(std::string_view text) {
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '"' || c == '\\') return false;
  }
  return true;
}

}  // namespace

size_t formatTimestampTo(core::Timestamp ts, char* out) {
  int64_t days = ts.micros / kMicrosPerDay;
  int64_t rest = ts.micros % kMicrosPerDay;
  if (rest < 0) {
    rest += kMicrosPerDay;
    --days;
  }
  size_t n = formatDateTo(days, out);
  if (n == 0) {
    std::string general = core::formatTimestamp(ts);
    std::memcpy(out, general.data(), general.size());
    return general.size();
  }
  auto seconds = static_cast<unsigned>(rest / 1'000'000);
  auto micros = static_cast<unsigned>(rest % 1'000'000);
  out[n++] = 'T';
  put2(out + n, seconds / 3600);
  out[n + 2] = ':';
  put2(out + n + 3, seconds / 60 % 60);
  out[n + 5] = ':';
  put2(out + n + 6, seconds % 60);
  n += 8;
  if (micros != 0) {
    out[n++] = '.';
    put2(out + n, micros / 10000);
    put2(out + n + 2, micros / 100 % 100);
    put2(out + n + 4, micros % 100);
    n += 6;
  }
  out[n++] = 'Z';
  return n;
}

RecordJsonWriter::RecordJsonWriter()
    : scratch_string_(std::string()),
      scratch_number_(0.0),
      serializer_(std::make_unique<Serializer>(
          std::make_shared<nlohmann::detail::output_string_adapter<char, std::string>>(out_), ' ',
          nlohmann::detail::error_handler_t::replace)) {
  out_.reserve(1024);
}

RecordJsonWriter::~RecordJsonWriter() = default;

const std::vector<std::string>& RecordJsonWriter::prefixesFor(const std::shared_ptr<const core::RecordSchema>& schema) {
  for (const auto& entry : schemas_) {
    if (entry.schema == schema) return entry.prefixes;
  }
  // Holding the schema keeps its address from being reused by another schema.
  constexpr size_t kMaxSchemas = 8;
  if (schemas_.size() >= kMaxSchemas) schemas_.erase(schemas_.begin());
  SchemaPrefixes entry;
  entry.schema = schema;
  out_.clear();
  for (size_t i = 0; i < schema->size(); ++i) {
    out_ = i == 0 ? "{" : ",";
    scratch_string_.get_ref<std::string&>() = schema->names()[i];
    serializer_->dump(scratch_string_, false, false, 0);
    out_ += ':';
    entry.prefixes.push_back(out_);
  }
  out_.clear();
  schemas_.push_back(std::move(entry));
  return schemas_.back().prefixes;
}

std::string_view RecordJsonWriter::write(const core::Record& record) {
  if (record.size() == 0 || !record.schema()) {
    out_ = "{}";
    return out_;
  }
  const auto& prefixes = prefixesFor(record.schema());
  out_.clear();
  for (size_t i = 0; i < record.size(); ++i) {
    out_ += prefixes[i];
    appendValue(record.value(i));
  }
  out_ += '}';
  return out_;
}

void RecordJsonWriter::appendString(std::string_view text) {
  if (plainAscii(text)) {
    out_ += '"';
    out_ += text;
    out_ += '"';
    return;
  }
  scratch_string_.get_ref<std::string&>().assign(text);
  serializer_->dump(scratch_string_, false, false, 0);
}

void RecordJsonWriter::appendValue(const core::Value& value) {
  using core::ValueType;
  switch (value.type()) {
    case ValueType::Null:
      out_ += "null";
      return;
    case ValueType::Bool:
      out_ += value.asBool() ? "true" : "false";
      return;
    case ValueType::Int:
      appendInt(value.asInt(), out_);
      return;
    case ValueType::Double:
      scratch_number_ = value.asDouble();
      serializer_->dump(scratch_number_, false, false, 0);
      return;
    case ValueType::Decimal:
      out_ += '"';
      appendDecimal(value.asDecimal(), out_);
      out_ += '"';
      return;
    case ValueType::Timestamp:
      out_ += '"';
      appendTimestamp(value.asTimestamp(), out_);
      out_ += '"';
      return;
    case ValueType::Date:
      out_ += '"';
      appendDate(value.asDate(), out_);
      out_ += '"';
      return;
    case ValueType::String:
      appendString(value.asString());
      return;
    case ValueType::List:
    case ValueType::Map:
      serializer_->dump(codec::toJson(value), false, false, 0);
      return;
  }
}

void RecordJsonWriter::appendKeyText(const core::Value& value, std::string& out) {
  using core::ValueType;
  switch (value.type()) {
    case ValueType::String:
      out += value.asString();
      return;
    case ValueType::Int:
      appendInt(value.asInt(), out);
      return;
    case ValueType::Decimal:
      appendDecimal(value.asDecimal(), out);
      return;
    case ValueType::Timestamp:
      appendTimestamp(value.asTimestamp(), out);
      return;
    case ValueType::Date:
      appendDate(value.asDate(), out);
      return;
    default:
      out += value.toText();
      return;
  }
}

}  // namespace dutybridge::kafka
