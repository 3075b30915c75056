// File: src/nn/window_attention_cuda.cu
// Purpose: window_attention (nn/ops_sam.h) on the GPU: TinyViT's windowed attention as ONE
// kernel per call, replacing the chain the model used to run per block (zero-pad + split copies,
// norm and qkv on the padded grid, three head-view copies, the S = q k^T GEMM into float32
// scores, the softmax kernel, the P v GEMM, the head-merge permute, the merge + crop copies: a
// dozen kernels and seven passes over memory). A block owns one (window, head) and a slice of
// its query rows (blockIdx.z): it reads the window's k, v (and its rows' q) straight from the
// unpadded qkv tensor into shared memory (a token outside the image reads the pad row) and writes
// each in-image token's result once, already merged and cropped.
// Two kernels:
//  - float16 with key_dim 32 and at most 256 tokens per window (TinyViT: 49 and 196): tensor
//    cores through mma.sync (16x8x16 half products, float32 accumulation), FlashAttention-style:
//    S, the softmax (float32 statistics, max-subtracted) and P stay in registers; P is rounded to
//    float16 (as PyTorch's float16 attention does before P @ v) and O accumulated in float32 and
//    rounded once. Keys are padded to 64/128/208/256 with zero k/v rows whose scores are masked.
//    Up to 64 keys the scores are kept in registers; beyond, two passes recompute them (row
//    statistics, then P v) so that a thread needs ~70 registers instead of 168 (see below).
//    (A first version with WMMA tiles staged S and P through shared memory and ran the softmax
//    row by row: 67/83/47 us per call at TinyViT's three stage shapes on an H200, ncu. The
//    one-pass register version after it: 45 us at 208 keys (168 registers: 3 blocks per SM,
//    1.26 waves, warps stalled on scalar bias loads) and 23.5 us at 64 keys.)
//  - any other case (float32 above all, which the tests compare tightly with the CPU op): a plain
//    kernel, one warp per query row, k and v of the window in float32 shared memory, 32 query
//    rows per block.
// Both skip query rows of padding tokens (nothing reads them) and run on the current stream with
// no allocation besides the output and no host synchronisation (capturable).
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "core/cuda/device_attribute.h"
#include "nn/attention_mma_warp.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/mma_sm80.cuh"
#include "nn/ops_sam.h"
#include "nn/shared_memory_grant.cuh"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "window_attention";
constexpr unsigned kFullMask = 0xffffffffu;

struct WindowGeometry {
  const void* qkv = nullptr;
  const void* pad = nullptr;   // null when the grid needs no padding
  const void* bias = nullptr;  // [heads, n, n]
  void* out = nullptr;         // [B, h * w, heads * kd]
  int h = 0, w = 0, ws = 0, nh = 0, nw = 0, n = 0, heads = 0, kd = 0;
  int64_t row = 0;      // elements per qkv row: heads * 3 * kd
  int64_t out_row = 0;  // heads * kd
  float scale = 1.f;
};

// Window `win` = (image b, window row wy, window column wx), row-major over the padded grid.
struct WindowIndex {
  int64_t b;
  int wy, wx;
};
__device__ __forceinline__ WindowIndex window_index(const WindowGeometry& g, int win) {
  const int per_image = g.nh * g.nw;
  return {win / per_image, (win % per_image) / g.nw, (win % per_image) % g.nw};
}

// Token t (row-major inside the window): the image token index, or -1 for a padding token.
__device__ __forceinline__ int64_t image_token(const WindowGeometry& g, const WindowIndex& wi,
                                               int t) {
  const int y = wi.wy * g.ws + t / g.ws, x = wi.wx * g.ws + t % g.ws;
  if (y >= g.h || x >= g.w) return -1;
  return (wi.b * g.h + y) * g.w + x;
}

template <typename T>
__device__ __forceinline__ const T* qkv_row(const WindowGeometry& g, int64_t token) {
  return token >= 0 ? static_cast<const T*>(g.qkv) + token * g.row : static_cast<const T*>(g.pad);
}

// ---- Plain kernel: one warp per query row -------------------------------------------------------
constexpr int kPlainWarps = 8;
// Query rows per block: a window's rows are spread over gridDim.z blocks (each stages the whole
// window's k and v), so that TinyViT's 25 x 5 (window, head) pairs of 196 tokens fill the GPU.
// (With one block per pair, the float32 encoder was 0.2 ms slower than the old split/GEMM path.)
constexpr int kPlainRowsPerBlock = 4 * kPlainWarps;

size_t plain_smem_bytes(int n, int kd) {
  return sizeof(float) * (static_cast<size_t>(n) * (kd + 1) + static_cast<size_t>(n) * kd +
                          static_cast<size_t>(kPlainWarps) * (kd + n));
}

template <typename T>
__global__ void __launch_bounds__(kPlainWarps * 32)
    window_attention_plain_kernel(WindowGeometry g) {
  extern __shared__ float plain_smem[];
  const int n = g.n, kd = g.kd, ldk = kd + 1;  // odd k stride: lanes j read distinct banks
  float* ks = plain_smem;                      // [n][kd + 1]
  float* vs = ks + n * ldk;                    // [n][kd]
  float* qs = vs + n * kd;                     // [warps][kd]
  float* ps = qs + kPlainWarps * kd;           // [warps][n]
  const WindowIndex wi = window_index(g, blockIdx.x);
  const int head = blockIdx.y;
  const int64_t head_offset = static_cast<int64_t>(head) * 3 * kd;
  for (int e = threadIdx.x; e < n * kd; e += blockDim.x) {
    const int t = e / kd, d = e % kd;
    const T* r = qkv_row<T>(g, image_token(g, wi, t)) + head_offset;
    ks[t * ldk + d] = to_f(r[kd + d]);
    vs[t * kd + d] = to_f(r[2 * kd + d]);
  }
  __syncthreads();
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* q = qs + warp * kd;
  float* p = ps + warp * n;
  const T* bias = static_cast<const T*>(g.bias) + static_cast<int64_t>(head) * n * n;
  const int row_end = min(n, static_cast<int>(blockIdx.z + 1) * kPlainRowsPerBlock);
  for (int i = static_cast<int>(blockIdx.z) * kPlainRowsPerBlock + warp; i < row_end;
       i += kPlainWarps) {
    const int64_t token = image_token(g, wi, i);
    if (token < 0) continue;  // a padding token's output is cropped away
    const T* r = qkv_row<T>(g, token) + head_offset;
    for (int d = lane; d < kd; d += 32) q[d] = to_f(r[d]);
    __syncwarp();
    float mx = -INFINITY;
    for (int j = lane; j < n; j += 32) {
      float s = 0.f;
      for (int d = 0; d < kd; ++d) s += q[d] * ks[j * ldk + d];
      s = s * g.scale + to_f(bias[static_cast<int64_t>(i) * n + j]);
      p[j] = s;
      mx = fmaxf(mx, s);
    }
    mx = warp_max(mx);
    float sum = 0.f;
    for (int j = lane; j < n; j += 32) {
      const float e = expf(p[j] - mx);
      p[j] = e;
      sum += e;
    }
    sum = warp_sum(sum);
    __syncwarp();
    const float inv = 1.f / sum;
    T* o = static_cast<T*>(g.out) + token * g.out_row + static_cast<int64_t>(head) * kd;
    for (int d = lane; d < kd; d += 32) {
      float acc = 0.f;
      for (int j = 0; j < n; ++j) acc += p[j] * vs[j * kd + d];
      o[d] = from_f<T>(acc * inv);
    }
    __syncwarp();  // q and p are rewritten by the warp's next row
  }
}

// ---- Tensor-core kernel (float16, key_dim 32) ---------------------------------------------------
// The warp-level FlashAttention core of attention_mma_warp.cuh (S, statistics and P in
// registers; one pass up to 64 keys, two beyond), which says how and why.
// Load phase: a table of the window's image tokens (one division chain per token, not per
// element), then k, v and the block's q rows go straight from global to shared memory with
// cp.async (16 bytes each, all in flight at once, no registers), row-major with the core's
// 80-byte stride. The bias rows are read from global memory (L1/L2 resident: one [n, n] matrix
// per head, shared by all windows) as __half2 pairs when n is even and the bias 4-byte aligned,
// scalar otherwise (TinyViT's 7x7 windows: n = 49).
// A window's query rows are spread over gridDim.z blocks of 64 rows so that a 196-token window
// keeps 4 blocks busy instead of one.
// (A first version with WMMA tiles staged S and P through shared memory and ran the softmax
// row by row: 67/83/47 us per call at TinyViT's three stage shapes on an H200, ncu. The
// one-pass register version after it: 45 us at 208 keys (168 registers: 3 blocks per SM,
// 1.26 waves, warps stalled on scalar bias loads) and 23.5 us at 64 keys.)
using attention_mma::kChunks;
using attention_mma::kLd;
constexpr int kMmaKeyDim = attention_mma::kKeyDim;
constexpr int kMmaWarps = 4;
constexpr int kMmaThreads = kMmaWarps * 32;
constexpr int kMmaRows = kMmaWarps * 16;  // query rows per block

// The token counts the kernel is built for (keys padded up to one of them, the padding masked):
// TinyViT's 7x7 windows use 64, its 14x14 windows 208.
constexpr int kMmaTokenCounts[] = {64, 128, 208, 256};

// Blocks per SM the register budget must allow: the one-pass kernel (<= 64 keys) 8 (<= 64
// registers); the two-pass kernels at least 4 (<= 128; they take 70-101, ptxas -v), which puts
// TinyViT's 500 stage-2 blocks in one wave on 132 SMs (at 70 registers and 40 KiB of shared
// memory, 5 blocks fit an SM).
constexpr int mma_min_blocks(int np) { return np <= 64 ? 8 : 4; }

// q rows, k and v rows (80 bytes each) and the token table; at most 46 KiB (256 tokens): under
// the 48 KiB every device grants without opting in.
size_t mma_smem_bytes(int np) {
  return sizeof(__half) * static_cast<size_t>(kMmaRows + 2 * np) * kLd + sizeof(int) * np;
}

template <int NP, bool kPairs>
__global__ void __launch_bounds__(kMmaThreads, mma_min_blocks(NP))
    window_attention_mma_kernel(WindowGeometry g) {
  constexpr int NS = NP / 16;  // 16-key steps
  extern __shared__ __align__(16) unsigned char mma_smem[];
  __half* qs = reinterpret_cast<__half*>(mma_smem);  // [kMmaRows][kLd]
  __half* ks = qs + kMmaRows * kLd;                  // [NP][kLd]
  __half* vs = ks + NP * kLd;                        // [NP][kLd]
  int* tok = reinterpret_cast<int*>(vs + NP * kLd);  // [NP]: image token, -1 padding token
  const int n = g.n;
  const int head = blockIdx.y;
  const int row0 = blockIdx.z * kMmaRows;  // the block's first query row
  const int64_t head_offset = static_cast<int64_t>(head) * 3 * kMmaKeyDim;
  const __half* qkv = static_cast<const __half*>(g.qkv);
  const __half* pad = static_cast<const __half*>(g.pad);

  {
    const WindowIndex wi = window_index(g, blockIdx.x);
    for (int t = threadIdx.x; t < n; t += kMmaThreads) {
      tok[t] = static_cast<int>(image_token(g, wi, t));  // < 2^31: checked by the host
    }
  }
  __syncthreads();
  const auto token_part = [&](int t, int part, int c) {  // 16-byte chunk c of q/k/v of token t
    const int tk = tok[t];
    const __half* r = tk >= 0 ? qkv + static_cast<int64_t>(tk) * g.row : pad;
    return r + head_offset + part * kMmaKeyDim + c * 8;
  };
  const uint4 zero = make_uint4(0u, 0u, 0u, 0u);
  for (int e = threadIdx.x; e < NP * kChunks; e += kMmaThreads) {  // k and v, zero past n
    const int t = e / kChunks, c = e % kChunks;
    __half* kd = ks + t * kLd + c * 8;
    __half* vd = vs + t * kLd + c * 8;
    if (t < n) {
      cp_async16(kd, token_part(t, 1, c));
      cp_async16(vd, token_part(t, 2, c));
    } else {
      *reinterpret_cast<uint4*>(kd) = zero;
      *reinterpret_cast<uint4*>(vd) = zero;
    }
  }
  for (int e = threadIdx.x; e < kMmaRows * kChunks; e += kMmaThreads) {  // the block's q rows
    const int r = e / kChunks, c = e % kChunks, t = row0 + r;
    __half* qd = qs + r * kLd + c * 8;
    if (t < n) {
      cp_async16(qd, token_part(t, 0, c));
    } else {
      *reinterpret_cast<uint4*>(qd) = zero;
    }
  }
  cp_async_wait_all();
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane >> 2, tq = lane & 3;
  const int tile = warp * 16;  // the warp's rows within the block
  {
    const int row = row0 + tile + (lane & 15);
    const bool wanted = row < n && tok[row] >= 0;
    if (!__any_sync(kFullMask, wanted)) return;  // only padding tokens: nothing to write
  }
  const int i0 = row0 + tile + gq, i1 = i0 + 8;  // this lane's two query rows

  attention_mma::LaneRows rows;
  attention_mma::load_q_fragments(rows, qs + tile * kLd, lane);
  rows.ok0 = i0 < n;
  rows.ok1 = i1 < n;
  const __half* bias = static_cast<const __half*>(g.bias) + static_cast<int64_t>(head) * n * n;
  rows.bias0 = bias + (rows.ok0 ? i0 : 0) * n;
  rows.bias1 = bias + (rows.ok1 ? i1 : 0) * n;
  rows.qk_scale = g.scale * attention_mma::kLog2e;

  constexpr auto kBias =
      kPairs ? attention_mma::BiasRead::kPairs : attention_mma::BiasRead::kScalar;
  float o[kMmaKeyDim / 8][4];
  attention_mma::attend_rows<kBias, NS>(o, rows, ks, vs, n, NS, lane);

  const int64_t tok0 = rows.ok0 ? tok[i0] : -1;
  const int64_t tok1 = rows.ok1 ? tok[i1] : -1;
  __half* out = static_cast<__half*>(g.out) + static_cast<int64_t>(head) * kMmaKeyDim + tq * 2;
#pragma unroll
  for (int dn = 0; dn < kMmaKeyDim / 8; ++dn) {
    if (tok0 >= 0) {
      *reinterpret_cast<__half2*>(out + tok0 * g.out_row + dn * 8) =
          __floats2half2_rn(o[dn][0], o[dn][1]);
    }
    if (tok1 >= 0) {
      *reinterpret_cast<__half2*>(out + tok1 * g.out_row + dn * 8) =
          __floats2half2_rn(o[dn][2], o[dn][3]);
    }
  }
}

// pairs: the bias is read as __half2 (n even, bias 4-byte aligned).
template <int NP>
void launch_mma(dim3 grid, bool pairs, const WindowGeometry& g) {
  const size_t bytes = mma_smem_bytes(NP);
  if (pairs) {
    window_attention_mma_kernel<NP, true><<<grid, kMmaThreads, bytes, stream()>>>(g);
  } else {
    window_attention_mma_kernel<NP, false><<<grid, kMmaThreads, bytes, stream()>>>(g);
  }
}

}  // namespace

Tensor window_attention_cuda(const Tensor& qkv_in, const Tensor& pad_in, const Tensor& bias_in,
                             const WindowAttentionParams& p) {
  const Tensor qkv = qkv_in.contiguous();
  const bool padded = p.height % p.window != 0 || p.width % p.window != 0;
  const Tensor pad = padded ? pad_in.contiguous() : Tensor();
  const Tensor bias = bias_in.contiguous();
  const int64_t batch = qkv.size(0);
  Tensor out =
      Tensor::empty({batch, p.height * p.width, p.heads * p.key_dim}, qkv.dtype(), qkv.device());
  if (out.numel() == 0) return out;
  WindowGeometry g;
  g.qkv = qkv.raw_data();
  g.pad = padded ? pad.raw_data() : nullptr;
  g.bias = bias.raw_data();
  g.out = out.raw_data();
  g.h = static_cast<int>(p.height);
  g.w = static_cast<int>(p.width);
  g.ws = static_cast<int>(p.window);
  g.nh = static_cast<int>((p.height + p.window - 1) / p.window);
  g.nw = static_cast<int>((p.width + p.window - 1) / p.window);
  g.n = static_cast<int>(p.window * p.window);
  g.heads = static_cast<int>(p.heads);
  g.kd = static_cast<int>(p.key_dim);
  g.row = p.heads * 3 * p.key_dim;
  g.out_row = p.heads * p.key_dim;
  g.scale = p.scale;
  const int64_t windows = batch * g.nh * g.nw;
  if (windows > INT32_MAX || p.heads > 65535) {
    fail(kOp, std::to_string(windows) + " windows x " + std::to_string(p.heads) +
                  " heads exceed one launch grid");
  }
  const dim3 grid(static_cast<unsigned>(windows), static_cast<unsigned>(p.heads));
  int np = 0;  // the smallest token count the tensor-core kernel is built for, >= n
  for (int c : kMmaTokenCounts) {
    if (np == 0 && c >= g.n) np = c;
  }
  // The tensor-core kernel reads q/k/v rows with 16-byte copies and keeps image token indices
  // as int.
  const bool mma = qkv.dtype() == DType::kF16 && g.kd == kMmaKeyDim && np > 0 && aligned16(g.qkv) &&
                   (!padded || aligned16(g.pad)) && g.row % 8 == 0 && g.out_row % 2 == 0 &&
                   batch * p.height * p.width <= INT32_MAX;
  if (mma) {
    const dim3 mma_grid(grid.x, grid.y, static_cast<unsigned>((g.n + kMmaRows - 1) / kMmaRows));
    const bool pairs = g.n % 2 == 0 && reinterpret_cast<uintptr_t>(g.bias) % 4 == 0;
    switch (np) {
      case 64:
        launch_mma<64>(mma_grid, pairs, g);
        break;
      case 128:
        launch_mma<128>(mma_grid, pairs, g);
        break;
      case 208:
        launch_mma<208>(mma_grid, pairs, g);
        break;
      default:
        launch_mma<256>(mma_grid, pairs, g);
        break;
    }
  } else {
    const size_t bytes = plain_smem_bytes(g.n, g.kd);
    UM_DISPATCH_FLOAT(qkv.dtype(), T, {
      if (!allow_dynamic_shared_memory(
              reinterpret_cast<const void*>(&window_attention_plain_kernel<T>), bytes)) {
        fail(kOp, "a window needs " + std::to_string(bytes) +
                      " bytes of shared memory, the device allows " +
                      std::to_string(um::cuda::device_attribute(
                          cudaDevAttrMaxSharedMemoryPerBlockOptin)) +
                      " per block (window or key_dim too large)");
      }
      const dim3 plain_grid(
          grid.x, grid.y,
          static_cast<unsigned>((g.n + kPlainRowsPerBlock - 1) / kPlainRowsPerBlock));
      window_attention_plain_kernel<T><<<plain_grid, kPlainWarps * 32, bytes, stream()>>>(g);
    });
  }
  check_launch(kOp);
  return out;
}

}  // namespace um::nn::detail
