// File: src/nn/layer_norm_row.cuh
// Purpose: what the warp-per-row LayerNorm kernels share (layer_norm_cuda.cu,
// layer_norm_act_cuda.cu, layer_norm_add_cuda.cu): the row's two-pass float32 statistics, as
// layer_norm_cpu.cpp computes them (mean, then the mean squared deviation), and the normalised
// element with the optional weight and bias. Internal to um_nn.
// Usage (one warp per row, every lane calling):
//   const RowNorm s = warp_row_norm(xr, c, lane, eps);
//   for (int64_t i = lane; i < c; i += 32) yr[i] = from_f<T>(normalized(s, to_f(xr[i]), w, b, i));
#pragma once

#include <cstdint>

#include "nn/cuda_op_util.cuh"

namespace um::nn::detail {

struct RowNorm {
  float mean;
  float inv;  // 1 / sqrt(var + eps)
};

// The statistics of the c values at xr; lane l reads elements l, l + 32, ... All 32 lanes of
// the warp must call it (warp reductions); every lane gets the result.
template <typename T>
__device__ __forceinline__ RowNorm warp_row_norm(const T* xr, int64_t c, int lane, float eps) {
  float sum = 0.f;
  for (int64_t i = lane; i < c; i += 32) sum += to_f(xr[i]);
  const float mean = warp_sum(sum) / static_cast<float>(c);
  float sq = 0.f;
  for (int64_t i = lane; i < c; i += 32) {
    const float dv = to_f(xr[i]) - mean;
    sq += dv * dv;
  }
  const float var = warp_sum(sq) / static_cast<float>(c);
  return {mean, 1.f / sqrtf(var + eps)};
}

// (v - mean) / sqrt(var + eps) * w[i] + b[i] in float32 (w, b null: not applied).
template <typename T>
__device__ __forceinline__ float normalized(const RowNorm& s, float v, const T* w, const T* b,
                                            int64_t i) {
  v = (v - s.mean) * s.inv;
  if (w) v *= to_f(w[i]);
  if (b) v += to_f(b[i]);
  return v;
}

}  // namespace um::nn::detail
