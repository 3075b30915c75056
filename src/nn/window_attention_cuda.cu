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
//    (A first version with WMMA tiles staged S and P through shared memory and ran the softmax
//    row by row: 67/83/47 us per call at TinyViT's three stage shapes on an H200, ncu.)
//  - any other case (float32 above all, which the tests compare tightly with the CPU op): a plain
//    kernel, one warp per query row, k and v of the window in float32 shared memory, 32 query
//    rows per block.
// Both skip query rows of padding tokens (nothing reads them) and run on the current stream with
// no allocation besides the output and no host synchronisation (capturable).
#include <cuda_fp16.h>

#include <cmath>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_sam.h"

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
// FlashAttention-style register tiles with mma.sync.m16n8k16 (float16 products, float32
// accumulation): a warp owns 16 query rows; S = q k^T for the whole window stays in its
// accumulator registers, the softmax runs on them (each row's values live in one quad of lanes:
// two shuffles per statistic), and the normalised probabilities, rounded to float16 (as PyTorch's
// float16 attention does before P @ v), are ALREADY the A operand of O = P v: the accumulator
// layout of two 8-key tiles is the A-fragment layout of one 16-key step. No S or P in memory.
// Shared memory holds k and v^T of the window (all tokens) and q of the block's 64 query rows;
// a window's query rows are spread over gridDim.z blocks so that a 196-token window keeps 4
// blocks busy instead of one.
// Fragment layouts (PTX ISA, mma.m16n8k16 with .f16 inputs; g = lane / 4, t = lane % 4):
//   A (16 x 16, row-major): reg 0 = (row g, cols 2t, 2t+1), reg 1 = (row g+8, cols 2t..),
//                           reg 2 = (row g, cols 8+2t..), reg 3 = (row g+8, cols 8+2t..);
//   B (16 x 8, "col"):      reg 0 = (rows 2t, 2t+1, col g), reg 1 = (rows 8+2t.., col g);
//   C (16 x 8, float):      c0, c1 = (row g, cols 2t, 2t+1), c2, c3 = (row g+8, cols 2t..).
// Each 32-bit register holds two halves, the lower index in the low 16 bits.
constexpr int kMmaWarps = 4;
constexpr int kMmaRows = kMmaWarps * 16;  // query rows per block
constexpr int kMmaKeyDim = 32;
constexpr int kLdQk = kMmaKeyDim + 8;  // q/k rows in shared memory: 80 bytes, conflict-free loads

// The token counts the kernel is built for (keys padded up to one of them, the padding masked):
// TinyViT's 7x7 windows use 64, its 14x14 windows 208.
constexpr int kMmaTokenCounts[] = {64, 128, 208, 256};

// At most 42.5 KiB (256 tokens): under the 48 KiB every device grants without opting in.
size_t mma_smem_bytes(int np) {
  return sizeof(__half) *
         (static_cast<size_t>(kMmaRows + np) * kLdQk + static_cast<size_t>(kMmaKeyDim) * (np + 8));
}

__device__ __forceinline__ uint32_t load_pair(const __half* p) {
  return *reinterpret_cast<const uint32_t*>(p);
}
__device__ __forceinline__ uint32_t pack_pair(float lo, float hi) {
  const __half2 h = __floats2half2_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}
// d += a (16x16) * b (16x8), float32 accumulators.
__device__ __forceinline__ void mma_16816(float (&d)[4], const uint32_t (&a)[4], uint32_t b0,
                                          uint32_t b1) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
      "{%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// NP = keys padded (multiple of 16), NT = NP / 8 key tiles.
template <int NP>
__global__ void __launch_bounds__(kMmaWarps * 32) window_attention_mma_kernel(WindowGeometry g) {
  constexpr int NT = NP / 8;
  constexpr int kLdVt = NP + 8;            // v^T rows: odd multiple of 4 words, conflict-free loads
  constexpr int kChunks = kMmaKeyDim / 8;  // 16-byte chunks per q/k/v part of a token
  extern __shared__ __align__(16) unsigned char mma_smem[];
  __half* qs = reinterpret_cast<__half*>(mma_smem);  // [kMmaRows][kLdQk]
  __half* ks = qs + kMmaRows * kLdQk;                // [NP][kLdQk]
  __half* vt = ks + NP * kLdQk;                      // [kMmaKeyDim][kLdVt]
  const int n = g.n;
  const WindowIndex wi = window_index(g, blockIdx.x);
  const int head = blockIdx.y;
  const int row0 = blockIdx.z * kMmaRows;  // the block's first query row
  const int64_t head_offset = static_cast<int64_t>(head) * 3 * kMmaKeyDim;

  for (int e = threadIdx.x; e < NP * kChunks; e += blockDim.x) {  // k and v^T, zero past n
    const int t = e / kChunks, c = e % kChunks;
    uint4 kv = make_uint4(0u, 0u, 0u, 0u), vv = kv;
    if (t < n) {
      const __half* r = qkv_row<__half>(g, image_token(g, wi, t)) + head_offset + c * 8;
      kv = *reinterpret_cast<const uint4*>(r + kMmaKeyDim);
      vv = *reinterpret_cast<const uint4*>(r + 2 * kMmaKeyDim);
    }
    *reinterpret_cast<uint4*>(ks + t * kLdQk + c * 8) = kv;
    const __half* vh = reinterpret_cast<const __half*>(&vv);
#pragma unroll
    for (int i = 0; i < 8; ++i) vt[(c * 8 + i) * kLdVt + t] = vh[i];
  }
  for (int e = threadIdx.x; e < kMmaRows * kChunks; e += blockDim.x) {  // q of the block's rows
    const int r = e / kChunks, c = e % kChunks, t = row0 + r;
    uint4 qv = make_uint4(0u, 0u, 0u, 0u);
    if (t < n) {
      qv = *reinterpret_cast<const uint4*>(qkv_row<__half>(g, image_token(g, wi, t)) + head_offset +
                                           c * 8);
    }
    *reinterpret_cast<uint4*>(qs + r * kLdQk + c * 8) = qv;
  }
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, gq = lane >> 2, tq = lane & 3;
  const int tile = warp * 16;  // the warp's rows within the block
  {
    const int row = row0 + tile + (lane & 15);
    const bool wanted = row < n && image_token(g, wi, row) >= 0;
    if (!__any_sync(kFullMask, wanted)) return;  // only padding tokens: nothing to write
  }
  const int i0 = row0 + tile + gq, i1 = i0 + 8;  // this lane's two query rows

  uint32_t qa[2][4];  // A fragments of q, key_dim in two 16-wide steps
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const __half* q0 = qs + (tile + gq) * kLdQk + k * 16 + tq * 2;
    const __half* q1 = q0 + 8 * kLdQk;
    qa[k][0] = load_pair(q0);
    qa[k][1] = load_pair(q1);
    qa[k][2] = load_pair(q0 + 8);
    qa[k][3] = load_pair(q1 + 8);
  }
  float s[NT][4];
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {  // S = q k^T: B[k][col] = k_token[col][k]
    s[nt][0] = s[nt][1] = s[nt][2] = s[nt][3] = 0.f;
    const __half* kr = ks + (nt * 8 + gq) * kLdQk + tq * 2;
#pragma unroll
    for (int k = 0; k < 2; ++k)
      mma_16816(s[nt], qa[k], load_pair(kr + k * 16), load_pair(kr + k * 16 + 8));
  }

  // Softmax of rows i0 (c0, c1) and i1 (c2, c3); key j = nt * 8 + 2 tq + e. Keys past n and
  // rows past n are masked (a masked row ends with sum 0 and writes nothing).
  const __half* bias = static_cast<const __half*>(g.bias) + static_cast<int64_t>(head) * n * n;
  const bool ok0 = i0 < n, ok1 = i1 < n;
  float m0 = -INFINITY, m1 = -INFINITY;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int j = nt * 8 + tq * 2 + e;
      const bool key = j < n;
      s[nt][e] = key && ok0 ? s[nt][e] * g.scale + __half2float(bias[i0 * n + j]) : -INFINITY;
      s[nt][2 + e] =
          key && ok1 ? s[nt][2 + e] * g.scale + __half2float(bias[i1 * n + j]) : -INFINITY;
      m0 = fmaxf(m0, s[nt][e]);
      m1 = fmaxf(m1, s[nt][2 + e]);
    }
  }
#pragma unroll
  for (int o = 1; o <= 2; o <<= 1) {  // the quad holding a row: lanes 4g .. 4g+3
    m0 = fmaxf(m0, __shfl_xor_sync(kFullMask, m0, o));
    m1 = fmaxf(m1, __shfl_xor_sync(kFullMask, m1, o));
  }
  float sum0 = 0.f, sum1 = 0.f;
#pragma unroll
  for (int nt = 0; nt < NT; ++nt) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      s[nt][e] = s[nt][e] == -INFINITY ? 0.f : expf(s[nt][e] - m0);
      s[nt][2 + e] = s[nt][2 + e] == -INFINITY ? 0.f : expf(s[nt][2 + e] - m1);
      sum0 += s[nt][e];
      sum1 += s[nt][2 + e];
    }
  }
#pragma unroll
  for (int o = 1; o <= 2; o <<= 1) {
    sum0 += __shfl_xor_sync(kFullMask, sum0, o);
    sum1 += __shfl_xor_sync(kFullMask, sum1, o);
  }
  const float inv0 = sum0 > 0.f ? 1.f / sum0 : 0.f, inv1 = sum1 > 0.f ? 1.f / sum1 : 0.f;

  float o[kMmaKeyDim / 8][4];
#pragma unroll
  for (int dn = 0; dn < kMmaKeyDim / 8; ++dn) o[dn][0] = o[dn][1] = o[dn][2] = o[dn][3] = 0.f;
#pragma unroll
  for (int m = 0; m < NT / 2; ++m) {  // O = P v, 16 keys per step
    const uint32_t pa[4] = {pack_pair(s[2 * m][0] * inv0, s[2 * m][1] * inv0),
                            pack_pair(s[2 * m][2] * inv1, s[2 * m][3] * inv1),
                            pack_pair(s[2 * m + 1][0] * inv0, s[2 * m + 1][1] * inv0),
                            pack_pair(s[2 * m + 1][2] * inv1, s[2 * m + 1][3] * inv1)};
#pragma unroll
    for (int dn = 0; dn < kMmaKeyDim / 8; ++dn) {  // B[key][d] = v^T[d][key]
      const __half* vr = vt + (dn * 8 + gq) * kLdVt + m * 16 + tq * 2;
      mma_16816(o[dn], pa, load_pair(vr), load_pair(vr + 8));
    }
  }

  const int64_t tok0 = ok0 ? image_token(g, wi, i0) : -1;
  const int64_t tok1 = ok1 ? image_token(g, wi, i1) : -1;
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

// Dynamic shared memory above 48 KiB must be granted per kernel and device (host-only call, made
// on the first, un-captured use of a configuration).
void allow_shared_memory(const void* kernel, size_t bytes) {
  int device = 0;
  UM_CUDA_CHECK(cudaGetDevice(&device));
  static std::mutex mutex;
  static std::map<std::pair<const void*, int>, size_t> granted;
  std::lock_guard<std::mutex> lock(mutex);
  size_t& have = granted[{kernel, device}];
  if (bytes <= have || bytes <= 48 * 1024) return;
  int optin = 0;
  UM_CUDA_CHECK(cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device));
  if (bytes > static_cast<size_t>(optin)) {
    fail(kOp, "a window needs " + std::to_string(bytes) +
                  " bytes of shared memory, the device "
                  "allows " +
                  std::to_string(optin) + " per block (window or key_dim too large)");
  }
  UM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(bytes)));
  have = bytes;
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

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
  const bool mma = qkv.dtype() == DType::kF16 && g.kd == kMmaKeyDim && np > 0 && aligned16(g.qkv) &&
                   (!padded || aligned16(g.pad)) && g.row % 8 == 0 && g.out_row % 2 == 0;
  if (mma) {
    const dim3 mma_grid(grid.x, grid.y, static_cast<unsigned>((g.n + kMmaRows - 1) / kMmaRows));
    const size_t bytes = mma_smem_bytes(np);
    switch (np) {
      case 64:
        window_attention_mma_kernel<64><<<mma_grid, kMmaWarps * 32, bytes, stream()>>>(g);
        break;
      case 128:
        window_attention_mma_kernel<128><<<mma_grid, kMmaWarps * 32, bytes, stream()>>>(g);
        break;
      case 208:
        window_attention_mma_kernel<208><<<mma_grid, kMmaWarps * 32, bytes, stream()>>>(g);
        break;
      default:
        window_attention_mma_kernel<256><<<mma_grid, kMmaWarps * 32, bytes, stream()>>>(g);
        break;
    }
  } else {
    const size_t bytes = plain_smem_bytes(g.n, g.kd);
    UM_DISPATCH_FLOAT(qkv.dtype(), T, {
      allow_shared_memory(reinterpret_cast<const void*>(&window_attention_plain_kernel<T>), bytes);
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
