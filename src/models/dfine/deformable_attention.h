// File: src/models/dfine/deformable_attention.h
// Purpose: D-FINE's multi-scale deformable cross-attention (MSDeformableAttention, 'default'
// method). No value or output projection: the memory is sampled directly, per head. Sampling
// location = ref_xy + offset * (1 / P_level) * ref_wh * 0.5; bilinear with zero padding and
// align_corners=False (grid = 2 * loc - 1, as F.grid_sample sees it); the attention weights are
// one softmax over all points of all levels per head. The sampling offsets layer and the
// sampling coordinates are float32 in every mode; the attention weights and the memory follow
// the compute dtype.
#pragma once

#include <utility>
#include <vector>

#include "models/dfine/layers.h"

namespace um::dfine {

class DeformableAttention {
 public:
  // num_points_scale (a buffer in the checkpoint) gives 1/P per point, hence the per-level point
  // counts; the head count is attention_weights rows / total points.
  static DeformableAttention load(const io::WeightSource& w, int64_t dim, int num_levels);

  // query [B, Q, E] (float32, or the compute dtype), ref [B, Q, 4] float32 (cx, cy, w, h in [0, 1]), memory [B, sum(HW), E] laid out
  // level after level; shapes (H, W) per level. Returns [B, Q, E].
  Tensor operator()(const Tensor& query, const Tensor& ref, const Tensor& memory,
                    const std::vector<std::pair<int64_t, int64_t>>& shapes) const;
  // The same with the query given twice: float32 (the sampling offsets) and in the attention
  // weights' dtype (query_c; the caller rounded it already, e.g. with nn::add_mixed2), so no
  // conversion kernel runs here.
  Tensor operator()(const Tensor& query32, const Tensor& query_c, const Tensor& ref,
                    const Tensor& memory,
                    const std::vector<std::pair<int64_t, int64_t>>& shapes) const;
  // The dtype the attention-weights layer takes (the compute dtype once placed).
  DType weights_dtype() const { return weights_.weight.dtype(); }

  void place(const Placement& p);  // offsets layer stays float32
  int num_heads() const { return heads_; }
  const std::vector<int>& points_per_level() const { return points_; }

 private:
  Linear offsets_, weights_;
  std::vector<float> point_scale_;  // 1 / P for each point, level after level
  std::vector<int> points_;
  int heads_ = 0;
};

}  // namespace um::dfine
