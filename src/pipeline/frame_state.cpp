// File: src/pipeline/frame_state.cpp
// Purpose: the backend-independent steps of a frame (see frame_state.h).
#include "pipeline/frame_state.h"

#include <cmath>

#include "core/clock.h"
#include "pipeline/mask_weights.h"
#include "pipeline/quality.h"

namespace um::pipeline {

FrameTemporalState::FrameTemporalState(const ProcessorConfig& config)
    : config_(config),
      visibility_(config.visibility),
      tracker_(config.tracker),
      schedule_(config.detector_skip) {}

void FrameTemporalState::reset() {
  visibility_.reset();
  tracker_.reset();
  schedule_.reset();
  prev_mask_.clear();
  prev_width_ = prev_height_ = 0;
  prev_low_res_ = Tensor();
}

DetectionPlan FrameTemporalState::plan_detection(int width, int height) {
  return schedule_.plan(width, height, tracker_);
}

void FrameTemporalState::frame_failed() { schedule_.frame_failed(); }

bool FrameTemporalState::observe_tracked(FrameResult& r, const DetectionPlan& plan) {
  if (plan.run_detector) {
    throw_if_error(failed_precondition(
        "observe_tracked: the plan runs the detector (use observe_detection)"));
  }
  masked_ = false;
  r.detector_ran = false;
  r.box = plan.box;
  // No new detector confidence: the track's last detection score stands (frame_state.h).
  obs_ = VisibilityObservation{plan.box.width() > 0 && plan.box.height() > 0, plan.box.score,
                               0.0f, 0.0f};
  r.detected = visibility_.detected(obs_);
  r.track_id = r.detected ? plan.track_id : -1;
  // A frame without a measurement: tracks age, nothing is confirmed; stability_ (the quality's
  // stability term) stays the last detector frame's.
  tracker_.coast();
  return r.detected;
}

bool FrameTemporalState::observe_detection(FrameResult& r, bool found, const Box& box) {
  masked_ = false;
  r.detector_ran = true;
  if (found) r.box = box;
  // A box clamped to nothing (entirely outside the frame) is no box.
  obs_ = VisibilityObservation{found && r.box.width() > 0 && r.box.height() > 0, box.score, 0.0f,
                               0.0f};
  r.detected = visibility_.detected(obs_);
  // The tracker sees the confident top-1 box (or nothing) every frame, so its tracks age and
  // miss in step with the stream.
  std::vector<Box> detections;
  if (r.detected) detections.push_back(r.box);
  Result<TrackerUpdate> tracked = tracker_.update(detections);
  throw_if_error(tracked.status());
  if (!tracked->track_of_detection.empty()) r.track_id = tracked->track_of_detection[0];
  stability_ = tracked->stability;
  return r.detected;
}

void FrameTemporalState::observe_mask(FrameResult& r, const Frame& frame,
                                      const QualityPixelStats* stats) {
  const size_t npix = static_cast<size_t>(frame.width) * frame.height;
  int64_t area = 0;
  for (uint8_t m : r.mask) area += m;
  r.mask_area = area;

  int64_t t0 = monotonic_ns();
  const bool have_maps = r.w_in.size() == npix && r.w_edge.size() == npix &&
                         r.w_out.size() == npix;
  // With precomputed stats the scores do not read the maps: they are only made here when the
  // caller wants them returned (config.output_weights) and did not bring them.
  const bool need_maps = stats == nullptr || config_.output_weights;
  if (!have_maps && need_maps) {
    r.w_in.resize(npix);
    r.w_edge.resize(npix);
    r.w_out.resize(npix);
    compute_mask_weights(r.mask.data(), frame.width, frame.height, r.w_in.data(),
                         r.w_edge.data(), r.w_out.data());
  }
  int64_t t1 = monotonic_ns();
  r.timings.weights_ns += t1 - t0;

  // Quality, with the previous mask moved by the box-centre shift.
  const float cx = 0.5f * (r.box.x0 + r.box.x1), cy = 0.5f * (r.box.y0 + r.box.y1);
  const bool have_prev = !prev_mask_.empty() && prev_width_ == frame.width &&
                         prev_height_ == frame.height;
  const bool maps = r.w_in.size() == npix && r.w_edge.size() == npix && r.w_out.size() == npix;
  QualityInputs qi;
  qi.frame = frame.pixels.data();
  qi.mask = r.mask.data();
  if (maps) {
    qi.w_in = r.w_in.data();
    qi.w_edge = r.w_edge.data();
    qi.w_out = r.w_out.data();
  }
  qi.width = frame.width;
  qi.height = frame.height;
  qi.prev_mask = have_prev ? prev_mask_.data() : nullptr;
  qi.shift_x = static_cast<int>(std::lround(cx - prev_cx_));
  qi.shift_y = static_cast<int>(std::lround(cy - prev_cy_));
  qi.tracker = &stability_;
  qi.precomputed = stats;
  r.quality = compute_quality(qi);
  obs_.quality = r.quality.combined;
  obs_.continuity = r.quality.continuity;
  prev_mask_ = r.mask;
  prev_cx_ = cx;
  prev_cy_ = cy;
  prev_low_res_ = r.low_res_logits;
  masked_ = true;
  r.timings.quality_ns += monotonic_ns() - t1;
}

void FrameTemporalState::finish(FrameResult& r) {
  const int64_t t0 = monotonic_ns();
  if (!masked_) {
    prev_mask_.clear();
    prev_low_res_ = Tensor();
  }
  prev_width_ = r.width;
  prev_height_ = r.height;
  const VisibilityState before = visibility_.state();
  r.state = visibility_.update(obs_);
  r.state_changed = r.state != before;
  schedule_.completed(r, masked_);
  if (!config_.output_weights) {
    r.w_in.clear();
    r.w_edge.clear();
    r.w_out.clear();
  }
  r.timings.quality_ns += monotonic_ns() - t0;
}

const Tensor& FrameTemporalState::previous_low_res(int width, int height) const {
  if (config_.reuse_low_res_mask && prev_low_res_.defined() && prev_width_ == width &&
      prev_height_ == height) {
    return prev_low_res_;
  }
  return none_;
}

}  // namespace um::pipeline
