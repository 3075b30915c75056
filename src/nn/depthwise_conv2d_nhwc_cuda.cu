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
// Float16 3x3 stride-1/2 convs with C % 8 == 0 (all of TinyViT's) take a register-tiled
// fast path instead (see depthwise3x3_nhwc_f16x8_kernel).
// Graph capture: no allocation but the output (and a contiguous copy of a strided x/weight/bias,
// from the current pool), no host sync, everything on the current stream.
#include <cuda_fp16.h>

#include <cstdint>
#include <string>
#include <type_traits>

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
// x and y 16-byte aligned): a thread owns 8 channels (one 16-byte load/store) of kFastPix
// consecutive output pixels of a row, so each loaded input chunk feeds up to 3 outputs and the 9
// taps' weights are read once per thread instead of once per output (the generic kernel above
// issues 9 input and 9 weight loads per channel pair and output: about 0.5 TB/s at 128x128x128 on
// an H200). Sums in float32 with fused multiply-adds (float16 results, compared with a float16
// tolerance).
constexpr int kFastPix = 4;

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

template <Activation A, int S>
__global__ void __launch_bounds__(256)
    depthwise3x3_nhwc_f16x8_kernel(const __half* __restrict__ x, const __half* __restrict__ w,
                                   const __half* __restrict__ bias, __half* __restrict__ y,
                                   Geometry g, int units) {
  const int c8 = g.c / 8, groups_x = (g.wo + kFastPix - 1) / kFastPix;
  for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < units; i += gridDim.x * blockDim.x) {
    const int c0 = (i % c8) * 8;
    int rest = i / c8;
    const int ox0 = (rest % groups_x) * kFastPix;
    rest /= groups_x;
    const int oy = rest % g.ho, b = rest / g.ho;
    __half2 wr[9][4];  // tap t, channel pair k: (w[c0 + 2k][t], w[c0 + 2k + 1][t])
#pragma unroll
    for (int t = 0; t < 9; ++t) {
#pragma unroll
      for (int k = 0; k < 4; ++k)
        wr[t][k] = __halves2half2(w[(c0 + 2 * k) * 9 + t], w[(c0 + 2 * k + 1) * 9 + t]);
    }
    float acc[kFastPix][8];
#pragma unroll
    for (int p = 0; p < kFastPix; ++p) {
#pragma unroll
      for (int k = 0; k < 8; ++k) acc[p][k] = 0.f;
    }
#pragma unroll
    for (int ky = 0; ky < 3; ++ky) {
      const int iy = oy * S - g.ph + ky;
      if (iy < 0 || iy >= g.h) continue;
      const __half* row = x + (static_cast<int64_t>(b) * g.h + iy) * g.w * g.c + c0;
#pragma unroll
      for (int col = 0; col < (kFastPix - 1) * S + 3; ++col) {  // input column ox0*S - pw + col
        const int ix = ox0 * S - g.pw + col;
        if (ix < 0 || ix >= g.w) continue;
        float xf[8];
        unpack8(*reinterpret_cast<const uint4*>(row + static_cast<int64_t>(ix) * g.c), xf);
#pragma unroll
        for (int p = 0; p < kFastPix; ++p) {
          const int kx = col - p * S;  // the tap this column is for output ox0 + p
          if (kx < 0 || kx > 2) continue;
#pragma unroll
          for (int k = 0; k < 4; ++k) {
            const float2 wf = __half22float2(wr[ky * 3 + kx][k]);
            acc[p][2 * k] = fmaf(wf.x, xf[2 * k], acc[p][2 * k]);
            acc[p][2 * k + 1] = fmaf(wf.y, xf[2 * k + 1], acc[p][2 * k + 1]);
          }
        }
      }
    }
    float bv[8];
#pragma unroll
    for (int k = 0; k < 8; ++k) bv[k] = bias != nullptr ? __half2float(bias[c0 + k]) : 0.f;
    __half* out = y + ((static_cast<int64_t>(b) * g.ho + oy) * g.wo + ox0) * g.c + c0;
#pragma unroll
    for (int p = 0; p < kFastPix; ++p) {
      if (ox0 + p >= g.wo) break;
      Half8 pk;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        pk.h[k] = __floats2half2_rn(activate<A>(acc[p][2 * k] + bv[2 * k]),
                                    activate<A>(acc[p][2 * k + 1] + bv[2 * k + 1]));
      }
      *reinterpret_cast<uint4*>(out + static_cast<int64_t>(p) * g.c) = pk.u;
    }
  }
}

bool fast_path_applies(const Tensor& x, const Tensor& y, const Geometry& g) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  const int64_t units =
      static_cast<int64_t>(g.n) * g.ho * ((g.wo + kFastPix - 1) / kFastPix) * (g.c / 8);
  return x.dtype() == DType::kF16 && g.kh == 3 && g.kw == 3 && g.sh == g.sw &&
         (g.sh == 1 || g.sh == 2) && g.dh == 1 && g.dw == 1 && g.c % 8 == 0 &&
         aligned(x.raw_data()) && aligned(y.raw_data()) && x.numel() < (int64_t{1} << 30) &&
         units < (int64_t{1} << 30);
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
                                  const Tensor& bias_in, const Conv2dParams& p, Activation act) {
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
    const int units = g.n * g.ho * ((g.wo + kFastPix - 1) / kFastPix) * (g.c / 8);
    const auto* px = static_cast<const __half*>(x.raw_data());
    const auto* pw = static_cast<const __half*>(weight.raw_data());
    const auto* pb = bias.defined() ? static_cast<const __half*>(bias.raw_data()) : nullptr;
    auto* py = static_cast<__half*>(y.raw_data());
    const int blocks = blocks_for(units, 256);
    const auto run = [&](auto act_tag, auto stride_tag) {
      depthwise3x3_nhwc_f16x8_kernel<decltype(act_tag)::value, decltype(stride_tag)::value>
          <<<blocks, 256, 0, stream()>>>(px, pw, pb, py, g, units);
    };
    const auto with_stride = [&](auto act_tag) {
      if (g.sh == 1)
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
    check_launch(kOp);
    return y;
  }
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const T* px = static_cast<const T*>(x.raw_data());
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
  switch (act) {  // the generic kernel has no activation: one more pass (the op's CPU order)
    case Activation::kNone:
      return y;
    case Activation::kReLU:
      return relu(y);
    case Activation::kSiLU:
      return silu(y);
    case Activation::kGELU:
      return gelu(y);
  }
  return y;
}

}  // namespace um::nn::detail
