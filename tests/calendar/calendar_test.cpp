// Plant calendars: what is not a case. Shift patterns, night shifts, DST, day types, period ids
// and bounds, and every load error with its location are scenario files
// (tests/scenarios/calendar/*.test); here: the formatted diagnostic report, instants the
// calendar cannot place, and the generated key table of docs/calendars.md.

#include "src/calendar/calendar.h"

#include <catch2/catch.hpp>
#include <filesystem>

#include "src/schema/schema_doc.h"
#include "tests/support/docs.h"
#include "tests/support/files.h"

using namespace dutybridge;
using namespace dutybridge::calendar;

TEST_CASE("the formatted report quotes the line with a caret", "[calendar]") {
  testing::TempDir dir("calendar-test");
  auto loaded = loadCalendars(dir.write("calendars.yaml",
                                        "calendars:\n  p:\n    time_zone: Europe/Berln\n    shifts: "
                                        "[{code: D, start: \"00:00\", end: \"24:00\"}]\n"));
  REQUIRE_FALSE(loaded);
  std::string text = loaded.error().format();
  CHECK(text.find("calendars.yaml:3:16: error: unknown time zone 'Europe/Berln' (at calendars.p.time_zone)\n"
                  " 3 |     time_zone: Europe/Berln\n"
                  "   |                ^~~~~~~~~~~~\n"
                  "  hint: did you mean 'Europe/Berlin'?\n") != std::string::npos);
}

TEST_CASE("instants outside the years the calendar covers are errors, never a wrong shift", "[calendar]") {
  testing::TempDir dir("calendar-test");
  auto loaded = loadCalendars(dir.write("calendars.yaml",
                                        "calendars:\n  plant-02:\n    time_zone: Europe/Berlin\n"
                                        "    shifts:\n"
                                        "      - {code: D, start: \"08:00\", end: \"20:00\"}\n"
                                        "      - {code: N, start: \"20:00\", end: \"08:00\"}\n"));
  if (!loaded) FAIL(loaded.error().format());
  const Calendar* berlin = (*loaded)->find("plant-02");
  REQUIRE(berlin);
  CHECK_FALSE(berlin->shiftOf(core::Timestamp{INT64_MAX}));
  CHECK_FALSE(berlin->shiftOf(core::Timestamp{INT64_MIN}));
}

TEST_CASE("docs/calendars.md's key table is the schema the loader checks", "[calendar][docs]") {
  testing::checkGeneratedRegion(std::filesystem::path(DUTYBRIDGE_SOURCE_DIR) / "docs/calendars.md", "calendar keys",
                                schema::markdownKeyTable(calendarsFileSchema()));
}
