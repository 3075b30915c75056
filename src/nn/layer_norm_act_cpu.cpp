// File: src/nn/layer_norm_act_cpu.cpp
// Purpose: layer_norm_act's argument checks and CPU reference (see ops_layer_norm_act.h):
// exactly nn::layer_norm followed by the activation op.
#include <string>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"
#include "nn/ops_layer_norm_act.h"

namespace um::nn {

Tensor layer_norm_act(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps,
                      Activation act) {
  static constexpr const char* kOp = "layer_norm_act";
  if (!x.defined()) detail::fail(kOp, "x is undefined");
  if (x.dim() < 1 || x.size(-1) < 1) {
    detail::fail(kOp, "x must be [..., C] with C >= 1, got " + shape_str(x.shape()));
  }
  const int64_t c = x.size(-1);
  for (const auto& [t, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (!t->defined()) continue;
    if (t->dtype() != x.dtype() || !(t->device() == x.device())) {
      detail::fail(kOp, std::string(name) + " is " + t->str() + " but x is " + x.str());
    }
    if (t->dim() != 1 || t->size(0) != c) {
      detail::fail(kOp, std::string(name) + " " + shape_str(t->shape()) + " does not match x " +
                            shape_str(x.shape()));
    }
  }
  detail::require_activation(kOp, act);
  UM_NN_CUDA_DISPATCH(x, layer_norm_act_cuda(x, weight, bias, eps, act));
  detail::require_cpu_f32(kOp, x, "x");
  return activate(layer_norm(x, weight, bias, eps), act);
}

}  // namespace um::nn
