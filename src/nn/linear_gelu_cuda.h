// File: src/nn/linear_gelu_cuda.h
// Purpose: the fused float16 linear + exact-GELU tensor-core kernel (linear_gelu_cuda.cu) behind
// nn::linear_act(x, w, b, Activation::kGELU) on CUDA (internal to um_nn; the GPU tests include it
// to check which inputs take it). y = gelu(x @ W^T + b): bias and the exact erf GELU on the float32
// accumulator, one rounding to float16, no separate activation pass (cuBLASLt's GELU epilogue is
// the tanh approximation, which the models must not use).
// Usage (linear_cuda.cu):
//   if (act == Activation::kGELU && linear_gelu_f16_supported(x, w, b))
//     return linear_gelu_f16_cuda(x, w, b);
#pragma once

#include "core/tensor.h"

namespace um::nn::detail {

// True when the fused kernel takes these operands (checks metadata only, never the data):
// float16 CUDA tensors; x [..., K] with a contiguous last dim, leading dims that collapse into one
// row stride that is a multiple of 8 elements, at least one row, and a 16-byte aligned start;
// weight [N, K] contiguous and 16-byte aligned; bias undefined or a contiguous float16 [N];
// K % 8 == 0 and N % 8 == 0 (both > 0). Anything else (and every argument error) is left to the
// general path, which reports errors.
bool linear_gelu_f16_supported(const Tensor& x, const Tensor& weight, const Tensor& bias);

// gelu(x @ weight^T + bias) as [..., N] contiguous float16 on the current stream (no host sync,
// no allocation besides the output). Precondition: linear_gelu_f16_supported(x, weight, bias).
Tensor linear_gelu_f16_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias);

}  // namespace um::nn::detail
