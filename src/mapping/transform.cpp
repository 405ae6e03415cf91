#include "src/mapping/transform.h"

#include <fmt/format.h>

namespace dutybridge::mapping {

core::Status MappingTransform::prepare(core::Source& source) {
  if (!mapping_->from_source) return {};
  auto description = source.describe();
  if (!description) return core::fail(description.error());
  if (!*description) {
    return core::fail(core::ErrorKind::InvalidConfig,
                      fmt::format("mapping {} takes its input types from the source (input: from_source), but this "
                                  "source cannot describe its records; declare them in {} (input: {{field: type}})",
                                  mapping_->label(), mapping_->file.string()));
  }
  auto compiled = mapping_->compileFor(**description);
  if (!compiled) {
    return core::fail(core::ErrorKind::InvalidConfig,
                      fmt::format("mapping {} does not fit the source's description:\n{}", mapping_->label(),
                                  compiled.error().format()));
  }
  mapping_ = std::shared_ptr<const Mapping>(std::move(*compiled));
  binding_ = Binding{};
  return {};
}

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
