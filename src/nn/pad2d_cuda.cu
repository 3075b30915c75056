// File: src/nn/pad2d_cuda.cu
// Purpose: CUDA kernels of constant 2-D padding and uint8 -> float conversion (reference in
// pad2d_cpu.cpp). One thread per output element.
#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine_cuda.h"

namespace um::nn::detail {
namespace {

template <typename T>
__global__ void pad2d_kernel(const T* x, T* y, int64_t planes, int64_t h, int64_t w, int64_t oh,
                             int64_t ow, int64_t left, int64_t top, float value) {
  const int64_t n = planes * oh * ow;
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const int64_t ox = i % ow, oy = (i / ow) % oh, p = i / (ow * oh);
    const int64_t sx = ox - left, sy = oy - top;
    y[i] = (sx >= 0 && sx < w && sy >= 0 && sy < h) ? x[(p * h + sy) * w + sx] : from_f<T>(value);
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
    pad2d_kernel<T><<<blocks_for(n), 256, 0, stream()>>>(static_cast<const T*>(x.raw_data()),
                                                         static_cast<T*>(y.raw_data()), planes, h,
                                                         w, oh, ow, left, top, value);
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
