// File: src/nn/layer_norm_add_cuda.cu
// Purpose: CUDA implementation of layer_norm_add (see ops_layer_norm_add.h): one warp per row,
// the lanes striding over the channels: the mean, then the biased variance of (x - mean) (two
// float32 passes over the row, as layer_norm_cuda.cu), then y = (x - mean) / sqrt(var + eps) *
// weight + bias rounded to the data dtype, and y + addend from that rounded y, both written in
// the same pass. x and the addend are made contiguous first (a no-op for the transformer's GEMM
// outputs and positional encodings).
#include <cstdint>
#include <utility>

#include "nn/cuda_op_util.cuh"
#include "nn/layer_norm_row.cuh"
#include "nn/ops_layer_norm_add.h"

namespace um::nn::detail {
namespace {

constexpr int kWarpsPerBlock = 8;

template <typename T>
__global__ void layer_norm_add_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                      const T* __restrict__ b, const T* __restrict__ addend,
                                      T* __restrict__ y, T* __restrict__ z, int64_t rows, int64_t c,
                                      float eps) {
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;  // whole warps leave together (row is per warp)
  const T* xr = x + row * c;
  const T* ar = addend + row * c;
  T* yr = y + row * c;
  T* zr = z + row * c;
  const RowNorm s = warp_row_norm(xr, c, lane, eps);
  for (int64_t i = lane; i < c; i += 32) {
    const float v = normalized(s, to_f(xr[i]), w, b, i);
    const T yv = from_f<T>(v);
    yr[i] = yv;
    zr[i] = from_f<T>(to_f(yv) + to_f(ar[i]));
  }
}

}  // namespace

std::pair<Tensor, Tensor> layer_norm_add_cuda(const Tensor& x_in, const Tensor& weight,
                                              const Tensor& bias, float eps,
                                              const Tensor& addend_in) {
  static constexpr const char* kOp = "layer_norm_add";
  require_cuda_float(kOp, x_in, "x");  // shapes, dtypes and devices checked by layer_norm_add
  const Tensor x = x_in.contiguous(), addend = addend_in.contiguous();
  const Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  Tensor z = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t c = x.size(-1), rows = x.numel() / c;
  if (rows == 0) return {std::move(y), std::move(z)};
  const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    layer_norm_add_kernel<T><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()),
        w.defined() ? static_cast<const T*>(w.raw_data()) : nullptr,
        b.defined() ? static_cast<const T*>(b.raw_data()) : nullptr,
        static_cast<const T*>(addend.raw_data()), static_cast<T*>(y.raw_data()),
        static_cast<T*>(z.raw_data()), rows, c, eps);
  });
  check_launch(kOp);
  return {std::move(y), std::move(z)};
}

}  // namespace um::nn::detail
