// File: src/pipeline/visibility.h
// Purpose: the visibility state machine VISIBLE / RELOCALIZING / LOST with hysteresis (SPEC 1).
// One instance per stream; feed it one observation per processed frame, in order.
//
// Usage:
//   VisibilityMachine fsm(VisibilityConfig{});          // tau_conf 0.5, theta_on 0.6, ...
//   VisibilityState s = fsm.update({.has_box = true, .score = 0.9f,
//                                   .quality = 0.7f, .continuity = 0.95f});
//   if (fsm.changed()) send_status(s);
//
// Inputs of one update (VisibilityObservation):
//   detected  = has_box && score >= tau_conf            (the detector is confident)
//   good      = detected && quality >= theta_on  && continuity >= theta_cont
//   fair      = detected && quality >= theta_off && continuity >= theta_cont
// `quality` is QualityScores::combined and `continuity` QualityScores::continuity (quality.h).
// theta_on > theta_off gives the hysteresis: entering VISIBLE needs quality >= theta_on, staying
// needs only >= theta_off, so a score wandering between the two does not flicker.
//
// Transition table (first matching row wins; `misses` counts consecutive frames with
// !detected, reset by any detected frame):
//
//   from          | condition                               | to
//   --------------+-----------------------------------------+-------------
//   VISIBLE       | fair                                    | VISIBLE
//   VISIBLE       | otherwise (miss, low quality, broken)   | RELOCALIZING
//   RELOCALIZING  | good                                    | VISIBLE
//   RELOCALIZING  | misses >= lost_after_misses             | LOST
//   RELOCALIZING  | otherwise                               | RELOCALIZING
//   LOST          | detected                                | RELOCALIZING
//   LOST          | otherwise                               | LOST
//
// Why this order: the original tested "no detection -> LOST" before anything else, so a visible
// bone that lost its detection went straight to LOST and VISIBLE -> RELOCALIZING could never
// happen. Here VISIBLE always passes through RELOCALIZING (a short grace period of
// lost_after_misses frames in which the last mask stays meaningful to the tracker), and LOST
// comes back through RELOCALIZING, which asks one confirming good frame before VISIBLE.
// The initial state is LOST (nothing seen yet).
#pragma once

#include <cstdint>

#include "core/status.h"
#include "pipeline/frame.h"

namespace um::pipeline {

struct VisibilityConfig {
  float tau_conf = 0.5f;      // detector score needed to count as a detection
  float theta_on = 0.6f;      // combined quality needed to (re)enter VISIBLE
  float theta_off = 0.4f;     // combined quality below which VISIBLE is left
  float theta_cont = 0.5f;    // mask continuity needed for VISIBLE (entering and staying)
  int lost_after_misses = 3;  // consecutive undetected frames that turn RELOCALIZING into LOST
};

// Checks each threshold in [0, 1], theta_off <= theta_on and lost_after_misses >= 1.
Status validate_visibility_config(const VisibilityConfig& config);

struct VisibilityObservation {
  bool has_box = false;    // the detector returned a top-1 box at all
  float score = 0.0f;      // its sigmoid score
  float quality = 0.0f;    // QualityScores::combined (ignored when !detected)
  float continuity = 0.0f; // QualityScores::continuity (ignored when !detected)
};

class VisibilityMachine {
 public:
  explicit VisibilityMachine(VisibilityConfig config = {});

  // Applies one frame's observation; returns the new state.
  VisibilityState update(const VisibilityObservation& obs);
  // Back to the initial state (LOST, no misses): a new stream or a new frame size.
  void reset();

  VisibilityState state() const { return state_; }
  bool changed() const { return changed_; }  // the last update changed the state
  int misses() const { return misses_; }
  const VisibilityConfig& config() const { return config_; }
  // detected/good/fair as defined above, for callers that need the same decision.
  bool detected(const VisibilityObservation& obs) const;

 private:
  VisibilityConfig config_;
  VisibilityState state_ = VisibilityState::kLost;
  bool changed_ = false;
  int misses_ = 0;
};

}  // namespace um::pipeline
