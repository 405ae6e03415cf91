#pragma once
// The demo factory's fixed catalog (departments, positions, workshops, routings, materials) and
// the helpers the init and run commands share: a seedable random generator whose sequence is the
// same on every platform, keyed draws for decisions that must come out the same in both commands
// (whether and when a clerk submits a shift's parts count), and plant wall-clock time.
//
// Plant time is local wall-clock seconds "as if UTC" (Asia/Shanghai for plant-01), the form every
// timestamp column of the demo databases holds: 'YYYY-MM-DD HH:MM:SS'.
//
// Threading: Rng is not shared between threads; everything else is immutable.

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/time.h"

namespace dutybridge::sim {

// splitmix64: tiny, fast, and its output is fixed by the algorithm (std:: distributions are not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  // [0, 1)
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  // [lo, hi], inclusive.
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  bool chance(double p) { return uniform() < p; }
  double normal(double mean, double sd) {
    double u1 = 1.0 - uniform();
    double u2 = uniform();
    return mean + sd * std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  int poisson(double lambda) {
    if (lambda <= 0) return 0;
    double limit = std::exp(-lambda), product = uniform();
    int k = 0;
    while (product > limit) {
      ++k;
      product *= uniform();
    }
    return k;
  }
  template <class T>
  const T& pick(const std::vector<T>& items) {
    return items[static_cast<size_t>(next() % items.size())];
  }

 private:
  uint64_t state_;
};

// A generator for one named decision: the same seed and key always draw the same numbers.
Rng keyedRng(uint64_t seed, std::string_view key);

// Plant wall-clock seconds since 1970-01-01 00:00 local.
using PlantTime = int64_t;
inline constexpr int64_t kDay = 86400;

std::string formatPlantTime(PlantTime t);         // "2025-03-14 08:05:00"
std::string formatPlantDate(core::Date d);        // "2025-03-14"
core::Result<PlantTime> parsePlantTime(std::string_view text);  // "YYYY-MM-DD HH:MM:SS"
inline core::Date plantDateOf(PlantTime t) {
  return core::Date{static_cast<int32_t>(t >= 0 ? t / kDay : (t - kDay + 1) / kDay)};
}
inline PlantTime midnightOf(core::Date d) { return static_cast<PlantTime>(d.days) * kDay; }
// Decimal text with `places` digits: 12 -> "12.000" (places 3).
std::string decimalText(double value, int places);

struct Department {
  std::string_view code, title;
};
inline constexpr Department kDepartments[] = {
    {"MKT", "Marketing"},          {"SALES", "Sales"},           {"PD", "Project development"},
    {"PUR", "Purchasing"},         {"RD", "R&D institute"},      {"MOULD", "Mould shop"},
    {"MACH", "Machining"},         {"MOLD", "Moulding"},         {"ASSY", "Assembly"},
    {"QA", "Quality"},             {"PM", "Production management"}, {"HR", "Human resources"},
    {"FIN", "Finance"},            {"GO", "General office"},
};

struct Position {
  std::string_view code, title, department;
};
inline constexpr Position kPositions[] = {
    {"TEAM_LEADER", "Team leader", "PM"},
    {"OPERATOR", "Production operator", "PM"},
    {"CLERK", "Production clerk", "PM"},
    {"PURCHASING_MANAGER", "Purchasing manager", "PUR"},
    {"CHANNEL_SALES", "Channel sales", "SALES"},
    {"WORKSHOP_MANAGER", "Workshop manager", "PM"},
    {"PRODUCTION_PLANNER", "Production planner", "PM"},
    {"ENGINEER", "Engineer", "RD"},
    {"PROJECT_MANAGER", "Project manager", "PD"},
    {"TOOLMAKER", "Toolmaker", "MOULD"},
    {"QA_INSPECTOR", "Quality inspector", "QA"},
    {"BUYER", "Buyer", "PUR"},
    {"SALES_REPRESENTATIVE", "Sales representative", "SALES"},
    {"MARKETING_SPECIALIST", "Marketing specialist", "MKT"},
    {"HR_SPECIALIST", "HR specialist", "HR"},
    {"ACCOUNTANT", "Accountant", "FIN"},
    {"OFFICE_ADMINISTRATOR", "Office administrator", "GO"},
    {"CNC_CELL_OPERATOR", "CNC cell operator", "MACH"},
};

// Staff without duties, spread over the departments in these proportions.
struct StaffShare {
  std::string_view department, position;
  int weight;
};
inline constexpr StaffShare kOtherStaff[] = {
    {"RD", "ENGINEER", 8},           {"PD", "PROJECT_MANAGER", 4},   {"MOULD", "TOOLMAKER", 6},
    {"QA", "QA_INSPECTOR", 8},       {"PUR", "BUYER", 3},            {"SALES", "SALES_REPRESENTATIVE", 4},
    {"MKT", "MARKETING_SPECIALIST", 3}, {"HR", "HR_SPECIALIST", 3},  {"FIN", "ACCOUNTANT", 3},
    {"GO", "OFFICE_ADMINISTRATOR", 3}, {"PM", "PRODUCTION_PLANNER", 3},
};

struct Route {
  std::string_view operation, product;
  double rate_cny, weight;
};
struct Workshop {
  std::string_view code;
  std::string_view station_prefix;
  int stations;
  bool machine_time;  // machining and moulding book machine minutes, assembly does not
  std::vector<Route> routes;
};
const std::vector<Workshop>& workshops();
// The shift code worked by team k (1-based) of every workshop: T1 A, T2 B, T3 C.
inline constexpr std::string_view kTeamShift[] = {"A", "B", "C"};

struct ScrapPenalty {
  std::string_view operation_product;
  std::string_view penalty;
};
inline constexpr ScrapPenalty kScrapPenalties[] = {
    {"OP010|HSG-2201", "1.50"}, {"OP020|HSG-2201", "2.00"}, {"ASY-010|ASM-5001", "4.00"},
    {"ASY-010|ASM-5002", "4.20"}, {"*", "0.50"},
};
struct OperationSkill {
  std::string_view operation, skill;
};
// MLD-TRM (manual trimming) maps to no skill on purpose: its reports are evidence of nothing.
inline constexpr OperationSkill kOperationSkills[] = {
    {"OP010", "SK.CNC-TURNING"},          {"OP020", "SK.CNC-MILLING"},   {"OP030", "SK.GRINDING"},
    {"MLD-INJ", "SK.INJECTION-MOULDING"}, {"ASY-010", "SK.FINAL-ASSEMBLY"}, {"ASY-020", "SK.SUB-ASSEMBLY"},
    {"ASY-030", "SK.FUNCTION-TEST"},
};

// The HR master's certificates (valid_years 0: no expiry) and trainings (hours per completion).
struct QualificationSpec {
  std::string_view code;
  int valid_years;
};
inline constexpr QualificationSpec kQualifications[] = {
    {"Q.FORKLIFT", 4}, {"Q.ELECTRICIAN-LV", 6}, {"Q.CRANE", 4}, {"Q.IATF-AUDITOR", 0}};
struct TrainingSpec {
  std::string_view code, hours;
};
inline constexpr TrainingSpec kTrainings[] = {
    {"T.SAFETY-INDUCTION", "8.0"}, {"T.5S", "4.0"},  {"T.FIRST-ARTICLE", "6.0"}, {"T.LOTO", "4.0"}, {"T.SPC", "8.0"},
    {"T.TEAM-LEADER", "24.0"},     {"T.ESD", "2.0"},
};

// Team output target per 8-hour shift (KPI.TL.DAILY_GOOD_OUTPUT from 2025-04-01) and the labour
// scrap rate that puts about half the operator shifts above the 98.5 % first-pass-yield target.
inline constexpr double kTeamShiftTarget = 1300.0;
inline constexpr double kLaborScrapRate = 0.019;
inline constexpr double kMaterialScrapRate = 0.008;
// Share of a team present on a shift, by day type.
double presence(std::string_view day_type);

inline constexpr int kPurchasingGroups = 3;    // P01..P03
inline constexpr int kChannelSales = 8;
inline constexpr int kSuppliers = 25;
inline constexpr int kMaterials = 40;
inline constexpr int kPartnerAccounts = 30;
inline constexpr int kCustomerAccounts = 400;

std::string badgeText(int number);       // B000123
std::string employeeNo(int index);       // index 0 -> E10001
std::string crmUserId(int index);        // 0055g00000AbCdEAAV for index 0
std::string salesforceId(std::string_view prefix, int64_t number);  // prefix + 8 base-36 digits

}  // namespace dutybridge::sim
