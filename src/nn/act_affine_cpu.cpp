// File: src/nn/act_affine_cpu.cpp
// Purpose: CPU reference of D-FINE's element-wise ops (nn/ops_dfine.h): activation + learnable
// affine in place (moved from dfine::apply_activation_inplace, same arithmetic), clamp, and the
// max over the last dimension used by query selection.
#include <algorithm>
#include <cmath>

#include "nn/op_util.h"
#include "nn/ops_dfine.h"
#include "nn/ops_dfine_cuda.h"

namespace um::nn {

using detail::fail;

void act_affine_inplace(const Tensor& x, ActKind act, bool affine, float scale, float bias) {
  if (!x.defined()) fail("act_affine_inplace", "x is undefined");
  if (!x.is_contiguous())
    fail("act_affine_inplace", "x must be contiguous, got a view " + shape_str(x.shape()));
  UM_NN_CUDA_DISPATCH(x, act_affine_inplace_cuda(x, act, affine, scale, bias));
  detail::require_cpu_f32("act_affine_inplace", x, "x");
  float* p = static_cast<float*>(x.raw_data());
  const int64_t n = x.numel();
  switch (act) {
    case ActKind::kNone:
      break;
    case ActKind::kReLU:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] > 0.f ? p[i] : 0.f;
      break;
    case ActKind::kSiLU:
      for (int64_t i = 0; i < n; ++i) p[i] = p[i] / (1.f + std::exp(-p[i]));
      break;
    case ActKind::kGELU:
      for (int64_t i = 0; i < n; ++i)
        p[i] = 0.5f * p[i] * (1.f + std::erf(p[i] * static_cast<float>(M_SQRT1_2)));
      break;
  }
  if (affine) {
    for (int64_t i = 0; i < n; ++i) p[i] = scale * p[i] + bias;
  }
}

Tensor clamp(const Tensor& x_in, float lo, float hi) {
  if (!x_in.defined()) fail("clamp", "x is undefined");
  if (!(lo <= hi)) fail("clamp", "lo " + std::to_string(lo) + " > hi " + std::to_string(hi));
  UM_NN_CUDA_DISPATCH(x_in, clamp_cuda(x_in, lo, hi));
  detail::require_cpu_f32("clamp", x_in, "x");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = std::min(std::max(px[i], lo), hi);
  return y;
}

Tensor amax_last(const Tensor& x_in) {
  if (!x_in.defined()) fail("amax_last", "x is undefined");
  if (x_in.dim() < 1 || x_in.size(-1) < 1)
    fail("amax_last", "x " + shape_str(x_in.shape()) + " has an empty last dim");
  UM_NN_CUDA_DISPATCH(x_in, amax_last_cuda(x_in));
  detail::require_cpu_f32("amax_last", x_in, "x");
  const Tensor x = x_in.contiguous();
  const int64_t c = x.size(-1), rows = x.numel() / c;
  Shape out_shape(x.shape().begin(), x.shape().end() - 1);
  Tensor y = Tensor::empty(out_shape);
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (int64_t i = 0; i < rows; ++i) {
    const float* row = px + i * c;
    float m = row[0];
    for (int64_t k = 1; k < c; ++k) m = std::max(m, row[k]);
    py[i] = m;
  }
  return y;
}

}  // namespace um::nn
