// File: src/nn/fdr_cpu.cpp
// Purpose: CPU reference of D-FINE's fine-grained distribution refinement ops (nn/ops_dfine.h),
// moved from dfine/box_refine.cpp: the integral of per-edge bin distributions over W(n),
// distance2bbox, and the LQE's top-k probability statistics. float32 only (the box chain).
#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops_dfine.h"
#include "nn/ops_dfine_cuda.h"

namespace um::nn {
namespace {

using detail::fail;

// Defined, float32 (any device; the CPU path re-checks the device).
void require_f32(const char* op, const Tensor& t, const char* name) {
  if (!t.defined()) fail(op, std::string(name) + " is undefined");
  if (t.dtype() != DType::kF32) {
    fail(op, std::string(name) + " must be float32 (box chain), got " + dtype_name(t.dtype()));
  }
}

void check_corners(const char* op, const Tensor& corners, int64_t bins) {
  require_f32(op, corners, "corners");
  if (bins < 1 || bins > kMaxFdrBins) {
    fail(op, std::to_string(bins) + " bins (1.." + std::to_string(kMaxFdrBins) + " supported)");
  }
  if (corners.dim() != 3 || corners.size(2) != 4 * bins) {
    fail(op, "corners " + shape_str(corners.shape()) + " is not [B, Q, 4*" + std::to_string(bins) +
                 "]");
  }
}

}  // namespace

Tensor distribution_integral(const Tensor& corners_in, const std::vector<float>& project) {
  const int64_t bins = static_cast<int64_t>(project.size());
  check_corners("distribution_integral", corners_in, bins);
  UM_NN_CUDA_DISPATCH(corners_in, distribution_integral_cuda(corners_in, project));
  detail::require_cpu_f32("distribution_integral", corners_in, "corners");
  const Tensor c = corners_in.contiguous();
  Tensor out = Tensor::empty({c.size(0), c.size(1), 4});
  const float* pc = c.data<float>();
  float* po = out.data<float>();
  std::vector<float> e(static_cast<size_t>(bins));
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
  const char* op = "distance2bbox";
  require_f32(op, points_in, "points");
  require_f32(op, distance_in, "distance");
  if (points_in.dim() != 3 || points_in.size(2) != 4 || distance_in.shape() != points_in.shape()) {
    fail(op, "points " + shape_str(points_in.shape()) + " and distance " +
                 shape_str(distance_in.shape()) + " must both be [B, Q, 4]");
  }
  if (!(points_in.device() == distance_in.device()))
    fail(op, "points and distance live on different devices");
  UM_NN_CUDA_DISPATCH(points_in, distance2bbox_cuda(points_in, distance_in, reg_scale));
  detail::require_cpu_f32(op, points_in, "points");
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

Tensor distribution_topk_stats(const Tensor& corners_in, int64_t bins, int k) {
  check_corners("distribution_topk_stats", corners_in, bins);
  if (k < 1 || k > bins) {
    fail("distribution_topk_stats",
         "k " + std::to_string(k) + " outside 1.." + std::to_string(bins));
  }
  UM_NN_CUDA_DISPATCH(corners_in, distribution_topk_stats_cuda(corners_in, bins, k));
  detail::require_cpu_f32("distribution_topk_stats", corners_in, "corners");
  const int64_t b = corners_in.size(0), q = corners_in.size(1);
  const Tensor c = corners_in.contiguous();
  Tensor stat = Tensor::empty({b, q, 4 * (k + 1)});
  const float* pc = c.data<float>();
  float* ps = stat.data<float>();
  std::vector<float> prob(static_cast<size_t>(bins));
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
  return stat;
}

}  // namespace um::nn
