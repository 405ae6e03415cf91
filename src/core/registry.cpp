#include "src/core/registry.h"

#include <stdexcept>

namespace dutybridge::core {

void Registry::add(std::unique_ptr<SourceFactory> factory) {
  std::string name(factory->name());
  if (!sources_.emplace(name, std::move(factory)).second) {
    throw std::logic_error("source connector registered twice: " + name);
  }
}

void Registry::add(std::unique_ptr<SinkFactory> factory) {
  std::string name(factory->name());
  if (!sinks_.emplace(name, std::move(factory)).second) {
    throw std::logic_error("sink connector registered twice: " + name);
  }
}

void Registry::add(std::unique_ptr<TableSourceFactory> factory) {
  std::string name(factory->name());
  if (!table_sources_.emplace(name, std::move(factory)).second) {
    throw std::logic_error("table source registered twice: " + name);
  }
}

const TableSourceFactory* Registry::findTableSource(std::string_view name) const {
  auto it = table_sources_.find(name);
  return it == table_sources_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Registry::tableSourceNames() const {
  std::vector<std::string> out;
  for (const auto& [name, factory] : table_sources_) out.push_back(name);
  return out;
}

const SourceFactory* Registry::findSource(std::string_view name) const {
  auto it = sources_.find(name);
  return it == sources_.end() ? nullptr : it->second.get();
}

const SinkFactory* Registry::findSink(std::string_view name) const {
  auto it = sinks_.find(name);
  return it == sinks_.end() ? nullptr : it->second.get();
}

std::vector<std::string> Registry::sourceNames() const {
  std::vector<std::string> out;
  for (const auto& [name, factory] : sources_) out.push_back(name);
  return out;
}

std::vector<std::string> Registry::sinkNames() const {
  std::vector<std::string> out;
  for (const auto& [name, factory] : sinks_) out.push_back(name);
  return out;
}

std::vector<const ConnectorFactory*> Registry::all() const {
  std::vector<const ConnectorFactory*> out;
  for (const auto& [name, factory] : sources_) out.push_back(factory.get());
  for (const auto& [name, factory] : sinks_) out.push_back(factory.get());
  for (const auto& [name, factory] : table_sources_) out.push_back(factory.get());
  return out;
}

void Registry::setDeadLetterRoute(DeadLetterRoute route) {
  if (dead_letter_route_) throw std::logic_error("dead-letter route registered twice: " + route.sink);
  dead_letter_route_ = std::move(route);
}

}  // namespace dutybridge::core
