// File: src/nn/softmax_cuda.cu
// Purpose: softmax along any dim on CUDA tensors (float32 or float16 data, float32 max and sum),
// the same max-subtracted formula as the CPU reference (an all -inf row gives NaN there too).
// Last dim (the attention/logit case): one warp per row, strided loops, shuffle reductions.
// Other dims: one thread per (outer, inner) column, coalesced across the inner index.
#include <cmath>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {


constexpr int kWarpsPerBlock = 8;

template <typename T>
__global__ void softmax_last_kernel(const T* x, T* y, int64_t rows, int64_t n) {
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps exit together
  const T* xr = x + row * n;
  T* yr = y + row * n;
  float mx = -INFINITY;
  for (int64_t i = lane; i < n; i += 32) mx = fmaxf(mx, to_f(xr[i]));
  mx = warp_max(mx);
  if (mx == -INFINITY) mx = 0.f;
  float sum = 0.f;
  for (int64_t i = lane; i < n; i += 32) sum += expf(to_f(xr[i]) - mx);
  sum = warp_sum(sum);
  const float inv = 1.f / sum;
  for (int64_t i = lane; i < n; i += 32) yr[i] = from_f<T>(expf(to_f(xr[i]) - mx) * inv);
}

template <typename T>
__global__ void softmax_mid_kernel(const T* x, T* y, int64_t outer, int64_t n, int64_t inner) {
  const int64_t col = int64_t{blockIdx.x} * blockDim.x + threadIdx.x;
  if (col >= outer * inner) return;
  const int64_t o = col / inner, in = col % inner;
  const T* xc = x + o * n * inner + in;
  T* yc = y + o * n * inner + in;
  float mx = -INFINITY;
  for (int64_t i = 0; i < n; ++i) mx = fmaxf(mx, to_f(xc[i * inner]));
  if (mx == -INFINITY) mx = 0.f;
  float sum = 0.f;
  for (int64_t i = 0; i < n; ++i) sum += expf(to_f(xc[i * inner]) - mx);
  const float inv = 1.f / sum;
  for (int64_t i = 0; i < n; ++i) yc[i * inner] = from_f<T>(expf(to_f(xc[i * inner]) - mx) * inv);
}

}  // namespace

Tensor softmax_cuda(const Tensor& x_in, int64_t dim) {
  static constexpr const char* kOp = "softmax";
  require_cuda_float(kOp, x_in, "x");
  const int64_t d = normalize_dim(kOp, dim, x_in.dim());
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = x.size(d);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  if (x.numel() == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const T* px = static_cast<const T*>(x.raw_data());
    T* py = static_cast<T*>(y.raw_data());
    if (inner == 1) {
      const int64_t blocks = (outer + kWarpsPerBlock - 1) / kWarpsPerBlock;
      softmax_last_kernel<T><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream()>>>(
          px, py, outer, n);
    } else {
      const int64_t cols = outer * inner;
      softmax_mid_kernel<T><<<static_cast<unsigned>((cols + 255) / 256), 256, 0, stream()>>>(
          px, py, outer, n, inner);
    }
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
