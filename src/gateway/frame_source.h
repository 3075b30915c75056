// File: src/gateway/frame_source.h
// Purpose: where the PLUS simulator's images come from: the built-in moving phantom
// (pipeline/phantom_stream.h: bone surface with shadow and speckle, drifting smoothly, with
// bone-free episodes) or a folder of PNG/JPEG frames replayed in name order.
// Usage:
//   UM_ASSIGN_OR_RETURN(auto src, make_frame_source("phantom", {.size = {558, 422}}));
//   UM_ASSIGN_OR_RETURN(std::optional<SourceImage> img, src->next());   // nullopt: folder done
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/status.h"
#include "pipeline/phantom.h"

namespace um::gateway {

struct SourceImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;  // gray, row-major
};

struct FrameSourceOptions {
  pipeline::FrameSize size{558, 422};  // phantom frame size (H x W)
  bool loop = true;                    // folder: start again after the last file
  uint64_t seed = 1;                   // phantom motion and speckle
  double fps = 25.0;                   // phantom motion is scaled for this rate
};

class FrameSource {
 public:
  virtual ~FrameSource() = default;
  // The next image; nullopt when a non-looping folder is exhausted. kDataLoss etc. for a file
  // that cannot be read (the message names it).
  virtual Result<std::optional<SourceImage>> next() = 0;
  // Changes the size of the following frames (phantom only; folders keep their files' sizes).
  virtual Status set_size(pipeline::FrameSize size) = 0;
  virtual std::string description() const = 0;
};

// "phantom" -> the moving phantom; anything else is a folder path holding *.png/*.jpg/*.jpeg
// (kNotFound when missing or empty).
Result<std::unique_ptr<FrameSource>> make_frame_source(const std::string& source,
                                                       const FrameSourceOptions& options);

// Parses "HxW" (e.g. "558x422"), each side 128..2048. kInvalidArgument names the problem.
Result<pipeline::FrameSize> parse_frame_size(const std::string& text);

}  // namespace um::gateway
