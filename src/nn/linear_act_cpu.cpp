// File: src/nn/linear_act_cpu.cpp
// Purpose: nn::linear_act (nn/ops_fused.h): argument checks, the CUDA dispatch, and the CPU
// reference, which is literally the sequence the models ran before the op existed: nn::linear
// (bias included), then the activation pass with the expressions of act_affine_cpu.cpp, so the
// float32 CPU results stay bit-identical.
#include <string>

#include "nn/op_util.h"
#include "nn/ops_dfine.h"
#include "nn/ops_fused.h"

namespace um::nn {

using detail::fail;

Tensor linear_act(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act) {
  constexpr const char* kOp = "linear_act";
  if (!x.defined()) fail(kOp, "x is undefined");
  if (!weight.defined()) fail(kOp, "weight is undefined");
  detail::require_activation(kOp, act);
  UM_NN_CUDA_DISPATCH(x, linear_act_cuda(x, weight, bias, act));
  Tensor y = linear(x, weight, bias);  // checks the rest (devices, dtypes, shapes)
  if (!y.is_contiguous()) y = y.contiguous();
  act_affine_inplace(y, act);  // act_affine_cpu.cpp's activation pass
  return y;
}

}  // namespace um::nn
