// File: src/nn/conv2d_bias_act_cpu.cpp
// Purpose: nn::conv2d_bias_act (nn/ops_fused.h): argument checks, the CUDA dispatch, and the CPU
// reference, which is literally the sequence the models ran before the op existed: nn::conv2d
// (bias included), then the activation, then the affine, each a float32 pass with the same
// expressions as act_affine_cpu.cpp / elementwise_cpu.cpp, so CPU results stay bit-identical.
#include <string>

#include "nn/op_util.h"
#include "nn/ops_dfine.h"
#include "nn/ops_fused.h"

namespace um::nn {

using detail::fail;

namespace {

constexpr const char* kOp = "conv2d_bias_act";

// The checks that need no data (the rest: conv2d's, on the device that runs it).
void check_args(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act) {
  if (!x.defined()) fail(kOp, "x is undefined");
  if (!weight.defined()) fail(kOp, "weight is undefined");
  if (weight.dim() != 4) fail(kOp, "weight must be 4-D, got " + shape_str(weight.shape()));
  if (bias.defined() && (bias.dim() != 1 || bias.size(0) != weight.size(0))) {
    fail(kOp, "bias " + shape_str(bias.shape()) + " does not match weight " +
                  shape_str(weight.shape()));
  }
  detail::require_activation(kOp, act);
}

}  // namespace

Tensor conv2d_bias_act(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Conv2dParams& p, Activation act, float affine_scale,
                       float affine_bias) {
  check_args(x, weight, bias, act);
  UM_NN_CUDA_DISPATCH(x, conv2d_bias_act_cuda(x, weight, bias, p, act, affine_scale,
                                              affine_bias));
  Tensor y = conv2d(x, weight, bias, p);  // checks the rest (devices, dtypes, shapes)
  if (!y.is_contiguous()) y = y.contiguous();
  // act_affine_cpu.cpp's passes (the affine skipped when it is the identity), as the models ran.
  act_affine_inplace(y, act, affine_scale != 1.f || affine_bias != 0.f, affine_scale, affine_bias);
  return y;
}

Tensor conv2d_bias_act_residual(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const Conv2dParams& p, Activation act, const Tensor& residual,
                                float affine_scale, float affine_bias) {
  check_args(x, weight, bias, act);
  if (!residual.defined()) fail(kOp, "residual is undefined");
  if (x.dim() == 4 && residual.shape() != conv2d_output_shape(x.shape(), weight.shape(), p)) {
    fail(kOp, "residual " + shape_str(residual.shape()) + " does not match the output " +
                  shape_str(conv2d_output_shape(x.shape(), weight.shape(), p)));
  }
  if (residual.device() != x.device() || residual.dtype() != x.dtype()) {
    fail(kOp, "residual is " + std::string(dtype_name(residual.dtype())) + " on " +
                  residual.device().str() + " but x is " + dtype_name(x.dtype()) + " on " +
                  x.device().str());
  }
  UM_NN_CUDA_DISPATCH(x, conv2d_bias_act_cuda(x, weight, bias, p, act, affine_scale, affine_bias,
                                              residual));
  return add(conv2d_bias_act(x, weight, bias, p, act, affine_scale, affine_bias), residual);
}

}  // namespace um::nn
