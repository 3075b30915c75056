// File: src/pipeline/frame.cpp
// Purpose: validation and naming helpers for the frame/result structs (frame.h).
#include "pipeline/frame.h"

#include <string>

namespace um::pipeline {

Status validate_frame(const Frame& frame) {
  if (frame.width < kMinFrameSide || frame.width > kMaxFrameSide || frame.height < kMinFrameSide ||
      frame.height > kMaxFrameSide) {
    return out_of_range("frame " + std::to_string(frame.id) + " is " +
                        std::to_string(frame.width) + "x" + std::to_string(frame.height) +
                        " (W x H); each side must be in [" + std::to_string(kMinFrameSide) + ", " +
                        std::to_string(kMaxFrameSide) + "]");
  }
  const size_t expected = static_cast<size_t>(frame.width) * static_cast<size_t>(frame.height);
  if (frame.pixels.size() != expected) {
    return invalid_argument("frame " + std::to_string(frame.id) + " holds " +
                            std::to_string(frame.pixels.size()) + " bytes, expected " +
                            std::to_string(expected) + " (" + std::to_string(frame.width) + "x" +
                            std::to_string(frame.height) + " gray)");
  }
  return Status::Ok();
}

const char* visibility_state_name(VisibilityState state) {
  switch (state) {
    case VisibilityState::kVisible:
      return "VISIBLE";
    case VisibilityState::kRelocalizing:
      return "RELOCALIZING";
    case VisibilityState::kLost:
      return "LOST";
  }
  return "UNKNOWN";
}

}  // namespace um::pipeline
