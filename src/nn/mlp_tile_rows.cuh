// File: src/nn/mlp_tile_rows.cuh
// Purpose: what both fused MLP kernels (mlp_cuda.cu's FFMA kernel, mlp_tf32_cuda.cu's 3xTF32
// kernel) share around their 16-row tiles: on the host, the checked operands of a launch (x's
// rows, the layer table, y allocated, the raw pointers and strides); on the device, a block
// copying its tile's input rows into shared memory. Internal to um_nn (.cu files only).
// Usage:
//   const MlpRowsOperands o = mlp_rows_operands("mlp", "the fused kernel", x, w, b, residual);
//   if (o.rows == 0) return o.y;
//   kernel<<<...>>>(o.x, o.xs0, o.xs1, o.rows, o.layers.table, ld, o.res, o.rs0, o.rs1, o.y_data);
//   // in the kernel (every thread of the block; a __syncthreads() must follow):
//   stage_tile_rows<256, 8>(x, xs0, xs1, row0, nrows, 16, in0, cur, ld);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "nn/cuda_op_util.cuh"
#include "nn/mlp_layer_table.h"
#include "nn/ops_mlp.h"

namespace um::nn::detail {

// A fused MLP launch's operands: x [rows, in] float32 (any strides), residual [rows, out] (any
// strides) or none, y [rows, out] contiguous and new.
struct MlpRowsOperands {
  MlpLayerArgs layers;  // keeps any contiguous copy of a strided parameter alive until the launch
  Tensor y;
  int rows = 0;
  const float* x = nullptr;
  int64_t xs0 = 0, xs1 = 0;
  const float* res = nullptr;  // nullptr without a residual
  int64_t rs0 = 0, rs1 = 0;
  float* y_data = nullptr;
};

// The checks both kernels need beyond nn::mlp's (which checked shapes, dtypes and devices): x
// float32 [rows, in] on CUDA and every width within the tile; `kernel` names the kernel in the
// error ("the fused kernel").
inline MlpRowsOperands mlp_rows_operands(const char* op, const char* kernel, const Tensor& x,
                                         const std::vector<Tensor>& weights,
                                         const std::vector<Tensor>& biases,
                                         const Tensor& residual) {
  require_cuda_float(op, x, "x");
  if (x.dtype() != DType::kF32 || x.dim() != 2) {
    fail(op, std::string(kernel) + " takes float32 [rows, in]");
  }
  MlpRowsOperands o;
  // weights [out, in] per layer (mlp_layer_table.h); float32, so vec = every in % 4 == 0.
  o.layers = mlp_layer_args(x.size(1), weights, biases);
  if (o.layers.max_width > kMlpFusedMaxWidth) {
    fail(op, "a layer is wider than the fused kernel's tile");
  }
  const MlpLayerTable& t = o.layers.table;
  o.y = Tensor::empty({x.size(0), t.out[t.n - 1]}, DType::kF32, x.device());
  o.rows = static_cast<int>(x.size(0));
  o.x = static_cast<const float*>(x.raw_data());
  o.xs0 = x.strides()[0];
  o.xs1 = x.strides()[1];
  if (residual.defined()) {
    o.res = static_cast<const float*>(residual.raw_data());
    o.rs0 = residual.strides()[0];
    o.rs1 = residual.strides()[1];
  }
  o.y_data = static_cast<float*>(o.y.raw_data());
  return o;
}

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
