// File: src/nn/ms_deformable_cpu.cpp
// Purpose: CPU reference of D-FINE's multi-scale deformable attention sampling (nn/ops_dfine.h),
// moved from dfine::DeformableAttention. The sampling is written directly (not through
// grid_sample_bilinear) because the memory lies token-major [L, heads * head_dim]: each bilinear
// tap reads head_dim contiguous floats, and the weighted sum over points and levels is
// accumulated in place without the [B*heads, head_dim, Q, P] tensors PyTorch materialises.
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops_dfine.h"
#include "nn/ops_dfine_cuda.h"

namespace um::nn {
namespace {

using detail::fail;

// Shapes and dtypes, shared by both devices.
void check_args(const Tensor& memory, const Tensor& ref, const Tensor& offsets, const Tensor& attn,
                const MsDeformParams& p) {
  const char* op = "ms_deformable_sample";
  for (const Tensor* t : {&memory, &ref, &offsets, &attn}) {
    if (!t->defined()) fail(op, "an argument is undefined");
  }
  detail::require_dim(op, memory, "memory", 3);
  detail::require_dim(op, ref, "ref", 3);
  detail::require_dim(op, offsets, "offsets", 3);
  detail::require_dim(op, attn, "attn_logits", 3);
  const size_t levels = p.level_shapes.size();
  if (levels < 1 || levels > MsDeformParams::kMaxLevels || p.points.size() != levels) {
    fail(op, std::to_string(levels) + " level shapes and " + std::to_string(p.points.size()) +
                 " point counts (1.." + std::to_string(MsDeformParams::kMaxLevels) + " levels)");
  }
  int64_t total = 0, len = 0;
  for (size_t l = 0; l < levels; ++l) {
    if (p.points[l] < 1 || p.level_shapes[l].first < 1 || p.level_shapes[l].second < 1) {
      fail(op, "level " + std::to_string(l) + " has no points or an empty shape");
    }
    total += p.points[l];
    len += p.level_shapes[l].first * p.level_shapes[l].second;
  }
  if (total > MsDeformParams::kMaxPoints || static_cast<int64_t>(p.point_scale.size()) != total) {
    fail(op, std::to_string(total) + " points per head (at most " +
                 std::to_string(MsDeformParams::kMaxPoints) + "), " +
                 std::to_string(p.point_scale.size()) + " point scales");
  }
  const int64_t b = memory.size(0), e = memory.size(2), q = ref.size(1), h = p.heads;
  if (h < 1 || e % h != 0)
    fail(op, std::to_string(h) + " heads do not divide dim " + std::to_string(e));
  if (memory.size(1) != len) {
    fail(op, "memory " + shape_str(memory.shape()) + " does not hold " + std::to_string(len) +
                 " tokens of the level shapes");
  }
  const Shape want_ref{b, q, 4}, want_off{b, q, h * total * 2}, want_attn{b, q, h * total};
  if (ref.shape() != want_ref || offsets.shape() != want_off || attn.shape() != want_attn) {
    fail(op, "ref " + shape_str(ref.shape()) + ", offsets " + shape_str(offsets.shape()) +
                 ", attn_logits " + shape_str(attn.shape()) + " must be " + shape_str(want_ref) +
                 ", " + shape_str(want_off) + ", " + shape_str(want_attn));
  }
  if (ref.dtype() != DType::kF32 || offsets.dtype() != DType::kF32) {
    fail(op, std::string("ref and offsets (sampling coordinates) must be float32, got ") +
                 dtype_name(ref.dtype()) + " and " + dtype_name(offsets.dtype()));
  }
  if (attn.dtype() != memory.dtype()) {
    fail(op, std::string("attn_logits is ") + dtype_name(attn.dtype()) + " but memory is " +
                 dtype_name(memory.dtype()));
  }
  for (const Tensor* t : {&ref, &offsets, &attn}) {
    if (!(t->device() == memory.device())) fail(op, "arguments live on different devices");
  }
}

}  // namespace

Tensor ms_deformable_sample(const Tensor& memory_in, const Tensor& ref_in, const Tensor& off_in,
                            const Tensor& attn_in, const MsDeformParams& params) {
  check_args(memory_in, ref_in, off_in, attn_in, params);
  UM_NN_CUDA_DISPATCH(memory_in,
                      ms_deformable_sample_cuda(memory_in, ref_in, off_in, attn_in, params));
  detail::require_cpu_f32("ms_deformable_sample", memory_in, "memory");
  const Tensor memory = memory_in.contiguous(), ref = ref_in.contiguous();
  const Tensor off = off_in.contiguous(), attn = attn_in.contiguous();
  const int64_t b = memory.size(0), len = memory.size(1), e = memory.size(2), q = ref.size(1);
  const int64_t heads = params.heads, hd = e / heads;
  const int64_t total = static_cast<int64_t>(params.point_scale.size());
  const auto& shapes = params.level_shapes;
  Tensor out = Tensor::zeros({b, q, e});
  const float* po = off.data<float>();
  const float* pa = attn.data<float>();
  const float* pr = ref.data<float>();
  const float* pm = memory.data<float>();
  float* pout = out.data<float>();

  std::vector<int64_t> level_start(shapes.size());
  for (size_t l = 0, s = 0; l < shapes.size(); ++l) {
    level_start[l] = static_cast<int64_t>(s);
    s += static_cast<size_t>(shapes[l].first * shapes[l].second);
  }
  std::vector<float> aw(static_cast<size_t>(total));
  for (int64_t bi = 0; bi < b; ++bi) {
    const float* mem_b = pm + bi * len * e;
    for (int64_t qi = 0; qi < q; ++qi) {
      const float* r = pr + (bi * q + qi) * 4;
      for (int64_t h = 0; h < heads; ++h) {
        const float* logits = pa + ((bi * q + qi) * heads + h) * total;
        // Softmax over every point of every level of this head.
        float mx = logits[0];
        for (int64_t i = 1; i < total; ++i) mx = std::max(mx, logits[i]);
        float sum = 0.f;
        for (int64_t i = 0; i < total; ++i) sum += (aw[i] = std::exp(logits[i] - mx));
        for (int64_t i = 0; i < total; ++i) aw[i] /= sum;
        const float* so = po + ((bi * q + qi) * heads + h) * total * 2;
        float* dst = pout + (bi * q + qi) * e + h * hd;
        int64_t pt = 0;
        for (size_t l = 0; l < shapes.size(); ++l) {
          const int64_t lh = shapes[l].first, lw = shapes[l].second;
          const float* mem_l = mem_b + level_start[l] * e + h * hd;
          for (int p = 0; p < params.points[l]; ++p, ++pt) {
            // Same operation order as the official code: offset * (1/P) * wh * 0.5.
            const float ox = so[pt * 2] * params.point_scale[pt] * r[2] * 0.5f;
            const float oy = so[pt * 2 + 1] * params.point_scale[pt] * r[3] * 0.5f;
            const float gx = 2.f * (r[0] + ox) - 1.f;
            const float gy = 2.f * (r[1] + oy) - 1.f;
            const float ix = ((gx + 1.f) * static_cast<float>(lw) - 1.f) / 2.f;
            const float iy = ((gy + 1.f) * static_cast<float>(lh) - 1.f) / 2.f;
            if (!std::isfinite(ix) || !std::isfinite(iy)) continue;
            const float fx = std::floor(ix), fy = std::floor(iy);
            const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
            const float tx = ix - fx, ty = iy - fy;
            const float a = aw[pt];
            const float wts[4] = {(1.f - tx) * (1.f - ty) * a, tx * (1.f - ty) * a,
                                  (1.f - tx) * ty * a, tx * ty * a};
            const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
            for (int k = 0; k < 4; ++k) {
              if (xs[k] < 0 || xs[k] >= lw || ys[k] < 0 || ys[k] >= lh) continue;
              const float* v = mem_l + (ys[k] * lw + xs[k]) * e;
              const float wk = wts[k];
              for (int64_t c = 0; c < hd; ++c) dst[c] += wk * v[c];
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace um::nn
