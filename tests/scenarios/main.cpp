// dutybridge_scenarios <source dir> <file.test>...: runs scenario files (tests/scenarios/README.md).
// The domain is the file's folder: calendar/, aggregate/, aggregate_mapping/ or pipeline/. Exit status 1 when a step
// failed or a file could not be run.

#include <filesystem>
#include <iostream>

#include "src/common/log.h"
#include "tests/scenarios/scenario.h"

using namespace dutybridge::scenarios;

int main(int argc, char** argv) {
  if (argc < 3) {
    std::cerr << "usage: dutybridge_scenarios <source dir> <file.test>...\n";
    return 2;
  }
  // The pipeline's log lines would bury the runner's report; errors still show.
  dutybridge::log::setLevel(dutybridge::log::Level::Error);
  const std::filesystem::path source_dir = argv[1];
  int failed = 0;
  for (int i = 2; i < argc; ++i) {
    std::filesystem::path file = argv[i];
    std::error_code ec;
    auto relative = std::filesystem::relative(file, source_dir, ec);
    std::string display = ec || relative.empty() ? file.string() : relative.string();
    std::string kind = file.parent_path().filename().string();
    std::unique_ptr<Domain> domain;
    if (kind == "calendar") domain = makeCalendarDomain(source_dir);
    if (kind == "aggregate") domain = makeAggregateDomain();
    if (kind == "aggregate_mapping") domain = makeAggregateMappingDomain(source_dir);
    if (kind == "pipeline") domain = makePipelineDomain();
    if (!domain) {
      std::cout << display << ": no domain for the folder '" << kind
                << "' (calendar, aggregate, aggregate_mapping, pipeline)\n";
      ++failed;
      continue;
    }
    failed += runScenario(file, display, *domain);
  }
  return failed == 0 ? 0 : 1;
}
