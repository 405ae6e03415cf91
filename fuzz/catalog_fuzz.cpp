// libFuzzer target for the duty catalog (config/duties.yaml): YAML reading, KPI definitions,
// periods, aggregations, units, and targets by date; then the target in force on a few days.
// docs/fuzzing.md has the build and run commands.
//
// The input is a whole catalog file. Contracts besides sanitizer reports: a refused file says
// why; a loaded catalog has a plant and a time zone, and every KPI a known period.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string_view>

#include "fuzz/fuzz_support.h"
#include "src/calendar/calendar.h"
#include "src/core/time.h"
#include "src/mapping/contracts.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using dutybridge::core::Date;
  using dutybridge::core::dateFromYmd;
  using dutybridge::fuzz::contractBroken;
  auto file = dutybridge::fuzz::writeFile("duties.yaml", std::string_view(reinterpret_cast<const char*>(data), size));
  auto catalog = dutybridge::mapping::loadDutyCatalog(file);
  if (!catalog) {
    if (catalog.error().empty()) contractBroken("a refused catalog without a diagnostic");
    (void)catalog.error().format();
    return 0;
  }
  if (catalog->plant.empty() || catalog->time_zone.empty()) contractBroken("a catalog loaded without plant or zone");
  const Date days[] = {dateFromYmd(2025, 3, 14), dateFromYmd(1970, 1, 1), dateFromYmd(9999, 12, 31),
                       Date{-static_cast<int32_t>(dutybridge::core::kMaxDateDays)}, Date{static_cast<int32_t>(dutybridge::core::kMaxDateDays)}};
  for (const auto& [code, kpi] : catalog->kpis) {
    if (!dutybridge::calendar::parsePeriodType(kpi.period)) contractBroken("a KPI loaded with an unknown period");
    for (Date day : days) {
      if (auto target = kpi.targetOn(day)) (void)target->toString();
    }
  }
  return 0;
}
