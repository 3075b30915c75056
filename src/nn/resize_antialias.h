// File: src/nn/resize_antialias.h
// Purpose: Pillow's Image.resize(size, Image.BILINEAR) on 8-bit images, bit for bit: the resize
// that segment_anything's ResizeLongestSide applies (torchvision resize of a PIL image), which
// MobileSAM's preprocessing must reproduce to within one grey level.
// What makes it differ from F.interpolate(bilinear):
//   - antialiasing when shrinking: the triangle filter's support is widened by the scale factor
//     (support = 1 * max(in/out, 1)), so every input pixel under the footprint contributes;
//   - two separable passes, horizontal first, each rounded back to uint8 (Pillow's intermediate
//     image is 8-bit too);
//   - fixed-point weights: coefficients normalised in double, then scaled by 2^22 and rounded
//     half away from zero; each output starts at 2^21 (rounding) and is shifted back and clamped.
// Usage:
//   Tensor out = um::nn::resize_bilinear_antialias_u8(image_hwc_u8, 1024, 774);  // [H, W, C]
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace um::nn {

// image: uint8 [H, W, C] (interleaved, any C >= 1, CPU). Returns uint8 [out_h, out_w, C].
// Throws um::Error (kInvalidArgument) on a wrong dtype/rank or a non-positive size.
Tensor resize_bilinear_antialias_u8(const Tensor& image, int64_t out_h, int64_t out_w);

}  // namespace um::nn
