// File: src/nn/ops_layer_norm_add.h
// Purpose: layer_norm_add, a LayerNorm over the last dim that also returns its output plus a
// same-shaped addend: {y, y + addend}. SAM's two-way transformer post-norms the queries/keys and
// then immediately adds their positional encoding for the next attention
// (`queries = norm(...)`, `q = queries + query_pe`): both results come out of one pass.
// Same conventions as nn/ops.h (checks throw um::Error naming the op; runs on x's device).
// Precision: CPU = exactly nn::layer_norm then nn::add(y, addend) (it runs them: float32 results
// bit-identical to the two ops). CUDA: one warp per row, statistics in float32 (as layer_norm's
// kernel), y rounded to the data dtype, then y + addend from that rounded y (what the two-op
// float16 sequence computes), rounded once.
// Usage:
//   auto [queries, q_pe] = nn::layer_norm_add(attn_out, norm.weight, norm.bias, 1e-5f, query_pe);
#pragma once

#include <utility>

#include "core/tensor.h"

namespace um::nn {

// x [..., C] (any strides), weight [C], bias [C] (either may be undefined: no scale / no shift),
// addend of x's shape (any strides); float32 (CPU, CUDA) or float16 (CUDA), all of x's dtype and
// device. Returns {layer_norm(x), layer_norm(x) + addend}, both contiguous of x's shape.
std::pair<Tensor, Tensor> layer_norm_add(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                         float eps, const Tensor& addend);

#ifdef UM_WITH_CUDA
namespace detail {
// The CUDA implementation (layer_norm_add_cuda.cu); arguments already checked.
std::pair<Tensor, Tensor> layer_norm_add_cuda(const Tensor& x, const Tensor& weight,
                                              const Tensor& bias, float eps, const Tensor& addend);
}  // namespace detail
#endif

}  // namespace um::nn
