// File: src/pipeline/frame_state.h
// Purpose: what a FrameProcessor does around the models, whatever the backend: the visibility
// decision on the top-1 box, the box tracker, the weight maps and quality scores of the mask,
// the previous mask (for continuity) and the final visibility state. The CPU and CUDA
// processors both call it, so the two backends cannot drift apart in behaviour.
// Usage, per frame in stream order:
//   bool segment = state.observe_detection(r, found, box);   // r.detected, r.box, r.track_id
//   if (segment) { fill r.mask (+ r.mask_iou_prediction, r.low_res_logits);
//                  state.observe_mask(r, frame); }           // weights + quality
//   (GPU path: pass the device-made QualityPixelStats, state.observe_mask(r, frame, &stats),
//    and, when config.output_weights, fill r.w_in/w_edge/w_out from the device maps first;
//    then only the tracker, continuity / mask-stability and the state run on the host.)
//   state.finish(r);                                          // r.state, r.state_changed
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/frame.h"
#include "pipeline/frame_processor.h"
#include "pipeline/quality_stats.h"
#include "pipeline/tracker.h"
#include "pipeline/visibility.h"

namespace um::pipeline {

class FrameTemporalState {
 public:
  explicit FrameTemporalState(const ProcessorConfig& config);

  void reset();
  // The detector's top-1 (found: a box above nothing; box.score filled even below tau_conf).
  // Fills r.box, r.detected, r.track_id and updates the tracker. Returns r.detected: whether
  // the mask is to be used.
  bool observe_detection(FrameResult& r, bool found, const Box& box);
  // r.mask holds the frame-size mask: counts its area, computes W_in/W_edge/W_out (unless the
  // caller filled them already, each width*height bytes) and the quality scores, and remembers
  // it for the next frame. `stats`, when given, are the per-pixel stats of this frame, r.mask
  // and its weight maps (quality_stats.h, e.g. computed on the GPU): the full-frame sharpness /
  // contrast loops are then skipped, with the same scores, and the maps are not computed on
  // the host unless config.output_weights asks for them (left empty otherwise).
  void observe_mask(FrameResult& r, const Frame& frame,
                    const QualityPixelStats* stats = nullptr);
  // Visibility update; drops the weight maps when the config does not output them.
  void finish(FrameResult& r);

  // The previous frame's low-res logits when they may prompt this frame (same size, a mask).
  const Tensor& previous_low_res(int width, int height) const;

 private:
  ProcessorConfig config_;
  VisibilityMachine visibility_;
  Tracker tracker_;
  VisibilityObservation obs_{};
  TemporalStability stability_{};
  bool masked_ = false;
  std::vector<uint8_t> prev_mask_;
  int prev_width_ = 0, prev_height_ = 0;
  float prev_cx_ = 0, prev_cy_ = 0;
  Tensor prev_low_res_;
  Tensor none_;
};

}  // namespace um::pipeline
