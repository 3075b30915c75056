// File: src/models/dfine/box_refine.h
// Purpose: D-FINE's fine-grained distribution refinement (FDR): the non-uniform weighting
// function W(n), the integral of a per-edge distribution over it, distance2bbox, and the
// localization quality estimator (LQE) that adds a term to the class logits. All float32, in
// every mode (the box chain, SPEC 3): inputs must be float32 tensors, on any device.
#pragma once

#include <vector>

#include "models/dfine/layers.h"

namespace um::dfine {

// weighting_function(reg_max, up, reg_scale): reg_max + 1 values from -2*up*rs to 2*up*rs.
std::vector<float> weighting_function(int reg_max, float up, float reg_scale);

// corners [B, Q, 4*(reg_max+1)] -> distances [B, Q, 4]: softmax per edge, dot with `project`.
Tensor integral(const Tensor& corners, const std::vector<float>& project);

// points [B, Q, 4] (cx, cy, w, h), distance [B, Q, 4] (l, t, r, b) -> boxes [B, Q, 4] cxcywh.
Tensor distance2bbox(const Tensor& points, const Tensor& distance, float reg_scale);

// LQE(k=4, hidden 64, 2 layers): scores + MLP([top-k probs per edge, their mean]).
struct Lqe {
  Mlp reg_conf;
  int k = 4;
  int reg_max = 32;
  static Lqe load(const io::WeightSource& w, int reg_max);
  // scores [B, Q, C] float32, corners [B, Q, 4*(reg_max+1)] float32.
  Tensor operator()(const Tensor& scores, const Tensor& corners) const;
  void place(const Placement& p) { reg_conf.place(p.with_dtype(DType::kF32)); }
};

}  // namespace um::dfine
