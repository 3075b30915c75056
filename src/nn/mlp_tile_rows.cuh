// File: src/nn/mlp_tile_rows.cuh
// Purpose: the first step of both fused MLP kernels (mlp_cuda.cu's FFMA kernel, mlp_tf32_cuda.cu's
// 3xTF32 kernel): a block copies its tile's input rows into shared memory. Internal to um_nn
// (.cu files only).
// Usage (every thread of the block; a __syncthreads() must follow before the rows are read):
//   stage_tile_rows<256, 8>(x, xs0, xs1, row0, nrows, 16, in0, cur, ld);
#pragma once

#include <cstdint>

namespace um::nn::detail {

// Rows row0 .. row0 + tile_rows - 1 of x (element (r, k) at r * xs0 + k * xs1), in0 columns each,
// into dst (row stride ld floats); rows from nrows on (past the end of x) as zeros: computed,
// never written. A thread issues kBatch loads before it stores any: one memory latency per batch,
// not one per element.
template <int kThreads, int kBatch>
__device__ __forceinline__ void stage_tile_rows(const float* __restrict__ x, int64_t xs0,
                                                int64_t xs1, int row0, int nrows, int tile_rows,
                                                int in0, float* dst, int ld) {
  const int staged = tile_rows * in0;
  for (int base = static_cast<int>(threadIdx.x); base < staged; base += kThreads * kBatch) {
    float v[kBatch];
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u * kThreads;
      const int r = i / in0, k = i - r * in0;
      v[u] = i < staged && r < nrows ? x[(row0 + r) * xs0 + k * xs1] : 0.f;
    }
#pragma unroll
    for (int u = 0; u < kBatch; ++u) {
      const int i = base + u * kThreads;
      const int r = i / in0, k = i - r * in0;
      if (i < staged) dst[r * ld + k] = v[u];
    }
  }
}

}  // namespace um::nn::detail
