// File: src/pipeline/detector_schedule.cpp
// Purpose: the detector-skipping decision and its config check (rules in detector_schedule.h).
#include "pipeline/detector_schedule.h"

#include <algorithm>
#include <cmath>
#include <string>

namespace um::pipeline {

Status validate_detector_skip_config(const DetectorSkipConfig& c) {
  auto bad = [](const std::string& what) {
    return invalid_argument("detector_skip config: " + what);
  };
  if (c.every < 1) return bad("every must be >= 1 (1 = detector on every frame), got " +
                              std::to_string(c.every));
  auto unit = [](float v) { return std::isfinite(v) && v >= 0.0f && v <= 1.0f; };
  if (!unit(c.min_box_iou)) return bad("min_box_iou must be in [0, 1]");
  if (!unit(c.min_score)) return bad("min_score must be in [0, 1]");
  if (!unit(c.max_quality_drop)) return bad("max_quality_drop must be in [0, 1]");
  return Status::Ok();
}

DetectorSchedule::DetectorSchedule(const DetectorSkipConfig& config) : config_(config) {}

void DetectorSchedule::reset() { *this = DetectorSchedule(config_); }

DetectionPlan DetectorSchedule::run(const char* reason) {
  DetectionPlan p;
  p.run_detector = true;
  p.reason = reason;
  planned_since_run_ = 0;
  force_ = Force::kNone;
  ++in_flight_;
  return p;
}

DetectionPlan DetectorSchedule::plan(int width, int height, const Tracker& tracker) {
  if (config_.every <= 1) return run("skip_off");
  if (force_ == Force::kStateChange) return run("forced_state_change");
  if (force_ == Force::kQualityDrop) return run("forced_quality_drop");
  const Track* track = last_usable_ ? tracker.find(last_track_id_) : nullptr;
  if (track == nullptr) return run("no_track");
  if (!last_visible_) return run("not_visible");
  if (width != last_width_ || height != last_height_) return run("new_size");
  // The stability signal is the one of the last detector-ran frame (coasting keeps it).
  const TemporalStability& s = tracker.stability();
  if (!s.valid || s.track_id != track->id || s.box_iou < config_.min_box_iou ||
      track->box.score < config_.min_score) {
    return run("unstable");
  }
  if (planned_since_run_ + 1 >= config_.every) return run("scheduled");

  // Frames from the track's last match to this one: the completed frames since (missed or
  // coasted), the frames in flight, and this one.
  Box b = predict_box(*track, track->misses + track->coasted + in_flight_ + 1);
  const float w = static_cast<float>(width), h = static_cast<float>(height);
  if (b.x1 < b.x0) std::swap(b.x0, b.x1);
  if (b.y1 < b.y0) std::swap(b.y0, b.y1);
  b.x0 = std::clamp(b.x0, 0.0f, w);
  b.x1 = std::clamp(b.x1, 0.0f, w);
  b.y0 = std::clamp(b.y0, 0.0f, h);
  b.y1 = std::clamp(b.y1, 0.0f, h);
  if (!(b.width() > 0.0f && b.height() > 0.0f)) return run("box_left_frame");

  DetectionPlan p;
  p.run_detector = false;
  p.box = b;
  p.track_id = track->id;
  p.reason = "tracked";
  ++planned_since_run_;
  ++in_flight_;
  return p;
}

void DetectorSchedule::completed(const FrameResult& r, bool masked) {
  if (in_flight_ > 0) --in_flight_;
  const float q = masked ? r.quality.combined : 0.0f;
  if (have_reference_ && reference_quality_ - q > config_.max_quality_drop &&
      force_ == Force::kNone) {
    force_ = Force::kQualityDrop;
  }
  if (r.state_changed) force_ = Force::kStateChange;  // the stronger reason wins the label
  if (r.detector_ran) {
    have_reference_ = masked;
    reference_quality_ = q;
  }
  last_usable_ = r.detected && masked && r.track_id >= 0;
  last_track_id_ = r.track_id;
  last_visible_ = r.state == VisibilityState::kVisible;
  last_width_ = r.width;
  last_height_ = r.height;
}

void DetectorSchedule::frame_failed() {
  if (in_flight_ > 0) --in_flight_;
}

}  // namespace um::pipeline
