// File: src/models/dfine/box_refine.cpp
// Purpose: FDR weighting function and LQE; the integral, distance2bbox and the LQE statistics
// are ops in src/nn (ops_dfine.h), CPU and CUDA.
#include "models/dfine/box_refine.h"

#include <algorithm>
#include <cmath>

#include "core/status.h"
#include "nn/ops_dfine.h"

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

Tensor integral(const Tensor& corners, const std::vector<float>& project) {
  return nn::distribution_integral(corners, project);
}

Tensor distance2bbox(const Tensor& points, const Tensor& distance, float reg_scale) {
  return nn::distance2bbox(points, distance, reg_scale);
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

Tensor Lqe::operator()(const Tensor& scores, const Tensor& corners) const {
  const Tensor stat = nn::distribution_topk_stats(corners, reg_max + 1, k);  // [B, Q, 4*(k+1)]
  // One class (D-FINE-S's): scores + quality is the MLP's residual add (the same add(scores,
  // quality) on the CPU; inside the fused kernel on CUDA). More classes broadcast the [B, Q, 1].
  if (scores.size(-1) == 1) return reg_conf(stat, scores);
  const Tensor quality = reg_conf(stat);                                   // [B, Q, 1]
  return nn::add(scores, quality);
}

}  // namespace um::dfine
