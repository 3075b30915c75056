// File: src/pipeline/model_paths.cpp
// Purpose: bundled model lookup (model_paths.h).
#include "pipeline/model_paths.h"

#include <filesystem>
#include <system_error>

namespace um::pipeline {

std::string resolve_model_path(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (path.empty() || fs::exists(path, ec)) return path;
  const fs::path rel(path);
  if (rel.is_absolute()) return path;
  // Linux: /proc/self/exe names the running binary.
  fs::path dir = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return path;
  dir = dir.parent_path();
  for (int up = 0; up <= 3 && !dir.empty(); ++up, dir = dir.parent_path()) {
    const fs::path candidate = dir / rel;
    if (fs::exists(candidate, ec)) return candidate.string();
    if (dir == dir.parent_path()) break;
  }
  return path;
}

}  // namespace um::pipeline
