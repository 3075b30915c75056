// File: src/nn/pad2d_cuda.cu
// Purpose: CUDA kernels of constant 2-D padding and uint8 -> float conversion (reference in
// pad2d_cpu.cpp). Padding: a row kernel (one block row per output row); conversion: one thread
// per element.
#include <cstdint>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine_cuda.h"

namespace um::nn::detail {
namespace {

// A row kernel (row_launch): output row r = (plane, oy), columns ox. The row's (plane, oy) in
// I = int32_t when the row count fits: a 64-bit division is a ~70-instruction routine every warp
// of the row block runs (ncu, H200: D-FINE's stem pad of 320 x 320 x 16 float32 took 32 us).
template <typename T, typename I>
__global__ void pad2d_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t planes,
                             int64_t h, int64_t w, int64_t oh, int64_t ow, int64_t left,
                             int64_t top, float value) {
  const T fill = from_f<T>(value);
  const I ohi = static_cast<I>(oh);
  for (UM_ROWS(r, planes * oh)) {
    const I ri = static_cast<I>(r);
    const int64_t oy = ri % ohi, p = ri / ohi, sy = oy - top;
    const bool row_in = sy >= 0 && sy < h;
    const T* xr = x + (p * h + sy) * w;
    T* yr = y + r * ow;
    for (UM_COL_GROUPS(c0, ow)) {
      T v[kRowColsPerThread];
#pragma unroll
      for (int k = 0; k < kRowColsPerThread; ++k) {
        const int64_t ox = c0 + int64_t{k} * blockDim.x, sx = ox - left;
        v[k] = (ox < ow && row_in && sx >= 0 && sx < w) ? xr[sx] : fill;
      }
#pragma unroll
      for (int k = 0; k < kRowColsPerThread; ++k) {
        const int64_t ox = c0 + int64_t{k} * blockDim.x;
        if (ox < ow) yr[ox] = v[k];
      }
    }
  }
}

__global__ void u8_to_float_kernel(const uint8_t* x, float* y, int64_t n, float divisor) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = static_cast<float>(x[i]) / divisor;
  }
}

}  // namespace

Tensor pad2d_cuda(const Tensor& x_in, int64_t left, int64_t right, int64_t top, int64_t bottom,
                  float value) {
  require_cuda_float("pad2d", x_in, "x");
  const Tensor x = x_in.contiguous();
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh = h + top + bottom, ow = w + left + right;
  Tensor y = Tensor::empty({x.size(0), x.size(1), oh, ow}, x.dtype(), x.device());
  const int64_t n = y.numel();
  if (n == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const RowLaunch l = row_launch(planes * oh, ow);
    const auto* px = static_cast<const T*>(x.raw_data());
    auto* py = static_cast<T*>(y.raw_data());
    if (planes * oh <= 0x7fffffffLL) {
      pad2d_kernel<T, int32_t><<<l.grid, l.block, 0, stream()>>>(px, py, planes, h, w, oh, ow,
                                                                 left, top, value);
    } else {
      pad2d_kernel<T, int64_t><<<l.grid, l.block, 0, stream()>>>(px, py, planes, h, w, oh, ow,
                                                                 left, top, value);
    }
  });
  check_launch("pad2d");
  return y;
}

Tensor u8_to_float_cuda(const Tensor& x_in, float divisor) {
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), DType::kF32, x.device());
  const int64_t n = x.numel();
  if (n == 0) return y;
  u8_to_float_kernel<<<blocks_for(n), 256, 0, stream()>>>(x.data<uint8_t>(), y.data<float>(), n,
                                                          divisor);
  check_launch("u8_to_float");
  return y;
}

}  // namespace um::nn::detail
