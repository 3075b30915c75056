// File: src/models/dfine/deformable_attention.cpp
// Purpose: the deformable cross-attention layer; see deformable_attention.h. The sampling itself
// is nn::ms_deformable_sample (CPU reference and CUDA kernel in src/nn).
#include "models/dfine/deformable_attention.h"

#include <cmath>

#include "core/status.h"
#include "nn/ops_dfine.h"

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

Tensor DeformableAttention::operator()(const Tensor& query, const Tensor& ref,
                                       const Tensor& memory,
                                       const std::vector<std::pair<int64_t, int64_t>>& shapes) const {
  return (*this)(query.to(DType::kF32), query.to(weights_.weight.dtype()), ref, memory, shapes);
}

Tensor DeformableAttention::operator()(const Tensor& query32, const Tensor& query_c,
                                       const Tensor& ref, const Tensor& memory,
                                       const std::vector<std::pair<int64_t, int64_t>>& shapes) const {
  const Tensor& query = query32;
  if (shapes.size() != points_.size()) {
    throw Error(StatusCode::kInvalidArgument, "deformable attention: " + std::to_string(shapes.size()) +
                                                  " levels given, weights are for " +
                                                  std::to_string(points_.size()));
  }
  if (query.dim() != 3) {
    throw Error(StatusCode::kInvalidArgument,
                "deformable attention: query " + shape_str(query.shape()) + " must be [B, Q, E]");
  }
  if (query32.dtype() != DType::kF32 || query_c.dtype() != weights_.weight.dtype() ||
      query_c.shape() != query32.shape()) {
    throw Error(StatusCode::kInvalidArgument,
                "deformable attention: queries " + shape_str(query32.shape()) + " " +
                    dtype_name(query32.dtype()) + " / " + shape_str(query_c.shape()) + " " +
                    dtype_name(query_c.dtype()) + " must be float32 / " +
                    dtype_name(weights_.weight.dtype()) + " of one shape");
  }
  // The sampling offsets become coordinates: float32 layer on float32 activations (SPEC 3).
  const Tensor off = offsets_.rows(query32);  // [B, Q, heads * total * 2]
  // [B, Q, heads * total] in the compute dtype.
  const Tensor attn = weights_(query_c);
  nn::MsDeformParams p;
  p.level_shapes = shapes;
  p.points = points_;
  p.point_scale = point_scale_;
  p.heads = heads_;
  return nn::ms_deformable_sample(memory, ref, off, attn, p);
}

void DeformableAttention::place(const Placement& p) {
  offsets_.place(p.with_dtype(DType::kF32));
  weights_.place(p);
}

}  // namespace um::dfine
