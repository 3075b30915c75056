// File: src/models/dfine/postprocess.cpp
// Purpose: official D-FINE post-processing and the top-1 box; see postprocess.h.
#include "models/dfine/postprocess.h"

#include <algorithm>
#include <cmath>

#include "core/status.h"
#include "nn/ops.h"

namespace um::dfine {

Detections postprocess(const Tensor& pred_logits, const Tensor& pred_boxes, const Geometry& g,
                       int64_t top_k) {
  if (pred_logits.dim() != 3 || pred_boxes.dim() != 3 || pred_logits.size(0) != 1 ||
      pred_boxes.size(0) != 1 || pred_boxes.size(2) != 4 || pred_logits.size(1) != pred_boxes.size(1)) {
    throw Error(StatusCode::kInvalidArgument, "D-FINE postprocess: logits " + shape_str(pred_logits.shape()) +
                                                  " and boxes " + shape_str(pred_boxes.shape()) +
                                                  " must be [1, Q, C] and [1, Q, 4]");
  }
  const int64_t q = pred_logits.size(1), c = pred_logits.size(2);
  const int64_t k = std::min(top_k, q * c);
  const Tensor scores_all = nn::sigmoid(pred_logits).view({1, q * c});
  auto [values, index] = nn::topk(scores_all, k);
  const Tensor boxes_in = pred_boxes.contiguous();
  const float* pb = boxes_in.data<float>();
  Detections d;
  d.labels = Tensor::empty({k}, DType::kI64);
  d.boxes = Tensor::empty({k, 4});
  d.scores = Tensor::empty({k});
  // Normalised -> pixel factors: the frame size (stretch, as official) or the input size (letterbox).
  const bool lb = g.mode == ResizeMode::kLetterbox;
  const float sx = lb ? static_cast<float>(g.input_width) : static_cast<float>(g.frame_width);
  const float sy = lb ? static_cast<float>(g.input_height) : static_cast<float>(g.frame_height);
  for (int64_t i = 0; i < k; ++i) {
    const int64_t idx = index.data<int64_t>()[i];
    Detection det;
    det.label = idx % c;
    det.query = idx / c;
    det.score = values.data<float>()[i];
    const float* bx = pb + det.query * 4;
    float xyxy[4] = {bx[0] - 0.5f * bx[2], bx[1] - 0.5f * bx[3], bx[0] + 0.5f * bx[2],
                     bx[1] + 0.5f * bx[3]};
    xyxy[0] *= sx;
    xyxy[1] *= sy;
    xyxy[2] *= sx;
    xyxy[3] *= sy;
    if (lb) {
      xyxy[0] = (xyxy[0] - g.pad_x) / g.scale;
      xyxy[1] = (xyxy[1] - g.pad_y) / g.scale;
      xyxy[2] = (xyxy[2] - g.pad_x) / g.scale;
      xyxy[3] = (xyxy[3] - g.pad_y) / g.scale;
    }
    std::copy(xyxy, xyxy + 4, det.box);
    d.labels.data<int64_t>()[i] = det.label;
    std::copy(xyxy, xyxy + 4, d.boxes.data<float>() + i * 4);
    d.scores.data<float>()[i] = det.score;
    d.items.push_back(det);
  }
  return d;
}

TopBox top1(const Detections& detections, const Geometry& g) {
  TopBox t;
  if (detections.items.empty()) return t;
  const Detection& d = detections.items.front();
  t.found = true;
  t.label = d.label;
  t.score = d.score;
  const float lim[4] = {static_cast<float>(g.frame_width), static_cast<float>(g.frame_height),
                        static_cast<float>(g.frame_width), static_cast<float>(g.frame_height)};
  for (int i = 0; i < 4; ++i) {
    const float v = std::isfinite(d.box[i]) ? d.box[i] : 0.f;
    t.box[i] = std::clamp(v, 0.f, lim[i]);
  }
  return t;
}

}  // namespace um::dfine
