// File: src/nn/conv2d_depthwise_cuda.cu
// Purpose: the own direct depthwise convolution over NCHW (groups == C == Cout, 3x3 / 5x5,
// stride 1 / 2, no dilation), float32 or float16, with the conv2d_bias_act epilogue (bias,
// activation, affine, residual) in the same kernel. Two users (conv2d_implicit_gemm_cuda.h):
// - nn::conv2d_bias_act (conv2d_bias_act_cuda.cu) runs every depthwise conv it supports here:
//   D-FINE's HGNetv2 downsamples (3x3 s2) and light blocks (5x5 + ReLU + affine), its encoder's
//   SCDown (3x3 s2). cuDNN ran them as grouped direct kernels followed by the epilogue pass: two
//   kernels per conv, ~5.5-6.5 + ~3 us each (ncu, H200, session 9, 12 convs in D-FINE-S's
//   float32 backbone). One kernel of this size is latency-bound either way, so fusing the pass
//   away is what pays.
// - nn::conv2d (conv2d_cuda.cu) for float16 depthwise convs where it timed faster than cuDNN's
//   choice (DepthwiseConvPolicy), without an epilogue.
// Block = a 32 x 8 tile of one (n, c) output plane, one thread per output. The block stages the
// input rows/columns its outputs read ((8-1)*S + K by (32-1)*S + K, zeros outside the image: the
// conv's zero padding) as float in shared memory, so each input value is read from global memory
// about once instead of K*K times; each thread keeps the channel's K*K weights in registers and
// sums its taps in float32 in a fixed order (exact float32 FMA: no TF32 anywhere), rounded once
// to the output dtype after the epilogue.
#include <cuda_fp16.h>

#include <cstdint>

#include "nn/activation_cuda.cuh"
#include "nn/conv2d_implicit_gemm_cuda.h"
#include "nn/cuda_op_util.cuh"

namespace um::nn::detail {
namespace {

constexpr int kTileW = 32, kTileH = 8;

template <typename T, int K, int S>
__global__ void __launch_bounds__(kTileW * kTileH)
    depthwise_kernel(const T* __restrict__ x, const T* __restrict__ w, const T* __restrict__ bias,
                     const T* __restrict__ residual, T* __restrict__ y, int channels, int h, int wd,
                     int oh, int ow, int pad_h, int pad_w, ActAffine e) {
  constexpr int kInH = (kTileH - 1) * S + K, kInW = (kTileW - 1) * S + K;
  __shared__ float tile[kInH][kInW + 1];
  const int plane = static_cast<int>(blockIdx.z);  // n * channels + c
  const int c = plane % channels;
  const T* xp = x + static_cast<int64_t>(plane) * h * wd;
  const int ox0 = static_cast<int>(blockIdx.x) * kTileW;
  const int oy0 = static_cast<int>(blockIdx.y) * kTileH;
  const int iy0 = oy0 * S - pad_h, ix0 = ox0 * S - pad_w;
  const int tid = static_cast<int>(threadIdx.y) * kTileW + static_cast<int>(threadIdx.x);
  for (int i = tid; i < kInH * kInW; i += kTileW * kTileH) {
    const int r = i / kInW, col = i % kInW;
    const int iy = iy0 + r, ix = ix0 + col;
    tile[r][col] = (iy >= 0 && iy < h && ix >= 0 && ix < wd)
                       ? to_f(xp[static_cast<int64_t>(iy) * wd + ix])
                       : 0.f;
  }
  float wr[K * K];
#pragma unroll
  for (int k = 0; k < K * K; ++k) wr[k] = to_f(w[c * K * K + k]);
  __syncthreads();
  const int ox = ox0 + static_cast<int>(threadIdx.x), oy = oy0 + static_cast<int>(threadIdx.y);
  if (ox >= ow || oy >= oh) return;
  // Output (oy, ox) reads input (oy*S - pad + ky, ox*S - pad + kx) = tile[ty*S + ky][tx*S + kx].
  float acc = 0.f;
#pragma unroll
  for (int ky = 0; ky < K; ++ky) {
#pragma unroll
    for (int kx = 0; kx < K; ++kx) {
      acc = fmaf(tile[threadIdx.y * S + ky][threadIdx.x * S + kx], wr[ky * K + kx], acc);
    }
  }
  if (bias != nullptr) acc += to_f(bias[c]);
  acc = e(acc);
  const int64_t at = static_cast<int64_t>(plane) * oh * ow + static_cast<int64_t>(oy) * ow + ox;
  if (residual != nullptr) acc += to_f(residual[at]);
  y[at] = from_f<T>(acc);
}

template <typename T, int K, int S>
void launch(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& residual,
            const Tensor& y, const Conv2dParams& p, const ActAffine& e) {
  const int oh = static_cast<int>(y.size(2)), ow = static_cast<int>(y.size(3));
  const dim3 block(kTileW, kTileH);
  const dim3 grid(static_cast<unsigned>((ow + kTileW - 1) / kTileW),
                  static_cast<unsigned>((oh + kTileH - 1) / kTileH),
                  static_cast<unsigned>(x.size(0) * x.size(1)));
  depthwise_kernel<T, K, S><<<grid, block, 0, stream()>>>(
      static_cast<const T*>(x.raw_data()), static_cast<const T*>(w.raw_data()),
      bias.defined() ? static_cast<const T*>(bias.raw_data()) : nullptr,
      residual.defined() ? static_cast<const T*>(residual.raw_data()) : nullptr,
      static_cast<T*>(y.raw_data()), static_cast<int>(x.size(1)), static_cast<int>(x.size(2)),
      static_cast<int>(x.size(3)), oh, ow, p.pad_h, p.pad_w, e);
}

template <typename T>
void launch_for_shape(const Tensor& x, const Tensor& w, const Tensor& bias, const Tensor& residual,
                      const Tensor& y, const Conv2dParams& p, const ActAffine& e) {
  const bool s1 = p.stride_h == 1;
  if (w.size(2) == 3) {
    s1 ? launch<T, 3, 1>(x, w, bias, residual, y, p, e) : launch<T, 3, 2>(x, w, bias, residual, y, p, e);
  } else {
    s1 ? launch<T, 5, 1>(x, w, bias, residual, y, p, e) : launch<T, 5, 2>(x, w, bias, residual, y, p, e);
  }
}

}  // namespace

bool depthwise_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p) {
  if ((x.dtype() != DType::kF32 && x.dtype() != DType::kF16) || x.dim() != 4 || w.dim() != 4) {
    return false;
  }
  const int64_t k = w.size(2);
  return p.groups == x.size(1) && w.size(0) == x.size(1) && w.size(1) == 1 && w.size(3) == k &&
         (k == 3 || k == 5) && p.stride_h == p.stride_w && (p.stride_h == 1 || p.stride_h == 2) &&
         p.dilation_h == 1 && p.dilation_w == 1 &&
         x.size(0) * x.size(1) <= 65535 && x.numel() <= INT32_MAX;
}

void depthwise_conv_cuda(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                         const Conv2dParams& p, Activation act, float scale, float shift,
                         const Tensor& residual, const Tensor& y) {
  if (y.numel() == 0) return;
  const ActAffine e = ActAffine::make(act, scale, shift);
  UM_DISPATCH_FLOAT(x.dtype(), T, { launch_for_shape<T>(x, w, bias, residual, y, p, e); });
  check_launch(op);
}

}  // namespace um::nn::detail
