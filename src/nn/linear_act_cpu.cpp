// File: src/nn/linear_act_cpu.cpp
// Purpose: nn::linear_act (nn/ops_fused.h): argument checks, the CUDA dispatch, and the CPU
// reference, which is literally the sequence the models ran before the op existed: nn::linear
// (bias included), then the activation pass with the expressions of act_affine_cpu.cpp, so the
// float32 CPU results stay bit-identical.
#include <cmath>
#include <string>

#include "nn/op_util.h"
#include "nn/ops_fused.h"

namespace um::nn {

using detail::fail;

Tensor linear_act(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act) {
  constexpr const char* kOp = "linear_act";
  if (!x.defined()) fail(kOp, "x is undefined");
  if (!weight.defined()) fail(kOp, "weight is undefined");
  switch (act) {
    case Activation::kNone:
    case Activation::kReLU:
    case Activation::kSiLU:
    case Activation::kGELU:
      break;
    default:
      fail(kOp, "unknown activation " + std::to_string(static_cast<int>(act)));
  }
  UM_NN_CUDA_DISPATCH(x, linear_act_cuda(x, weight, bias, act));
  Tensor y = linear(x, weight, bias);  // checks the rest (devices, dtypes, shapes)
  if (!y.is_contiguous()) y = y.contiguous();
  float* py = static_cast<float*>(y.raw_data());
  const int64_t n = y.numel();
  switch (act) {
    case Activation::kNone:
      break;
    case Activation::kReLU:
      for (int64_t i = 0; i < n; ++i) py[i] = py[i] > 0.f ? py[i] : 0.f;
      break;
    case Activation::kSiLU:
      for (int64_t i = 0; i < n; ++i) py[i] = py[i] / (1.f + std::exp(-py[i]));
      break;
    case Activation::kGELU:
      for (int64_t i = 0; i < n; ++i)
        py[i] = 0.5f * py[i] * (1.f + std::erf(py[i] * static_cast<float>(M_SQRT1_2)));
      break;
  }
  return y;
}

}  // namespace um::nn
