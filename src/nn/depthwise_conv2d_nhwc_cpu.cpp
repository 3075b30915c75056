// File: src/nn/depthwise_conv2d_nhwc_cpu.cpp
// Purpose: nn::depthwise_conv2d_nhwc (nn/ops_fused.h): the argument checks (all of them, before
// any device dispatch, so that the CPU and CUDA paths refuse the same inputs with the same
// messages), the CUDA dispatch, and the CPU reference. The reference is literally the sequence
// TinyViT ran before the op existed: x permuted to NCHW, nn::conv2d (bias included; its direct
// depthwise loop), permuted back and made contiguous, so CPU results stay bit-identical.
#include <string>

#include "nn/op_util.h"
#include "nn/ops_fused.h"

namespace um::nn {
namespace {

using detail::fail;

constexpr const char* kOp = "depthwise_conv2d_nhwc";

// weight / bias: defined-ness and shape are checked by the caller; here the placement.
void require_same_device_dtype(const Tensor& t, const char* name, const Tensor& x) {
  if (t.device() != x.device()) {
    fail(kOp, std::string(name) + " is on " + t.device().str() + " but x is on " +
                  x.device().str());
  }
  if (t.dtype() != x.dtype()) {
    fail(kOp, std::string(name) + " is " + dtype_name(t.dtype()) + " but x is " +
                  dtype_name(x.dtype()));
  }
}

void check_arguments(const Tensor& x, const Tensor& weight, const Tensor& bias,
                     const Conv2dParams& p) {
  if (!x.defined()) fail(kOp, "x is undefined");
  if (!weight.defined()) fail(kOp, "weight is undefined");
  if (x.dim() != 4) fail(kOp, "x must be [N, H, W, C], got " + shape_str(x.shape()));
  const int64_t c = x.size(3);
  if (weight.dim() != 4 || weight.size(0) != c || weight.size(1) != 1) {
    fail(kOp, "weight must be [C, 1, kh, kw] with C = " + std::to_string(c) + " (x " +
                  shape_str(x.shape()) + "), got " + shape_str(weight.shape()));
  }
  if (p.groups != c) {
    fail(kOp, "groups must equal the channel count " + std::to_string(c) + ", got " +
                  std::to_string(p.groups));
  }
  if (weight.size(2) < 1 || weight.size(3) < 1) {
    fail(kOp, "empty kernel " + shape_str(weight.shape()));
  }
  if (p.stride_h < 1 || p.stride_w < 1 || p.dilation_h < 1 || p.dilation_w < 1 || p.pad_h < 0 ||
      p.pad_w < 0) {
    fail(kOp, "invalid stride " + std::to_string(p.stride_h) + "x" + std::to_string(p.stride_w) +
                  " / padding " + std::to_string(p.pad_h) + "x" + std::to_string(p.pad_w) +
                  " / dilation " + std::to_string(p.dilation_h) + "x" +
                  std::to_string(p.dilation_w));
  }
  // PyTorch's output size rule; an input smaller than the (dilated) kernel has no output.
  const int64_t ho =
      detail::conv_output_extent(x.size(1), p.pad_h, p.dilation_h, weight.size(2), p.stride_h);
  const int64_t wo =
      detail::conv_output_extent(x.size(2), p.pad_w, p.dilation_w, weight.size(3), p.stride_w);
  if (ho < 1 || wo < 1) {
    fail(kOp, "input " + shape_str(x.shape()) + " (padding " + std::to_string(p.pad_h) + "x" +
                  std::to_string(p.pad_w) + ") is smaller than the kernel " +
                  shape_str(weight.shape()));
  }
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != c)) {
    fail(kOp, "bias must be [" + std::to_string(c) + "], got " + shape_str(bias.shape()));
  }
  if (x.dtype() != DType::kF32 && x.dtype() != DType::kF16) {
    fail(kOp, "x must be float32 or float16, got " + std::string(dtype_name(x.dtype())));
  }
  require_same_device_dtype(weight, "weight", x);
  if (bias.defined()) require_same_device_dtype(bias, "bias", x);
}

}  // namespace

Tensor depthwise_conv2d_nhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Conv2dParams& p, Activation act, Activation in_act) {
  check_arguments(x, weight, bias, p);
  detail::require_activation(kOp, act);
  detail::require_activation(kOp, in_act);
  UM_NN_CUDA_DISPATCH(x, depthwise_conv2d_nhwc_cuda(x, weight, bias, p, act, in_act));
  if (x.device().is_cpu() && x.dtype() == DType::kF16) {
    fail(kOp, "float16 needs a CUDA device (the CPU reference is float32 only)");
  }
  detail::require_cpu_f32(kOp, x, "x");  // refuses a device tensor in a build without CUDA
  // The input activation: the pass TinyViT ran before the conv (a new NHWC tensor).
  const Tensor xa = activate(x, in_act);
  // The NCHW view costs nothing; nn::conv2d makes it contiguous (the copy TinyViT made).
  // With an activation: conv2d_bias_act's CPU sequence (conv2d, then the activation pass).
  const Tensor nchw = xa.permute({0, 3, 1, 2});
  const Tensor y = act == Activation::kNone ? conv2d(nchw, weight, bias, p)
                                            : conv2d_bias_act(nchw, weight, bias, p, act);
  return y.permute({0, 2, 3, 1}).contiguous();
}

}  // namespace um::nn
