// File: src/nn/layer_norm_2d_cuda.cu
// Purpose: SAM's LayerNorm2d on CUDA tensors: for every pixel of NCHW, normalise over the C
// channels (float32 two-pass statistics, biased variance, eps inside the sqrt), then
// w[c] * x_hat + b[c]. One thread per pixel walking the channels: neighbouring threads read
// neighbouring pixels of one channel plane, so every load is coalesced.
// Fast path: that layout gave one thread per pixel walking all C channels three times, i.e. only
// N*H*W threads (4096 at SAM's 64x64: 16 blocks on a 132-SM GPU). The split kernel gives each
// pixel kGroups threads (blockDim = 32 pixels x kGroups channel groups); each sums every
// kGroups-th channel, the partial sums meet in shared memory (added in a fixed order), so the
// same float32 two-pass statistics run on kGroups times more threads. The original kernel stays
// for MemopsMode::kLegacy.
#include <cmath>

#include "core/cuda/strided_copy.h"
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

constexpr int kPix = 32;     // pixels per block (threadIdx.x): one warp reads 32 neighbours
constexpr int kGroups = 16;  // channel groups per pixel (threadIdx.y)

template <typename T>
__global__ void layer_norm_2d_split_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                           const T* __restrict__ b, T* __restrict__ y, int64_t n,
                                           int64_t c, int64_t hw, float eps) {
  __shared__ float part[kGroups][kPix];
  const int px = threadIdx.x, g = threadIdx.y;
  const int64_t t = int64_t{blockIdx.x} * kPix + px;
  const bool valid = t < n * hw;
  const int64_t img = valid ? t / hw : 0, p = valid ? t % hw : 0;
  const T* xp = x + img * c * hw + p;
  T* yp = y + img * c * hw + p;
  // Pass 1: mean. Thread (px, g) sums channels g, g + kGroups, ...; the kGroups partials of a
  // pixel are then added by every thread of that pixel in the same order (k = 0..kGroups-1).
  float sum = 0.f;
  if (valid) {
    for (int64_t ch = g; ch < c; ch += kGroups) sum += to_f(xp[ch * hw]);
  }
  part[g][px] = sum;
  __syncthreads();
  float total = 0.f;
#pragma unroll
  for (int k = 0; k < kGroups; ++k) total += part[k][px];
  const float mean = total / static_cast<float>(c);
  __syncthreads();  // everyone has read `part` before it is reused
  // Pass 2: centred sum of squares.
  float sq = 0.f;
  if (valid) {
    for (int64_t ch = g; ch < c; ch += kGroups) {
      const float d = to_f(xp[ch * hw]) - mean;
      sq += d * d;
    }
  }
  part[g][px] = sq;
  __syncthreads();
  float sq_total = 0.f;
#pragma unroll
  for (int k = 0; k < kGroups; ++k) sq_total += part[k][px];
  const float inv = 1.f / sqrtf(sq_total / static_cast<float>(c) + eps);
  if (!valid) return;
  for (int64_t ch = g; ch < c; ch += kGroups) {
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
  const bool legacy = um::cuda::memops_mode() == um::cuda::MemopsMode::kLegacy;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const auto* px = static_cast<const T*>(x.raw_data());
    const auto* pw = static_cast<const T*>(w.raw_data());
    const auto* pb = static_cast<const T*>(b.raw_data());
    auto* py = static_cast<T*>(y.raw_data());
    if (legacy) {
      layer_norm_2d_kernel<T><<<static_cast<unsigned>((n * hw + 255) / 256), 256, 0, stream()>>>(
          px, pw, pb, py, n, c, hw, eps);
    } else {
      layer_norm_2d_split_kernel<T>
          <<<static_cast<unsigned>((n * hw + kPix - 1) / kPix), dim3(kPix, kGroups), 0, stream()>>>(
              px, pw, pb, py, n, c, hw, eps);
    }
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
