// File: src/nn/conv2d_bias_act_cuda.cu
// Purpose: nn::conv2d_bias_act (and _residual) on the GPU (nn/ops_fused.h). Two ways:
// - the own kernels (conv2d_implicit_gemm_cuda.h) where they support the conv and OwnConvPolicy
//   picks them: conv, bias, activation, affine and residual in ONE kernel (depthwise convs take
//   the own direct kernel under kAuto and kOwn alike);
// - else the cuDNN convolution of conv2d_cuda.cu WITHOUT its bias, then one epilogue kernel over
//   the NCHW output that adds the per-channel bias, applies the activation and the affine, adds
//   the residual (if any) in float32 and rounds once to the output dtype (instead of conv2d's
//   bias pass + a separate activation/affine pass).
// Epilogue layout: like conv2d_cuda.cu's add_bias_flat_kernel, one flat grid-stride loop over
// the output in units of 16 bytes (8 halfs / 4 floats) when y is 16-byte aligned and every (n, c)
// plane is a whole number of units, else of single elements; unit i lies in plane
// i / units_per_plane, whose channel is plane % channels. 32-bit indices when the unit count is
// below 2^30 (no overflow of i + the grid stride), 64-bit otherwise.
// Graph capture: conv2d_cuda's contract (plans on the first call, pool workspace, current stream).
#include <cuda_fp16.h>

#include <string>

#include "nn/activation_cuda.cuh"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cuda_op_util.cuh"
#include "nn/cudnn_context.h"
#include "nn/ops_cuda.h"
#include "nn/ops_fused.h"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "conv2d_bias_act";

// The epilogue's per-call values: the affine, and the residual (contiguous like y, or null).
template <typename T>
struct Epilogue {
  bool affine;
  float scale, shift;
  const T* residual;
};

template <typename T, int kVec, typename I, Activation A>
__global__ void bias_act_kernel(T* __restrict__ y, const T* __restrict__ bias, I units,
                                I units_per_plane, I channels, Epilogue<T> e) {
  auto* yv = reinterpret_cast<VecPack<T, kVec>*>(y);
  const auto* rv = reinterpret_cast<const VecPack<T, kVec>*>(e.residual);
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
       i < units; i += static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x)) {
    const float b = bias != nullptr ? to_f(bias[(i / units_per_plane) % channels]) : 0.f;
    VecPack<T, kVec> p = yv[i];
    VecPack<T, kVec> r{};
    if (rv != nullptr) r = rv[i];
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      float v = to_f(p.v[k]) + b;
      v = activate<A>(v);
      if (e.affine) v = e.scale * v + e.shift;
      if (rv != nullptr) v += to_f(r.v[k]);
      p.v[k] = from_f<T>(v);
    }
    yv[i] = p;
  }
}

template <typename T, int kVec, Activation A>
void launch_epilogue(T* y, const T* bias, int64_t units, int64_t per_plane, int64_t channels,
                     const Epilogue<T>& e) {
  constexpr int kThreads = 256;
  const int blocks = blocks_for(units, kThreads);
  if (units < (int64_t{1} << 30)) {
    bias_act_kernel<T, kVec, int32_t, A><<<blocks, kThreads, 0, stream()>>>(
        y, bias, static_cast<int32_t>(units), static_cast<int32_t>(per_plane),
        static_cast<int32_t>(channels), e);
  } else {
    bias_act_kernel<T, kVec, int64_t, A><<<blocks, kThreads, 0, stream()>>>(
        y, bias, units, per_plane, channels, e);
  }
}

template <typename T, int kVec>
void launch_for_act(Activation act, T* y, const T* bias, int64_t units, int64_t per_plane,
                    int64_t channels, const Epilogue<T>& e) {
  switch (act) {
    case Activation::kNone:
      launch_epilogue<T, kVec, Activation::kNone>(y, bias, units, per_plane, channels, e);
      break;
    case Activation::kReLU:
      launch_epilogue<T, kVec, Activation::kReLU>(y, bias, units, per_plane, channels, e);
      break;
    case Activation::kSiLU:
      launch_epilogue<T, kVec, Activation::kSiLU>(y, bias, units, per_plane, channels, e);
      break;
    case Activation::kGELU:
      launch_epilogue<T, kVec, Activation::kGELU>(y, bias, units, per_plane, channels, e);
      break;
  }
}

// residual_in contiguous, after checking it matches the output y (undefined stays undefined).
Tensor checked_residual(const Tensor& x, const Tensor& residual_in, const Tensor& y) {
  if (!residual_in.defined()) return Tensor();
  require_like(kOp, residual_in, "residual", x);
  if (residual_in.device() != x.device() || residual_in.shape() != y.shape()) {
    fail(kOp, "residual " + residual_in.str() + " does not match the output " + y.str());
  }
  return residual_in.contiguous();
}

// Whether an own kernel runs this conv (OwnConvPolicy; shapes they support).
bool own_conv_eligible(const Tensor& x, const Tensor& weight, const Conv2dParams& p) {
  const OwnConvPolicy policy = own_conv_policy();
  if (policy == OwnConvPolicy::kCudnn || x.dim() != 4 || weight.dim() != 4 ||
      weight.dtype() != x.dtype() || weight.device() != x.device()) {
    return false;  // conv2d_cuda reports malformed operands
  }
  if (depthwise_conv_supported(x, weight, p)) return true;  // fused: faster at every size seen
  if (!implicit_gemm_conv_supported(x, weight, p)) return false;
  return policy == OwnConvPolicy::kOwn || implicit_gemm_conv_preferred(x, weight, p);
}

// The whole op as the own kernel: conv, bias, activation, affine and residual in one pass.
Tensor own_conv(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
                const Conv2dParams& p, Activation act, float affine_scale, float affine_bias,
                const Tensor& residual_in) {
  const Shape out_shape = conv2d_output_shape(x_in.shape(), weight_in.shape(), p);
  if (bias_in.defined()) require_bias_per_filter(kOp, bias_in, weight_in);
  Tensor y = Tensor::empty(out_shape, x_in.dtype(), x_in.device());
  const Tensor residual = checked_residual(x_in, residual_in, y);
  if (y.numel() == 0) return y;
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  const Tensor x = cudnn_operand(x_in), w = cudnn_operand(weight_in);
  if (depthwise_conv_supported(x, w, p)) {
    depthwise_conv_cuda(kOp, x, w, bias, p, act, affine_scale, affine_bias, residual, y);
  } else {
    implicit_gemm_conv_cuda(x, w, bias, p, act, affine_scale, affine_bias, residual, y);
  }
  return y;
}

}  // namespace

Tensor conv2d_bias_act_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias_in,
                            const Conv2dParams& p, Activation act, float affine_scale,
                            float affine_bias, const Tensor& residual_in) {
  require_cuda_float(kOp, x, "x");
  if (bias_in.defined()) {
    require_like(kOp, bias_in, "bias", x);
    if (bias_in.device() != x.device()) {
      fail(kOp, "bias is on " + bias_in.device().str() + " but x is on " + x.device().str());
    }
  }
  if (own_conv_eligible(x, weight, p)) {
    return own_conv(x, weight, bias_in, p, act, affine_scale, affine_bias, residual_in);
  }
  // The convolution alone (its own checks of weight; no bias pass).
  Tensor y = conv2d_cuda(x, weight, Tensor(), p);
  const bool affine = affine_scale != 1.f || affine_bias != 0.f;
  const Tensor residual = checked_residual(x, residual_in, y);
  if (y.numel() == 0 ||
      (!bias_in.defined() && act == Activation::kNone && !affine && !residual.defined())) {
    return y;
  }
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  const int64_t channels = y.size(1);
  const int64_t plane_size = y.numel() / (y.size(0) * channels);
  const bool aligned = aligned16(y.raw_data()) && aligned16(residual.raw_data());
  UM_DISPATCH_FLOAT(y.dtype(), T, {
    constexpr int kN = 16 / static_cast<int>(sizeof(T));
    T* py = static_cast<T*>(y.raw_data());
    const T* pb = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
    const Epilogue<T> e{affine, affine_scale, affine_bias,
                        residual.defined() ? static_cast<const T*>(residual.raw_data()) : nullptr};
    if (aligned && plane_size % kN == 0) {
      launch_for_act<T, kN>(act, py, pb, y.numel() / kN, plane_size / kN, channels, e);
    } else {
      launch_for_act<T, 1>(act, py, pb, y.numel(), plane_size, channels, e);
    }
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
