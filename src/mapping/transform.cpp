#include "src/mapping/transform.h"

namespace dutybridge::mapping {

void MappingTransform::apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
                             std::vector<core::DeadLetter>& dead_letters) {
  for (const auto& input : inputs) {
    if (binding_.schema != input.schema()) binding_ = mapping_->bind(input.schema());
    if (auto mapped = mapping_->applyInto(input, binding_, clock_, outputs); !mapped) {
      dead_letters.push_back({&input, mapped.error().message});
    }
  }
}

}  // namespace dutybridge::mapping
