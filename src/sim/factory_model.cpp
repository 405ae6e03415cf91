#include "src/sim/factory_model.h"

#include <fmt/format.h>

#include <charconv>

namespace dutybridge::sim {

Rng keyedRng(uint64_t seed, std::string_view key) {
  uint64_t hash = 0xCBF29CE484222325ULL ^ seed;  // FNV-1a over the key, salted with the seed
  for (unsigned char c : key) hash = (hash ^ c) * 0x100000001B3ULL;
  Rng rng(hash);
  rng.next();
  return rng;
}

std::string formatPlantDate(core::Date d) { return core::formatDate(d); }

std::string formatPlantTime(PlantTime t) {
  core::Date d = plantDateOf(t);
  int64_t s = t - midnightOf(d);
  return fmt::format("{} {:02}:{:02}:{:02}", core::formatDate(d), s / 3600, s / 60 % 60, s % 60);
}

core::Result<PlantTime> parsePlantTime(std::string_view text) {
  auto bad = [&] {
    return core::fail(core::ErrorKind::Permanent, fmt::format("'{}' is not a plant time 'YYYY-MM-DD HH:MM:SS'", text));
  };
  if (text.size() != 19 || text[10] != ' ' || text[13] != ':' || text[16] != ':') return bad();
  auto date = core::parseDate(text.substr(0, 10));
  if (!date) return bad();
  int parts[3] = {};
  for (int i = 0; i < 3; ++i) {
    std::string_view field = text.substr(11 + 3 * static_cast<size_t>(i), 2);
    auto [ptr, ec] = std::from_chars(field.data(), field.data() + 2, parts[i]);
    if (ec != std::errc() || ptr != field.data() + 2) return bad();
  }
  if (parts[0] > 23 || parts[1] > 59 || parts[2] > 59) return bad();
  return midnightOf(*date) + parts[0] * 3600 + parts[1] * 60 + parts[2];
}

std::string decimalText(double value, int places) { return fmt::format("{:.{}f}", value, places); }

const std::vector<Workshop>& workshops() {
  static const std::vector<Workshop> list = {
      {"MACH", "MACH-CNC-", 16, true,
       {{"OP010", "HSG-2201", 0.85, 3}, {"OP020", "HSG-2201", 1.20, 3}, {"OP010", "HSG-2202", 0.90, 2},
        {"OP020", "HSG-2202", 1.25, 2}, {"OP030", "SHF-1101", 0.60, 2}}},
      {"MOLD", "MOLD-IMM-", 12, true,
       {{"MLD-INJ", "CVR-3105", 0.35, 4}, {"MLD-INJ", "CVR-3106", 0.38, 3}, {"MLD-INJ", "CLP-0420", 0.22, 2},
        {"MLD-TRM", "CVR-3105", 0.12, 1}}},
      {"ASSY", "ASSY-LINE-", 6, false,
       {{"ASY-010", "ASM-5001", 2.40, 4}, {"ASY-010", "ASM-5002", 2.60, 2}, {"ASY-020", "SUB-4100", 1.10, 2},
        {"ASY-030", "ASM-5001", 0.50, 1}}},
  };
  return list;
}

double presence(std::string_view day_type) {
  if (day_type == "NORMAL") return 0.92;
  if (day_type == "OT") return 0.85;
  if (day_type == "REST") return 0.60;
  return 0.40;  // HOLIDAY: a skeleton crew on triple pay
}

std::string badgeText(int number) { return fmt::format("B{:06}", number); }
std::string employeeNo(int index) { return fmt::format("E{}", 10001 + index); }
std::string crmUserId(int index) { return fmt::format("0055g00000AbCd{}AAV", static_cast<char>('E' + index)); }

std::string salesforceId(std::string_view prefix, int64_t number) {
  static constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::string tail(8, '0');
  for (int i = 7; i >= 0 && number > 0; --i) {
    tail[static_cast<size_t>(i)] = kDigits[number % 36];
    number /= 36;
  }
  return std::string(prefix) + tail;
}

}  // namespace dutybridge::sim
