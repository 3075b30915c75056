// File: src/pipeline/tracker.h
// Purpose: frame-to-frame box tracking: associates this frame's detections with the tracks of
// previous frames by EXACT assignment (assignment.h) on a gated cost, keeps stable track ids,
// age/hits/misses, and derives the temporal-stability signal the visibility state machine reads.
//
// Cost of pairing track t (its last box) with detection d, both xyxy in frame pixels:
//   dist(t, d) = |centre_t - centre_d| / (0.5 * (diag_t + diag_d))   (scale-free: 1.0 means the
//                centres are one average box diagonal apart)
//   cost(t, d) = weight_center * dist + weight_iou * (1 - IoU(t, d))
// Gate: the pair is forbidden (+inf) when dist > max_center_distance or IoU < min_iou.
// Unmatched tracks: each track also gets a private "stay unmatched" column costing
//   unmatched_cost = weight_center * max_center_distance + weight_iou * (1 - min_iou)
// (the worst admissible pair), so the assignment is always feasible and any admissible pair is
// at least as good as leaving the track alone. The optimum of the whole frame is found at once
// (not greedily), so two nearby bones cannot steal each other's ids.
//
// Per update: matched tracks take the detection's box/score (hits+1, misses=0); unmatched
// tracks keep their last box (misses+1) and are dropped once misses > max_misses; an unmatched
// detection with score >= new_track_min_score opens a track with the next id (ids start at 1,
// are never reused until reset()). Every surviving track's age grows by 1 (age = frames since it
// was opened, 0 on its first frame). Detections with score < min_score are ignored.
//
// Temporal stability (TemporalStability, the signal for the visibility state machine):
//   primary track = the track matched to the highest-scoring detection of this frame.
//   valid        = a primary exists and it was matched before (hits >= 2), so there is a
//                  previous box to compare with.
//   box_iou      = IoU(primary's box now, its box at its previous match), in [0, 1]
//   score_delta  = score now - score at the previous match (signed)
//   center_shift = dist() between those two boxes (same normalisation as the cost)
//   stability    = box_iou * (1 - min(1, |score_delta|)), in [0, 1]; 0 when !valid.
//                  1 = same box, same confidence; it falls with box jumps and score swings.
//   frames_since_previous = 1 when the primary was also matched in the previous frame, k when it
//                  was missed k-1 frames in between (a re-acquired track).
//   primary_changed = the primary id differs from the previous frame's (a new or other track).
//   predicted    = box_iou / center_shift compare the new box with the tracker's PREDICTION for
//                  this frame instead of the previous box: the track was coasted (see below)
//                  since its previous match, so "stable" means "the prediction held".
//
// Coasting (detector skipping, frame_state.h): on a frame where the detector did not run,
// coast() advances every track by one frame without a measurement: age + 1, coasted + 1, box,
// hits, misses and the stability signal unchanged. The tracker never takes its own prediction
// as a detection, so coasting cannot raise a track's hits or stability (no self-confirmation).
// Prediction (predict_box): constant velocity of the box CENTRE, measured between the track's
// last two matches (velocity = centre shift / frames_between), applied for the frames since the
// last match; the size is that of the last match (a size change between two noisy detections is
// not extrapolated). A coasted track is associated with the next frame's detections through its
// prediction for that frame (its plain last box would lag by the coasted frames' motion); a
// track that was only missed (detector ran, nothing matched) keeps its last box, as before.
// frames_between counts coasted and missed frames: misses + coasted + 1.
//
// Usage:
//   Tracker tracker(TrackerConfig{});                 // validate_tracker_config() first if
//   Result<TrackerUpdate> u = tracker.update(boxes);  // the config comes from a file
//   if (u.ok() && u->stability.valid) use(u->stability.stability);
// Not thread-safe: one Tracker per stream, updated from one thread.
#pragma once

#include <span>
#include <vector>

#include "core/status.h"
#include "pipeline/frame.h"

namespace um::pipeline {

struct TrackerConfig {
  float weight_center = 1.0f;        // cost weight of the normalised centre distance
  float weight_iou = 1.0f;           // cost weight of 1 - IoU
  float max_center_distance = 1.0f;  // gate on dist(); > 0
  float min_iou = 0.0f;              // gate on IoU, in [0, 1); 0 leaves IoU ungated
  float min_score = 0.0f;            // detections below are ignored
  float new_track_min_score = 0.5f;  // an unmatched detection opens a track from this score on
  int max_misses = 5;                // consecutive unmatched frames a track survives
};

// kInvalidArgument naming the first bad field (negative or non-finite weights, gates out of
// range, max_misses < 0).
Status validate_tracker_config(const TrackerConfig& config);

struct Track {
  int id = 0;
  Box box;                   // box (and score) at the last match
  Box previous_box;          // box at the match before that (valid when hits >= 2)
  int age = 0;               // frames since the track was opened (0 on its first frame)
  int hits = 0;              // frames with a matched detection
  int misses = 0;            // consecutive frames without one (0 when matched this frame)
  int frames_between = 0;    // frames between previous_box and box (1 = consecutive)
  int coasted = 0;           // frames coasted (no detector) since the last match
};

struct TemporalStability {
  bool valid = false;
  int track_id = -1;         // primary track (-1 when no detection matched or opened a track)
  float box_iou = 0;
  float score_delta = 0;
  float center_shift = 0;
  float stability = 0;
  int frames_since_previous = 0;
  int track_age = 0;
  int track_hits = 0;
  bool primary_changed = false;
  bool predicted = false;    // box_iou / center_shift are against the coasted prediction
};

struct TrackerUpdate {
  std::vector<int> track_of_detection;  // per input detection: track id, or -1 (ignored, or
                                        // unmatched below new_track_min_score)
  TemporalStability stability;
};

class Tracker {
 public:
  explicit Tracker(TrackerConfig config = {});

  // One frame's detections (xyxy frame pixels + score). Errors (kInvalidArgument, state left
  // unchanged): an invalid config, a non-finite coordinate or score, or x1 < x0 / y1 < y0.
  Result<TrackerUpdate> update(std::span<const Box> detections);

  // A frame on which the detector did not run: every track ages by one frame and counts it as
  // coasted; nothing else changes (see "Coasting" above).
  void coast();

  const std::vector<Track>& tracks() const { return tracks_; }  // sorted by id
  // The track with this id, or null.
  const Track* find(int id) const;
  const TemporalStability& stability() const { return stability_; }
  const TrackerConfig& config() const { return config_; }
  // Forgets every track; ids start at 1 again.
  void reset();

 private:
  TrackerConfig config_;
  std::vector<Track> tracks_;
  TemporalStability stability_;
  int next_id_ = 1;
  int last_primary_ = -1;
};

// Geometry used by the cost (exposed for tests and the pipeline). IoU is 0 when the union is
// empty; dist() is +inf for two distinct degenerate (zero-diagonal) boxes, 0 for identical ones.
float box_iou(const Box& a, const Box& b);
// Where `track` is expected `frames_ahead` frames after its last match (constant centre
// velocity, size of the last match, score of the last match; not clamped to any frame).
// frames_ahead 0 gives the last box.
Box predict_box(const Track& track, int frames_ahead);
float normalized_center_distance(const Box& a, const Box& b);

}  // namespace um::pipeline
