// File: src/models/dfine/box_refine.cpp
// Purpose: FDR integral, distance2bbox and LQE; see box_refine.h.
#include "models/dfine/box_refine.h"

#include <algorithm>
#include <cmath>

#include "core/status.h"

namespace um::dfine {

std::vector<float> weighting_function(int reg_max, float up, float reg_scale) {
  // Official (non-deploy) form, computed in float32 like the torch tensors it is built from.
  const float ub1 = std::fabs(up) * std::fabs(reg_scale);
  const float ub2 = std::fabs(up) * std::fabs(reg_scale) * 2.f;
  const float step = std::pow(ub1 + 1.f, static_cast<float>(2.0 / (reg_max - 2)));
  std::vector<float> v;
  v.push_back(-ub2);
  for (int i = reg_max / 2 - 1; i > 0; --i) v.push_back(-std::pow(step, static_cast<float>(i)) + 1.f);
  v.push_back(0.f);
  for (int i = 1; i < reg_max / 2; ++i) v.push_back(std::pow(step, static_cast<float>(i)) - 1.f);
  v.push_back(ub2);
  return v;
}

Tensor integral(const Tensor& corners_in, const std::vector<float>& project) {
  const int64_t bins = static_cast<int64_t>(project.size());
  if (corners_in.dim() != 3 || corners_in.size(2) != 4 * bins) {
    throw Error(StatusCode::kInvalidArgument, "integral: corners " + shape_str(corners_in.shape()) +
                                                  " is not [B, Q, 4*" + std::to_string(bins) + "]");
  }
  const Tensor c = corners_in.contiguous();
  Tensor out = Tensor::empty({c.size(0), c.size(1), 4});
  const float* pc = c.data<float>();
  float* po = out.data<float>();
  std::vector<float> e(bins);
  const int64_t rows = c.size(0) * c.size(1) * 4;
  for (int64_t r = 0; r < rows; ++r) {
    const float* x = pc + r * bins;
    float mx = x[0];
    for (int64_t i = 1; i < bins; ++i) mx = std::max(mx, x[i]);
    float sum = 0.f;
    for (int64_t i = 0; i < bins; ++i) sum += (e[i] = std::exp(x[i] - mx));
    float acc = 0.f;
    for (int64_t i = 0; i < bins; ++i) acc += (e[i] / sum) * project[i];
    po[r] = acc;
  }
  return out;
}

Tensor distance2bbox(const Tensor& points_in, const Tensor& distance_in, float reg_scale) {
  if (points_in.dim() != 3 || points_in.size(2) != 4 || distance_in.shape() != points_in.shape()) {
    throw Error(StatusCode::kInvalidArgument, "distance2bbox: points " + shape_str(points_in.shape()) +
                                                  " and distance " + shape_str(distance_in.shape()) +
                                                  " must both be [B, Q, 4]");
  }
  const Tensor p = points_in.contiguous(), d = distance_in.contiguous();
  Tensor out = Tensor::empty(p.shape());
  const float rs = std::fabs(reg_scale);
  const float* pp = p.data<float>();
  const float* pd = d.data<float>();
  float* po = out.data<float>();
  for (int64_t i = 0; i < p.size(0) * p.size(1); ++i) {
    const float* q = pp + i * 4;
    const float* di = pd + i * 4;
    const float x1 = q[0] - (0.5f * rs + di[0]) * (q[2] / rs);
    const float y1 = q[1] - (0.5f * rs + di[1]) * (q[3] / rs);
    const float x2 = q[0] + (0.5f * rs + di[2]) * (q[2] / rs);
    const float y2 = q[1] + (0.5f * rs + di[3]) * (q[3] / rs);
    float* o = po + i * 4;
    o[0] = (x1 + x2) / 2.f;
    o[1] = (y1 + y2) / 2.f;
    o[2] = x2 - x1;
    o[3] = y2 - y1;
  }
  return out;
}

Lqe Lqe::load(const io::WeightSource& w, int reg_max) {
  Lqe l;
  l.reg_max = reg_max;
  const Shape s = w.shape_of("reg_conf.layers.0.weight");
  if (s.size() != 2 || s[1] % 4 != 0) {
    throw Error(StatusCode::kInvalidArgument, "key '" + w.prefix() + "reg_conf.layers.0.weight': "
                                              "expected [hidden, 4*(k+1)], checkpoint has " + shape_str(s));
  }
  l.k = static_cast<int>(s[1] / 4 - 1);
  l.reg_conf = Mlp::load(w.sub("reg_conf."), 2, s[1], s[0], 1);
  return l;
}

Tensor Lqe::operator()(const Tensor& scores, const Tensor& corners_in) const {
  const int64_t b = corners_in.size(0), q = corners_in.size(1), bins = reg_max + 1;
  const Tensor c = corners_in.contiguous();
  Tensor stat = Tensor::empty({b, q, 4 * (k + 1)});
  const float* pc = c.data<float>();
  float* ps = stat.data<float>();
  std::vector<float> prob(bins);
  for (int64_t r = 0; r < b * q * 4; ++r) {
    const float* x = pc + r * bins;
    float mx = x[0];
    for (int64_t i = 1; i < bins; ++i) mx = std::max(mx, x[i]);
    float sum = 0.f;
    for (int64_t i = 0; i < bins; ++i) sum += (prob[i] = std::exp(x[i] - mx));
    for (int64_t i = 0; i < bins; ++i) prob[i] /= sum;
    std::partial_sort(prob.begin(), prob.begin() + k, prob.end(), std::greater<float>());
    float* o = ps + r * (k + 1);
    float mean = 0.f;
    for (int i = 0; i < k; ++i) {
      o[i] = prob[i];
      mean += prob[i];
    }
    o[k] = mean / static_cast<float>(k);
  }
  const Tensor quality = reg_conf(stat);  // [B, Q, 1]
  return nn::add(scores, quality);
}

}  // namespace um::dfine
