// File: src/nn/sam_normalize_pad_cuda.cu
// Purpose: sam_normalize_pad on the GPU (nn/ops_sam.h): one thread per output element; the
// float32 value is (x - mean) / std with an IEEE division (nvcc's default -prec-div=true), so the
// float32 output equals the CPU reference bit for bit.
#include "nn/cuda_op_util.cuh"
#include "nn/ops_sam.h"

namespace um::nn::detail {
namespace {

struct NormConsts {
  float mean[3], std[3];
};

template <typename T>
__global__ void normalize_pad_kernel(const uint8_t* __restrict__ src, int64_t h, int64_t w,
                                     int64_t ch, int64_t size, NormConsts k, T* __restrict__ out) {
  const int64_t n = 3 * size * size;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t x = i % size, y = (i / size) % size, c = i / (size * size);
    float v = 0.f;
    if (y < h && x < w) {
      const float p = static_cast<float>(src[(y * w + x) * ch + (ch == 1 ? 0 : c)]);
      v = __fdiv_rn(__fsub_rn(p, k.mean[c]), k.std[c]);
    }
    out[i] = from_f<T>(v);
  }
}

}  // namespace

Tensor sam_normalize_pad_cuda(const Tensor& in, int64_t size, DType dtype) {
  const Tensor src = in.contiguous();  // a strided copy on the stream when `in` is a view
  Tensor out = Tensor::empty({1, 3, size, size}, dtype, in.device());
  NormConsts k{};
  for (int c = 0; c < 3; ++c) {
    k.mean[c] = kSamPixelMean[c];
    k.std[c] = kSamPixelStd[c];
  }
  const int64_t n = out.numel();
  const uint8_t* s = static_cast<const uint8_t*>(src.raw_data());
  UM_DISPATCH_FLOAT(dtype, T, {
    normalize_pad_kernel<T><<<blocks_for(n), 256, 0, stream()>>>(
        s, src.size(0), src.size(1), src.size(2), size, k, static_cast<T*>(out.raw_data()));
  });
  check_launch("sam_normalize_pad");
  return out;
}

}  // namespace um::nn::detail
