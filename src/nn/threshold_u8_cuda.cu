// File: src/nn/threshold_u8_cuda.cu
// Purpose: threshold_u8 on the GPU (nn/ops_sam.h): one thread per element, uint8 out.
#include "nn/cuda_op_util.cuh"
#include "nn/ops_sam.h"

namespace um::nn::detail {
namespace {

template <typename T>
__global__ void threshold_kernel(const T* __restrict__ x, int64_t n, float thr,
                                 uint8_t* __restrict__ out) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    out[i] = to_f<T>(x[i]) > thr ? 1 : 0;
  }
}

}  // namespace

Tensor threshold_u8_cuda(const Tensor& x, float threshold) {
  require_cuda_float("threshold_u8", x, "x");
  const Tensor src = x.contiguous();
  Tensor out = Tensor::empty(src.shape(), DType::kU8, x.device());
  const int64_t n = src.numel();
  if (n == 0) return out;
  UM_DISPATCH_FLOAT(src.dtype(), T, {
    threshold_kernel<T><<<blocks_for(n), 256, 0, stream()>>>(
        static_cast<const T*>(src.raw_data()), n, threshold,
        static_cast<uint8_t*>(out.raw_data()));
  });
  check_launch("threshold_u8");
  return out;
}

}  // namespace um::nn::detail
