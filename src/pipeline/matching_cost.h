// File: src/pipeline/matching_cost.h
// Purpose: the D-FINE matching cost (HungarianMatcher of the official D-FINE code,
// src/zoo/dfine/dfine_matcher.py) and the one-to-one / top-k matching built on it, for users who
// train or evaluate: which of the 300 queries answers which ground-truth box.
//
// For Q predictions (class logits [Q, C], boxes [Q, 4] normalised cx,cy,w,h) and T targets
// (labels [T], boxes [T, 4] normalised cx,cy,w,h), cost[q][t] (row-major [Q, T]) is
//     weight_class * cost_class + weight_bbox * cost_bbox + weight_giou * cost_giou
// with, as in the official forward() (float32 throughout, like the PyTorch code):
//   focal (use_focal_loss, the D-FINE default), p = sigmoid(logit[q][label_t]):
//     neg = (1 - alpha) * p^gamma * -log(1 - p + 1e-8)
//     pos = alpha * (1 - p)^gamma * -log(p + 1e-8)
//     cost_class = pos - neg
//   softmax (use_focal_loss = false): cost_class = -softmax(logits[q])[label_t]
//   cost_bbox = L1 distance of the cx,cy,w,h vectors (torch.cdist p=1)
//   cost_giou = -GIoU(xyxy(pred), xyxy(target)), xyxy = (cx - w/2, cy - h/2, cx + w/2, cy + h/2)
// and finally torch.nan_to_num(C, nan=1.0): NaN -> 1, +inf -> FLT_MAX, -inf -> -FLT_MAX (so
// degenerate zero-area boxes still give a finite, solvable matrix, as upstream).
// Defaults are the official ones: weights class 2, bbox 5, giou 2; alpha 0.25, gamma 2.
//
// Usage:
//   MatchingCostInputs in{logits, boxes, Q, C, labels, tgt_boxes, T};
//   Result<std::vector<float>> cost = dfine_matching_cost(in);            // [Q x T]
//   Result<std::vector<Assignment>> m = dfine_match(in, /*k=*/1);         // m[0]: Q -> T pairs
#pragma once

#include <vector>

#include "core/status.h"
#include "pipeline/assignment.h"

namespace um::pipeline {

struct MatchingCostConfig {
  float weight_class = 2.0f;
  float weight_bbox = 5.0f;
  float weight_giou = 2.0f;
  float alpha = 0.25f;
  float gamma = 2.0f;
  bool use_focal_loss = true;
};

// Plain row-major host arrays; none is copied.
struct MatchingCostInputs {
  const float* pred_logits = nullptr;  // [num_queries, num_classes]
  const float* pred_boxes = nullptr;   // [num_queries, 4] cx, cy, w, h (normalised)
  int num_queries = 0;
  int num_classes = 0;
  const int* target_labels = nullptr;  // [num_targets], each in [0, num_classes)
  const float* target_boxes = nullptr; // [num_targets, 4] cx, cy, w, h (normalised)
  int num_targets = 0;
};

// Returns the [num_queries x num_targets] cost matrix, row-major. Errors (kInvalidArgument):
// negative sizes, null arrays with non-zero sizes, a label outside [0, num_classes).
Result<std::vector<float>> dfine_matching_cost(const MatchingCostInputs& in,
                                               const MatchingCostConfig& config = {});

// The matcher: the cost above, then exact assignment. k == 1 gives the official one-to-one
// indices (query -> target, pairs ordered by query like SciPy). k > 1 gives k rounds with
// TopKExclusion::kRows: each query is matched at most once over all rounds, the one-to-many
// matching get_top_k_matches is meant to produce (see assignment.h for how it differs from the
// reference's 1e6 masking). With no targets the result holds one empty round.
Result<std::vector<Assignment>> dfine_match(const MatchingCostInputs& in, int k = 1,
                                            const MatchingCostConfig& config = {});

// Generalised IoU of two xyxy boxes, exactly as D-FINE's box_ops.generalized_box_iou computes
// it (NaN for two degenerate boxes; the caller decides). Exposed for tests and the tracker.
float generalized_box_iou_xyxy(const float a[4], const float b[4]);

}  // namespace um::pipeline
