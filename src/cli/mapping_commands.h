#pragma once
// `dutybridge map` and `dutybridge test`: run mappings offline.

#include <string>
#include <vector>

namespace dutybridge::cli {

// map -m MAPPING -i INPUT.jsonl [--now TIME]: emitted records as JSON lines on stdout, dead
// letters on stderr. Exit 0 when every input mapped, 1 when any went to the dead-letter path,
// 2 on usage errors or an invalid mapping.
int runMapCommand(const std::vector<std::string>& args);

// test [PATH...]: loads every *.yaml mapping under the paths (default: mappings/), runs its
// embedded tests, prints each failure as a diff. Exit 0 when all pass, 1 otherwise.
int runTestCommand(const std::vector<std::string>& args);

}  // namespace dutybridge::cli
