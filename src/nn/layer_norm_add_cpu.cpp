// File: src/nn/layer_norm_add_cpu.cpp
// Purpose: layer_norm_add's argument checks and CPU reference (see ops_layer_norm_add.h):
// exactly nn::layer_norm followed by nn::add(y, addend).
#include <string>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/ops_layer_norm_add.h"

namespace um::nn {

std::pair<Tensor, Tensor> layer_norm_add(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                         float eps, const Tensor& addend) {
  static constexpr const char* kOp = "layer_norm_add";
  if (!x.defined()) detail::fail(kOp, "x is undefined");
  if (x.dim() < 1 || x.size(-1) < 1) {
    detail::fail(kOp, "x must be [..., C] with C >= 1, got " + shape_str(x.shape()));
  }
  const int64_t c = x.size(-1);
  auto like_x = [&](const Tensor& t, const char* name) {
    if (t.dtype() != x.dtype() || !(t.device() == x.device())) {
      detail::fail(kOp, std::string(name) + " is " + t.str() + " but x is " + x.str());
    }
  };
  for (const auto& [t, name] : {std::pair{&weight, "weight"}, std::pair{&bias, "bias"}}) {
    if (!t->defined()) continue;
    like_x(*t, name);
    if (t->dim() != 1 || t->size(0) != c) {
      detail::fail(kOp, std::string(name) + " " + shape_str(t->shape()) + " does not match x " +
                            shape_str(x.shape()));
    }
  }
  if (!addend.defined()) detail::fail(kOp, "addend is undefined");
  like_x(addend, "addend");
  if (addend.shape() != x.shape()) {
    detail::fail(kOp, "addend " + shape_str(addend.shape()) + " must have x's shape " +
                          shape_str(x.shape()));
  }
  UM_NN_CUDA_DISPATCH(x, layer_norm_add_cuda(x, weight, bias, eps, addend));
  detail::require_cpu_f32(kOp, x, "x");
  Tensor y = layer_norm(x, weight, bias, eps);
  Tensor z = add(y, addend);
  return {std::move(y), std::move(z)};
}

}  // namespace um::nn
