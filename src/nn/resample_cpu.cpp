// File: src/nn/resample_cpu.cpp
// Purpose: bilinear resampling on the CPU: F.interpolate(mode='bilinear', align_corners=...,
// antialias=False) to a given size, and F.grid_sample(mode='bilinear', padding_mode='zeros',
// align_corners=False). CUDA tensors go to resample_cuda.cu, which mirrors this arithmetic.
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {
namespace {

// PyTorch's area_pixel_compute_source_index with the scale computed from the sizes in float.
// The rounding matters at the 1e-5 level, which calibrated networks amplify: PyTorch evaluates
// `scale * (dst + 0.5) - 0.5` with a double literal, i.e. in double from the float scale, and
// takes lambda from that double before storing it as float (a float source index near 500 would
// lose ~3e-5 of lambda). align_corners=True stays in float (`scale * dst`).
struct Taps {
  std::vector<int64_t> i0, i1;
  std::vector<float> l1;  // weight of i1; i0 gets 1 - l1
};
Taps make_taps(int64_t in, int64_t out, bool align_corners) {
  Taps t;
  t.i0.resize(out);
  t.i1.resize(out);
  t.l1.resize(out);
  float scale;
  if (align_corners) {
    scale = out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f;
  } else {
    scale = static_cast<float>(in) / static_cast<float>(out);
  }
  for (int64_t o = 0; o < out; ++o) {
    double src = align_corners ? static_cast<double>(scale * static_cast<float>(o))
                               : static_cast<double>(scale) * (static_cast<double>(o) + 0.5) - 0.5;
    if (src < 0.0) src = 0.0;
    int64_t i0 = static_cast<int64_t>(src);
    if (i0 > in - 1) i0 = in - 1;
    const int64_t i1 = i0 + (i0 < in - 1 ? 1 : 0);
    t.i0[o] = i0;
    t.i1[o] = i1;
    t.l1[o] = static_cast<float>(std::min(std::max(src - static_cast<double>(i0), 0.0), 1.0));
  }
  return t;
}

}  // namespace

Tensor resize_bilinear(const Tensor& x_in, int64_t out_h, int64_t out_w, bool align_corners) {
  static constexpr const char* kOp = "resize_bilinear";
  UM_NN_CUDA_DISPATCH(x_in, resize_bilinear_cuda(x_in, out_h, out_w, align_corners));
  detail::require_cpu_f32(kOp, x_in, "x");
  detail::require_dim(kOp, x_in, "x", 4);
  if (out_h < 1 || out_w < 1 || x_in.size(2) < 1 || x_in.size(3) < 1) {
    detail::fail(kOp, "cannot resize " + shape_str(x_in.shape()) + " to " + std::to_string(out_h) +
                          "x" + std::to_string(out_w));
  }
  const Tensor x = x_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const Taps ty = make_taps(h, out_h, align_corners);
  const Taps tx = make_taps(w, out_w, align_corners);
  Tensor y = Tensor::empty({n, c, out_h, out_w});
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (int64_t p = 0; p < n * c; ++p) {
    const float* xp = px + p * h * w;
    float* yp = py + p * out_h * out_w;
    for (int64_t oy = 0; oy < out_h; ++oy) {
      const float* r0 = xp + ty.i0[oy] * w;
      const float* r1 = xp + ty.i1[oy] * w;
      const float ly1 = ty.l1[oy], ly0 = 1.f - ly1;
      float* yr = yp + oy * out_w;
      for (int64_t ox = 0; ox < out_w; ++ox) {
        const int64_t x0 = tx.i0[ox], x1 = tx.i1[ox];
        const float lx1 = tx.l1[ox], lx0 = 1.f - lx1;
        yr[ox] = ly0 * (lx0 * r0[x0] + lx1 * r0[x1]) + ly1 * (lx0 * r1[x0] + lx1 * r1[x1]);
      }
    }
  }
  return y;
}

Tensor grid_sample_bilinear(const Tensor& x_in, const Tensor& grid_in) {
  static constexpr const char* kOp = "grid_sample_bilinear";
  UM_NN_CUDA_DISPATCH(x_in, grid_sample_bilinear_cuda(x_in, grid_in));
  detail::require_cpu_f32(kOp, x_in, "x");
  detail::require_cpu_f32(kOp, grid_in, "grid");
  detail::require_dim(kOp, x_in, "x", 4);
  if (grid_in.dim() != 4 || grid_in.size(0) != x_in.size(0) || grid_in.size(3) != 2) {
    detail::fail(kOp, "grid " + shape_str(grid_in.shape()) + " must be [N, Ho, Wo, 2] for x " +
                          shape_str(x_in.shape()));
  }
  const Tensor x = x_in.contiguous();
  const Tensor grid = grid_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t ho = grid.size(1), wo = grid.size(2), npix = ho * wo;
  Tensor y = Tensor::empty({n, c, ho, wo});
  const float* px = x.data<float>();
  const float* pg = grid.data<float>();
  float* py = y.data<float>();
  for (int64_t b = 0; b < n; ++b) {
    const float* xb = px + b * c * h * w;
    float* yb = py + b * c * npix;
    for (int64_t i = 0; i < npix; ++i) {
      // Unnormalise as PyTorch does for align_corners=False: ((g + 1) * size - 1) / 2.
      const float gx = pg[(b * npix + i) * 2], gy = pg[(b * npix + i) * 2 + 1];
      const float ix = ((gx + 1.f) * static_cast<float>(w) - 1.f) / 2.f;
      const float iy = ((gy + 1.f) * static_cast<float>(h) - 1.f) / 2.f;
      const float fx = std::floor(ix), fy = std::floor(iy);
      const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
      const float tx = ix - fx, ty = iy - fy;
      const float wts[4] = {(1.f - tx) * (1.f - ty), tx * (1.f - ty), (1.f - tx) * ty, tx * ty};
      const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
      for (int64_t ch = 0; ch < c; ++ch) yb[ch * npix + i] = 0.f;
      if (!std::isfinite(ix) || !std::isfinite(iy)) continue;
      for (int k = 0; k < 4; ++k) {
        if (xs[k] < 0 || xs[k] >= w || ys[k] < 0 || ys[k] >= h) continue;
        const float* src = xb + ys[k] * w + xs[k];
        for (int64_t ch = 0; ch < c; ++ch) yb[ch * npix + i] += wts[k] * src[ch * h * w];
      }
    }
  }
  return y;
}

}  // namespace um::nn
