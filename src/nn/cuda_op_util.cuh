// File: src/nn/cuda_op_util.cuh
// Purpose: what every <op>_cuda.cu shares: argument checks that name the op, float32/float16
// dispatch, element load/store through float, and the launch helpers (current stream, checked
// launch). Internal to um_nn.
// Usage:
//   require_cuda_float("layer_norm", x, "x");
//   UM_DISPATCH_FLOAT(x.dtype(), T, { my_kernel<T><<<grid, 256, 0, stream()>>>(...); });
//   check_launch("layer_norm");
#pragma once

#include <cuda_fp16.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <string>

#include "core/cuda/cuda_check.h"
#include "core/cuda/stream_context.h"
#include "core/tensor.h"
#include "nn/op_util.h"

namespace um::nn::detail {

inline cudaStream_t stream() { return um::cuda::current_stream(); }

inline void require_cuda_float(const char* op, const Tensor& t, const char* name) {
  if (!t.defined()) fail(op, std::string(name) + " is undefined");
  if (!t.device().is_cuda()) {
    throw Error(StatusCode::kFailedPrecondition, std::string(op) + ": " + name + " is on " +
                                                     t.device().str() + ", expected a CUDA tensor");
  }
  if (t.dtype() != DType::kF32 && t.dtype() != DType::kF16) {
    fail(op, std::string(name) + " must be float32 or float16, got " + dtype_name(t.dtype()));
  }
}

// Same device and dtype as the reference tensor (weights follow the activation's precision).
inline void require_like(const char* op, const Tensor& t, const char* name, const Tensor& ref) {
  require_cuda_float(op, t, name);
  if (t.dtype() != ref.dtype()) {
    fail(op, std::string(name) + " is " + dtype_name(t.dtype()) + " but the input is " +
                 dtype_name(ref.dtype()));
  }
}

// A per-output-channel bias: 1-D, one value per filter (weight.size(0)).
inline void require_bias_per_filter(const char* op, const Tensor& bias, const Tensor& weight) {
  if (bias.dim() != 1 || bias.size(0) != weight.size(0)) {
    fail(op, "bias " + shape_str(bias.shape()) + " does not match weight " +
                 shape_str(weight.shape()));
  }
}

inline void check_launch(const char* op) { UM_CUDA_CHECK_LAST(op); }

// Launch shape of a "row" kernel over an [rows, cols] output (an NCHW tensor seen as N*C*H rows
// of W): rows over the y threads and gridDim.y, columns over the x threads, both grid-stride. A
// kernel that maps a flat element index back to (n, c, y, x) pays several 64-bit divisions per
// element (tens of instructions each); a row kernel divides once per row. A thread owns
// kRowColsPerThread columns of a row, blockDim.x apart (a warp's accesses stay coalesced), and
// issues all their loads before it stores: with one column per thread, D-FINE's stem pad (16 x
// 321 x 321 float32) was ~10 waves of short blocks each waiting one memory latency (ncu, H200:
// 32 us). Threads: the row's column groups rounded up to a warp (32..256) across, and as many
// rows as fill 256 threads down (narrow rows, e.g. D-FINE's 80-wide FPN maps, would otherwise
// make one-warp blocks).
constexpr int kRowColsPerThread = 4;
struct RowLaunch {
  dim3 grid, block;
};
inline RowLaunch row_launch(int64_t rows, int64_t cols) {
  const int64_t groups = (cols + kRowColsPerThread - 1) / kRowColsPerThread;
  int64_t tx = groups >= 256 ? 256 : ((groups + 31) / 32) * 32;
  if (tx < 32) tx = 32;
  const int64_t ty = 256 / tx;
  const int64_t bx = (groups + tx - 1) / tx;
  const int64_t by = (rows + ty - 1) / ty;
  return {dim3(static_cast<unsigned>(bx < 65535 ? (bx < 1 ? 1 : bx) : 65535),
               static_cast<unsigned>(by < 65535 ? (by < 1 ? 1 : by) : 65535)),
          dim3(static_cast<unsigned>(tx), static_cast<unsigned>(ty))};
}
// Inside a row kernel:
//   for (UM_ROWS(r, rows)) {
//     for (UM_COL_GROUPS(c0, cols)) {
//       for (int k = 0; k < kRowColsPerThread; ++k) column c0 + k * blockDim.x (if < cols)
#define UM_ROWS(row_var, rows)                                                             \
  int64_t row_var = static_cast<int64_t>(blockIdx.y) * blockDim.y + threadIdx.y;           \
       row_var < (rows); row_var += static_cast<int64_t>(gridDim.y) * blockDim.y
#define UM_COL_GROUPS(col_var, cols)                                                         \
  int64_t col_var = static_cast<int64_t>(blockIdx.x) * blockDim.x * kRowColsPerThread +      \
                    threadIdx.x;                                                             \
       col_var < (cols);                                                                     \
       col_var += static_cast<int64_t>(gridDim.x) * blockDim.x * kRowColsPerThread

// Max / sum over the 32 lanes of a warp (every lane gets the result; all lanes must call).
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

inline int blocks_for(int64_t n, int threads = 256) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<int>(b < 1 ? 1 : (b > 65535LL * 32 ? 65535LL * 32 : b));
}

// N elements of T moved as one aligned vector load/store (one instruction for 16 bytes), the
// unit of every vectorised element-wise pass.
template <typename T, int N>
struct alignas(sizeof(T) * N) VecPack {
  static constexpr int kN = N;
  T v[N];
};
// 16 bytes of T: 8 halfs or 4 floats.
template <typename T>
using Pack16 = VecPack<T, static_cast<int>(16 / sizeof(T))>;
// Whether p may be read / written in 16-byte units (Pack16, cp.async); null (an absent optional
// operand's raw_data()) counts as aligned.
inline bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

template <typename T> __device__ __forceinline__ float to_f(T v) { return static_cast<float>(v); }
template <> __device__ __forceinline__ float to_f<__half>(__half v) { return __half2float(v); }
template <typename T> __device__ __forceinline__ T from_f(float v) { return static_cast<T>(v); }
template <> __device__ __forceinline__ __half from_f<__half>(float v) { return __float2half_rn(v); }

}  // namespace um::nn::detail

// Runs `body` with `T` bound to float or __half according to `dtype`.
#define UM_DISPATCH_FLOAT(dtype, T, ...)                    \
  do {                                                      \
    if ((dtype) == ::um::DType::kF32) {                     \
      using T = float;                                      \
      __VA_ARGS__                                           \
    } else if ((dtype) == ::um::DType::kF16) {              \
      using T = __half;                                     \
      __VA_ARGS__                                           \
    } else {                                                \
      ::um::nn::detail::fail("cuda op", "unsupported dtype"); \
    }                                                       \
  } while (0)
