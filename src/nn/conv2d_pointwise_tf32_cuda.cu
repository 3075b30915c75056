// File: src/nn/conv2d_pointwise_tf32_cuda.cu
// Purpose: the own float32 pointwise convolution (1x1, stride 1, no padding) as a pipelined
// 3xTF32 tensor-core GEMM with the whole epilogue (bias, activation, affine, residual) fused;
// implicit_gemm_conv_cuda (conv2d_implicit_gemm_cuda.h) runs it for the float32 1x1 convs that
// allow 3xTF32. Target: D-FINE's float32 backbone in float16 mode, whose 1x1 convs (HGNetv2's
// aggregation squeeze/excite and the light blocks' first conv, 80x80 down to 20x20) cuDNN ran as
// 32x32-tile FFMA kernels of 64 threads, 12-34 us each, plus an epilogue pass (ncu, H200,
// session 9: 261 us over 13 convs of D-FINE-S's 1.6 ms).
// Why not the generic implicit-GEMM kernel: it loads one reduction step at a time and waits on
// the round trip of each (one register stage), which a 20x20 output with 512 input channels
// turns into a long serial chain. Here a 1x1 conv is a plain GEMM per image:
//   y[co][p] = sum_ci w[co][ci] * x[ci][p]   (NCHW: x is [Cin][H*W] row-major, pixels along rows)
// GEMM rows = output channels (the filter, rows contiguous along ci), columns = pixels, reduction
// = input channels. Both operands are copied global -> shared with 16-byte cp.async in kStages
// chunks of kChunkK input channels in flight (no registers, no per-element index math), so the
// memory latency is paid once per pipeline fill, not once per chunk.
// Math ("3xTF32", as the generic kernel; conv2d_implicit_gemm_cuda.h says why): each operand
// value v is split into hi = tf32(v) and lo = tf32(v - hi); mma.sync m16n8k8 sums lo*hi, hi*lo,
// hi*hi; a fresh accumulator takes every 16 reduction columns and is added to the running sum
// with float32 adds (the tensor cores' own accumulation truncates).
// Block: 32 output channels x kTileN pixels (64, or 32 when the grid would be small), 4 warps of
// 16 channels x kTileN / 2 pixels. Requirements (pointwise_tf32_conv_supported): Cin and H*W
// multiples of 4 (16-byte rows), 16-byte aligned x and w (cudnn_operand).
#include <cstdint>
#include <string>

#include "core/cuda/device_attribute.h"
#include "nn/activation_cuda.cuh"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cuda_op_util.cuh"
#include "nn/mma_sm80.cuh"
#include "nn/shared_memory_grant.cuh"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "conv2d_bias_act";
constexpr int kThreads = 128;  // 4 warps: 2 along the channels x 2 along the pixels
constexpr int kTileM = 32;     // output channels per block
constexpr int kChunkK = 32;    // input channels per pipeline stage
constexpr int kStages = 4;     // chunks in flight
constexpr int kPartialK = 16;  // reduction columns per fresh accumulator (3xTF32 precision)
// Row strides in floats: 16-byte aligned rows (cp.async), and conflict-free fragment reads:
// A (filter, [channel][k]): lanes read (row g, col t) -> bank 4 g + t, all 32 distinct;
// B (input, [k][pixel]): lanes read (row t, col g) -> bank 8 t + g, all 32 distinct.
constexpr int kLdA = kChunkK + 4;
template <int kTileN>
struct Stage {
  static constexpr int kLdB = kTileN + 8;
  static constexpr int kFloats = kTileM * kLdA + kChunkK * kLdB;  // one slot: A, then B
};

// kRows x kUnitsPerRow 16-byte units into dst (rows ld floats apart), all threads of the block
// sharing the copies: src(r, q, p) says whether unit (r, q) lies inside the operand and sets p
// to its global address (else zeros are stored, and p must still be a mapped address).
template <int kRows, int kUnitsPerRow, typename Src>
__device__ __forceinline__ void copy_tile_async(float* dst, int ld, int tid, Src src) {
  constexpr int kUnits = kRows * kUnitsPerRow;
  static_assert(kUnits % kThreads == 0, "every thread copies the same number of units");
#pragma unroll
  for (int i = 0; i < kUnits / kThreads; ++i) {
    const int u = tid + i * kThreads;
    const int r = u / kUnitsPerRow, q = u % kUnitsPerRow;
    const float* p;
    const bool inside = src(r, q, p);
    cp_async16_or_zero(dst + r * ld + q * 4, p, inside);
  }
}

struct PointwiseGeometry {
  int cin, cout, pixels;  // pixels = H * W of one image
};

template <int kTileN>
__global__ void __launch_bounds__(kThreads)
    conv2d_pointwise_tf32_kernel(const float* __restrict__ x, const float* __restrict__ wt,
                                 const float* __restrict__ bias, const float* __restrict__ residual,
                                 float* __restrict__ y, PointwiseGeometry g, ActAffine e) {
  constexpr int kLdB = Stage<kTileN>::kLdB;
  constexpr int kFragsN = kTileN / 16;  // n8 fragments per warp (its kTileN / 2 pixels)
  extern __shared__ __align__(16) float smem_f[];
  const int tid = static_cast<int>(threadIdx.x), lane = tid & 31, warp = tid >> 5;
  const int p0 = static_cast<int>(blockIdx.x) * kTileN;
  const int m0 = static_cast<int>(blockIdx.y) * kTileM;
  const int img = static_cast<int>(blockIdx.z);
  const float* xi = x + static_cast<int64_t>(img) * g.cin * g.pixels;

  // One chunk (input channels k0 .. k0 + kChunkK - 1) into stage slot s; zeros past cin, cout
  // and the last pixel (cin and pixels are multiples of 4: a 16-byte unit is all in or all out).
  auto load_chunk = [&](int s, int k0) {
    float* as = smem_f + s * Stage<kTileN>::kFloats;
    copy_tile_async<kTileM, kChunkK / 4>(as, kLdA, tid, [&](int r, int q, const float*& src) {
      const int co = m0 + r, k = k0 + q * 4;  // filter row co, input channels k .. k + 3
      const bool ok = co < g.cout && k < g.cin;
      src = ok ? wt + static_cast<int64_t>(co) * g.cin + k : wt;
      return ok;
    });
    float* bs = as + kTileM * kLdA;
    copy_tile_async<kChunkK, kTileN / 4>(bs, kLdB, tid, [&](int r, int q, const float*& src) {
      const int k = k0 + r, p = p0 + q * 4;  // input channel k, pixels p .. p + 3
      const bool ok = k < g.cin && p < g.pixels;
      src = ok ? xi + static_cast<int64_t>(k) * g.pixels + p : x;
      return ok;
    });
  };

  const int gq = lane >> 2, tq = lane & 3;
  const int wm = warp & 1, wn = warp >> 1;
  const int a_row = wm * 16 + gq;               // this lane's filter rows a_row, a_row + 8
  const int b_col = wn * (kTileN / 2) + gq;     // this lane's pixel column in fragment 0
  float acc[kFragsN][4], part[kFragsN][4];
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

    const float* as = smem_f + (c % kStages) * Stage<kTileN>::kFloats;
    const float* bs = as + kTileM * kLdA;
#pragma unroll
    for (int kp = 0; kp < kChunkK; kp += kPartialK) {
#pragma unroll
      for (int j = 0; j < kFragsN; ++j) {
#pragma unroll
        for (int i = 0; i < 4; ++i) part[j][i] = 0.f;
      }
#pragma unroll
      for (int ks = kp; ks < kp + kPartialK; ks += 8) {
        uint32_t a_hi[4], a_lo[4];
        split_tf32(as[a_row * kLdA + ks + tq], a_hi[0], a_lo[0]);
        split_tf32(as[(a_row + 8) * kLdA + ks + tq], a_hi[1], a_lo[1]);
        split_tf32(as[a_row * kLdA + ks + tq + 4], a_hi[2], a_lo[2]);
        split_tf32(as[(a_row + 8) * kLdA + ks + tq + 4], a_hi[3], a_lo[3]);
#pragma unroll
        for (int j = 0; j < kFragsN; ++j) {
          uint32_t b_hi[2], b_lo[2];
          split_tf32(bs[(ks + tq) * kLdB + b_col + j * 8], b_hi[0], b_lo[0]);
          split_tf32(bs[(ks + tq + 4) * kLdB + b_col + j * 8], b_hi[1], b_lo[1]);
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
  }
  cp_async_wait<0>();  // no copy may still be landing when the block exits

  // Epilogue from the accumulators: d0, d1 = (channel a_row, pixels 2t, 2t + 1 of the
  // fragment), d2, d3 = (channel a_row + 8, same pixels); pixels is even, so both are in or out.
  const int64_t out_base = static_cast<int64_t>(img) * g.cout * g.pixels;
#pragma unroll
  for (int h8 = 0; h8 < 2; ++h8) {
    const int co = m0 + a_row + h8 * 8;
    if (co >= g.cout) continue;
    const float b = bias != nullptr ? bias[co] : 0.f;
#pragma unroll
    for (int j = 0; j < kFragsN; ++j) {
      const int p = p0 + wn * (kTileN / 2) + j * 8 + 2 * tq;
      if (p >= g.pixels) continue;
      const int64_t at = out_base + static_cast<int64_t>(co) * g.pixels + p;
      float2 v = make_float2(e(acc[j][h8 * 2] + b), e(acc[j][h8 * 2 + 1] + b));
      if (residual != nullptr) {
        const float2 r = *reinterpret_cast<const float2*>(residual + at);
        v.x += r.x;
        v.y += r.y;
      }
      *reinterpret_cast<float2*>(y + at) = v;
    }
  }
}

template <int kTileN>
void launch(const float* x, const float* w, const float* bias, const float* residual, float* y,
            const PointwiseGeometry& g, int batch, const ActAffine& e) {
  const size_t bytes = static_cast<size_t>(kStages) * Stage<kTileN>::kFloats * sizeof(float);
  const void* kernel = reinterpret_cast<const void*>(&conv2d_pointwise_tf32_kernel<kTileN>);
  if (!allow_dynamic_shared_memory(kernel, bytes)) {
    fail(kOp, "the pointwise kernel needs " + std::to_string(bytes) +
                  " bytes of shared memory per block, more than the device allows");
  }
  const dim3 grid(static_cast<unsigned>((g.pixels + kTileN - 1) / kTileN),
                  static_cast<unsigned>((g.cout + kTileM - 1) / kTileM), static_cast<unsigned>(batch));
  conv2d_pointwise_tf32_kernel<kTileN><<<grid, kThreads, bytes, stream()>>>(x, w, bias, residual, y, g, e);
}

}  // namespace

bool pointwise_tf32_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  if (x.dtype() != DType::kF32 || x.dim() != 4 || w.dim() != 4) return false;
  return p.groups == 1 && w.size(1) == x.size(1) && w.size(2) == 1 && w.size(3) == 1 &&
         p.stride_h == 1 && p.stride_w == 1 && p.pad_h == 0 && p.pad_w == 0 &&
         x.size(1) % 4 == 0 && (x.size(2) * x.size(3)) % 4 == 0 && x.size(0) <= 65535 &&
         (w.size(0) + kTileM - 1) / kTileM <= 65535;
}

void pointwise_tf32_conv_cuda(const Tensor& x, const Tensor& w, const Tensor& bias,
                              Activation act, float scale, float shift, const Tensor& residual,
                              const Tensor& y) {
  PointwiseGeometry g{};
  g.cin = static_cast<int>(x.size(1));
  g.cout = static_cast<int>(w.size(0));
  g.pixels = static_cast<int>(x.size(2) * x.size(3));
  const int batch = static_cast<int>(x.size(0));
  if (g.pixels == 0 || g.cout == 0 || batch == 0) return;
  const ActAffine e = ActAffine::make(act, scale, shift);
  const auto* xp = static_cast<const float*>(x.raw_data());
  const auto* wp = static_cast<const float*>(w.raw_data());
  const float* bp = bias.defined() ? static_cast<const float*>(bias.raw_data()) : nullptr;
  const float* rp = residual.defined() ? static_cast<const float*>(residual.raw_data()) : nullptr;
  auto* yp = static_cast<float*>(y.raw_data());
  // 64-pixel tiles where they fill the device twice over, else 32 (twice the blocks: the small
  // late-stage outputs, 20x20 and 40x40, would leave most SMs idle).
  const int64_t wide_blocks = static_cast<int64_t>((g.pixels + 63) / 64) *
                              ((g.cout + kTileM - 1) / kTileM) * batch;
  if (wide_blocks >= 2 * static_cast<int64_t>(um::cuda::device_attribute(cudaDevAttrMultiProcessorCount))) {
    launch<64>(xp, wp, bp, rp, yp, g, batch, e);
  } else {
    launch<32>(xp, wp, bp, rp, yp, g, batch, e);
  }
  check_launch(kOp);
}

}  // namespace um::nn::detail
