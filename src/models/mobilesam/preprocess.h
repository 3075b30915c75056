// File: src/models/mobilesam/preprocess.h
// Purpose: MobileSAM's image preprocessing, as segment_anything's predictor does it:
//   1. ResizeLongestSide(1024): the long side becomes 1024, the other int(x * scale + 0.5), by
//      Pillow's antialiased bilinear resize to uint8 (torchvision resize on a PIL image);
//   2. (x - mean) / std with mean (123.675, 116.28, 103.53), std (58.395, 57.12, 57.375);
//   3. zero padding on the bottom/right to 1024 x 1024.
// Gray frames are replicated to RGB (what the original system fed the model); RGBA drops alpha.
// Usage:
//   UM_ASSIGN_OR_RETURN(Tensor rgb, frame_to_rgb(frame));        // uint8 [H, W, 3]
//   InputGeometry g = input_geometry(frame.height, frame.width);
//   Tensor resized = resize_longest_side(rgb, g);                 // uint8 [1, 3, h, w]
//   Tensor input = normalize_and_pad(resized);                     // float32 [1, 3, 1024, 1024]
#pragma once

#include <cstdint>

#include "core/status.h"
#include "core/tensor.h"
#include "io/image.h"

namespace um::mobilesam {

constexpr int64_t kImageSize = 1024;

// Frame size and the size after ResizeLongestSide (before padding).
struct InputGeometry {
  int64_t orig_h = 0, orig_w = 0;
  int64_t input_h = 0, input_w = 0;
};
// get_preprocess_shape: scale = target / max(h, w); size = int(x * scale + 0.5) (in double).
InputGeometry input_geometry(int64_t h, int64_t w, int64_t target = kImageSize);

// Checks the frame (non-empty, 1/3/4 channels, pixel count consistent) and returns uint8
// [H, W, 3]. Errors: kInvalidArgument naming the problem.
Result<Tensor> frame_to_rgb(const io::Image& frame);
// uint8 [H, W, 3] -> uint8 [1, 3, input_h, input_w] (the fixture's `resized_rgb`).
Tensor resize_longest_side(const Tensor& rgb_hwc, const InputGeometry& g);
// uint8 [1, 3, h, w] -> float32 [1, 3, size, size], normalised then zero-padded.
Tensor normalize_and_pad(const Tensor& resized_nchw, int64_t size = kImageSize);

}  // namespace um::mobilesam
