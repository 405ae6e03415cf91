#include "src/core/sink.h"

#include <unordered_map>

namespace dutybridge::core {

std::vector<std::string> recordIdentities(std::span<const Record> records) {
  std::vector<std::string> out;
  out.reserve(records.size());
  std::unordered_map<std::string_view, size_t> seen;
  seen.reserve(records.size());
  for (const auto& record : records) {
    const std::string& position = record.meta.source_position;
    size_t occurrence = seen[position]++;
    out.push_back(position + "#" + std::to_string(occurrence));
  }
  return out;
}

}  // namespace dutybridge::core
