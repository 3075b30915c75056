// File: src/monitor/assets.cpp
// Purpose: lookup in the generated asset table (see assets.h and embed_assets.cmake).
#include "monitor/assets.h"

namespace um::monitor {

const Asset* find_asset(std::string_view url_path) {
  for (size_t i = 0; i < generated::kAssetCount; ++i) {
    if (generated::kAssets[i].path == url_path) return &generated::kAssets[i];
  }
  return nullptr;
}

}  // namespace um::monitor
