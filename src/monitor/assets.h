// File: src/monitor/assets.h
// Purpose: the dashboard's page assets, compiled into the binary. The table is generated at
// build time by embed_assets.cmake from src/monitor/assets/* and the Debian package
// libjs-chart.js (/usr/share/javascript/chart.js/chart.min.js), so the page works offline and
// the binary needs no files next to it.
// Usage: if (const Asset* a = find_asset("/assets/dashboard.js")) send(a->data, a->content_type);
#pragma once

#include <cstddef>
#include <string_view>

namespace um::monitor {

struct Asset {
  std::string_view path;          // URL path, e.g. "/" or "/assets/chart.min.js"
  std::string_view content_type;  // e.g. "application/javascript; charset=utf-8"
  std::string_view data;
};

// nullptr when no asset has that URL path.
const Asset* find_asset(std::string_view url_path);

namespace generated {
// Defined in the generated monitor_assets.cpp.
extern const Asset kAssets[];
extern const size_t kAssetCount;
}  // namespace generated

}  // namespace um::monitor
