// File: src/nn/layer_norm_cpu.cpp
// Purpose: torch.nn.LayerNorm over the last dimension on the CPU: biased variance, float32
// statistics in two passes (mean first, then the centred sum of squares), which stays accurate
// for large activations where E[x^2] - E[x]^2 would cancel.
#include <cmath>

#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {

Tensor layer_norm(const Tensor& x_in, const Tensor& weight, const Tensor& bias, float eps) {
  static constexpr const char* kOp = "layer_norm";
  UM_NN_CUDA_DISPATCH(x_in, layer_norm_cuda(x_in, weight, bias, eps));
  detail::require_cpu_f32(kOp, x_in, "x");
  if (x_in.dim() < 1) detail::fail(kOp, "x must have at least one dim");
  const int64_t c = x_in.size(-1);
  for (const auto* t : {&weight, &bias}) {
    if (!t->defined()) continue;
    detail::require_cpu_f32(kOp, *t, "affine parameter");
    if (t->dim() != 1 || t->size(0) != c) {
      detail::fail(kOp, "affine parameter " + shape_str(t->shape()) + " does not match x " +
                            shape_str(x_in.shape()));
    }
  }
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  const Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  const float* pw = w.defined() ? w.data<float>() : nullptr;
  const float* pb = b.defined() ? b.data<float>() : nullptr;
  const int64_t rows = c ? x.numel() / c : 0;
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = px + r * c;
    float* yr = py + r * c;
    float mean = 0.f;
    for (int64_t i = 0; i < c; ++i) mean += xr[i];
    mean /= static_cast<float>(c);
    float var = 0.f;
    for (int64_t i = 0; i < c; ++i) {
      const float d = xr[i] - mean;
      var += d * d;
    }
    var /= static_cast<float>(c);
    const float inv = 1.f / std::sqrt(var + eps);
    for (int64_t i = 0; i < c; ++i) {
      float v = (xr[i] - mean) * inv;
      if (pw) v *= pw[i];
      if (pb) v += pb[i];
      yr[i] = v;
    }
  }
  return y;
}

}  // namespace um::nn
