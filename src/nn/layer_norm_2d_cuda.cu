// File: src/nn/layer_norm_2d_cuda.cu
// Purpose: SAM's LayerNorm2d on CUDA tensors: for every pixel of NCHW, normalise over the C
// channels (float32 two-pass statistics, biased variance, eps inside the sqrt), then
// w[c] * x_hat + b[c]. One thread per pixel walking the channels: neighbouring threads read
// neighbouring pixels of one channel plane, so every load is coalesced.
#include <cmath>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

template <typename T>
__global__ void layer_norm_2d_kernel(const T* x, const T* w, const T* b, T* y, int64_t n,
                                     int64_t c, int64_t hw, float eps) {
  const int64_t t = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (t >= n * hw) return;
  const int64_t img = t / hw, p = t % hw;
  const T* xp = x + img * c * hw + p;
  T* yp = y + img * c * hw + p;
  float sum = 0.f;
  for (int64_t ch = 0; ch < c; ++ch) sum += to_f(xp[ch * hw]);
  const float mean = sum / static_cast<float>(c);
  float sq = 0.f;
  for (int64_t ch = 0; ch < c; ++ch) {
    const float d = to_f(xp[ch * hw]) - mean;
    sq += d * d;
  }
  const float inv = 1.f / sqrtf(sq / static_cast<float>(c) + eps);
  for (int64_t ch = 0; ch < c; ++ch) {
    yp[ch * hw] = from_f<T>((to_f(xp[ch * hw]) - mean) * inv * to_f(w[ch]) + to_f(b[ch]));
  }
}

}  // namespace

Tensor layer_norm_2d_cuda(const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                          float eps) {
  static constexpr const char* kOp = "layer_norm_2d";
  require_cuda_float(kOp, x_in, "x");
  require_like(kOp, weight, "weight", x_in);
  require_like(kOp, bias, "bias", x_in);
  if (x_in.dim() != 4) fail(kOp, "x must be [N, C, H, W], got " + shape_str(x_in.shape()));
  const int64_t n = x_in.size(0), c = x_in.size(1), hw = x_in.size(2) * x_in.size(3);
  if (weight.dim() != 1 || weight.size(0) != c || bias.dim() != 1 || bias.size(0) != c) {
    fail(kOp, "weight " + shape_str(weight.shape()) + " and bias " + shape_str(bias.shape()) +
                  " must both be [" + std::to_string(c) + "] for x " + shape_str(x_in.shape()));
  }
  if (c == 0) fail(kOp, "x has no channels: " + shape_str(x_in.shape()));
  const Tensor x = x_in.contiguous();
  const Tensor w = weight.contiguous(), b = bias.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (n * hw == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    layer_norm_2d_kernel<T><<<static_cast<unsigned>((n * hw + 255) / 256), 256, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const T*>(w.raw_data()),
        static_cast<const T*>(b.raw_data()), static_cast<T*>(y.raw_data()), n, c, hw, eps);
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
