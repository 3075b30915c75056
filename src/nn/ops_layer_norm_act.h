// File: src/nn/ops_layer_norm_act.h
// Purpose: layer_norm_act, a LayerNorm over the last dim followed by an activation in the same
// pass: SAM's output upscaling on the GPU runs LayerNorm2d + GELU on channels-last pixels
// ([pixels, 64]: layer_norm over the row), one pass over the 4096 x 4 x 64 activations instead of
// two. Same conventions as nn/ops.h (checks throw um::Error naming the op; runs on x's device).
// Precision: CPU = exactly nn::layer_norm then nn::relu / nn::silu / nn::gelu (it runs them).
// CUDA: one warp per row, statistics in float32 (as layer_norm's kernel), the activation applied
// to the float32 normalised value, rounded once (the two-op float16 sequence rounds twice).
// Usage:
//   Tensor y = nn::layer_norm_act(x, w, b, 1e-6f, nn::Activation::kGELU);  // gelu(layer_norm(x))
#pragma once

#include "core/tensor.h"
#include "nn/ops_fused.h"

namespace um::nn {

// x [..., C] (any strides, C >= 1), weight [C], bias [C] (either may be undefined); float32
// (CPU, CUDA) or float16 (CUDA), all of x's dtype and device. Returns act(layer_norm(x))
// contiguous; Activation::kNone gives the plain layer_norm.
Tensor layer_norm_act(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                      Activation act);

#ifdef UM_WITH_CUDA
namespace detail {
// The CUDA implementation (layer_norm_act_cuda.cu); arguments already checked.
Tensor layer_norm_act_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                           Activation act);
}  // namespace detail
#endif

}  // namespace um::nn
