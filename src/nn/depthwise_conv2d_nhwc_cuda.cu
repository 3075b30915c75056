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
// Graph capture: no allocation but the output (and a contiguous copy of a strided x/weight/bias,
// from the current pool), no host sync, everything on the current stream.
#include <cuda_fp16.h>

#include <cstdint>
#include <string>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_fused.h"

namespace um::nn::detail {
namespace {

constexpr const char* kOp = "depthwise_conv2d_nhwc";

// kN elements of T moved as one aligned load/store.
template <typename T, int kN>
struct alignas(sizeof(T) * kN) ChannelPack {
  T v[kN];
};

struct Geometry {
  int n, h, w, c;       // input [n, h, w, c]
  int ho, wo;           // output [n, ho, wo, c]
  int kh, kw;           // weight [c, 1, kh, kw]
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
        const ChannelPack<T, kVec> xv =
            *reinterpret_cast<const ChannelPack<T, kVec>*>(x + (row + ix) * g.c + c0);
#pragma unroll
        for (int k = 0; k < kVec; ++k) {
          const float wv = to_f(weight[(c0 + k) * kh * kw + ky * kw + kx]);
          acc[k] = __fadd_rn(acc[k], __fmul_rn(wv, to_f(xv.v[k])));
        }
      }
    }
    ChannelPack<T, kVec> out;
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      const float v = bias != nullptr ? __fadd_rn(acc[k], to_f(bias[c0 + k])) : acc[k];
      out.v[k] = from_f<T>(v);
    }
    *reinterpret_cast<ChannelPack<T, kVec>*>(y + i * kVec) = out;
  }
}

template <typename T, int kVec, int kK>
void launch_sized(const T* x, const T* w, const T* b, T* y, const Geometry& g, int64_t units,
                  bool wide_index) {
  constexpr int kThreads = 256;
  const int blocks = blocks_for(units, kThreads);
  if (!wide_index) {
    depthwise_nhwc_kernel<T, kVec, kK, int32_t><<<blocks, kThreads, 0, stream()>>>(
        x, w, b, y, g, static_cast<int32_t>(units));
  } else {
    depthwise_nhwc_kernel<T, kVec, kK, int64_t><<<blocks, kThreads, 0, stream()>>>(
        x, w, b, y, g, units);
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
    fail(kOp, std::string(name) + " is on " + t.device().str() + " but x is on " +
                  x.device().str());
  }
}

}  // namespace

// The public op (depthwise_conv2d_nhwc_cpu.cpp) has checked shapes, groups and parameters; the
// device/dtype checks are repeated here for direct callers of this function.
Tensor depthwise_conv2d_nhwc_cuda(const Tensor& x_in, const Tensor& weight_in,
                                  const Tensor& bias_in, const Conv2dParams& p) {
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
  g.ho = (g.h + 2 * g.ph - g.dh * (g.kh - 1) - 1) / g.sh + 1;
  g.wo = (g.w + 2 * g.pw - g.dw * (g.kw - 1) - 1) / g.sw + 1;
  Tensor y = Tensor::empty({x_in.size(0), g.ho, g.wo, x_in.size(3)}, x_in.dtype(),
                           x_in.device());
  if (y.numel() == 0) return y;
  // Contiguous operands (no-ops when they already are, as TinyViT's tokens and weights are).
  const Tensor x = x_in.contiguous();
  const Tensor weight = weight_in.contiguous();
  const Tensor bias = bias_in.defined() ? bias_in.contiguous() : Tensor();
  const bool wide_index = x.numel() >= (int64_t{1} << 30) || y.numel() >= (int64_t{1} << 30);
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const T* px = static_cast<const T*>(x.raw_data());
    const T* pw = static_cast<const T*>(weight.raw_data());
    const T* pb = bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr;
    T* py = static_cast<T*>(y.raw_data());
    // Pairs when every pixel's channel run starts on a 2-element boundary of both x and y.
    const bool pairs = g.c % 2 == 0 &&
                       reinterpret_cast<uintptr_t>(px) % (2 * sizeof(T)) == 0 &&
                       reinterpret_cast<uintptr_t>(py) % (2 * sizeof(T)) == 0;
    if (pairs) {
      launch<T, 2>(px, pw, pb, py, g, y.numel() / 2, wide_index);
    } else {
      launch<T, 1>(px, pw, pb, py, g, y.numel(), wide_index);
    }
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
