#include "src/schema/schema_doc.h"

#include <fmt/format.h>

#include <limits>

namespace dutybridge::schema {
namespace {

// A bare '|' would end the table cell.
std::string cell(std::string text) {
  for (size_t at = text.find('|'); at != std::string::npos; at = text.find('|', at + 2)) text.replace(at, 1, "\\|");
  return text;
}

std::string typeText(const core::FieldSpec& field) {
  if (!field.shown_type.empty()) return field.shown_type;
  if (field.type == core::FieldType::Enum) return fmt::format("one of {}", fmt::join(field.choices, ", "));
  return std::string(core::toString(field.type));
}

std::string boundsText(const core::FieldSpec& field) {
  const bool has_min = field.min != std::numeric_limits<int64_t>::min();
  const bool has_max = field.max != std::numeric_limits<int64_t>::max();
  auto show = [&](int64_t v) {
    return field.type == core::FieldType::Duration ? core::formatDuration(v) : std::to_string(v);
  };
  if (has_min && has_max) return fmt::format("{}..{}", show(field.min), show(field.max));
  if (has_min) return ">= " + show(field.min);
  if (has_max) return "<= " + show(field.max);
  return "";
}

void addRows(const core::ConfigSchema& schema, const std::string& prefix, std::string& out) {
  for (const auto& field : schema.fields()) {
    const std::string path = prefix + field.name;
    std::string presence = field.required        ? "**required**"
                           : field.default_value ? "`" + *field.default_value + "`"
                                                 : "";
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", path, cell(typeText(field)), presence, boundsText(field),
                       cell(field.description));
    if (!field.nested) continue;
    switch (field.type) {
      case core::FieldType::ObjectList:
        addRows(*field.nested, path + "[].", out);
        break;
      case core::FieldType::ObjectMap:
        addRows(*field.nested, path + ".<name>.", out);
        break;
      default:
        addRows(*field.nested, path + ".", out);
        break;
    }
  }
}

}  // namespace

std::string markdownKeyTable(const core::ConfigSchema& schema) {
  std::string out = "| key | type | default | bounds | description |\n|---|---|---|---|---|\n";
  addRows(schema, "", out);
  return out;
}

}  // namespace dutybridge::schema
