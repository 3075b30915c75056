#include "core/cuda/strided_copy.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "core/cuda/cuda_check.h"
#include "core/cuda/stream_context.h"
#include "core/status.h"

namespace um::cuda {
namespace {

constexpr int kMaxDims = 8;

struct StridedLayout {
  int ndim;
  int64_t sizes[kMaxDims];
  int64_t src_strides[kMaxDims];
  int64_t dst_strides[kMaxDims];
};

template <typename T> __device__ float load_f(const T* p) { return static_cast<float>(*p); }
template <> __device__ float load_f<__half>(const __half* p) { return __half2float(*p); }
template <> __device__ float load_f<__nv_bfloat16>(const __nv_bfloat16* p) { return __bfloat162float(*p); }
template <> __device__ float load_f<bool>(const bool* p) { return *p ? 1.f : 0.f; }

template <typename T> __device__ void store_f(T* p, float v) { *p = static_cast<T>(v); }
template <> __device__ void store_f<__half>(__half* p, float v) { *p = __float2half_rn(v); }
template <> __device__ void store_f<__nv_bfloat16>(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }
template <> __device__ void store_f<bool>(bool* p, float v) { *p = v != 0.f; }

// Same-type copies move the element bits; converting copies go through float (exact for every
// pair except int64 beyond 2^24, which no model tensor on the GPU carries).
template <typename D, typename S>
__global__ void copy_kernel(D* dst, const S* src, StridedLayout l, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rem = i, so = 0, dof = 0;
    for (int d = l.ndim - 1; d >= 0; --d) {
      const int64_t c = rem % l.sizes[d];
      rem /= l.sizes[d];
      so += c * l.src_strides[d];
      dof += c * l.dst_strides[d];
    }
    if constexpr (std::is_same_v<D, S>) {
      dst[dof] = src[so];
    } else if constexpr (std::is_integral_v<D> && std::is_integral_v<S> && !std::is_same_v<D, bool>) {
      dst[dof] = static_cast<D>(src[so]);
    } else {
      store_f(dst + dof, load_f(src + so));
    }
  }
}

template <typename D>
void launch_from(void* dst, const Tensor& src, const StridedLayout& l, int64_t n, cudaStream_t s) {
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65535 * 8));
  auto* d = static_cast<D*>(dst);
  const void* sp = src.raw_data();
  switch (src.dtype()) {
    case DType::kF32: copy_kernel<<<blocks, threads, 0, s>>>(d, static_cast<const float*>(sp), l, n); break;
    case DType::kF16: copy_kernel<<<blocks, threads, 0, s>>>(d, static_cast<const __half*>(sp), l, n); break;
    case DType::kBF16: copy_kernel<<<blocks, threads, 0, s>>>(d, static_cast<const __nv_bfloat16*>(sp), l, n); break;
    case DType::kI64: copy_kernel<<<blocks, threads, 0, s>>>(d, static_cast<const int64_t*>(sp), l, n); break;
    case DType::kI32: copy_kernel<<<blocks, threads, 0, s>>>(d, static_cast<const int32_t*>(sp), l, n); break;
    case DType::kU8: copy_kernel<<<blocks, threads, 0, s>>>(d, static_cast<const uint8_t*>(sp), l, n); break;
    case DType::kBool: copy_kernel<<<blocks, threads, 0, s>>>(d, static_cast<const bool*>(sp), l, n); break;
  }
}

}  // namespace

void copy_strided(const Tensor& dst, const Tensor& src) {
  if (dst.shape() != src.shape()) {
    throw Error(StatusCode::kInvalidArgument,
                "copy_strided: shape " + shape_str(src.shape()) + " into " + shape_str(dst.shape()));
  }
  if (!dst.device().is_cuda() || !src.device().is_cuda()) {
    throw Error(StatusCode::kInvalidArgument, "copy_strided: both tensors must be on a CUDA device");
  }
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dim() > kMaxDims) {
    throw Error(StatusCode::kInvalidArgument, "copy_strided: more than 8 dims: " + shape_str(dst.shape()));
  }
  StridedLayout l{};
  l.ndim = static_cast<int>(dst.dim());
  for (int d = 0; d < l.ndim; ++d) {
    l.sizes[d] = dst.shape()[d];
    l.src_strides[d] = src.strides()[d];
    l.dst_strides[d] = dst.strides()[d];
  }
  cudaStream_t s = current_stream();
  void* dp = dst.raw_data();
  switch (dst.dtype()) {
    case DType::kF32: launch_from<float>(dp, src, l, n, s); break;
    case DType::kF16: launch_from<__half>(dp, src, l, n, s); break;
    case DType::kBF16: launch_from<__nv_bfloat16>(dp, src, l, n, s); break;
    case DType::kI64: launch_from<int64_t>(dp, src, l, n, s); break;
    case DType::kI32: launch_from<int32_t>(dp, src, l, n, s); break;
    case DType::kU8: launch_from<uint8_t>(dp, src, l, n, s); break;
    case DType::kBool: launch_from<bool>(dp, src, l, n, s); break;
  }
  UM_CUDA_CHECK_LAST("copy_strided kernel");
}

}  // namespace um::cuda
