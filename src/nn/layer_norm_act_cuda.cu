// File: src/nn/layer_norm_act_cuda.cu
// Purpose: CUDA implementation of layer_norm_act (see ops_layer_norm_act.h): one warp per row,
// the lanes striding over the channels: the mean, then the biased variance of (x - mean) (two
// float32 passes, as layer_norm_cuda.cu), then act((x - mean) / sqrt(var + eps) * weight + bias)
// (activation_cuda.cuh, the CPU's float32 expressions) rounded once to the data dtype. x is made
// contiguous first (a no-op for the GEMM outputs it follows).
#include <cstdint>

#include "nn/activation_cuda.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/layer_norm_row.cuh"
#include "nn/ops_layer_norm_act.h"

namespace um::nn::detail {
namespace {

constexpr int kWarpsPerBlock = 8;

template <typename T, Activation A>
__global__ void layer_norm_act_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                      const T* __restrict__ b, T* __restrict__ y, int64_t rows,
                                      int64_t c, float eps) {
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps leave together (row is per warp)
  const T* xr = x + row * c;
  T* yr = y + row * c;
  const RowNorm s = warp_row_norm(xr, c, lane, eps);
  for (int64_t i = lane; i < c; i += 32) {
    const float v = normalized(s, to_f(xr[i]), w, b, i);
    yr[i] = from_f<T>(activate<A>(v));
  }
}

template <typename T, Activation A>
void launch(const Tensor& x, const Tensor& w, const Tensor& b, Tensor& y, int64_t rows, int64_t c,
            float eps) {
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  layer_norm_act_kernel<T, A><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream()>>>(
      static_cast<const T*>(x.raw_data()),
      w.defined() ? static_cast<const T*>(w.raw_data()) : nullptr,
      b.defined() ? static_cast<const T*>(b.raw_data()) : nullptr, static_cast<T*>(y.raw_data()),
      rows, c, eps);
}

}  // namespace

Tensor layer_norm_act_cuda(const Tensor& x_in, const Tensor& weight, const Tensor& bias, float eps,
                           Activation act) {
  static constexpr const char* kOp = "layer_norm_act";
  require_cuda_float(kOp, x_in, "x");  // shapes, dtypes and devices checked by layer_norm_act
  const Tensor x = x_in.contiguous();
  const Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t c = x.size(-1), rows = x.numel() / c;
  if (rows == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    switch (act) {
      case Activation::kNone:
        launch<T, Activation::kNone>(x, w, b, y, rows, c, eps);
        break;
      case Activation::kReLU:
        launch<T, Activation::kReLU>(x, w, b, y, rows, c, eps);
        break;
      case Activation::kSiLU:
        launch<T, Activation::kSiLU>(x, w, b, y, rows, c, eps);
        break;
      case Activation::kGELU:
        launch<T, Activation::kGELU>(x, w, b, y, rows, c, eps);
        break;
    }
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
