// File: src/nn/detect_top1_cpu.cpp
// Purpose: CPU reference of the top-1 detection read-out (nn/ops_dfine.h): what D-FINE's
// postprocess() followed by top1() yields for the best detection, as one small op so the GPU
// frame path can produce it without a host round trip.
#include <algorithm>
#include <cmath>

#include "nn/op_util.h"
#include "nn/ops_dfine.h"
#include "nn/ops_dfine_cuda.h"

namespace um::nn {

using detail::fail;

Tensor detection_top1(const Tensor& logits_in, const Tensor& boxes_in, const BoxMapping& m) {
  const char* op = "detection_top1";
  if (!logits_in.defined() || !boxes_in.defined()) fail(op, "logits or boxes is undefined");
  if (logits_in.dim() != 3 || boxes_in.dim() != 3 || logits_in.size(0) != 1 ||
      boxes_in.size(0) != 1 || boxes_in.size(2) != 4 || logits_in.size(1) != boxes_in.size(1) ||
      logits_in.size(1) < 1 || logits_in.size(2) < 1) {
    fail(op, "logits " + shape_str(logits_in.shape()) + " and boxes " +
                 shape_str(boxes_in.shape()) + " must be [1, Q, C] and [1, Q, 4]");
  }
  if (logits_in.dtype() != DType::kF32 || boxes_in.dtype() != DType::kF32) {
    fail(op, std::string("logits and boxes must be float32, got ") + dtype_name(logits_in.dtype()) +
                 " and " + dtype_name(boxes_in.dtype()));
  }
  if (!(logits_in.device() == boxes_in.device()))
    fail(op, "logits and boxes live on different devices");
  UM_NN_CUDA_DISPATCH(logits_in, detection_top1_cuda(logits_in, boxes_in, m));
  detail::require_cpu_f32(op, logits_in, "logits");
  const Tensor logits = logits_in.contiguous(), boxes = boxes_in.contiguous();
  const int64_t c = logits.size(2), n = logits.numel();
  const float* pl = logits.data<float>();
  int64_t best = 0;
  float best_score = 1.f / (1.f + std::exp(-pl[0]));
  for (int64_t i = 1; i < n; ++i) {
    const float s = 1.f / (1.f + std::exp(-pl[i]));
    if (s > best_score) {
      best_score = s;
      best = i;
    }
  }
  const float* bx = boxes.data<float>() + (best / c) * 4;
  float xyxy[4] = {bx[0] - 0.5f * bx[2], bx[1] - 0.5f * bx[3], bx[0] + 0.5f * bx[2],
                   bx[1] + 0.5f * bx[3]};
  xyxy[0] *= m.norm_w;
  xyxy[1] *= m.norm_h;
  xyxy[2] *= m.norm_w;
  xyxy[3] *= m.norm_h;
  if (m.letterbox) {
    xyxy[0] = (xyxy[0] - m.pad_x) / m.scale;
    xyxy[1] = (xyxy[1] - m.pad_y) / m.scale;
    xyxy[2] = (xyxy[2] - m.pad_x) / m.scale;
    xyxy[3] = (xyxy[3] - m.pad_y) / m.scale;
  }
  const float lim[4] = {m.frame_w, m.frame_h, m.frame_w, m.frame_h};
  Tensor out = Tensor::empty({6});
  float* po = out.data<float>();
  po[0] = best_score;
  po[1] = static_cast<float>(best % c);
  for (int i = 0; i < 4; ++i)
    po[2 + i] = std::clamp(std::isfinite(xyxy[i]) ? xyxy[i] : 0.f, 0.f, lim[i]);
  return out;
}

}  // namespace um::nn
