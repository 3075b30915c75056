// File: src/nn/activation_cuda.cuh
// Purpose: the fused epilogues' activations (nn::Activation of ops_fused.h) as one device
// function, shared by conv2d_bias_act_cuda.cu and depthwise_conv2d_nhwc_cuda.cu: the same float32
// expressions as the CPU reference (conv2d_bias_act_cpu.cpp) and the unary kernels they replace
// (GELU is the exact erf form, as torch.nn.GELU()). Internal to um_nn.
#pragma once

#include "nn/ops_fused.h"

namespace um::nn::detail {

template <Activation A>
__device__ __forceinline__ float activate(float v) {
  if constexpr (A == Activation::kReLU) {
    return v > 0.f ? v : 0.f;
  } else if constexpr (A == Activation::kSiLU) {
    return v / (1.f + expf(-v));
  } else if constexpr (A == Activation::kGELU) {
    return 0.5f * v * (1.f + erff(v * 0.70710678118654752440f));  // float(M_SQRT1_2)
  } else {
    return v;
  }
}

}  // namespace um::nn::detail
