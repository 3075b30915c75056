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
// On a CUDA tensor the same two passes run on the GPU (resize_antialias_cuda.cu) with the same
// integer arithmetic, so the result is identical to the CPU's. The fixed-point weights are
// computed on the host by the same code, uploaded once per (input size, output size) and cached:
// the first call of a size makes one synchronous copy (do it in an un-captured warm-up); later
// calls only queue kernels on um::cuda::current_stream() (no copy, no sync: CUDA-graph safe).
// Usage:
//   Tensor out = um::nn::resize_bilinear_antialias_u8(image_hwc_u8, 1024, 774);  // [H, W, C]
//   Tensor gpu = um::nn::resize_bilinear_antialias_u8(image_on_cuda, 1024, 774);  // on the GPU
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"

namespace um::nn {

// image: uint8 [H, W, C] (interleaved, any C >= 1; any strides, so a permuted [C, H, W] image
// works too), on the CPU or a CUDA device. Returns uint8 [out_h, out_w, C] on the same device.
// Throws um::Error (kInvalidArgument) on a wrong dtype/rank or a non-positive size;
// kFailedPrecondition for a CUDA image in a build without the CUDA backend.
Tensor resize_bilinear_antialias_u8(const Tensor& image, int64_t out_h, int64_t out_w);

namespace detail {

// Internal, shared by the CPU and CUDA paths. The fixed-point taps of one axis, packed per
// output sample o as int32 [first input, count, weight_0 .. weight_{ksize-1}] (weights past count
// are 0), i.e. `out_size * (2 + *ksize)` values.
std::vector<int32_t> antialias_taps_packed(int64_t in_size, int64_t out_size, int64_t* ksize);

// The GPU path (defined only in CUDA builds; called by resize_bilinear_antialias_u8).
Tensor resize_bilinear_antialias_u8_cuda(const Tensor& image, int64_t out_h, int64_t out_w);

}  // namespace detail
}  // namespace um::nn
