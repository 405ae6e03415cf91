#pragma once
// A loaded Mapping as the pipeline's core::Transform. Binds each new source schema once (no
// per-record name lookups). One instance per pipeline thread.
//
// prepare(): a mapping with `input: from_source` is compiled against source.describe() there;
// a source that cannot describe itself, or a mapping that does not type-check against the
// description, is InvalidConfig with every diagnostic in the message. Declared inputs need
// nothing.

#include <memory>

#include "src/core/transform.h"
#include "src/mapping/mapping.h"

namespace dutybridge::mapping {

class MappingTransform final : public core::Transform {
 public:
  MappingTransform(std::shared_ptr<const Mapping> mapping, const core::Clock& clock)
      : mapping_(std::move(mapping)), clock_(clock) {}

  std::string label() const override { return mapping_->label(); }
  core::Status prepare(core::Source& source) override;
  void apply(std::span<const core::Record> inputs, std::vector<core::Record>& outputs,
             std::vector<core::DeadLetter>& dead_letters) override;

 private:
  std::shared_ptr<const Mapping> mapping_;
  const core::Clock& clock_;
  Binding binding_;
};

}  // namespace dutybridge::mapping
