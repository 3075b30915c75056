// File: src/nn/activation_cuda.cuh
// Purpose: the fused epilogues' activations (nn::Activation of ops_fused.h) as one device
// function (compile-time or run-time choice), and the conv kernels' epilogue (activation, then
// the affine), shared by conv2d_bias_act_cuda.cu, depthwise_conv2d_nhwc_cuda.cu and the own
// conv kernels (conv2d_implicit_gemm_cuda.cu, conv2d_patch_cuda.cu): the same float32
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

// The activation chosen at run time (kernels that take it as an argument: one switch per
// element, negligible next to a conv's reduction).
__device__ __forceinline__ float activate(float v, Activation a) {
  switch (a) {
    case Activation::kReLU: return activate<Activation::kReLU>(v);
    case Activation::kSiLU: return activate<Activation::kSiLU>(v);
    case Activation::kGELU: return activate<Activation::kGELU>(v);
    case Activation::kNone: break;
  }
  return v;
}

// A fused conv's per-call epilogue: act, then scale * v + shift when `affine`.
struct ActAffine {
  Activation act;
  bool affine;
  float scale, shift;
  static ActAffine make(Activation a, float scale, float shift) {
    return {a, scale != 1.f || shift != 0.f, scale, shift};
  }
  __device__ __forceinline__ float operator()(float v) const {
    v = activate(v, act);
    return affine ? scale * v + shift : v;
  }
};

}  // namespace um::nn::detail
