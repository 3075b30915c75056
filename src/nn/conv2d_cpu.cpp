// File: src/nn/conv2d_cpu.cpp
// Purpose: torch.nn.Conv2d on the CPU (zero padding, stride, dilation, groups) and the load-time
// fold of eval-mode BatchNorm into a conv.
// Strategy: a 1x1/stride-1/unpadded conv is one sgemm on the input as it lies; other convs unfold
// the input (im2col, one group at a time) and multiply with sgemm; depthwise convs (one input
// channel per group) run a direct loop, since im2col would turn them into many tiny products.
#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {
namespace {

using detail::fail;

// Unfolds one group's channels [cin, H, W] into cols [cin*kh*kw, Ho*Wo].
void im2col(const float* x, int64_t cin, int64_t h, int64_t w, int64_t kh, int64_t kw,
            const Conv2dParams& p, int64_t ho, int64_t wo, float* cols) {
  for (int64_t c = 0; c < cin; ++c) {
    const float* xc = x + c * h * w;
    for (int64_t ky = 0; ky < kh; ++ky) {
      for (int64_t kx = 0; kx < kw; ++kx) {
        float* row = cols + ((c * kh + ky) * kw + kx) * ho * wo;
        const int64_t dx = kx * p.dilation_w - p.pad_w;
        // Output columns whose input x stays inside [0, w): ox in [ox_lo, ox_hi).
        int64_t ox_lo = 0, ox_hi = wo;
        while (ox_lo < wo && ox_lo * p.stride_w + dx < 0) ++ox_lo;
        while (ox_hi > ox_lo && (ox_hi - 1) * p.stride_w + dx >= w) --ox_hi;
        for (int64_t oy = 0; oy < ho; ++oy) {
          const int64_t iy = oy * p.stride_h + ky * p.dilation_h - p.pad_h;
          float* r = row + oy * wo;
          if (iy < 0 || iy >= h) {
            std::fill(r, r + wo, 0.f);
            continue;
          }
          const float* xr = xc + iy * w + dx;
          std::fill(r, r + ox_lo, 0.f);
          if (p.stride_w == 1) {
            std::copy(xr + ox_lo, xr + ox_hi, r + ox_lo);
          } else {
            for (int64_t ox = ox_lo; ox < ox_hi; ++ox) r[ox] = xr[ox * p.stride_w];
          }
          std::fill(r + ox_hi, r + wo, 0.f);
        }
      }
    }
  }
}

// Depthwise: each output channel reads exactly one input channel (cin/groups == 1).
void depthwise(const float* x, const float* wt, int64_t c_out, int64_t mult, int64_t h, int64_t w,
               int64_t kh, int64_t kw, const Conv2dParams& p, int64_t ho, int64_t wo, float* y) {
  for (int64_t oc = 0; oc < c_out; ++oc) {
    const float* xc = x + (oc / mult) * h * w;
    const float* k = wt + oc * kh * kw;
    float* yc = y + oc * ho * wo;
    std::fill(yc, yc + ho * wo, 0.f);
    for (int64_t ky = 0; ky < kh; ++ky) {
      for (int64_t kx = 0; kx < kw; ++kx) {
        const float kv = k[ky * kw + kx];
        const int64_t dx = kx * p.dilation_w - p.pad_w;
        int64_t ox_lo = 0, ox_hi = wo;
        while (ox_lo < wo && ox_lo * p.stride_w + dx < 0) ++ox_lo;
        while (ox_hi > ox_lo && (ox_hi - 1) * p.stride_w + dx >= w) --ox_hi;
        for (int64_t oy = 0; oy < ho; ++oy) {
          const int64_t iy = oy * p.stride_h + ky * p.dilation_h - p.pad_h;
          if (iy < 0 || iy >= h) continue;
          const float* xr = xc + iy * w + dx;
          float* yr = yc + oy * wo;
          if (p.stride_w == 1) {
            for (int64_t ox = ox_lo; ox < ox_hi; ++ox) yr[ox] += kv * xr[ox];
          } else {
            for (int64_t ox = ox_lo; ox < ox_hi; ++ox) yr[ox] += kv * xr[ox * p.stride_w];
          }
        }
      }
    }
  }
}

}  // namespace

Shape conv2d_output_shape(const Shape& x, const Shape& weight, const Conv2dParams& p) {
  static constexpr const char* kOp = "conv2d";
  if (x.size() != 4 || weight.size() != 4) {
    fail(kOp, "x " + shape_str(x) + " and weight " + shape_str(weight) + " must be 4-D");
  }
  if (p.groups < 1 || p.stride_h < 1 || p.stride_w < 1 || p.dilation_h < 1 || p.dilation_w < 1 ||
      p.pad_h < 0 || p.pad_w < 0) {
    fail(kOp, "invalid stride/padding/dilation/groups for weight " + shape_str(weight));
  }
  if (x[1] != weight[1] * p.groups || weight[0] % p.groups != 0) {
    fail(kOp, "x " + shape_str(x) + " does not match weight " + shape_str(weight) + " with groups=" +
                  std::to_string(p.groups));
  }
  const int64_t ho =
      detail::conv_output_extent(x[2], p.pad_h, p.dilation_h, weight[2], p.stride_h);
  const int64_t wo =
      detail::conv_output_extent(x[3], p.pad_w, p.dilation_w, weight[3], p.stride_w);
  if (ho < 1 || wo < 1) {
    fail(kOp, "input " + shape_str(x) + " is smaller than the kernel " + shape_str(weight));
  }
  return {x[0], weight[0], ho, wo};
}

Tensor conv2d(const Tensor& x_in, const Tensor& weight_in, const Tensor& bias,
              const Conv2dParams& p) {
  static constexpr const char* kOp = "conv2d";
  // Shape checks need no data, so they come first for every device.
  const Shape out_shape = conv2d_output_shape(x_in.shape(), weight_in.shape(), p);
  UM_NN_CUDA_DISPATCH(x_in, conv2d_cuda(x_in, weight_in, bias, p));
  detail::require_cpu_f32(kOp, x_in, "x");
  detail::require_cpu_f32(kOp, weight_in, "weight");
  if (bias.defined()) {
    detail::require_cpu_f32(kOp, bias, "bias");
    if (bias.dim() != 1 || bias.size(0) != weight_in.size(0)) {
      fail(kOp, "bias " + shape_str(bias.shape()) + " does not match weight " +
                    shape_str(weight_in.shape()));
    }
  }
  const Tensor x = x_in.contiguous();
  const Tensor weight = weight_in.contiguous();
  const int64_t n = x.size(0), cin = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t cout = weight.size(0), kh = weight.size(2), kw = weight.size(3);
  const int64_t ho = out_shape[2], wo = out_shape[3];
  const int64_t g = p.groups, cin_g = cin / g, cout_g = cout / g;
  const int64_t kdim = cin_g * kh * kw, npix = ho * wo;
  Tensor y = Tensor::empty(out_shape);
  const float* px = x.data<float>();
  const float* pw = weight.data<float>();
  float* py = y.data<float>();

  const bool pointwise = kh == 1 && kw == 1 && p.stride_h == 1 && p.stride_w == 1 &&
                         p.pad_h == 0 && p.pad_w == 0;
  const bool is_depthwise = cin_g == 1 && g > 1;
  // im2col scratch, reused across calls on this thread: no zero-fill (im2col writes every
  // element) and no fresh pages per convolution.
  thread_local std::vector<float> cols_storage;
  float* cols = nullptr;
  if (!pointwise && !is_depthwise) {
    const size_t need = static_cast<size_t>(kdim * npix);
    if (cols_storage.size() < need) cols_storage.resize(need);
    cols = cols_storage.data();
  }

  for (int64_t b = 0; b < n; ++b) {
    const float* xb = px + b * cin * h * w;
    float* yb = py + b * cout * npix;
    if (is_depthwise) {
      depthwise(xb, pw, cout, cout_g, h, w, kh, kw, p, ho, wo, yb);
      continue;
    }
    for (int64_t gi = 0; gi < g; ++gi) {
      const float* xg = xb + gi * cin_g * h * w;
      const float* src = xg;
      if (!pointwise) {
        im2col(xg, cin_g, h, w, kh, kw, p, ho, wo, cols);
        src = cols;
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(cout_g),
                  static_cast<int>(npix), static_cast<int>(kdim), 1.f, pw + gi * cout_g * kdim,
                  static_cast<int>(kdim), src, static_cast<int>(npix), 0.f,
                  yb + gi * cout_g * npix, static_cast<int>(npix));
    }
  }
  if (bias.defined()) {
    const Tensor bc = bias.contiguous();
    const float* pb = bc.data<float>();
    for (int64_t b = 0; b < n; ++b) {
      for (int64_t c = 0; c < cout; ++c) {
        float* yc = py + (b * cout + c) * npix;
        const float bv = pb[c];
        for (int64_t i = 0; i < npix; ++i) yc[i] += bv;
      }
    }
  }
  return y;
}

std::pair<Tensor, Tensor> fold_batch_norm(const Tensor& conv_weight, const Tensor& conv_bias,
                                          const Tensor& gamma, const Tensor& beta,
                                          const Tensor& running_mean, const Tensor& running_var,
                                          float eps) {
  static constexpr const char* kOp = "fold_batch_norm";
  detail::require_cpu_f32(kOp, conv_weight, "conv_weight");
  const int64_t cout = conv_weight.dim() >= 1 ? conv_weight.size(0) : 0;
  for (const auto* t : {&gamma, &beta, &running_mean, &running_var}) {
    detail::require_cpu_f32(kOp, *t, "batch-norm parameter");
    if (t->dim() != 1 || t->size(0) != cout) {
      fail(kOp, "batch-norm parameter " + shape_str(t->shape()) + " does not match conv weight " +
                    shape_str(conv_weight.shape()));
    }
  }
  if (conv_bias.defined()) {
    detail::require_cpu_f32(kOp, conv_bias, "conv_bias");
    if (conv_bias.dim() != 1 || conv_bias.size(0) != cout) {
      fail(kOp, "conv bias " + shape_str(conv_bias.shape()) + " does not match conv weight " +
                    shape_str(conv_weight.shape()));
    }
  }
  Tensor w = conv_weight.contiguous().clone();
  Tensor b = Tensor::empty({cout});
  const Tensor g = gamma.contiguous(), be = beta.contiguous(), m = running_mean.contiguous(),
               v = running_var.contiguous();
  const Tensor cb = conv_bias.defined() ? conv_bias.contiguous() : Tensor();
  const int64_t per = cout ? w.numel() / cout : 0;
  float* pw = w.data<float>();
  for (int64_t c = 0; c < cout; ++c) {
    // Same arithmetic order as PyTorch's fuse_conv_bn_weights: scale = gamma * rsqrt(var + eps).
    const float scale = g.data<float>()[c] / std::sqrt(v.data<float>()[c] + eps);
    for (int64_t i = 0; i < per; ++i) pw[c * per + i] *= scale;
    const float b0 = cb.defined() ? cb.data<float>()[c] : 0.f;
    b.data<float>()[c] = (b0 - m.data<float>()[c]) * scale + be.data<float>()[c];
  }
  return {w, b};
}

}  // namespace um::nn
