// File: src/nn/depthwise_conv2d_nhwc_cuda.cu
// Purpose: nn::depthwise_conv2d_nhwc on the GPU (nn/ops_fused.h): one direct kernel on the
// channels-last activations, replacing TinyViT's tokens -> NCHW copy -> cuDNN (with its own
// NCHW <-> NHWC transposes) -> bias pass -> tokens copy chain.
// Layout: one thread per output pixel and kVec consecutive channels (kVec = 2 when C is even and
// x is aligned to two elements, so a float16 pair moves as one 4-byte load; else 1). The channel
// is the fastest index of the flat unit index, so a warp reads and writes consecutive channels
// of one pixel (coalesced). Each thread sums its kh * kw taps in float32 in the order of a plain
// loop (ky outer, kx inner; taps outside the image skipped = zero padding), then adds the bias
// and rounds once to the output dtype. Products and sums use __fmul_rn / __fadd_rn (no FMA
// contraction) and the same order as the CPU reference's depthwise loop (0 + w * x per tap, bias
// last), so float32 results match the CPU bit for bit on x86 (whose build does not contract).
// 3x3 kernels get a compile-time-unrolled instance; other sizes run the same code with runtime
// loop bounds. 32-bit indices when x and y both have fewer than 2^30 elements, else 64-bit.
// Float16 3x3 stride-1/2 convs with C % 8 == 0 (all of TinyViT's) take a shared-memory tiled
// fast path instead (see depthwise3x3_tiled_f16_kernel), which also applies the op's input
// activation while it stages the input; the generic kernel gets the activations as passes.
// Graph capture: no allocation but the output (and a contiguous copy of a strided x/weight/bias,
// or the input activation's output, from the current pool), no host sync, everything on the
// current stream.
#include <cuda_fp16.h>

#include <cstdint>
#include <string>
#include <type_traits>

#include "core/cuda/device_attribute.h"
#include "nn/activation_cuda.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/ops.h"
#include "nn/ops_fused.h"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "depthwise_conv2d_nhwc";

struct Geometry {
  int n, h, w, c;  // input [n, h, w, c]
  int ho, wo;      // output [n, ho, wo, c]
  int kh, kw;      // weight [c, 1, kh, kw]
  int sh, sw, ph, pw, dh, dw;
};

// kK > 0: a kK x kK kernel known at compile time (loops unrolled); kK == 0: g.kh x g.kw.
template <typename T, int kVec, int kK, typename I>
__global__ void depthwise_nhwc_kernel(const T* __restrict__ x, const T* __restrict__ weight,
                                      const T* __restrict__ bias, T* __restrict__ y, Geometry g,
                                      I units) {
  const int kh = kK > 0 ? kK : g.kh;
  const int kw = kK > 0 ? kK : g.kw;
  const I c_units = static_cast<I>(g.c / kVec);
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
       i < units; i += static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x)) {
    const int c0 = static_cast<int>(i % c_units) * kVec;
    I rest = i / c_units;
    const int ox = static_cast<int>(rest % g.wo);
    rest /= g.wo;
    const int oy = static_cast<int>(rest % g.ho);
    const I b = rest / g.ho;
    float acc[kVec];
#pragma unroll
    for (int k = 0; k < kVec; ++k) acc[k] = 0.f;
#pragma unroll
    for (int ky = 0; ky < kh; ++ky) {
      const int iy = oy * g.sh - g.ph + ky * g.dh;
      if (iy < 0 || iy >= g.h) continue;
      const I row = (b * g.h + iy) * g.w;
#pragma unroll
      for (int kx = 0; kx < kw; ++kx) {
        const int ix = ox * g.sw - g.pw + kx * g.dw;
        if (ix < 0 || ix >= g.w) continue;
        const VecPack<T, kVec> xv =
            *reinterpret_cast<const VecPack<T, kVec>*>(x + (row + ix) * g.c + c0);
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          const float wv = to_f(weight[(c0 + k) * kh * kw + ky * kw + kx]);
          acc[k] = __fadd_rn(acc[k], __fmul_rn(wv, to_f(xv.v[k])));
        }
      }
    }
    VecPack<T, kVec> out;
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      const float v = bias != nullptr ? __fadd_rn(acc[k], to_f(bias[c0 + k])) : acc[k];
      out.v[k] = from_f<T>(v);
    }
    *reinterpret_cast<VecPack<T, kVec>*>(y + i * kVec) = out;
  }
}

// Float16 fast path for the shapes TinyViT runs (3x3, stride 1 or 2, no dilation, C % 8 == 0,
// x and y 16-byte aligned): shared-memory tiles. A block owns a tile of output rows x columns and
// 64 channels (8 groups of 8 channels = one 16-byte vector per pixel); it first copies the input
// region the tile reads (its 3x3 halo included, zeros outside the image) into shared memory,
// applying the optional INPUT activation there (once per element: TinyViT's MBConv and
// PatchMerging run GELU between the 1x1 conv and this conv, which used to be a separate pass over
// the whole tensor), plus the block's weights tap-major and its bias. Then a thread computes
// kUnitPix consecutive output pixels of one row for its 8 channels from shared memory.
// Why tiles (ncu, H200, the previous register-only kernel on the 256x256x256 MBConv conv: 104 us
// at 25 % occupancy, warps stalled on L1 for each of their 18 input and 72 scalar weight loads;
// the 128x128x128 local conv 13 us for 8 MB of traffic): every input element now crosses global
// memory once per tile (+ the halo) and every tap is a 16-byte shared-memory load.
// Numerics: each output's taps are summed in float32 with fused multiply-adds in (ky, kx) order
// (taps over the zero padding add w * 0), then bias, then the output activation, rounded once to
// float16. The input activation is computed in float32 and rounded to float16 before use, so the
// result is bit-identical to running that activation as its own float16 pass first.
constexpr int kTileGroups = 8;                          // 16-byte channel groups per block
constexpr int kTileChannels = 8 * kTileGroups;          // 64 channels per block
constexpr int kTileUnitsX = 4;                          // pixel units across a tile
constexpr int kUnitPixS1 = 4, kUnitPixS2 = 2;           // output pixels per thread (one row)
constexpr int kTileMaxUnitsY = 8;                       // rows per tile at most: 256 threads

__host__ __device__ constexpr int unit_pix(int stride) {
  return stride == 1 ? kUnitPixS1 : kUnitPixS2;
}

// The input region a tile of th x tw outputs reads with a 3x3 kernel at `stride`.
struct TileExtent {
  int th, tw, ih, iw;
};
__host__ __device__ inline TileExtent tile_extent(int units_y, int stride) {
  const int tw = kTileUnitsX * unit_pix(stride);
  return {units_y, tw, (units_y - 1) * stride + 3, (tw - 1) * stride + 3};
}
// Shared memory of a tile: the input region (16-byte vectors) + 10 rows of 64 halves (9 taps,
// then the bias).
inline size_t tile_smem_bytes(int units_y, int stride) {
  const TileExtent e = tile_extent(units_y, stride);
  return sizeof(uint4) * e.ih * e.iw * kTileGroups + sizeof(__half) * 10 * kTileChannels;
}

union Half8 {  // 8 halves as one 16-byte load/store, kept in registers
  uint4 u;
  __half2 h[4];
};

__device__ __forceinline__ void unpack8(const uint4& v, float (&f)[8]) {
  Half8 pk;
  pk.u = v;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const float2 t = __half22float2(pk.h[k]);
    f[2 * k] = t.x;
    f[2 * k + 1] = t.y;
  }
}

// act applied to 8 halves in float32, each result rounded to float16 (what a float16
// activation pass stores).
template <Activation A>
__device__ __forceinline__ uint4 activate8(const uint4& v) {
  Half8 pk;
  pk.u = v;
#pragma unroll
  for (int k = 0; k < 4; ++k) {
    const float2 t = __half22float2(pk.h[k]);
    pk.h[k] = __floats2half2_rn(activate<A>(t.x), activate<A>(t.y));
  }
  return pk.u;
}
__device__ __forceinline__ uint4 activate8(const uint4& v, Activation a) {
  switch (a) {
    case Activation::kReLU: return activate8<Activation::kReLU>(v);
    case Activation::kSiLU: return activate8<Activation::kSiLU>(v);
    case Activation::kGELU: return activate8<Activation::kGELU>(v);
    default: return v;
  }
}

// Grid: (column tiles, row tiles, n * channel chunks); block: kTileGroups * kTileUnitsX *
// units_y threads. A = output activation, S = stride.
template <Activation A, int S>
__global__ void __launch_bounds__(kTileGroups * kTileUnitsX * kTileMaxUnitsY)
    depthwise3x3_tiled_f16_kernel(const __half* __restrict__ x, const __half* __restrict__ w,
                                  const __half* __restrict__ bias, __half* __restrict__ y,
                                  Geometry g, Activation in_act, int chunks) {
  constexpr int P = unit_pix(S);
  const TileExtent e = tile_extent(static_cast<int>(blockDim.x) / (kTileGroups * kTileUnitsX), S);
  extern __shared__ uint4 dw_tile_smem[];
  uint4* xs = dw_tile_smem;                                            // [ih][iw][kTileGroups]
  __half* ws = reinterpret_cast<__half*>(xs + e.ih * e.iw * kTileGroups);  // [10][64]
  const int chunk = static_cast<int>(blockIdx.z) % chunks;
  const int b = static_cast<int>(blockIdx.z) / chunks;
  const int c_base = chunk * kTileChannels;
  const int oy0 = static_cast<int>(blockIdx.y) * e.th, ox0 = static_cast<int>(blockIdx.x) * e.tw;
  const int iy0 = oy0 * S - g.ph, ix0 = ox0 * S - g.pw;

  for (int j = threadIdx.x; j < 10 * kTileChannels; j += blockDim.x) {
    const int t = j / kTileChannels, ch = c_base + j % kTileChannels;
    __half v = __float2half(0.f);
    if (ch < g.c) {
      if (t < 9) {
        v = w[ch * 9 + t];
      } else if (bias != nullptr) {
        v = bias[ch];
      }
    }
    ws[j] = v;
  }
  const int vecs = e.ih * e.iw * kTileGroups;
  for (int i = threadIdx.x; i < vecs; i += blockDim.x) {
    const int pix = i / kTileGroups, ch = c_base + (i % kTileGroups) * 8;
    const int iy = iy0 + pix / e.iw, ix = ix0 + pix % e.iw;
    uint4 v = make_uint4(0u, 0u, 0u, 0u);
    if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w && ch < g.c) {
      v = __ldg(reinterpret_cast<const uint4*>(
          x + ((static_cast<int64_t>(b) * g.h + iy) * g.w + ix) * g.c + ch));
      v = activate8(v, in_act);
    }
    xs[i] = v;
  }
  __syncthreads();

  const int grp = threadIdx.x % kTileGroups, unit = threadIdx.x / kTileGroups;
  const int ux = unit % kTileUnitsX, uy = unit / kTileUnitsX;
  const int oy = oy0 + uy, ox = ox0 + ux * P, ch = c_base + grp * 8;
  if (oy >= g.ho || ox >= g.wo || ch >= g.c) return;  // after the block's only barrier
  float acc[P][8];
#pragma unroll
  for (int p = 0; p < P; ++p) {
#pragma unroll
    for (int k = 0; k < 8; ++k) acc[p][k] = 0.f;
  }
  const uint4* wv = reinterpret_cast<const uint4*>(ws) + grp;  // tap t at wv[t * kTileGroups]
#pragma unroll
  for (int ky = 0; ky < 3; ++ky) {
    float wf[3][8];
#pragma unroll
    for (int kx = 0; kx < 3; ++kx) unpack8(wv[(ky * 3 + kx) * kTileGroups], wf[kx]);
    const uint4* row = xs + ((uy * S + ky) * e.iw + ux * P * S) * kTileGroups + grp;
#pragma unroll
    for (int col = 0; col < (P - 1) * S + 3; ++col) {
      float xf[8];
      unpack8(row[col * kTileGroups], xf);
#pragma unroll
      for (int p = 0; p < P; ++p) {
        const int kx = col - p * S;  // the tap this column is for output ox + p
        if (kx < 0 || kx > 2) continue;
#pragma unroll
        for (int k = 0; k < 8; ++k) acc[p][k] = fmaf(wf[kx][k], xf[k], acc[p][k]);
      }
    }
  }
  float bv[8];
  unpack8(wv[9 * kTileGroups], bv);
  __half* out = y + ((static_cast<int64_t>(b) * g.ho + oy) * g.wo + ox) * g.c + ch;
#pragma unroll
  for (int p = 0; p < P; ++p) {
    if (ox + p >= g.wo) break;
    Half8 pk;
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      pk.h[k] = __floats2half2_rn(activate<A>(acc[p][2 * k] + bv[2 * k]),
                                  activate<A>(acc[p][2 * k + 1] + bv[2 * k + 1]));
    }
    *reinterpret_cast<uint4*>(out + static_cast<int64_t>(p) * g.c) = pk.u;
  }
}

bool fast_path_applies(const Tensor& x, const Tensor& y, const Geometry& g) {
  return x.dtype() == DType::kF16 && g.kh == 3 && g.kw == 3 && g.sh == g.sw &&
         (g.sh == 1 || g.sh == 2) && g.dh == 1 && g.dw == 1 && g.c % 8 == 0 &&
         aligned16(x.raw_data()) && aligned16(y.raw_data()) && x.numel() < (int64_t{1} << 30) &&
         y.numel() < (int64_t{1} << 30);
}

// The fast path's launch: tiles of 8 output rows, or fewer where the grid would not give every
// SM two blocks (TinyViT's 64x64 stages: 96 blocks of 8-row tiles for 132 SMs).
void launch_tiled(const __half* x, const __half* w, const __half* b, __half* y, const Geometry& g,
                  Activation act, Activation in_act) {
  const int stride = g.sh;
  const int chunks = (g.c + kTileChannels - 1) / kTileChannels;
  const int tw = tile_extent(1, stride).tw;
  const int tiles_x = (g.wo + tw - 1) / tw;
  const int64_t planes = static_cast<int64_t>(g.n) * chunks;
  const int64_t want = 2LL * um::cuda::device_attribute(cudaDevAttrMultiProcessorCount);
  int units_y = kTileMaxUnitsY;
  while (units_y > 1 &&
         tiles_x * static_cast<int64_t>((g.ho + units_y - 1) / units_y) * planes < want) {
    units_y /= 2;
  }
  const int tiles_y = (g.ho + units_y - 1) / units_y;
  if (planes > 65535 || tiles_y > 65535) {
    fail(kOp, "x " + std::to_string(g.n) + "x" + std::to_string(g.h) + "x" +
                  std::to_string(g.w) + "x" + std::to_string(g.c) + " exceeds one launch grid");
  }
  const dim3 grid(static_cast<unsigned>(tiles_x), static_cast<unsigned>(tiles_y),
                  static_cast<unsigned>(planes));
  const int threads = kTileGroups * kTileUnitsX * units_y;
  const size_t smem = tile_smem_bytes(units_y, stride);  // <= 38 KiB: no opt-in needed
  const auto run = [&](auto act_tag, auto stride_tag) {
    depthwise3x3_tiled_f16_kernel<decltype(act_tag)::value, decltype(stride_tag)::value>
        <<<grid, threads, smem, stream()>>>(x, w, b, y, g, in_act, chunks);
  };
  const auto with_stride = [&](auto act_tag) {
    if (stride == 1)
      run(act_tag, std::integral_constant<int, 1>{});
    else
      run(act_tag, std::integral_constant<int, 2>{});
  };
  using A = Activation;
  switch (act) {
    case A::kNone:
      with_stride(std::integral_constant<A, A::kNone>{});
      break;
    case A::kReLU:
      with_stride(std::integral_constant<A, A::kReLU>{});
      break;
    case A::kSiLU:
      with_stride(std::integral_constant<A, A::kSiLU>{});
      break;
    case A::kGELU:
      with_stride(std::integral_constant<A, A::kGELU>{});
      break;
  }
}

template <typename T, int kVec, int kK>
void launch_sized(const T* x, const T* w, const T* b, T* y, const Geometry& g, int64_t units,
                  bool wide_index) {
  constexpr int kThreads = 256;
  const int blocks = blocks_for(units, kThreads);
  if (!wide_index) {
    depthwise_nhwc_kernel<T, kVec, kK, int32_t>
        <<<blocks, kThreads, 0, stream()>>>(x, w, b, y, g, static_cast<int32_t>(units));
  } else {
    depthwise_nhwc_kernel<T, kVec, kK, int64_t>
        <<<blocks, kThreads, 0, stream()>>>(x, w, b, y, g, units);
  }
}

template <typename T, int kVec>
void launch(const T* x, const T* w, const T* b, T* y, const Geometry& g, int64_t units,
            bool wide_index) {
  if (g.kh == 3 && g.kw == 3) {
    launch_sized<T, kVec, 3>(x, w, b, y, g, units, wide_index);
  } else {
    launch_sized<T, kVec, 0>(x, w, b, y, g, units, wide_index);
  }
}

void require_same_device(const Tensor& t, const char* name, const Tensor& x) {
  if (t.device() != x.device()) {
    fail(kOp,
         std::string(name) + " is on " + t.device().str() + " but x is on " + x.device().str());
  }
}

}  // namespace

// The public op (depthwise_conv2d_nhwc_cpu.cpp) has checked shapes, groups and parameters; the
// device/dtype checks are repeated here for direct callers of this function.
Tensor depthwise_conv2d_nhwc_cuda(const Tensor& x_in, const Tensor& weight_in,
                                  const Tensor& bias_in, const Conv2dParams& p, Activation act,
                                  Activation in_act) {
  require_cuda_float(kOp, x_in, "x");
  require_like(kOp, weight_in, "weight", x_in);
  require_same_device(weight_in, "weight", x_in);
  if (bias_in.defined()) {
    require_like(kOp, bias_in, "bias", x_in);
    require_same_device(bias_in, "bias", x_in);
  }
  if (x_in.dim() != 4 || weight_in.dim() != 4 || weight_in.size(0) != x_in.size(3) ||
      weight_in.size(1) != 1 || p.groups != x_in.size(3) || weight_in.size(2) < 1 ||
      weight_in.size(3) < 1 || p.stride_h < 1 || p.stride_w < 1 || p.dilation_h < 1 ||
      p.dilation_w < 1 || p.pad_h < 0 || p.pad_w < 0) {
    fail(kOp, "x " + shape_str(x_in.shape()) + " / weight " + shape_str(weight_in.shape()) +
                  " / groups " + std::to_string(p.groups) +
                  " is not a valid depthwise NHWC conv (stride/dilation >= 1, padding >= 0)");
  }
  Geometry g{};
  g.n = static_cast<int>(x_in.size(0));
  g.h = static_cast<int>(x_in.size(1));
  g.w = static_cast<int>(x_in.size(2));
  g.c = static_cast<int>(x_in.size(3));
  g.kh = static_cast<int>(weight_in.size(2));
  g.kw = static_cast<int>(weight_in.size(3));
  g.sh = p.stride_h;
  g.sw = p.stride_w;
  g.ph = p.pad_h;
  g.pw = p.pad_w;
  g.dh = p.dilation_h;
  g.dw = p.dilation_w;
  g.ho = static_cast<int>(conv_output_extent(g.h, g.ph, g.dh, g.kh, g.sh));
  g.wo = static_cast<int>(conv_output_extent(g.w, g.pw, g.dw, g.kw, g.sw));
  Tensor y = Tensor::empty({x_in.size(0), g.ho, g.wo, x_in.size(3)}, x_in.dtype(), x_in.device());
  if (y.numel() == 0) return y;
  // Contiguous operands (no-ops when they already are, as TinyViT's tokens and weights are).
  const Tensor x = x_in.contiguous();
  const Tensor weight = weight_in.contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  const bool wide_index = x.numel() >= (int64_t{1} << 30) || y.numel() >= (int64_t{1} << 30);
  if (fast_path_applies(x, y, g)) {
    launch_tiled(static_cast<const __half*>(x.raw_data()),
                 static_cast<const __half*>(weight.raw_data()),
                 bias.defined() ? static_cast<const __half*>(bias.raw_data()) : nullptr,
                 static_cast<__half*>(y.raw_data()), g, act, in_act);
    check_launch(kOp);
    return y;
  }
  // The generic kernel has no activations: the input one as a pass before (the op's CPU order).
  const Tensor xa = nn::activate(x, in_act);
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const T* px = static_cast<const T*>(xa.raw_data());
    const T* pw = static_cast<const T*>(weight.raw_data());
    const T* pb = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
    T* py = static_cast<T*>(y.raw_data());
    // Pairs when every pixel's channel run starts on a 2-element boundary of both x and y.
    const bool pairs = g.c % 2 == 0 && reinterpret_cast<uintptr_t>(px) % (2 * sizeof(T)) == 0 &&
                       reinterpret_cast<uintptr_t>(py) % (2 * sizeof(T)) == 0;
    if (pairs) {
      launch<T, 2>(px, pw, pb, py, g, y.numel() / 2, wide_index);
    } else {
      launch<T, 1>(px, pw, pb, py, g, y.numel(), wide_index);
    }
  });
  check_launch(kOp);
  return nn::activate(y, act);  // the output activation as a second pass
}

}  // namespace um::nn::detail
