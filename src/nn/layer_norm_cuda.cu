// File: src/nn/layer_norm_cuda.cu
// Purpose: torch.nn.LayerNorm over the last dim on CUDA tensors (float32 or float16 data, weight
// and bias of the input's dtype or undefined). Statistics in float32, two passes like the CPU
// reference (mean, then the centred sum of squares: no E[x^2] - E[x]^2 cancellation), biased
// variance. One warp per row: rows are short (<= 1024 channels in the models), and re-reading a
// row for the second pass hits L1/L2.
#include <cmath>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

__device__ __forceinline__ float warp_sum_ln(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

constexpr int kWarpsPerBlock = 8;

template <typename T>
__global__ void layer_norm_kernel(const T* x, const T* w, const T* b, T* y, int64_t rows,
                                  int64_t c, float eps) {
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const T* xr = x + row * c;
  T* yr = y + row * c;
  float sum = 0.f;
  for (int64_t i = lane; i < c; i += 32) sum += to_f(xr[i]);
  const float mean = warp_sum_ln(sum) / static_cast<float>(c);
  float sq = 0.f;
  for (int64_t i = lane; i < c; i += 32) {
    const float dv = to_f(xr[i]) - mean;
    sq += dv * dv;
  }
  const float var = warp_sum_ln(sq) / static_cast<float>(c);
  const float inv = 1.f / sqrtf(var + eps);
  for (int64_t i = lane; i < c; i += 32) {
    float v = (to_f(xr[i]) - mean) * inv;
    if (w) v *= to_f(w[i]);
    if (b) v += to_f(b[i]);
    yr[i] = from_f<T>(v);
  }
}

}  // namespace

Tensor layer_norm_cuda(const Tensor& x_in, const Tensor& weight, const Tensor& bias, float eps) {
  static constexpr const char* kOp = "layer_norm";
  require_cuda_float(kOp, x_in, "x");
  if (x_in.dim() < 1) fail(kOp, "x must have at least one dim");
  const int64_t c = x_in.size(-1);
  for (const auto* t : {&weight, &bias}) {
    if (!t->defined()) continue;
    require_like(kOp, *t, "affine parameter", x_in);
    if (t->dim() != 1 || t->size(0) != c) {
      fail(kOp, "affine parameter " + shape_str(t->shape()) + " does not match x " +
                    shape_str(x_in.shape()));
    }
  }
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  const int64_t rows = c ? x.numel() / c : 0;
  if (rows == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
    layer_norm_kernel<T><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()),
        w.defined() ? static_cast<const T*>(w.raw_data()) : nullptr,
        b.defined() ? static_cast<const T*>(b.raw_data()) : nullptr,
        static_cast<T*>(y.raw_data()), rows, c, eps);
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
