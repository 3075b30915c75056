// File: src/nn/act_affine_cuda.cu
// Purpose: CUDA kernels of D-FINE's element-wise ops (see act_affine_cpu.cpp for the reference):
// activation + learnable affine in place, clamp, max over the last dimension. One thread per
// element (per row for the max), float32 arithmetic for float16 data.
#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine_cuda.h"

namespace um::nn::detail {
namespace {

template <typename T>
__global__ void act_affine_kernel(T* x, int64_t n, int act, bool affine, float scale, float bias) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    float v = to_f(x[i]);
    if (act == static_cast<int>(ActKind::kReLU)) {
      v = v > 0.f ? v : 0.f;
    } else if (act == static_cast<int>(ActKind::kSiLU)) {
      v = v / (1.f + expf(-v));
    } else if (act == static_cast<int>(ActKind::kGELU)) {
      v = 0.5f * v * (1.f + erff(v * 0.70710678118654752f));
    }
    if (affine) v = scale * v + bias;
    x[i] = from_f<T>(v);
  }
}

template <typename T>
__global__ void clamp_kernel(const T* x, T* y, int64_t n, float lo, float hi) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    y[i] = from_f<T>(fminf(fmaxf(to_f(x[i]), lo), hi));
  }
}

template <typename T>
__global__ void amax_last_kernel(const T* x, float* y, int64_t rows, int64_t c) {
  for (int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; r < rows;
       r += int64_t{gridDim.x} * blockDim.x) {
    const T* row = x + r * c;
    float m = to_f(row[0]);
    for (int64_t k = 1; k < c; ++k) m = fmaxf(m, to_f(row[k]));
    y[r] = m;
  }
}

}  // namespace

void act_affine_inplace_cuda(const Tensor& x, ActKind act, bool affine, float scale, float bias) {
  require_cuda_float("act_affine_inplace", x, "x");
  const int64_t n = x.numel();
  if (n == 0) return;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    act_affine_kernel<T><<<blocks_for(n), 256, 0, stream()>>>(
        static_cast<T*>(x.raw_data()), n, static_cast<int>(act), affine, scale, bias);
  });
  check_launch("act_affine_inplace");
}

Tensor clamp_cuda(const Tensor& x_in, float lo, float hi) {
  require_cuda_float("clamp", x_in, "x");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const int64_t n = x.numel();
  if (n == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    clamp_kernel<T><<<blocks_for(n), 256, 0, stream()>>>(static_cast<const T*>(x.raw_data()),
                                                         static_cast<T*>(y.raw_data()), n, lo, hi);
  });
  check_launch("clamp");
  return y;
}

Tensor amax_last_cuda(const Tensor& x_in) {
  require_cuda_float("amax_last", x_in, "x");
  const Tensor x = x_in.contiguous();
  const int64_t c = x.size(-1), rows = x.numel() / c;
  Tensor y = Tensor::empty(Shape(x.shape().begin(), x.shape().end() - 1), DType::kF32, x.device());
  if (rows == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    amax_last_kernel<T><<<blocks_for(rows), 256, 0, stream()>>>(static_cast<const T*>(x.raw_data()),
                                                                y.data<float>(), rows, c);
  });
  check_launch("amax_last");
  return y;
}

}  // namespace um::nn::detail
