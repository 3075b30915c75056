// File: src/nn/window_attention_cuda.cu
// Purpose: window_attention (nn/ops_sam.h) on the GPU: TinyViT's windowed attention as ONE
// kernel per call, replacing the chain the model used to run per block (zero-pad + split copies,
// norm and qkv on the padded grid, three head-view copies, the S = q k^T GEMM into float32
// scores, the softmax kernel, the P v GEMM, the head-merge permute, the merge + crop copies: a
// dozen kernels and seven passes over memory). A block owns one (window, head): it reads the
// window's q, k, v rows straight from the unpadded qkv tensor (a token outside the image reads
// the pad row), computes the attention in shared memory and writes each in-image token's
// result once, already merged and cropped.
// Two kernels:
//  - float16 with key_dim 32 and at most 256 tokens per window (TinyViT: 49 and 196): tensor
//    cores through WMMA (16x16x16 half products, float32 accumulation). Each warp takes 16 query
//    rows: S = q k^T for the whole window into float32 shared memory, the softmax in float32
//    (scale, bias, max-subtracted), P rounded to float16 (as PyTorch's float16 attention does
//    before P @ v), O = P v accumulated in float32 and rounded once. The window's token count is
//    padded to a multiple of 16 with zero k/v rows whose scores are masked out.
//  - any other case (float32 above all, which the tests compare tightly with the CPU op): a plain
//    kernel, one warp per query row, k and v of the window in float32 shared memory.
// Both skip query rows of padding tokens (nothing reads them) and run on the current stream with
// no allocation besides the output and no host synchronisation (capturable).
#include <cuda_fp16.h>
#include <mma.h>

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

__device__ __forceinline__ float warp_max(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(kFullMask, v, o));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(kFullMask, v, o);
  return v;
}

// ---- Plain kernel: one warp per query row -------------------------------------------------------
constexpr int kPlainWarps = 8;

size_t plain_smem_bytes(int n, int kd) {
  return sizeof(float) * (static_cast<size_t>(n) * (kd + 1) + static_cast<size_t>(n) * kd +
                          static_cast<size_t>(kPlainWarps) * (kd + n));
}

template <typename T>
__global__ void __launch_bounds__(kPlainWarps * 32) window_attention_plain_kernel(WindowGeometry g) {
  extern __shared__ float plain_smem[];
  const int n = g.n, kd = g.kd, ldk = kd + 1;  // odd k stride: lanes j read distinct banks
  float* ks = plain_smem;            // [n][kd + 1]
  float* vs = ks + n * ldk;          // [n][kd]
  float* qs = vs + n * kd;           // [warps][kd]
  float* ps = qs + kPlainWarps * kd;  // [warps][n]
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
  for (int i = warp; i < n; i += kPlainWarps) {
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
constexpr int kMmaWarps = 4;
constexpr int kMmaKeyDim = 32;
constexpr int kMmaMaxTokens = 256;  // softmax keeps np / 32 <= 8 scores per lane in registers
constexpr int kLdQkv = kMmaKeyDim + 8;  // q/k/v rows in shared memory, 16-byte multiple, staggered

// Shared memory of the tensor-core kernel for np (token count padded to 16): q, k, v [np][kLdQkv]
// half; per warp S [16][np + 4] float and P [16][np + 8] half. Every WMMA tile pointer is then
// 32-byte aligned and every leading dimension a multiple of 16 bytes.
size_t mma_smem_bytes(int np) {
  return sizeof(__half) * 3 * static_cast<size_t>(np) * kLdQkv +
         sizeof(float) * kMmaWarps * 16 * static_cast<size_t>(np + 4) +
         sizeof(__half) * kMmaWarps * 16 * static_cast<size_t>(np + 8);
}

__global__ void __launch_bounds__(kMmaWarps * 32)
    window_attention_mma_kernel(WindowGeometry g, int np) {
  namespace wmma = nvcuda::wmma;
  extern __shared__ __align__(128) unsigned char mma_smem[];
  const int lds = np + 4, ldp = np + 8, tiles = np / 16, n = g.n;
  __half* qs = reinterpret_cast<__half*>(mma_smem);
  __half* ks = qs + np * kLdQkv;
  __half* vs = ks + np * kLdQkv;
  float* ss = reinterpret_cast<float*>(vs + np * kLdQkv);
  __half* ps = reinterpret_cast<__half*>(ss + kMmaWarps * 16 * lds);
  const WindowIndex wi = window_index(g, blockIdx.x);
  const int head = blockIdx.y;
  const int64_t head_offset = static_cast<int64_t>(head) * 3 * kMmaKeyDim;

  // Stage q, k, v of the window: 16-byte chunks, 4 per part of a token (zeros past n).
  constexpr int kChunks = kMmaKeyDim / 8;
  for (int e = threadIdx.x; e < np * 3 * kChunks; e += blockDim.x) {
    const int t = e / (3 * kChunks), part = (e / kChunks) % 3, c = e % kChunks;
    uint4 value = make_uint4(0u, 0u, 0u, 0u);
    if (t < n) {
      const __half* r = qkv_row<__half>(g, image_token(g, wi, t)) + head_offset +
                        part * kMmaKeyDim + c * 8;
      value = *reinterpret_cast<const uint4*>(r);
    }
    __half* base = part == 0 ? qs : (part == 1 ? ks : vs);
    *reinterpret_cast<uint4*>(base + t * kLdQkv + c * 8) = value;
  }
  __syncthreads();

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  float* s_w = ss + warp * 16 * lds;
  __half* p_w = ps + warp * 16 * ldp;
  const __half* bias = static_cast<const __half*>(g.bias) + static_cast<int64_t>(head) * n * n;
  for (int qt = warp; qt < tiles; qt += kMmaWarps) {
    const int my_row = qt * 16 + (lane & 15);
    const bool wanted = my_row < n && image_token(g, wi, my_row) >= 0;
    if (!__any_sync(kFullMask, wanted)) continue;  // only padding tokens in these 16 rows

    for (int kt = 0; kt < tiles; ++kt) {  // S = q k^T, 16 x np
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
#pragma unroll
      for (int k0 = 0; k0 < kMmaKeyDim; k0 += 16) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> b;
        wmma::load_matrix_sync(a, qs + qt * 16 * kLdQkv + k0, kLdQkv);
        wmma::load_matrix_sync(b, ks + kt * 16 * kLdQkv + k0, kLdQkv);  // k^T read column-major
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(s_w + kt * 16, acc, lds, wmma::mem_row_major);
    }
    __syncwarp();

    for (int r = 0; r < 16; ++r) {  // P = softmax(scale * S + bias), float32 statistics
      const int i = qt * 16 + r;
      __half* prow = p_w + r * ldp;
      if (i >= n) {
        for (int j = lane; j < np; j += 32) prow[j] = __float2half_rn(0.f);
        continue;
      }
      const float* srow = s_w + r * lds;
      const __half* brow = bias + static_cast<int64_t>(i) * n;
      float vals[kMmaMaxTokens / 32];
      float mx = -INFINITY;
#pragma unroll
      for (int c = 0; c < kMmaMaxTokens / 32; ++c) {
        const int j = lane + 32 * c;
        vals[c] = j < n ? srow[j] * g.scale + __half2float(brow[j]) : -INFINITY;
        mx = fmaxf(mx, vals[c]);
      }
      mx = warp_max(mx);
      float sum = 0.f;
#pragma unroll
      for (int c = 0; c < kMmaMaxTokens / 32; ++c) {
        const int j = lane + 32 * c;
        vals[c] = j < n ? expf(vals[c] - mx) : 0.f;
        sum += vals[c];
      }
      const float inv = 1.f / warp_sum(sum);
#pragma unroll
      for (int c = 0; c < kMmaMaxTokens / 32; ++c) {
        const int j = lane + 32 * c;
        if (j < np) prow[j] = __float2half_rn(vals[c] * inv);
      }
    }
    __syncwarp();

#pragma unroll
    for (int nt = 0; nt < kMmaKeyDim / 16; ++nt) {  // O = P v, 16 x kd, into s_w's first columns
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.f);
      for (int kk = 0; kk < tiles; ++kk) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> b;
        wmma::load_matrix_sync(a, p_w + kk * 16, ldp);
        wmma::load_matrix_sync(b, vs + kk * 16 * kLdQkv + nt * 16, kLdQkv);
        wmma::mma_sync(acc, a, b, acc);
      }
      wmma::store_matrix_sync(s_w + nt * 16, acc, lds, wmma::mem_row_major);
    }
    __syncwarp();

    for (int e = lane; e < 16 * kMmaKeyDim; e += 32) {  // write the in-image rows
      const int r = e / kMmaKeyDim, d = e % kMmaKeyDim, i = qt * 16 + r;
      if (i >= n) continue;
      const int64_t token = image_token(g, wi, i);
      if (token < 0) continue;
      static_cast<__half*>(g.out)[token * g.out_row + head * kMmaKeyDim + d] =
          __float2half_rn(s_w[r * lds + d]);
    }
    __syncwarp();  // s_w and p_w are rewritten for the warp's next tile
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
    fail(kOp, "a window needs " + std::to_string(bytes) + " bytes of shared memory, the device "
              "allows " + std::to_string(optin) + " per block (window or key_dim too large)");
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
  Tensor out = Tensor::empty({batch, p.height * p.width, p.heads * p.key_dim}, qkv.dtype(),
                             qkv.device());
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
  const int np = (g.n + 15) / 16 * 16;
  const bool mma = qkv.dtype() == DType::kF16 && g.kd == kMmaKeyDim && np <= kMmaMaxTokens &&
                   aligned16(g.qkv) && (!padded || aligned16(g.pad)) && g.row % 8 == 0;
  if (mma) {
    const size_t bytes = mma_smem_bytes(np);
    allow_shared_memory(reinterpret_cast<const void*>(&window_attention_mma_kernel), bytes);
    window_attention_mma_kernel<<<grid, kMmaWarps * 32, bytes, stream()>>>(g, np);
  } else {
    const size_t bytes = plain_smem_bytes(g.n, g.kd);
    UM_DISPATCH_FLOAT(qkv.dtype(), T, {
      allow_shared_memory(reinterpret_cast<const void*>(&window_attention_plain_kernel<T>), bytes);
      window_attention_plain_kernel<T><<<grid, kPlainWarps * 32, bytes, stream()>>>(g);
    });
  }
  check_launch(kOp);
  return out;
}

}  // namespace um::nn::detail
