#pragma once
// Where a pipeline's entries live in the StateStore: the one owner of the key layout, used by
// the pipeline, its committers, the daemon and `dutybridge status`.
//
//   cursor/<pipeline>            the source position (delivery that keeps it in the state store)
//   transform/<pipeline>/<key>   a stateful transform's entries; the transform owns <key>
//                                (mapping::StateSummary reads them for status)
//   health/<pipeline>            {"state": "failed", "kind", "error", "at_unix_ms"} while the
//                                pipeline's last run ended on an error

#include <string>
#include <string_view>

namespace dutybridge::runtime::state_layout {

inline std::string cursorKey(std::string_view pipeline) { return "cursor/" + std::string(pipeline); }
inline std::string transformPrefix(std::string_view pipeline) { return "transform/" + std::string(pipeline) + "/"; }
inline std::string healthKey(std::string_view pipeline) { return "health/" + std::string(pipeline); }

}  // namespace dutybridge::runtime::state_layout
