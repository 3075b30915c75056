// File: src/nn/conv2d_pointwise_cuda.cu
// Purpose: the own pointwise convolution (1x1, stride 1, no padding) as a pipelined tensor-core
// GEMM with the whole epilogue (bias, activation, affine, residual) fused; implicit_gemm_conv_cuda
// (conv2d_implicit_gemm_cuda.h) runs it for the float32 1x1 convs that allow 3xTF32 and, under
// OwnConvPolicy::kOwn, for float16 1x1 convs.
// Target: D-FINE's float32 backbone in float16 mode, whose 1x1 convs (HGNetv2's aggregation
// squeeze/excite and the light blocks' first conv, 80x80 down to 20x20) cuDNN ran as 32x32-tile
// FFMA kernels of 64 threads, 12-34 us each, plus an epilogue pass (ncu, H200, session 9: 261 us
// over 13 convs of D-FINE-S's 1.6 ms). D-FINE's float16 encoder 1x1s stay on cuDNN's cuBLAS GEMM
// + the epilogue pass, which measured faster than this kernel (implicit_gemm_conv_preferred says
// by how much and why).
// Why not the generic implicit-GEMM kernel: it loads one reduction step at a time and waits on
// the round trip of each (one register stage), which a 20x20 output with 512 input channels
// turns into a long serial chain. Here a 1x1 conv is a plain GEMM per image:
//   y[co][p] = sum_ci w[co][ci] * x[ci][p]   (NCHW: x is [Cin][H*W] row-major, pixels along rows)
// GEMM rows = output channels (the filter, rows contiguous along ci), columns = pixels, reduction
// = input channels. Both operands are copied global -> shared with 16-byte cp.async in kStages
// chunks of input channels in flight (no registers, no per-element index math), so the memory
// latency is paid once per pipeline fill, not once per chunk.
// Math (PointwiseMath<T>):
// - float32, "3xTF32" as the generic kernel (conv2d_implicit_gemm_cuda.h says why): each operand
//   value v is split into hi = tf32(v) and lo = tf32(v - hi); mma.sync m16n8k8 sums lo*hi,
//   hi*lo, hi*hi; a fresh accumulator takes every 16 reduction columns and is added to the
//   running sum with float32 adds (the tensor cores' own accumulation truncates).
// - float16: mma.sync m16n8k16 on the half operands (ldmatrix fragments; the input tile is
//   [channel][pixel], so its fragments are loaded transposed) into float32 accumulators; the
//   epilogue runs in float32 and rounds once to half.
// Block: 32 output channels x kTileN pixels (64, or 32 when the grid would be small), 8 warps:
// two groups of 4 warps of 16 channels x kTileN / 2 pixels, the first group taking the first
// half of every staged chunk's input channels and the second the other half, summed through
// shared memory at the end. Why two groups: these GEMMs are small (20x20 to 80x80 outputs), so
// a block's time is its serial chain (copy wait, barrier, fragment loads, products) with about
// one warp per scheduler; two groups halve each warp's share of every chunk, and the copies
// (whose addresses every thread computes once, not per chunk) are spread over twice the threads.
// ncu on an H200 (session 11, the first float16 version: 4 warps, addresses per chunk) showed
// those kernels issue-bound at ~1 warp per scheduler with 8x the instructions of cuBLAS's GEMM.
// Requirements (pointwise_conv_supported): Cin and H*W whole numbers of 16-byte units (4 floats
// / 8 halfs), 16-byte aligned operands (pointwise_conv_cuda checks).
#include <cuda_fp16.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/cuda/device_attribute.h"
#include "nn/activation_cuda.cuh"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cuda_op_util.cuh"
#include "nn/mma_sm80.cuh"
#include "nn/shared_memory_grant.cuh"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "conv2d_bias_act";
constexpr int kGroupThreads = 128;          // 4 warps: 2 along the channels x 2 along the pixels
constexpr int kThreads = 2 * kGroupThreads;  // two groups, each half of every chunk's channels
constexpr int kTileM = 32;                   // output channels per block
constexpr int kStages = 4;                   // chunks in flight

// The tensor-core product of one warp group's half of a staged chunk (its kSliceK input
// channels from k_begin), per element type. A = the filter tile [kTileM][kLdA] (channel-major),
// B = the input tile [kChunkK][kLdB] (pixel-major); the warp owns channels a0 .. a0 + 15 and
// pixels b0 .. b0 + 8 kFragsN - 1 of the block's tile.
template <typename T>
struct PointwiseMath;

template <>
struct PointwiseMath<float> {
  static constexpr int kChunkK = 32;  // input channels per pipeline stage
  // Each group's half is one fresh accumulator's worth (16 reduction columns, 3xTF32).
  static constexpr int kSliceK = kChunkK / 2;
  // Row strides in floats: 16-byte aligned rows (cp.async), and conflict-free fragment reads:
  // A: lanes read (row g, col t) -> bank 4 g + t, all 32 distinct;
  // B: lanes read (row t, col g) -> bank 8 t + g, all 32 distinct.
  static constexpr int kLdA = kChunkK + 4;
  static constexpr int kPadB = 8;  // B's row stride: the tile's pixels + this

  template <int kTileN, int kFragsN>
  static __device__ __forceinline__ void multiply_slice(float (&acc)[kFragsN][4], const float* as,
                                                        const float* bs, int k_begin, int lane,
                                                        int a0, int b0) {
    constexpr int kLd = kTileN + kPadB;
    const int g = lane >> 2, t = lane & 3;
    const int a_row = a0 + g, b_col = b0 + g;
    float part[kFragsN][4];
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
#pragma unroll
      for (int i = 0; i < 4; ++i) part[j][i] = 0.f;
    }
#pragma unroll
    for (int ks = k_begin; ks < k_begin + kSliceK; ks += 8) {
      uint32_t a_hi[4], a_lo[4];
      split_tf32(as[a_row * kLdA + ks + t], a_hi[0], a_lo[0]);
      split_tf32(as[(a_row + 8) * kLdA + ks + t], a_hi[1], a_lo[1]);
      split_tf32(as[a_row * kLdA + ks + t + 4], a_hi[2], a_lo[2]);
      split_tf32(as[(a_row + 8) * kLdA + ks + t + 4], a_hi[3], a_lo[3]);
#pragma unroll
      for (int j = 0; j < kFragsN; ++j) {
        uint32_t b_hi[2], b_lo[2];
        split_tf32(bs[(ks + t) * kLd + b_col + j * 8], b_hi[0], b_lo[0]);
        split_tf32(bs[(ks + t + 4) * kLd + b_col + j * 8], b_hi[1], b_lo[1]);
        // The small products first, so they are not lost below the large one's rounding.
        mma_1688_tf32(part[j], a_lo, b_hi[0], b_hi[1]);
        mma_1688_tf32(part[j], a_hi, b_lo[0], b_lo[1]);
        mma_1688_tf32(part[j], a_hi, b_hi[0], b_hi[1]);
      }
    }
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[j][i] += part[j][i];
    }
  }
};

template <>
struct PointwiseMath<__half> {
  // 64 input channels per stage (four k16 steps): half the barriers per reduction of 32, in
  // the same shared memory as float32's 32-channel stages.
  static constexpr int kChunkK = 64;
  static constexpr int kSliceK = kChunkK / 2;  // each group's half: two k16 steps
  // Row strides in halfs: 16-byte aligned rows, and ldmatrix's eight row addresses of a matrix
  // on eight distinct 16-byte bank groups (row strides of 144 and 80 bytes: 144 r and 80 r mod
  // 128 are distinct for r = 0..7).
  static constexpr int kLdA = kChunkK + 8;
  static constexpr int kPadB = 8;  // B's row stride: the tile's pixels + this

  template <int kTileN, int kFragsN>
  static __device__ __forceinline__ void multiply_slice(float (&acc)[kFragsN][4],
                                                        const __half* as, const __half* bs,
                                                        int k_begin, int lane, int a0, int b0) {
    static_assert(kFragsN % 2 == 0, "B fragments are loaded in pairs");
    constexpr int kLd = kTileN + kPadB;
    // ldmatrix row addresses (mma_sm80.cuh): lane 8 i + r gives row r of matrix i.
    // A (x4): matrices = (rows 0-7 | 8-15) x (cols 0-7 | 8-15) in the order a0..a3 wants.
    const int r = lane & 7, i = lane >> 3;
    const __half* a_ptr = as + (a0 + r + (i & 1) * 8) * kLdA + (i >> 1) * 8;
    // B (x4, transposed): matrices = k rows 0-7 | 8-15 of pixels b .. b + 7, then of b + 8 ..
    // b + 15: registers 0, 1 = fragment j's b0, b1; 2, 3 = fragment j + 1's.
    const __half* b_ptr = bs + (r + (i & 1) * 8) * kLd + b0 + (i >> 1) * 8;
#pragma unroll
    for (int ks = k_begin; ks < k_begin + kSliceK; ks += 16) {
      uint32_t a[4];
      ldmatrix_x4(a, a_ptr + ks);
#pragma unroll
      for (int j = 0; j < kFragsN; j += 2) {
        uint32_t b[4];
        ldmatrix_x4_trans(b, b_ptr + ks * kLd + j * 8);
        mma_16816(acc[j], a, b[0], b[1]);
        mma_16816(acc[j + 1], a, b[2], b[3]);
      }
    }
  }
};

template <typename T, int kTileN>
struct Stage {
  static constexpr int kLdA = PointwiseMath<T>::kLdA;
  static constexpr int kLdB = kTileN + PointwiseMath<T>::kPadB;
  static constexpr int kElems = kTileM * kLdA + PointwiseMath<T>::kChunkK * kLdB;  // A, then B
};

// Two adjacent outputs (consecutive pixels of one channel plane): float2 / half2 accesses.
__device__ __forceinline__ float2 load_pair(const float* p) {
  return *reinterpret_cast<const float2*>(p);
}
__device__ __forceinline__ float2 load_pair(const __half* p) {
  return __half22float2(*reinterpret_cast<const __half2*>(p));
}
__device__ __forceinline__ void store_pair(float* p, float2 v) {
  *reinterpret_cast<float2*>(p) = v;
}
__device__ __forceinline__ void store_pair(__half* p, float2 v) {
  *reinterpret_cast<__half2*>(p) = __float22half2_rn(v);
}

struct PointwiseGeometry {
  int cin, cout, pixels;  // pixels = H * W of one image
};

// One thread's share of the copies of every chunk: kUnits 16-byte units of a tile (the filter
// tile A or the input tile B), their addresses worked out once per block, since a chunk only
// moves them along the input channels (by k0 elements in A's rows, by k0 rows in B). A unit past
// cout / the last pixel (`inside` false) or past cin (the last chunk's tail; cin is whole units)
// is zero-filled, its source then only a mapped address (`fallback`).
template <typename T, int kUnits>
struct TileCopies {
  const T* src[kUnits];  // the unit's source for chunk 0
  int dst[kUnits];       // its element offset in a stage slot
  int k[kUnits];         // its first input channel for chunk 0
  bool inside[kUnits];

  // Queues the units of the chunk at input channel k0 into `slot`; `k_step` = elements between
  // consecutive input channels in the source (1 along a filter row, H * W down the input).
  __device__ __forceinline__ void issue(T* slot, int k0, int64_t k_step, int cin,
                                        const T* fallback) const {
#pragma unroll
    for (int i = 0; i < kUnits; ++i) {
      const bool ok = inside[i] && k[i] + k0 < cin;
      cp_async16_or_zero(slot + dst[i], ok ? src[i] + k0 * k_step : fallback, ok);
    }
  }
};

template <typename T, int kTileN>
__global__ void __launch_bounds__(kThreads)
    conv2d_pointwise_kernel(const T* __restrict__ x, const T* __restrict__ wt,
                            const T* __restrict__ bias, const T* __restrict__ residual,
                            T* __restrict__ y, PointwiseGeometry g, ActAffine e) {
  using Math = PointwiseMath<T>;
  using S = Stage<T, kTileN>;
  constexpr int kChunkK = Math::kChunkK;
  constexpr int kPerUnit = 16 / static_cast<int>(sizeof(T));
  constexpr int kFragsN = kTileN / 16;  // n8 fragments per warp (its kTileN / 2 pixels)
  constexpr int kUnitsA = kTileM * kChunkK / kPerUnit / kThreads;   // per thread and chunk
  constexpr int kUnitsB = kChunkK * kTileN / kPerUnit / kThreads;
  static_assert(kUnitsA >= 1 && kUnitsB >= 1 &&
                    kUnitsA * kThreads * kPerUnit == kTileM * kChunkK &&
                    kUnitsB * kThreads * kPerUnit == kChunkK * kTileN,
                "every thread copies the same number of units of each tile");
  extern __shared__ __align__(16) unsigned char smem_raw[];
  T* smem = reinterpret_cast<T*>(smem_raw);
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int p0 = static_cast<int>(blockIdx.x) * kTileN;
  const int m0 = static_cast<int>(blockIdx.y) * kTileM;
  const int img = static_cast<int>(blockIdx.z);
  const T* xi = x + static_cast<int64_t>(img) * g.cin * g.pixels;

  // This thread's units: A row r = filter row m0 + r, unit q = channels q * kPerUnit ..;
  // B row r = input channel r of the chunk, unit q = pixels p0 + q * kPerUnit ...
  TileCopies<T, kUnitsA> copy_a;
#pragma unroll
  for (int i = 0; i < kUnitsA; ++i) {
    constexpr int kPerRow = kChunkK / kPerUnit;
    const int u = tid + i * kThreads, r = u / kPerRow, q = u % kPerRow;
    copy_a.inside[i] = m0 + r < g.cout;
    copy_a.k[i] = q * kPerUnit;
    copy_a.src[i] = copy_a.inside[i] ? wt + static_cast<int64_t>(m0 + r) * g.cin + q * kPerUnit : wt;
    copy_a.dst[i] = r * S::kLdA + q * kPerUnit;
  }
  TileCopies<T, kUnitsB> copy_b;
#pragma unroll
  for (int i = 0; i < kUnitsB; ++i) {
    constexpr int kPerRow = kTileN / kPerUnit;
    const int u = tid + i * kThreads, r = u / kPerRow, q = u % kPerRow;
    const int p = p0 + q * kPerUnit;
    copy_b.inside[i] = p < g.pixels;
    copy_b.k[i] = r;
    copy_b.src[i] = copy_b.inside[i] ? xi + static_cast<int64_t>(r) * g.pixels + p : x;
    copy_b.dst[i] = kTileM * S::kLdA + r * S::kLdB + q * kPerUnit;
  }
  auto load_chunk = [&](int s, int k0) {
    T* slot = smem + s * S::kElems;
    copy_a.issue(slot, k0, 1, g.cin, wt);
    copy_b.issue(slot, k0, g.pixels, g.cin, x);
  };

  const int group = warp >> 2;  // which half of every chunk's input channels this warp sums
  const int wm = warp & 1, wn = (warp >> 1) & 1;
  const int a0 = wm * 16, b0 = wn * (kTileN / 2);  // the warp's channels and pixels in the tile
  const int gq = lane >> 2, tq = lane & 3;
  // The bias of this lane's two output channels, loaded before the reduction hides its latency.
  float bias_of[2];
#pragma unroll
  for (int h8 = 0; h8 < 2; ++h8) {
    const int co = m0 + a0 + gq + h8 * 8;
    bias_of[h8] = bias != nullptr && co < g.cout ? to_f(bias[co]) : 0.f;
  }
  float acc[kFragsN][4];
#pragma unroll
  for (int j = 0; j < kFragsN; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[j][i] = 0.f;
  }

  const int chunks = (g.cin + kChunkK - 1) / kChunkK;
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < chunks) load_chunk(s, s * kChunkK);
    cp_async_commit();
  }
  for (int c = 0; c < chunks; ++c) {
    cp_async_wait<kStages - 2>();  // chunk c has landed (for this thread's copies) ...
    __syncthreads();               // ... and for everyone's; slot (c - 1) % kStages is free
    const int next = c + kStages - 1;
    if (next < chunks) load_chunk(next % kStages, next * kChunkK);
    cp_async_commit();  // (an empty group past the end keeps the wait count uniform)
    const T* as = smem + (c % kStages) * S::kElems;
    Math::template multiply_slice<kTileN, kFragsN>(acc, as, as + kTileM * S::kLdA,
                                                   group * Math::kSliceK, lane, a0, b0);
  }
  cp_async_wait<0>();  // every copy has landed: the stage memory is free for the sums below
  __syncthreads();     // ... and no warp still reads a stage

  // The second group's sums join the first's through shared memory ([warp][j][i][lane]: each
  // access a warp-wide run of 32 consecutive floats).
  static_assert(4 * kFragsN * 4 * 32 * sizeof(float) <= kStages * S::kElems * sizeof(T),
                "the second group's sums fit in the stage memory");
  float* sums = reinterpret_cast<float*>(smem_raw);
  const int wg = warp & 3;  // the warp's place in its group
  if (group == 1) {
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
#pragma unroll
      for (int i = 0; i < 4; ++i) sums[((wg * kFragsN + j) * 4 + i) * 32 + lane] = acc[j][i];
    }
  }
  __syncthreads();
  if (group == 1) return;
#pragma unroll
  for (int j = 0; j < kFragsN; ++j) {
#pragma unroll
    for (int i = 0; i < 4; ++i) acc[j][i] += sums[((wg * kFragsN + j) * 4 + i) * 32 + lane];
  }

  // Epilogue from the accumulators: d0, d1 = (channel a0 + g, pixels 2t, 2t + 1 of the
  // fragment), d2, d3 = (channel a0 + g + 8, same pixels); pixels is even, so both are in or out.
  const int64_t out_base = static_cast<int64_t>(img) * g.cout * g.pixels;
#pragma unroll
  for (int h8 = 0; h8 < 2; ++h8) {
    const int co = m0 + a0 + gq + h8 * 8;
    if (co >= g.cout) continue;
    const float b = bias_of[h8];
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
      const int p = p0 + b0 + j * 8 + 2 * tq;
      if (p >= g.pixels) continue;
      const int64_t at = out_base + static_cast<int64_t>(co) * g.pixels + p;
      float2 v = make_float2(e(acc[j][h8 * 2] + b), e(acc[j][h8 * 2 + 1] + b));
      if (residual != nullptr) {
        const float2 r = load_pair(residual + at);
        v.x += r.x;
        v.y += r.y;
      }
      store_pair(y + at, v);
    }
  }
}

template <typename T, int kTileN>
void launch(const T* x, const T* w, const T* bias, const T* residual, T* y,
            const PointwiseGeometry& g, int batch, const ActAffine& e) {
  const size_t bytes = static_cast<size_t>(kStages) * Stage<T, kTileN>::kElems * sizeof(T);
  const void* kernel = reinterpret_cast<const void*>(&conv2d_pointwise_kernel<T, kTileN>);
  if (!allow_dynamic_shared_memory(kernel, bytes)) {
    fail(kOp, "the pointwise kernel needs " + std::to_string(bytes) +
                  " bytes of shared memory per block, more than the device allows");
  }
  const dim3 grid(static_cast<unsigned>((g.pixels + kTileN - 1) / kTileN),
                  static_cast<unsigned>((g.cout + kTileM - 1) / kTileM), static_cast<unsigned>(batch));
  conv2d_pointwise_kernel<T, kTileN><<<grid, kThreads, bytes, stream()>>>(x, w, bias, residual, y,
                                                                          g, e);
}

}  // namespace

bool pointwise_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  if ((x.dtype() != DType::kF32 && x.dtype() != DType::kF16) || x.dim() != 4 || w.dim() != 4) {
    return false;
  }
  const int64_t per_unit = 16 / static_cast<int64_t>(dtype_size(x.dtype()));
  return p.groups == 1 && w.size(1) == x.size(1) && w.size(2) == 1 && w.size(3) == 1 &&
         p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0 &&
         x.size(1) % per_unit == 0 && (x.size(2) * x.size(3)) % per_unit == 0 &&
         x.size(0) <= 65535 && (w.size(0) + kTileM - 1) / kTileM <= 65535;
}

bool pointwise_conv_cuda(const Tensor& x, const Tensor& w, const Tensor& bias, Activation act,
                         float scale, float shift, const Tensor& residual, const Tensor& y) {
  // The copies read whole 16-byte units; the epilogue reads and writes pairs of outputs.
  if (!aligned16(x.raw_data()) || !aligned16(w.raw_data()) || !aligned16(y.raw_data()) ||
      !aligned16(residual.raw_data())) {
    return false;
  }
  PointwiseGeometry g{};
  g.cin = static_cast<int>(x.size(1));
  g.cout = static_cast<int>(w.size(0));
  g.pixels = static_cast<int>(x.size(2) * x.size(3));
  const int batch = static_cast<int>(x.size(0));
  if (g.pixels == 0 || g.cout == 0 || batch == 0) return true;
  const ActAffine e = ActAffine::make(act, scale, shift);
  // 64-pixel tiles where they fill the device twice over, else 32 (twice the blocks: the small
  // late-stage outputs, 20x20 and 40x40, would leave most SMs idle). Measured on an H200 (session
  // 11, D-FINE-S fp16, the float32 backbone's 1x1s): this threshold 1.334 ms, 32-pixel tiles
  // everywhere 1.344, 64 only from four times the SMs 1.339 (two runs each, same call).
  const int64_t wide_blocks = static_cast<int64_t>((g.pixels + 63) / 64) *
                              ((g.cout + kTileM - 1) / kTileM) * batch;
  const bool wide =
      wide_blocks >= 2 * static_cast<int64_t>(
                             um::cuda::device_attribute(cudaDevAttrMultiProcessorCount));
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const auto* xp = static_cast<const T*>(x.raw_data());
    const auto* wp = static_cast<const T*>(w.raw_data());
    const T* bp = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
    const T* rp = residual.defined() ? static_cast<const T*>(residual.raw_data()) : nullptr;
    auto* yp = static_cast<T*>(y.raw_data());
    if (wide) {
      launch<T, 64>(xp, wp, bp, rp, yp, g, batch, e);
    } else {
      launch<T, 32>(xp, wp, bp, rp, yp, g, batch, e);
    }
  });
  check_launch(kOp);
  return true;
}

}  // namespace um::nn::detail
