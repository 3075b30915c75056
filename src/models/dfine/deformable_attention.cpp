// File: src/models/dfine/deformable_attention.cpp
// Purpose: the deformable cross-attention kernel; see deformable_attention.h.
// The sampling is written directly (not through nn::grid_sample_bilinear) because the memory
// lies token-major [HW, heads * head_dim]: each bilinear tap then reads head_dim contiguous
// floats, and the weighted sum over points and levels is accumulated in place without building
// the [B*heads, head_dim, Q, P] tensors that the PyTorch formulation materialises.
#include "models/dfine/deformable_attention.h"

#include <cmath>

#include "core/status.h"

namespace um::dfine {

DeformableAttention DeformableAttention::load(const io::WeightSource& w, int64_t dim,
                                              int num_levels) {
  DeformableAttention a;
  const Tensor nps = w.get("num_points_scale");
  if (nps.dim() != 1 || nps.size(0) < 1) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "num_points_scale': expected "
                                              "a 1-D buffer, checkpoint has " + shape_str(nps.shape()));
  }
  const int64_t total = nps.size(0);
  a.point_scale_.assign(nps.data<float>(), nps.data<float>() + total);
  // Recover the per-level counts: level l contributes P_l entries equal to 1 / P_l.
  for (int64_t i = 0; i < total;) {
    const int p = static_cast<int>(std::lround(1.0 / a.point_scale_[i]));
    if (p < 1 || i + p > total) break;
    a.points_.push_back(p);
    i += p;
  }
  int64_t sum = 0;
  for (int p : a.points_) sum += p;
  if (static_cast<int>(a.points_.size()) != num_levels || sum != total) {
    throw Error(StatusCode::kInvalidArgument,
                "key '" + w.prefix() + "num_points_scale' " + shape_str(nps.shape()) +
                    " does not describe points for " + std::to_string(num_levels) + " levels");
  }
  const Shape aw = w.shape_of("attention_weights.weight");
  if (aw.size() != 2 || aw[0] % total != 0) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "attention_weights.weight': "
                                              "expected [heads*" + std::to_string(total) + ", " +
                                              std::to_string(dim) + "], checkpoint has " + shape_str(aw));
  }
  a.heads_ = static_cast<int>(aw[0] / total);
  if (dim % a.heads_ != 0) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "attention_weights.weight' " +
                                                  shape_str(aw) + ": " + std::to_string(a.heads_) +
                                                  " heads do not divide dim " + std::to_string(dim));
  }
  a.weights_ = Linear::load(w.sub("attention_weights."), a.heads_ * total, dim);
  a.offsets_ = Linear::load(w.sub("sampling_offsets."), a.heads_ * total * 2, dim);
  return a;
}

Tensor DeformableAttention::operator()(const Tensor& query, const Tensor& ref_in,
                                       const Tensor& memory_in,
                                       const std::vector<std::pair<int64_t, int64_t>>& shapes) const {
  const int64_t b = query.size(0), q = query.size(1), e = query.size(2);
  const int64_t total = static_cast<int64_t>(point_scale_.size());
  const int64_t hd = e / heads_;
  if (shapes.size() != points_.size()) {
    throw Error(StatusCode::kInvalidArgument, "deformable attention: " + std::to_string(shapes.size()) +
                                                  " levels given, weights are for " +
                                                  std::to_string(points_.size()));
  }
  int64_t len = 0;
  for (const auto& s : shapes) len += s.first * s.second;
  if (memory_in.dim() != 3 || memory_in.size(0) != b || memory_in.size(1) != len ||
      memory_in.size(2) != e || ref_in.dim() != 3 || ref_in.size(2) != 4) {
    throw Error(StatusCode::kInvalidArgument, "deformable attention: memory " +
                                                  shape_str(memory_in.shape()) + " / ref " +
                                                  shape_str(ref_in.shape()) + " do not match query " +
                                                  shape_str(query.shape()));
  }
  const Tensor off = offsets_(query);   // [B, Q, heads, total, 2]
  Tensor attn = weights_(query);        // [B, Q, heads, total]
  const Tensor ref = ref_in.contiguous();
  const Tensor memory = memory_in.contiguous();
  Tensor out = Tensor::zeros({b, q, e});
  const float* po = off.data<float>();
  float* pa = attn.data<float>();
  const float* pr = ref.data<float>();
  const float* pm = memory.data<float>();
  float* pout = out.data<float>();

  std::vector<int64_t> level_start(shapes.size());
  for (size_t l = 0, s = 0; l < shapes.size(); ++l) {
    level_start[l] = static_cast<int64_t>(s);
    s += static_cast<size_t>(shapes[l].first * shapes[l].second);
  }
  for (int64_t bi = 0; bi < b; ++bi) {
    const float* mem_b = pm + bi * len * e;
    for (int64_t qi = 0; qi < q; ++qi) {
      const float* r = pr + (bi * q + qi) * 4;
      for (int64_t h = 0; h < heads_; ++h) {
        float* aw = pa + ((bi * q + qi) * heads_ + h) * total;
        // Softmax over every point of every level of this head.
        float mx = aw[0];
        for (int64_t i = 1; i < total; ++i) mx = std::max(mx, aw[i]);
        float sum = 0.f;
        for (int64_t i = 0; i < total; ++i) sum += (aw[i] = std::exp(aw[i] - mx));
        for (int64_t i = 0; i < total; ++i) aw[i] /= sum;
        const float* so = po + ((bi * q + qi) * heads_ + h) * total * 2;
        float* dst = pout + (bi * q + qi) * e + h * hd;
        int64_t pt = 0;
        for (size_t l = 0; l < shapes.size(); ++l) {
          const int64_t lh = shapes[l].first, lw = shapes[l].second;
          const float* mem_l = mem_b + level_start[l] * e + h * hd;
          for (int p = 0; p < points_[l]; ++p, ++pt) {
            // Same operation order as the official code: offset * (1/P) * wh * 0.5.
            const float ox = so[pt * 2] * point_scale_[pt] * r[2] * 0.5f;
            const float oy = so[pt * 2 + 1] * point_scale_[pt] * r[3] * 0.5f;
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

}  // namespace um::dfine
