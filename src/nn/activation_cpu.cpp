// File: src/nn/activation_cpu.cpp
// Purpose: nn::activate and detail::require_activation (nn/ops_fused.h): the one activation
// dispatch and the one validity check of nn::Activation, shared by the fused ops (linear_act,
// conv2d_bias_act, depthwise_conv2d_nhwc, layer_norm_act) and their unfused fallbacks.
#include <string>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"

namespace um::nn {

namespace detail {

void require_activation(const char* op, Activation act) {
  switch (act) {
    case Activation::kNone:
    case Activation::kReLU:
    case Activation::kSiLU:
    case Activation::kGELU:
      return;
  }
  fail(op, "unknown activation " + std::to_string(static_cast<int>(act)));
}

}  // namespace detail

Tensor activate(const Tensor& x, Activation act) {
  detail::require_activation("activate", act);
  switch (act) {
    case Activation::kReLU:
      return relu(x);
    case Activation::kSiLU:
      return silu(x);
    case Activation::kGELU:
      return gelu(x);
    case Activation::kNone:
      break;
  }
  return x;
}

}  // namespace um::nn
