// File: src/nn/conv2d_patch_cuda.cu
// Purpose: the own float16 convolution for small channel counts (Cin 16/32/64, groups 1, no
// dilation, even input width), used by implicit_gemm_conv_cuda (conv2d_implicit_gemm_cuda.h)
// for the convs it supports: D-FINE's encoder 3x3 convs (64 -> 64 at 80x80, 40x40, 20x20) are
// its target.
// Why not the generic implicit-GEMM kernel: that one gathers its operands from global memory
// step by step (one round trip per 32 reduction columns), and with the <= 100 blocks these convs
// make it waited on memory (2-3x slower than cuDNN, ncu on an H200). Here a block copies
// everything it reads into shared memory ONCE, every copy in flight together (cp.async, no
// registers): the input rows its 64 output pixels cover (all channels, NCHW as stored) and its
// 16 filter rows ([cout][cin * kh * kw] as stored). It then re-lays both out in shared memory
// for ldmatrix: the input as pixel rows ([row][col][channel], zeros in the padding) and the
// filter as tap slices ([tap][cout][channel]); rows padded by 8 halfs (16-byte aligned,
// conflict-free ldmatrix). The tensor cores then run the whole reduction, in (tap, channel)
// order, from shared memory: for one tap, the A rows of a pixel are its patch position shifted
// by (ky, kx), contiguous over channels, so one ldmatrix row address per lane reads them
// wherever the pixel lies (a tile's pixels wrap around image rows freely).
// (A first version built the fragments from the NCHW staging with 16-bit loads: 11k
// instructions per warp at 7 cycles each, 58 us for a 40x40 64 -> 64 conv under ncu.)
// Math: mma.sync m16n8k16, float16 products, float32 accumulators; the epilogue (bias,
// activation, affine, residual) in float32, rounded once to half.
// Block: 64 output pixels of one image x 16 output channels, 8 warps of 16 x 8.
#include <cuda_fp16.h>

#include <algorithm>
#include <cstdint>

#include "nn/activation_cuda.cuh"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cuda_op_util.cuh"
#include "nn/mma_sm80.cuh"
#include "nn/shared_memory_grant.cuh"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "conv2d_bias_act";
constexpr int kThreads = 256;
constexpr int kTileM = 64;  // output pixels per block (all of one image)
// Output channels per block: 16, not 32, so a block's serial chain (stage, re-lay the filter,
// products) is shorter and small images get more blocks: D-FINE's 20x20 convs made 14 blocks of
// ~9 us each at 32 (ncu, H200); every block re-stages the input rows its pixels need. Measured
// (H200, two device calls): D-FINE-S's 15 patch convs 169 -> 135 us (ncu), bench_cuda_conv's
// encoder 3x3 at 20x20 / 40x40 12.0 / 12.2 -> 9.8 / 9.8 us, the D-FINE-S stage 1.377 -> 1.346 ms.
constexpr int kTileN = 16;

struct PatchGeometry {
  int cin, h, w, cout, oh, ow, k, stride, pad;
  int tiles_per_image;  // ceil(oh * ow / kTileM)
  int rows_max;         // input rows of the tile that spans the most output rows
  int patch_cols;       // input columns -pad .. (ow - 1) * stride - pad + k - 1
  int plane_ld;         // halfs per staged (NCHW) channel plane: rows_max * w, rounded up
  int filter_ld;        // halfs per staged filter row: cin * k * k + 8
  int copy_bytes;       // input row cp.async size: 16, 8 or 4 (what w allows)
  // Shared memory regions, in halfs: [0, filter_at) holds the staged input, later the tap
  // slices; then the staged filter; then the pixel-row patch.
  int filter_at, patch_at, total;
};

__device__ __forceinline__ uint32_t pack_half2(__half lo, __half hi) {
  const __half2 h = __halves2half2(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&h);
}

// `bytes` (4, 8 or 16) global -> shared, asynchronous; completed by cp_async_wait_all.
__device__ __forceinline__ void cp_async_bytes(void* smem, const void* gmem, int bytes) {
  if (bytes == 16) {
    cp_async16(smem, gmem);
    return;
  }
  const uint32_t dst = shared_address(smem);
  const auto src = __cvta_generic_to_global(gmem);
  if (bytes == 8) {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 8;\n" ::"r"(dst), "l"(src) : "memory");
  } else {
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(dst), "l"(src) : "memory");
  }
}

template <int kCin>
__global__ void __launch_bounds__(kThreads)
    conv2d_patch_f16_kernel(const __half* __restrict__ x, const __half* __restrict__ wt,
                            const __half* __restrict__ bias, const __half* __restrict__ residual,
                            __half* __restrict__ y, PatchGeometry g, ActAffine e) {
  constexpr int kLd = kCin + 8;       // halfs per pixel row / tap-slice row
  constexpr int kGroups = kCin / 8;   // 16-byte channel groups
  extern __shared__ __align__(16) unsigned char smem[];
  __half* base = reinterpret_cast<__half*>(smem);
  __half* staged_x = base;                  // [cin][rows][w], plane_ld apart
  __half* taps_sm = base;                   // [tap][kTileN][kLd] (after the input is re-laid)
  __half* staged_w = base + g.filter_at;    // [kTileN][filter_ld]
  __half* patch = base + g.patch_at;        // [rows][patch_cols][kLd]

  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int img = static_cast<int>(blockIdx.x) / g.tiles_per_image;
  const int tile = static_cast<int>(blockIdx.x) - img * g.tiles_per_image;
  const int ohw = g.oh * g.ow;
  const int p0 = tile * kTileM;
  const int p_last = min(p0 + kTileM, ohw) - 1;
  const int oy0 = p0 / g.ow;
  const int rows = (p_last / g.ow - oy0) * g.stride + g.k;
  const int iy0 = oy0 * g.stride - g.pad;  // input row of staged row 0
  const int n0 = static_cast<int>(blockIdx.y) * kTileN;
  const int taps = g.k * g.k;
  const int kdim = kCin * taps;

  // 1. Stage the input rows (zeros for rows outside the image) and the filter rows.
  {
    // A channel's rows inside the image are one contiguous span of NCHW memory: staged rows
    // r_lo .. r_hi - 1 (input rows iy0 + r); the rows above and below are the zero padding.
    const int r_lo = max(0, -iy0), r_hi = min(rows, g.h - iy0);
    const int elems = g.copy_bytes / 2;
    const int units = (r_hi - r_lo) * g.w / elems;  // copies per channel
    const __half* xi = x + (static_cast<int64_t>(img) * kCin * g.h + iy0 + r_lo) * g.w;
    for (int i = tid; i < kCin * units; i += kThreads) {
      const int ci = i / units, u = i - ci * units;
      cp_async_bytes(staged_x + ci * g.plane_ld + r_lo * g.w + u * elems,
                     xi + static_cast<int64_t>(ci) * g.h * g.w + u * elems, g.copy_bytes);
    }
    const int pad_rows = rows - (r_hi - r_lo);  // zero rows: above r_lo, then from r_hi
    for (int i = tid; i < kCin * pad_rows * g.w / 2; i += kThreads) {
      const int per_plane = pad_rows * g.w / 2;
      const int ci = i / per_plane, u = i - ci * per_plane;
      const int r = u * 2 / g.w, col = u * 2 - r * g.w;
      const int sr = r < r_lo ? r : r_hi + (r - r_lo);
      reinterpret_cast<uint32_t*>(staged_x + ci * g.plane_ld + sr * g.w + col)[0] = 0u;
    }
    const int filter_copies = kdim / 8;  // kdim is a multiple of 16: 16-byte copies
    const int couts = min(kTileN, g.cout - n0);
    for (int i = tid; i < kTileN * filter_copies; i += kThreads) {
      const int n = i / filter_copies, part = i - n * filter_copies;
      __half* dst = staged_w + n * g.filter_ld + part * 8;
      if (n < couts) {
        cp_async_bytes(dst, wt + static_cast<int64_t>(n0 + n) * kdim + part * 8, 16);
      } else {
        reinterpret_cast<uint4*>(dst)[0] = make_uint4(0u, 0u, 0u, 0u);
      }
    }
    cp_async_wait_all();
    __syncthreads();
  }
  // 2a. Input -> pixel rows: a thread gathers 8 channels of one pixel (lanes along the input
  // row: conflict-free 16-bit reads) and stores them as one 16-byte row piece.
  for (int rg = warp; rg < kGroups * rows; rg += kThreads / 32) {  // one division per row
    const int grp = rg / rows, r = rg - grp * rows;
    const __half* src_row = staged_x + grp * 8 * g.plane_ld + r * g.w;
    __half* dst_row = patch + r * g.patch_cols * kLd + grp * 8;
    for (int c = lane; c < g.patch_cols; c += 32) {
      const int ix = c - g.pad;
      uint4 v = make_uint4(0u, 0u, 0u, 0u);
      if (ix >= 0 && ix < g.w) {
        const __half* src = src_row + ix;
        v.x = pack_half2(src[0], src[g.plane_ld]);
        v.y = pack_half2(src[2 * g.plane_ld], src[3 * g.plane_ld]);
        v.z = pack_half2(src[4 * g.plane_ld], src[5 * g.plane_ld]);
        v.w = pack_half2(src[6 * g.plane_ld], src[7 * g.plane_ld]);
      }
      *reinterpret_cast<uint4*>(dst_row + c * kLd) = v;
    }
  }
  __syncthreads();  // the staged input is dead: its space takes the tap slices
  // 2b. Filter -> tap slices: 8 channels of one (cout, tap) per thread, lanes along the taps.
  for (int i = tid; i < kTileN * kGroups * taps; i += kThreads) {
    const int t = i % taps, ng = i / taps;
    const int grp = ng % kGroups, n = ng / kGroups;
    const __half* src = staged_w + n * g.filter_ld + grp * 8 * taps + t;
    uint4 v;
    v.x = pack_half2(src[0], src[taps]);
    v.y = pack_half2(src[2 * taps], src[3 * taps]);
    v.z = pack_half2(src[4 * taps], src[5 * taps]);
    v.w = pack_half2(src[6 * taps], src[7 * taps]);
    *reinterpret_cast<uint4*>(taps_sm + (t * kTileN + n) * kLd + grp * 8) = v;
  }
  __syncthreads();

  // 3. Products. Warp (wm, wn): pixels wm * 16 .. +15, couts wn * 8 .. +7. ldmatrix rows: A
  // lane l = pixel l & 15, channels (l >> 4) * 8; B lanes 0-15: cout l & 7, channels
  // ((l >> 3) & 1) * 8 (matrices: couts 0-7 x channels 0-7 | 8-15; lanes 16-31 unused).
  const int wm = warp & 3, wn = warp >> 2;
  int a_off;
  {
    int p = p0 + wm * 16 + (lane & 15);
    if (p > p_last) p = p0;  // past the tile: read a valid pixel, the result is not stored
    const int oy = p / g.ow, ox = p - (p / g.ow) * g.ow;
    a_off = ((oy - oy0) * g.stride * g.patch_cols + ox * g.stride) * kLd + (lane >> 4) * 8;
  }
  const int b_off = (wn * 8 + (lane & 7)) * kLd + ((lane >> 3) & 1) * 8;
  float acc[4] = {0.f, 0.f, 0.f, 0.f};
  for (int t = 0; t < taps; ++t) {
    const int ky = t / g.k, kx = t - ky * g.k;
    const __half* pa = patch + (ky * g.patch_cols + kx) * kLd + a_off;
    const __half* pb = taps_sm + t * kTileN * kLd + b_off;
#pragma unroll
    for (int kc = 0; kc < kCin; kc += 16) {
      uint32_t a[4], b[2];
      ldmatrix_x4(a, pa + kc);
      ldmatrix_x2(b, pb + kc);
      mma_16816(acc, a, b[0], b[1]);
    }
  }

  // 4. Epilogue: d0, d1 = (pixel g, couts 2t, 2t+1), d2, d3 = (pixel g + 8, same couts).
  const int gq = lane >> 2, tq = lane & 3;
#pragma unroll
  for (int h8 = 0; h8 < 2; ++h8) {
    const int p = p0 + wm * 16 + gq + h8 * 8;
    if (p > p_last) continue;
#pragma unroll
    for (int j = 0; j < 2; ++j) {
      const int co = n0 + wn * 8 + 2 * tq + j;
      if (co >= g.cout) continue;
      float v = acc[h8 * 2 + j];
      if (bias != nullptr) v += __half2float(bias[co]);
      v = e(v);
      const int64_t at = (static_cast<int64_t>(img) * g.cout + co) * ohw + p;
      if (residual != nullptr) v += __half2float(residual[at]);
      y[at] = __float2half_rn(v);
    }
  }
}

PatchGeometry patch_geometry(const Tensor& x, const Tensor& w, const Tensor& y,
                             const Conv2dParams& p) {
  PatchGeometry g{};
  g.cin = static_cast<int>(x.size(1));
  g.h = static_cast<int>(x.size(2));
  g.w = static_cast<int>(x.size(3));
  g.cout = static_cast<int>(w.size(0));
  g.k = static_cast<int>(w.size(2));
  g.oh = static_cast<int>(y.size(2));
  g.ow = static_cast<int>(y.size(3));
  g.stride = p.stride_h;
  g.pad = p.pad_h;
  g.tiles_per_image = (g.oh * g.ow + kTileM - 1) / kTileM;
  // 64 consecutive pixels of an image span at most this many output rows.
  const int spans = std::min(g.oh, (kTileM - 1 + g.ow - 1) / g.ow + 1);
  g.rows_max = std::min(g.h + 2 * g.pad, (spans - 1) * g.stride + g.k);
  g.patch_cols = (g.ow - 1) * g.stride + g.k;
  g.plane_ld = (g.rows_max * g.w + 7) / 8 * 8;  // 16-byte aligned planes
  g.filter_ld = g.cin * g.k * g.k + 8;
  g.copy_bytes = g.w % 8 == 0 ? 16 : (g.w % 4 == 0 ? 8 : 4);
  const int ld = g.cin + 8;
  const int staged_x = g.cin * g.plane_ld;
  const int tap_slices = g.k * g.k * kTileN * ld;
  g.filter_at = std::max(staged_x, tap_slices);
  g.patch_at = g.filter_at + kTileN * g.filter_ld;
  g.total = g.patch_at + g.rows_max * g.patch_cols * ld;
  return g;
}

template <int kCin>
bool launch_cin(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& residual,
                const Tensor& y, const PatchGeometry& g, const ActAffine& e) {
  const size_t bytes = static_cast<size_t>(g.total) * sizeof(__half);
  const void* kernel = reinterpret_cast<const void*>(&conv2d_patch_f16_kernel<kCin>);
  if (!allow_dynamic_shared_memory(kernel, bytes)) return false;
  const dim3 grid(static_cast<unsigned>(g.tiles_per_image * x.size(0)),
                  static_cast<unsigned>((g.cout + kTileN - 1) / kTileN));
  conv2d_patch_f16_kernel<kCin><<<grid, kThreads, bytes, stream()>>>(
      static_cast<const __half*>(x.raw_data()), static_cast<const __half*>(w.raw_data()),
      bias.defined() ? static_cast<const __half*>(bias.raw_data()) : nullptr,
      residual.defined() ? static_cast<const __half*>(residual.raw_data()) : nullptr,
      static_cast<__half*>(y.raw_data()), g, e);
  check_launch(kOp);
  return true;
}

}  // namespace

bool patch_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  const int64_t cin = x.size(1);
  return x.dtype() == DType::kF16 && p.groups == 1 && w.size(1) == cin &&
         (cin == 16 || cin == 32 || cin == 64) && w.size(2) == w.size(3) &&
         w.size(2) <= 7 && p.stride_h == p.stride_w && (p.stride_h == 1 || p.stride_h == 2) &&
         p.pad_h == p.pad_w && p.pad_h < w.size(2) && p.dilation_h == 1 && p.dilation_w == 1 &&
         x.size(3) % 2 == 0;
}

bool patch_conv_f16_cuda(const Tensor& x, const Tensor& w, const Tensor& bias,
                         const Conv2dParams& p, Activation act, float scale, float shift,
                         const Tensor& residual, const Tensor& y) {
  const PatchGeometry g = patch_geometry(x, w, y, p);
  const ActAffine e = ActAffine::make(act, scale, shift);
  switch (g.cin) {
    case 16: return launch_cin<16>(x, w, bias, residual, y, g, e);
    case 32: return launch_cin<32>(x, w, bias, residual, y, g, e);
    case 64: return launch_cin<64>(x, w, bias, residual, y, g, e);
    default: return false;
  }
}

}  // namespace um::nn::detail
