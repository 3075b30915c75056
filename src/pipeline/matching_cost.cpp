// File: src/pipeline/matching_cost.cpp
// Purpose: D-FINE's HungarianMatcher cost and matching (matching_cost.h). The arithmetic follows
// the official PyTorch expressions term by term in float32 so results agree to float rounding.
#include "pipeline/matching_cost.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>

namespace um::pipeline {
namespace {

void cxcywh_to_xyxy(const float* b, float out[4]) {
  out[0] = b[0] - 0.5f * b[2];
  out[1] = b[1] - 0.5f * b[3];
  out[2] = b[0] + 0.5f * b[2];
  out[3] = b[1] + 0.5f * b[3];
}

Status check_inputs(const MatchingCostInputs& in) {
  if (in.num_queries < 0 || in.num_classes < 0 || in.num_targets < 0) {
    return invalid_argument("matching cost: negative size (queries " +
                            std::to_string(in.num_queries) + ", classes " +
                            std::to_string(in.num_classes) + ", targets " +
                            std::to_string(in.num_targets) + ")");
  }
  if (in.num_queries > 0 && (!in.pred_logits || !in.pred_boxes)) {
    return invalid_argument("matching cost: prediction arrays are null");
  }
  if (in.num_targets > 0 && (!in.target_labels || !in.target_boxes)) {
    return invalid_argument("matching cost: target arrays are null");
  }
  if (in.num_targets > 0 && in.num_classes == 0) {
    return invalid_argument("matching cost: targets given but num_classes is 0");
  }
  for (int t = 0; t < in.num_targets; ++t) {
    if (in.target_labels[t] < 0 || in.target_labels[t] >= in.num_classes) {
      return invalid_argument("matching cost: target " + std::to_string(t) + " has label " +
                              std::to_string(in.target_labels[t]) + ", outside [0, " +
                              std::to_string(in.num_classes) + ")");
    }
  }
  return Status::Ok();
}

// -softmax(logits)[label] for every target of one query (the non-focal branch).
void softmax_class_cost(const MatchingCostInputs& in, int q, float* out_row) {
  const float* l = in.pred_logits + static_cast<size_t>(q) * in.num_classes;
  const float mx = *std::max_element(l, l + in.num_classes);
  float denom = 0.0f;
  for (int c = 0; c < in.num_classes; ++c) denom += std::exp(l[c] - mx);
  for (int t = 0; t < in.num_targets; ++t) {
    out_row[t] = -(std::exp(l[in.target_labels[t]] - mx) / denom);
  }
}

}  // namespace

float generalized_box_iou_xyxy(const float a[4], const float b[4]) {
  // box_iou: inter over union of the two areas.
  const float area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const float area_b = (b[2] - b[0]) * (b[3] - b[1]);
  const float iw = std::max(std::min(a[2], b[2]) - std::max(a[0], b[0]), 0.0f);
  const float ih = std::max(std::min(a[3], b[3]) - std::max(a[1], b[1]), 0.0f);
  const float inter = iw * ih;
  const float uni = area_a + area_b - inter;
  const float iou = inter / uni;
  // Smallest enclosing box.
  const float ew = std::max(std::max(a[2], b[2]) - std::min(a[0], b[0]), 0.0f);
  const float eh = std::max(std::max(a[3], b[3]) - std::min(a[1], b[1]), 0.0f);
  const float area = ew * eh;
  return iou - (area - uni) / area;
}

Result<std::vector<float>> dfine_matching_cost(const MatchingCostInputs& in,
                                               const MatchingCostConfig& config) {
  UM_RETURN_IF_ERROR(check_inputs(in));
  const int nq = in.num_queries, nt = in.num_targets;
  std::vector<float> cost(static_cast<size_t>(nq) * nt);
  if (cost.empty()) return cost;

  std::vector<float> tgt_xyxy(static_cast<size_t>(nt) * 4);
  for (int t = 0; t < nt; ++t) cxcywh_to_xyxy(in.target_boxes + 4 * t, &tgt_xyxy[4 * t]);

  std::vector<float> class_row(nt);
  for (int q = 0; q < nq; ++q) {
    const float* pb = in.pred_boxes + 4 * static_cast<size_t>(q);
    float pxyxy[4];
    cxcywh_to_xyxy(pb, pxyxy);
    if (config.use_focal_loss) {
      for (int t = 0; t < nt; ++t) {
        const float logit = in.pred_logits[static_cast<size_t>(q) * in.num_classes +
                                           in.target_labels[t]];
        const float p = 1.0f / (1.0f + std::exp(-logit));
        const float neg = (1.0f - config.alpha) * std::pow(p, config.gamma) *
                          -std::log(1.0f - p + 1e-8f);
        const float pos = config.alpha * std::pow(1.0f - p, config.gamma) * -std::log(p + 1e-8f);
        class_row[t] = pos - neg;
      }
    } else {
      softmax_class_cost(in, q, class_row.data());
    }
    float* row = cost.data() + static_cast<size_t>(q) * nt;
    for (int t = 0; t < nt; ++t) {
      const float* tb = in.target_boxes + 4 * static_cast<size_t>(t);
      const float l1 = std::abs(pb[0] - tb[0]) + std::abs(pb[1] - tb[1]) +
                       std::abs(pb[2] - tb[2]) + std::abs(pb[3] - tb[3]);
      const float giou = -generalized_box_iou_xyxy(pxyxy, &tgt_xyxy[4 * t]);
      // Same summation order as the reference: bbox + class + giou.
      float c = config.weight_bbox * l1 + config.weight_class * class_row[t] +
                config.weight_giou * giou;
      if (std::isnan(c)) c = 1.0f;  // torch.nan_to_num(C, nan=1.0)
      if (c == INFINITY) c = FLT_MAX;
      if (c == -INFINITY) c = -FLT_MAX;
      row[t] = c;
    }
  }
  return cost;
}

Result<std::vector<Assignment>> dfine_match(const MatchingCostInputs& in, int k,
                                            const MatchingCostConfig& config) {
  if (k < 1) return invalid_argument("dfine_match: k must be >= 1, got " + std::to_string(k));
  UM_ASSIGN_OR_RETURN(std::vector<float> cost, dfine_matching_cost(in, config));
  if (in.num_queries == 0 || in.num_targets == 0) return std::vector<Assignment>(1);
  UM_ASSIGN_OR_RETURN(std::vector<Assignment> rounds,
                      top_k_matches(cost.data(), in.num_queries, in.num_targets, k,
                                    TopKExclusion::kRows));
  return rounds;
}

}  // namespace um::pipeline
