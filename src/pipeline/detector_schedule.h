// File: src/pipeline/detector_schedule.h
// Purpose: detector skipping (issue 10): decides, before a frame's model work, whether D-FINE
// runs on it or whether the frame is segmented from the tracker's predicted box, from the
// state of the frames that have COMPLETED (FrameTemporalState owns one; see frame_state.h for
// the per-frame calls).
//
// Rules of plan() (DetectorSkipConfig in frame_processor.h; the first matching row decides):
//   every <= 1                                   -> run  "skip_off"   (nothing else changes)
//   a completed frame asked for a detection      -> run  "forced_state_change" (its visibility
//                                                   state changed) or "forced_quality_drop" (its
//                                                   combined quality fell by more than
//                                                   max_quality_drop below that of the last
//                                                   frame where D-FINE ran)
//   the last completed frame has no usable box   -> run  "no_track" (not detected, no mask, or
//                                                   its box opened/matched no track)
//   the last completed frame is not VISIBLE      -> run  "not_visible" (RELOCALIZING means the
//                                                   detector or the mask is in doubt: no skipping)
//   the frame size differs from the last one     -> run  "new_size"
//   the primary track is not stable              -> run  "unstable": the tracker's stability
//                                                   signal is not valid for it (fewer than two
//                                                   matches), its box IoU < min_box_iou, or its
//                                                   last detection score < min_score
//   k - 1 frames were planned since the last run -> run  "scheduled"
//   the predicted box has no area in the frame   -> run  "box_left_frame"
//   otherwise                                    -> skip "tracked": the box is the tracker's
//                                                   prediction for this frame (tracker.h
//                                                   predict_box: constant centre velocity),
//                                                   clamped to the frame, with the track's last
//                                                   detection score
// Every run restarts the count to k (a forced detection too) and clears the forced request.
// On a stable target D-FINE therefore runs on the first frames (a track needs two matches before
// its stability is valid, and the LOST -> RELOCALIZING -> VISIBLE changes force detections),
// then on every k-th frame.
//
// Pipelining (FrameProcessor::submit/complete): the plan for frame n+1 may be made while frame
// n is still in flight. plan() reads only what completed frames left (tracker, last box,
// quality reference, forced requests); it also counts the frames planned and not completed,
// so that the prediction reaches the right frame (frames since the track's last match =
// completed coasted/missed frames + in-flight frames + 1) and the count to k runs in plan
// order. A completed frame's forced request therefore acts on the next plan made after it
// completed (one frame later than without pipelining when a frame is in flight).
//
// Usage (through FrameTemporalState; standalone in tests):
//   DetectorSchedule s(config.detector_skip);
//   DetectionPlan p = s.plan(w, h, tracker);      // before the frame's model work
//   ... frame runs, visibility updated ...
//   s.completed(result, masked);                  // in stream order, once per planned frame
//   s.frame_failed();                             // instead, when the planned frame failed
#pragma once

#include "pipeline/frame.h"
#include "pipeline/frame_processor.h"
#include "pipeline/tracker.h"

namespace um::pipeline {

// The decision for one frame.
struct DetectionPlan {
  bool run_detector = true;
  Box box;              // when !run_detector: the box to segment from (tracker prediction for
                        // this frame, frame pixels, clamped, ordered) with the track's last score
  int track_id = -1;    // when !run_detector: the track whose prediction `box` is
  const char* reason = "every_frame";  // why: "skip_off", "scheduled", "tracked",
                        // "forced_quality_drop", "forced_state_change", "unstable", "no_track",
                        // "not_visible", "new_size", "box_left_frame" (static strings)
};

class DetectorSchedule {
 public:
  explicit DetectorSchedule(const DetectorSkipConfig& config);

  // Forgets everything (a new stream): the next plan runs the detector.
  void reset();
  // The plan for the next frame (width x height); `tracker` as the completed frames left it.
  DetectionPlan plan(int width, int height, const Tracker& tracker);
  // A planned frame completed: `masked` = its mask was used (r.quality is meaningful).
  // Reads r.detector_ran, r.detected, r.track_id, r.state, r.state_changed, r.quality.combined,
  // size.
  void completed(const FrameResult& r, bool masked);
  // A planned frame failed before completing: forget its plan.
  void frame_failed();

  int in_flight() const { return in_flight_; }
  const DetectorSkipConfig& config() const { return config_; }

 private:
  enum class Force { kNone, kQualityDrop, kStateChange };
  DetectionPlan run(const char* reason);

  DetectorSkipConfig config_;
  Force force_ = Force::kNone;
  bool last_usable_ = false;    // last completed frame: detected, masked, on a track
  bool last_visible_ = false;   // last completed frame's state is VISIBLE
  int last_track_id_ = -1;
  int last_width_ = 0, last_height_ = 0;
  int planned_since_run_ = 0;   // frames planned since the last planned detector run
  int in_flight_ = 0;           // planned, not completed
  bool have_reference_ = false; // a completed detector-ran frame with a mask
  float reference_quality_ = 0; // its combined quality
};

}  // namespace um::pipeline
