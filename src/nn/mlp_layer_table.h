// File: src/nn/mlp_layer_table.h
// Purpose: the layer table the MLP kernels (grouped_mlp_cuda.cu, mlp_cuda.cu) take by value: each
// layer's weight and bias pointers and widths, built once on the host from the op's tensors.
// Internal to um_nn's CUDA files.
// Usage:
//   const MlpLayerArgs a = mlp_layer_args(x.size(-1), weights, biases);
//   kernel<<<...>>>(..., a.table, ...);  // a.held keeps any contiguous copy alive until then
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "nn/ops_mlp.h"

namespace um::nn::detail {

struct MlpLayerTable {
  const void* w[kGroupedMlpMaxLayers];  // [..., out, in], contiguous
  const void* b[kGroupedMlpMaxLayers];  // [..., out], contiguous, or nullptr
  int in[kGroupedMlpMaxLayers];
  int out[kGroupedMlpMaxLayers];
  int n;
};

struct MlpLayerArgs {
  MlpLayerTable table{};
  std::vector<Tensor> held;  // contiguous copies of strided caller tensors, if any
  int64_t max_width = 0;     // the widest of the input and every layer output
  bool vec = true;           // every weight row whole 16-byte units on a 16-byte boundary
};

// weights[i] [..., out_i, in_i] (checked by the op), biases[i] [..., out_i] or undefined; in0 the
// input width. Models keep their parameters contiguous, so copies happen only for callers that
// pass strided ones.
inline MlpLayerArgs mlp_layer_args(int64_t in0, const std::vector<Tensor>& weights,
                                   const std::vector<Tensor>& biases) {
  MlpLayerArgs a;
  a.table.n = static_cast<int>(weights.size());
  a.held.reserve(2 * weights.size());
  a.max_width = in0;
  for (size_t i = 0; i < weights.size(); ++i) {
    a.held.push_back(weights[i].contiguous());
    a.table.w[i] = a.held.back().raw_data();
    a.table.b[i] = nullptr;
    if (biases[i].defined()) {
      a.held.push_back(biases[i].contiguous());
      a.table.b[i] = a.held.back().raw_data();
    }
    a.table.in[i] = static_cast<int>(weights[i].size(-1));
    a.table.out[i] = static_cast<int>(weights[i].size(-2));
    a.max_width = std::max<int64_t>(a.max_width, a.table.out[i]);
    const int64_t row_bytes =
        a.table.in[i] * static_cast<int64_t>(dtype_size(weights[i].dtype()));
    a.vec = a.vec && row_bytes % 16 == 0 && reinterpret_cast<uintptr_t>(a.table.w[i]) % 16 == 0;
  }
  return a;
}

}  // namespace um::nn::detail
