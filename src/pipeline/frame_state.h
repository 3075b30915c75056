// File: src/pipeline/frame_state.h
// Purpose: what a FrameProcessor does around the models, whatever the backend: the visibility
// decision on the top-1 box, the box tracker, the weight maps and quality scores of the mask,
// the previous mask (for continuity) and the final visibility state. The CPU and CUDA
// processors both call it, so the two backends cannot drift apart in behaviour.
// Usage, per frame in stream order:
//   DetectionPlan plan = state.plan_detection(w, h);          // before the frame's model work
//   bool segment = plan.run_detector
//       ? state.observe_detection(r, found, box)               // D-FINE ran: its top-1
//       : state.observe_tracked(r, plan);                      // D-FINE skipped: plan.box
//                                                              // (r.detected, r.box, r.track_id)
//   if (segment) { fill r.mask (+ r.mask_iou_prediction, r.low_res_logits);
//                  state.observe_mask(r, frame); }           // weights + quality
//   (GPU path: pass the device-made QualityPixelStats, state.observe_mask(r, frame, &stats),
//    and, when config.output_weights, fill r.w_in/w_edge/w_out from the device maps first;
//    then only the tracker, continuity / mask-stability and the state run on the host.)
//   state.finish(r);                                          // r.state, r.state_changed
//   (a planned frame that fails before finish(): state.frame_failed())
// Pipelined backends (FrameProcessor::submit/complete): plan in submit(), after the frame was
// validated, and keep the plan with the in-flight frame (a skipped frame's graph takes
// plan.box as its prompt); observe_*/observe_mask/finish in complete(), in submission order.
// The plan sees only completed frames; the in-flight ones are counted (detector_schedule.h).
// plan_detection() may be skipped entirely (then every frame is a detector frame, as before
// detector skipping existed); with config.detector_skip.every = 1 it always says run.
//
// Detector skipping (detector_schedule.h has the rules): on a frame the plan skips, the box is
// the tracker's constant-velocity prediction; the tracker coasts (ages, no measurement, so its
// prediction never confirms itself); the mask is real (MobileSAM on the frame, from that box),
// so weights and quality are computed as on any frame. What a skipped frame reports:
//   - to the visibility state machine: has_box = the predicted box has area, score = the
//     track's LAST DETECTION score (no new confidence is invented), quality/continuity of the
//     real mask;
//   - as the quality's stability term: the tracker signal of the last detector frame (carried
//     unchanged: it neither rises nor falls without a measurement).
// A quality drop (vs the last detector frame) or a state change on any frame forces D-FINE on
// the next plan.
#pragma once

#include <cstdint>
#include <vector>

#include "pipeline/detector_schedule.h"
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
  // Whether D-FINE runs on the next frame (width x height), decided from the COMPLETED frames
  // only (see detector_schedule.h; with frames in flight, the prediction is carried forward by
  // their number). Call once per frame, in stream order, before the frame's model work.
  DetectionPlan plan_detection(int width, int height);
  // Instead of observe_detection() on a frame where D-FINE did not run: takes plan.box as the
  // frame's box (r.detector_ran = false, r.box, r.detected, r.track_id) and coasts the tracker;
  // returns whether the mask is to be used (then observe_mask/finish as usual). A plan that
  // says run_detector: um::Error (kFailedPrecondition).
  bool observe_tracked(FrameResult& r, const DetectionPlan& plan);
  // A planned frame failed before finish(): forgets its plan (keeps the in-flight count right).
  void frame_failed();
  // The detector's top-1 (found: a box above nothing; box.score filled even below tau_conf).
  // Fills r.box, r.detected, r.track_id and updates the tracker. Returns r.detected: whether
  // the mask is to be used. Sets r.detector_ran.
  bool observe_detection(FrameResult& r, bool found, const Box& box);
  // r.mask holds the frame-size mask: counts its area, computes W_in/W_edge/W_out (unless the
  // caller filled them already, each width*height bytes) and the quality scores, and remembers
  // it for the next frame. `stats`, when given, are the per-pixel stats of this frame, r.mask
  // and its weight maps (quality_stats.h, e.g. computed on the GPU): the full-frame sharpness /
  // contrast loops are then skipped, with the same scores, and the maps are not computed on
  // the host unless config.output_weights asks for them (left empty otherwise).
  void observe_mask(FrameResult& r, const Frame& frame,
                    const QualityPixelStats* stats = nullptr);
  // Visibility update; drops the weight maps when the config does not output them. Then the
  // frame counts as completed for plan_detection (quality drop / state change recorded).
  void finish(FrameResult& r);

  // The previous frame's low-res logits when they may prompt this frame (same size, a mask).
  const Tensor& previous_low_res(int width, int height) const;

 private:
  ProcessorConfig config_;
  VisibilityMachine visibility_;
  Tracker tracker_;
  DetectorSchedule schedule_;
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
