// File: src/pipeline/model_paths.h
// Purpose: where the bundled phantom demo models (models/phantom/, see models/README.md) are
// found, so commands work both from the repository root and from the build directory.
// Usage:
//   std::string ckpt = resolve_model_path(kPhantomDFinePath);   // or the path unchanged
#pragma once

#include <string>

namespace um::pipeline {

inline constexpr const char* kPhantomDFinePath = "models/phantom/dfine_n_phantom.pth";
inline constexpr const char* kPhantomSamPath = "models/phantom/mobilesam_phantom.pt";

// A path that exists as given (absolute, or relative to the working directory) is returned
// unchanged. A relative one that does not is looked up next to the running executable and in
// its parent directories (up to three levels: build/ sits in the repository); the first hit
// wins. If nothing matches, the path is returned unchanged so the caller's error names it.
std::string resolve_model_path(const std::string& path);

}  // namespace um::pipeline
