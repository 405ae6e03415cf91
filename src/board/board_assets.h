#pragma once
// The board's pages, script and style (src/board/assets/), embedded into the binary at build
// time (embed_assets.cmake), so a plant that runs offline needs nothing from anywhere.

#include <string_view>

namespace dutybridge::board {

struct Asset {
  std::string_view name;  // "board.js"
  std::string_view content_type;
  std::string_view body;
};

// nullptr for an unknown name.
const Asset* findAsset(std::string_view name);

}  // namespace dutybridge::board
