// File: src/nn/linear_gelu_cuda.cu
// Purpose: y = gelu(x @ W^T + b) in float16 (float32 accumulation) as ONE tensor-core kernel:
// the GEMM, the bias and the exact erf GELU (activation_cuda.cuh, the CPU's expression) on the
// float32 accumulator, one rounding to float16. It replaces cuBLASLt GEMM + a separate GELU pass
// over the hidden tensor in TinyViT's MLPs (fc1: K = 128 / 160 / 320, N = 4K): cuBLASLt's GELU
// epilogue is the tanh approximation, which the models must not use. Declared in
// nn/linear_gelu_cuda.h; linear_cuda.cu's linear_act_cuda calls it for the inputs it supports.
//
// Design (written to be simple and checkable rather than peak speed; K is small, so the kernel
// is bound by writing y):
//   - block tile 128 (rows of x) x 64 (output features), 4 warps in a 2 x 2 grid, each warp
//     64 x 32 = 4 x 4 mma.sync.m16n8k16 tiles (f16 inputs, f32 accumulators, 64 per thread);
//   - K in steps of 32: both tiles are copied global -> shared with cp.async (16-byte chunks of
//     8 halves, zero-filled beyond M, N or K, so K % 8 == 0 suffices), double-buffered: the next
//     step's copies are in flight while the current one is multiplied;
//   - shared rows are padded to 40 halves (80 bytes), so ldmatrix's 8 row addresses hit distinct
//     banks; W [N, K] row-major is exactly the "col" B operand, so both use ldmatrix without .trans;
//   - epilogue: acc + bias, GELU, one rounding, staged as float16 in shared memory (reusing the
//     operand buffers), then written with 16-byte stores, masked to M and N.
#include <cuda_fp16.h>

#include <cstdint>
#include <limits>

#include "nn/activation_cuda.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/linear_gelu_cuda.h"

namespace um::nn::detail {
namespace {

constexpr int kBM = 128;         // rows of x (and y) per block
constexpr int kBN = 64;          // output features per block
constexpr int kBK = 32;          // K per pipeline step
constexpr int kLds = kBK + 8;    // padded shared row of an operand tile, in halves (80 bytes)
constexpr int kCLds = kBN + 8;   // padded shared row of the output tile, in halves (144 bytes)
constexpr int kThreads = 128;    // 4 warps: 2 along M x 2 along N, each 64 x 32
constexpr int kWarpM = 64, kWarpN = 32;

// The operand tiles of both pipeline stages, and (after the K loop) the output tile in the same
// memory. uint16_t holds the float16 bits (only moved, never computed on, in shared memory).
union SharedTiles {
  struct {
    uint16_t a[2][kBM][kLds];
    uint16_t b[2][kBN][kLds];
  } ab;
  uint16_t c[kBM][kCLds];
};
static_assert(sizeof(SharedTiles) <= 48 * 1024, "static shared memory limit");

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16 bytes global -> shared; src_bytes 0 writes 16 zero bytes (and reads nothing).
__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(src_bytes)
               : "memory");
}
__device__ __forceinline__ void cp_async_commit() {
  asm volatile("cp.async.commit_group;\n" ::: "memory");
}
template <int N>
__device__ __forceinline__ void cp_async_wait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
}

__device__ __forceinline__ void ldmatrix_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p))
               : "memory");  // ordered with the barriers and the epilogue's shared stores
}

// d += a (16 x 16, row) * b (16 x 8, col), f16 inputs, f32 accumulators.
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4],
                                          const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
      "{%8, %9}, {%0, %1, %2, %3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

// Queues the copies of step k0's tiles into `stage`: x rows m0.., W rows n0.., K columns
// k0..k0+31, as 16-byte chunks (A: 128 rows x 4 chunks, 4 per thread; B: 64 x 4, 2 per thread).
__device__ __forceinline__ void load_step(SharedTiles& sm, int stage, const __half* x, int64_t lda,
                                          const __half* w, int m, int n, int k, int m0, int n0,
                                          int k0, int tid) {
#pragma unroll
  for (int i = 0; i < (kBM * kBK / 8) / kThreads; ++i) {
    const int c = tid + i * kThreads;
    const int r = c >> 2, kc = (c & 3) * 8;
    const int gm = m0 + r, gk = k0 + kc;
    const bool ok = gm < m && gk < k;
    const __half* src = ok ? x + static_cast<int64_t>(gm) * lda + gk : x;
    cp_async16(&sm.ab.a[stage][r][kc], src, ok ? 16 : 0);
  }
#pragma unroll
  for (int i = 0; i < (kBN * kBK / 8) / kThreads; ++i) {
    const int c = tid + i * kThreads;
    const int r = c >> 2, kc = (c & 3) * 8;
    const int gn = n0 + r, gk = k0 + kc;
    const bool ok = gn < n && gk < k;
    const __half* src = ok ? w + static_cast<int64_t>(gn) * k + gk : w;
    cp_async16(&sm.ab.b[stage][r][kc], src, ok ? 16 : 0);
  }
}

// x [m, k] (row stride lda), w [n, k] contiguous, bias [n] or null, y [m, n] contiguous.
// k % 8 == 0, n % 8 == 0, lda % 8 == 0, x / w / y 16-byte aligned (the launcher checks).
__global__ void __launch_bounds__(kThreads)
    linear_gelu_f16_kernel(const __half* __restrict__ x, int64_t lda, const __half* __restrict__ w,
                           const __half* __restrict__ bias, __half* __restrict__ y, int m, int n,
                           int k) {
  __shared__ __align__(16) SharedTiles sm;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int wm = warp >> 1, wn = warp & 1;  // this warp's 64 x 32 sub-tile
  const int m0 = blockIdx.x * kBM, n0 = blockIdx.y * kBN;

  float acc[4][4][4];
#pragma unroll
  for (int mi = 0; mi < 4; ++mi)
#pragma unroll
    for (int ni = 0; ni < 4; ++ni)
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[mi][ni][e] = 0.f;

  const int steps = (k + kBK - 1) / kBK;
  load_step(sm, 0, x, lda, w, m, n, k, m0, n0, 0, tid);
  cp_async_commit();
  for (int s = 0; s < steps; ++s) {
    const int cur = s & 1;
    if (s + 1 < steps) {
      // The other stage was last read in step s - 1, which ended with a barrier.
      load_step(sm, cur ^ 1, x, lda, w, m, n, k, m0, n0, (s + 1) * kBK, tid);
      cp_async_commit();
      cp_async_wait<1>();  // step s's group has landed (this thread's copies)
    } else {
      cp_async_wait<0>();
    }
    __syncthreads();  // ... and every thread's
#pragma unroll
    for (int kk = 0; kk < kBK; kk += 16) {
      uint32_t af[4][4], bf[4][2];
#pragma unroll
      for (int mi = 0; mi < 4; ++mi) {
        // Matrices 0..3 = (rows 0-7, k 0-7), (rows 8-15, k 0-7), (rows 0-7, k 8-15),
        // (rows 8-15, k 8-15): a0..a3 of m16n8k16's A fragment.
        const int row = wm * kWarpM + mi * 16 + (lane & 15);
        ldmatrix_x4(af[mi], &sm.ab.a[cur][row][kk + (lane >> 4) * 8]);
      }
#pragma unroll
      for (int nj = 0; nj < 2; ++nj) {
        // Matrices 0..3 = (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15):
        // b0/b1 of the n-tiles 2 nj and 2 nj + 1.
        const int row = wn * kWarpN + nj * 16 + (lane & 7) + ((lane >> 4) << 3);
        uint32_t r[4];
        ldmatrix_x4(r, &sm.ab.b[cur][row][kk + ((lane >> 3) & 1) * 8]);
        bf[2 * nj][0] = r[0];
        bf[2 * nj][1] = r[1];
        bf[2 * nj + 1][0] = r[2];
        bf[2 * nj + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 4; ++mi)
#pragma unroll
        for (int ni = 0; ni < 4; ++ni) mma_16816(acc[mi][ni], af[mi], bf[ni]);
    }
    __syncthreads();  // stage `cur` is refilled in step s + 1 (or becomes the output tile)
  }

  // Epilogue. Accumulator element e of an m16n8 tile: row (lane / 4) + 8 (e / 2), column
  // 2 (lane % 4) + e % 2.
#pragma unroll
  for (int ni = 0; ni < 4; ++ni) {
    const int col = wn * kWarpN + ni * 8 + 2 * (lane & 3);
    const int gn = n0 + col;  // n % 8 == 0: gn < n implies gn + 1 < n
    float b0 = 0.f, b1 = 0.f;
    if (bias != nullptr && gn < n) {
      b0 = __half2float(bias[gn]);
      b1 = __half2float(bias[gn + 1]);
    }
#pragma unroll
    for (int mi = 0; mi < 4; ++mi) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int row = wm * kWarpM + mi * 16 + (lane >> 2) + h * 8;
        const float v0 = activate<Activation::kGELU>(acc[mi][ni][2 * h] + b0);
        const float v1 = activate<Activation::kGELU>(acc[mi][ni][2 * h + 1] + b1);
        *reinterpret_cast<__half2*>(&sm.c[row][col]) = __floats2half2_rn(v0, v1);
      }
    }
  }
  __syncthreads();
#pragma unroll
  for (int i = 0; i < (kBM * kBN / 8) / kThreads; ++i) {
    const int c = tid + i * kThreads;
    const int r = c >> 3, cc = (c & 7) * 8;
    const int gm = m0 + r, gn = n0 + cc;
    if (gm < m && gn < n) {
      *reinterpret_cast<uint4*>(y + static_cast<int64_t>(gm) * n + gn) =
          *reinterpret_cast<const uint4*>(&sm.c[r][cc]);
    }
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

// x's rows: true when x's leading dims collapse into one row stride (size-1 dims ignored; a
// single row gets stride k). Same rule as linear_cuda.cu's collapse_batch.
bool row_layout(const Tensor& x, int64_t* rows, int64_t* lda) {
  *rows = 1;
  *lda = x.size(-1);
  int64_t span = -1;
  for (int64_t i = x.dim() - 2; i >= 0; --i) {
    const int64_t size = x.size(i), stride = x.strides()[i];
    *rows *= size;
    if (size == 1) continue;
    if (span < 0) {
      *lda = stride;
    } else if (stride != span) {
      return false;
    }
    span = stride * size;
  }
  return true;
}

}  // namespace

bool linear_gelu_f16_supported(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  if (!x.defined() || !weight.defined()) return false;
  if (!x.device().is_cuda() || !weight.device().is_cuda()) return false;
  if (x.dtype() != DType::kF16 || weight.dtype() != DType::kF16) return false;
  if (x.dim() < 1 || weight.dim() != 2) return false;
  const int64_t n = weight.size(0), k = weight.size(1);
  if (x.size(-1) != k || k <= 0 || n <= 0 || k % 8 != 0 || n % 8 != 0) return false;
  if (!weight.is_contiguous() || !aligned16(weight.raw_data())) return false;
  if (bias.defined()) {
    if (!bias.device().is_cuda() || bias.dtype() != DType::kF16) return false;
    if (bias.dim() != 1 || bias.size(0) != n || !bias.is_contiguous()) return false;
  }
  if (x.strides().back() != 1 || !aligned16(x.raw_data())) return false;
  int64_t rows = 0, lda = 0;
  if (!row_layout(x, &rows, &lda) || rows < 1 || lda % 8 != 0 || lda < k) return false;
  // int row/column indices in the kernel; grid.y holds the column tiles.
  constexpr int64_t kIntMax = std::numeric_limits<int>::max();
  if (rows > kIntMax - kBM || k > kIntMax || n > int64_t{65535} * kBN) return false;
  return true;
}

Tensor linear_gelu_f16_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  constexpr const char* kOp = "linear_act";
  if (!linear_gelu_f16_supported(x, weight, bias)) {
    fail(kOp, "the fused float16 GELU kernel does not take x " + shape_str(x.shape()) +
                  " with weight " + shape_str(weight.shape()));
  }
  const int64_t n = weight.size(0), k = weight.size(1);
  int64_t rows = 0, lda = 0;
  row_layout(x, &rows, &lda);
  Shape out_shape = x.shape();
  out_shape.back() = n;
  Tensor out = Tensor::empty(out_shape, DType::kF16, x.device());
  if (!aligned16(out.raw_data())) fail(kOp, "output block is not 16-byte aligned");
  const dim3 grid(static_cast<unsigned>((rows + kBM - 1) / kBM),
                  static_cast<unsigned>((n + kBN - 1) / kBN));
  linear_gelu_f16_kernel<<<grid, kThreads, 0, stream()>>>(
      static_cast<const __half*>(x.raw_data()), lda, static_cast<const __half*>(weight.raw_data()),
      bias.defined() ? static_cast<const __half*>(bias.raw_data()) : nullptr,
      static_cast<__half*>(out.raw_data()), static_cast<int>(rows), static_cast<int>(n),
      static_cast<int>(k));
  check_launch(kOp);
  return out;
}

}  // namespace um::nn::detail
