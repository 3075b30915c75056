// File: src/models/dfine/postprocess.h
// Purpose: the official D-FINE post-processor and the gateway's top-1 box.
// Official: sigmoid(logits), top-k (k = 300) over queries x classes flattened, label = idx % C,
// query = idx / C, boxes cx,cy,w,h -> x0,y0,x1,y1 scaled to frame pixels (not clipped). In
// letterbox mode the boxes are first taken to input pixels and then mapped back through the
// letterbox geometry.
#pragma once

#include <cstdint>
#include <vector>

#include "core/tensor.h"
#include "models/dfine/preprocess.h"

namespace um::dfine {

struct Detection {
  int64_t label = 0;
  int64_t query = 0;
  float score = 0.f;
  float box[4] = {0, 0, 0, 0};  // x0, y0, x1, y1 in frame pixels
};

struct Detections {
  std::vector<Detection> items;  // sorted by score, descending (ties: lower flat index first)
  // The same as tensors with the fixtures' names and shapes: labels [K] int64, boxes [K, 4],
  // scores [K].
  Tensor labels, boxes, scores;
};

// logits [1, Q, C], boxes [1, Q, 4] (batch 1).
Detections postprocess(const Tensor& pred_logits, const Tensor& pred_boxes, const Geometry& geometry,
                       int64_t top_k = 300);

struct TopBox {
  bool found = false;
  int64_t label = 0;
  float score = 0.f;
  float box[4] = {0, 0, 0, 0};  // clamped to [0, W] x [0, H]
};
// The highest-scoring detection with its box clamped to the frame.
TopBox top1(const Detections& detections, const Geometry& geometry);

}  // namespace um::dfine
