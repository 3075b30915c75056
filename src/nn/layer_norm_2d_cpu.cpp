// File: src/nn/layer_norm_2d_cpu.cpp
// Purpose: CPU reference of SAM's LayerNorm2d (declared in ops.h): for every pixel of an NCHW
// tensor, normalise over the C channels, then scale/shift per channel:
//   u = mean_c x;  s = mean_c (x - u)^2;  y = w[c] * (x - u) / sqrt(s + eps) + b[c]
// (biased variance, eps inside the sqrt, as segment_anything.modeling.common.LayerNorm2d).
// Statistics are accumulated in double, so the result is the float32 rounding of the exact value
// (PyTorch accumulates in float32; the difference is far below the fixtures' tolerance).
// Layout note: channels are strided by H*W, so the loops run over whole channel planes with the
// pixel index innermost (contiguous, vectorisable) and keep per-pixel sums in scratch rows.
#include <cmath>
#include <string>
#include <vector>

#include "core/status.h"
#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw Error(StatusCode::kInvalidArgument, "layer_norm_2d: " + what);
}

void check_cpu_f32(const Tensor& t, const char* name) {
  if (!t.defined()) fail(std::string(name) + " is undefined");
  if (!t.device().is_cpu()) {
    throw Error(StatusCode::kFailedPrecondition,
                std::string("layer_norm_2d: ") + name + " is on " + t.device().str() +
                    " and this op has no implementation for that device");
  }
  if (t.dtype() != DType::kF32) {
    fail(std::string(name) + " must be float32, got " + dtype_name(t.dtype()));
  }
}

}  // namespace

Tensor layer_norm_2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias_in,
                     float eps) {
  UM_NN_CUDA_DISPATCH(x_in, layer_norm_2d_cuda(x_in, weight_in, bias_in, eps));
  check_cpu_f32(x_in, "x");
  check_cpu_f32(weight_in, "weight");
  check_cpu_f32(bias_in, "bias");
  if (x_in.dim() != 4) fail("x must be [N, C, H, W], got " + shape_str(x_in.shape()));
  const int64_t n = x_in.size(0), c = x_in.size(1), hw = x_in.size(2) * x_in.size(3);
  if (weight_in.dim() != 1 || weight_in.size(0) != c || bias_in.dim() != 1 ||
      bias_in.size(0) != c) {
    fail("weight " + shape_str(weight_in.shape()) + " and bias " + shape_str(bias_in.shape()) +
         " must both be [" + std::to_string(c) + "] for x " + shape_str(x_in.shape()));
  }
  if (c == 0) fail("x has no channels: " + shape_str(x_in.shape()));
  const Tensor x = x_in.contiguous();
  const Tensor weight = weight_in.contiguous();
  const Tensor bias = bias_in.contiguous();
  Tensor out = Tensor::empty(x.shape());
  const float* wp = weight.data<float>();
  const float* bp = bias.data<float>();

  std::vector<double> mean(static_cast<size_t>(hw)), var(static_cast<size_t>(hw));
  std::vector<float> mean_f(static_cast<size_t>(hw)), inv_std(static_cast<size_t>(hw));
  for (int64_t b = 0; b < n; ++b) {
    const float* xp = x.data<float>() + b * c * hw;
    float* op = out.data<float>() + b * c * hw;
    std::fill(mean.begin(), mean.end(), 0.0);
    std::fill(var.begin(), var.end(), 0.0);
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* row = xp + ch * hw;
      for (int64_t p = 0; p < hw; ++p) mean[p] += row[p];
    }
    for (int64_t p = 0; p < hw; ++p) mean[p] /= static_cast<double>(c);
    // Two passes (sum of squared deviations), not E[x^2] - E[x]^2: no cancellation.
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* row = xp + ch * hw;
      for (int64_t p = 0; p < hw; ++p) {
        const double d = row[p] - mean[p];
        var[p] += d * d;
      }
    }
    for (int64_t p = 0; p < hw; ++p) {
      mean_f[p] = static_cast<float>(mean[p]);
      inv_std[p] = static_cast<float>(1.0 / std::sqrt(var[p] / static_cast<double>(c) + eps));
    }
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* row = xp + ch * hw;
      float* orow = op + ch * hw;
      const float g = wp[ch], beta = bp[ch];
      for (int64_t p = 0; p < hw; ++p) orow[p] = (row[p] - mean_f[p]) * inv_std[p] * g + beta;
    }
  }
  return out;
}

}  // namespace um::nn
