#pragma once
// Checks a YAML node against a ConfigSchema and builds the validated ConfigObject, collecting
// every problem into diag::Diagnostics instead of stopping at the first. yaml-cpp stays inside
// src/schema and its users that read YAML (config, calendar, mapping); the checked result is a
// core::ConfigObject.

#include <yaml-cpp/yaml.h>

#include <functional>
#include <string>

#include "src/core/config_schema.h"
#include "src/core/registry.h"
#include "src/diagnostics/diagnostics.h"
#include "src/schema/secrets.h"

namespace dutybridge::schema {

struct ValidationContext {
  std::string file;
  const core::Registry* registry = nullptr;
  const SecretResolver* secrets = nullptr;
  diag::Diagnostics* diagnostics = nullptr;
  // Where a node is, when not simply in `file` (a mapping overlay grafts nodes of another file
  // into its base); unset: locate(node, file, path).
  std::function<core::SourceLocation(const YAML::Node&, const std::string& path)> locator = {};
};

core::SourceLocation locate(const YAML::Node& node, const std::string& file, std::string path);

core::ConfigObject validateObject(const YAML::Node& node, const core::ConfigSchema& schema,
                                  const std::string& path, ValidationContext& context);

// Reports every key that a YAML mapping repeats, anywhere in the document, at the repetition
// (yaml-cpp keeps one of the two values silently). For files the schema validator does not walk
// whole: mapping files, calendars, the duty catalog.
void reportDuplicateKeys(const YAML::Node& root, const std::string& file, diag::Diagnostics& diagnostics);

// Validates a standalone connector config (`type` plus the factory's fields).
core::ConfigObject validateConnector(const YAML::Node& node, core::Direction direction,
                                     const std::string& path, ValidationContext& context);

}  // namespace dutybridge::schema
