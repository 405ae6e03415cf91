#pragma once
// The connector registry: filled once at start-up by registerBuiltinConnectors() (one explicit
// call per connector folder), then read-only and safe to share between threads.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "src/core/connector.h"

namespace dutybridge::core {

class Registry {
 public:
  // A second factory with the same name and direction is a programming error: throws
  // std::logic_error at start-up, so it can never ship.
  void add(std::unique_ptr<SourceFactory> factory);
  void add(std::unique_ptr<SinkFactory> factory);

  const SourceFactory* findSource(std::string_view name) const;
  const SinkFactory* findSink(std::string_view name) const;
  std::vector<std::string> sourceNames() const;
  std::vector<std::string> sinkNames() const;
  // Sources first, then sinks, each sorted by name.
  std::vector<const ConnectorFactory*> all() const;

 private:
  std::map<std::string, std::unique_ptr<SourceFactory>, std::less<>> sources_;
  std::map<std::string, std::unique_ptr<SinkFactory>, std::less<>> sinks_;
};

}  // namespace dutybridge::core
