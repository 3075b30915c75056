// File: src/nn/bilinear_tap_cuda.cuh
// Purpose: the bilinear resampling arithmetic shared by resample_cuda.cu (resize_bilinear) and
// sam_mask_to_frame_cuda.cu (two resizes fused): resample_cpu.cpp's make_taps for one output
// index and its four-tap combination, with explicitly rounded intrinsics (__fmul_rn, __dadd_rn,
// ...) so that nvcc cannot contract a*b+c into an FMA and float32 results equal the CPU's bit for
// bit. One copy, so the two ops cannot drift apart. Internal to um_nn.
#pragma once

#include <cstdint>

namespace um::nn::detail {

// The two source indices of one output index and the weight of the second.
struct BilinearTap {
  int64_t i0, i1;
  float l1;
};

// `scale` is the float the host computed exactly as the CPU does. align_corners=False is
// PyTorch's area_pixel_compute_source_index, in double from the float scale.
__device__ __forceinline__ BilinearTap bilinear_tap(int64_t o, int64_t in, float scale,
                                                    bool align_corners) {
  double src = align_corners
                   ? static_cast<double>(__fmul_rn(scale, static_cast<float>(o)))
                   : __dsub_rn(__dmul_rn(static_cast<double>(scale),
                                         __dadd_rn(static_cast<double>(o), 0.5)),
                               0.5);
  if (src < 0.0) src = 0.0;
  int64_t i0 = static_cast<int64_t>(src);
  if (i0 > in - 1) i0 = in - 1;
  const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
  double l = __dsub_rn(src, static_cast<double>(i0));
  l = l < 0.0 ? 0.0 : (l > 1.0 ? 1.0 : l);
  return {i0, i1, static_cast<float>(l)};
}

// The CPU's combination: ly0 * (lx0 * v00 + lx1 * v01) + ly1 * (lx0 * v10 + lx1 * v11), where
// v<row><col> are the values at (ty.i<row>, tx.i<col>).
__device__ __forceinline__ float bilinear_blend(const BilinearTap& ty, const BilinearTap& tx,
                                                float v00, float v01, float v10, float v11) {
  const float ly1 = ty.l1, ly0 = __fsub_rn(1.f, ly1);
  const float lx1 = tx.l1, lx0 = __fsub_rn(1.f, lx1);
  const float top = __fadd_rn(__fmul_rn(lx0, v00), __fmul_rn(lx1, v01));
  const float bot = __fadd_rn(__fmul_rn(lx0, v10), __fmul_rn(lx1, v11));
  return __fadd_rn(__fmul_rn(ly0, top), __fmul_rn(ly1, bot));
}

}  // namespace um::nn::detail
