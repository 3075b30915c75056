// File: src/pipeline/phantom_stream.h
// Purpose: a smoothly moving phantom sequence for the streaming simulator and the demo
// (PHANTOM.md "Motion"): the bone apex (cx, cy), its radius r and the soft-tissue line drift a
// few pixels per frame at 25 fps, so tracking and temporal stability have something to follow;
// the bone disappears in short episodes (probe lifted) so the visibility states are exercised.
//
// Usage:
//   PhantomStream stream(/*seed=*/1, {.size = {558, 422}, .fps = 25});
//   for (;;) { PhantomFrame f = stream.next(); send(f.pixels, f.params.width, ...); }
//
// Motion model: each moving quantity is centre + A1 sin(2 pi t / T1 + p1) + A2 sin(2 pi t / T2
// + p2), with periods T1 in [6, 12] s and T2 in [3, 6] s and random phases, amplitudes chosen
// to stay inside PHANTOM.md's ranges. That is smooth (bounded velocity and acceleration) and
// peaks at about 2-5 px per frame on the demo sizes. The other quantities (thickness, wobble,
// speckle, attenuation, echo, shadow) are drawn once per sequence; speckle is fresh every frame.
#pragma once

#include <cstdint>

#include "pipeline/phantom.h"

namespace um::pipeline {

struct PhantomStreamOptions {
  FrameSize size = {558, 422};   // H x W (the reference recordings' size)
  double fps = 25.0;             // frame rate the motion is scaled for
  double absent_fraction = 0.1;  // long-run share of frames without bone (0 disables)
};

class PhantomStream {
 public:
  PhantomStream(uint64_t seed, PhantomStreamOptions options = {});

  // The next frame of the sequence, with ground truth.
  PhantomFrame next();
  // Advances the motion only (no rendering): the parameters next() would have rendered. Motion
  // and speckle use separate generators, so skipping rendering does not change the sequence.
  PhantomParams next_params();
  int64_t count() const { return count_; }
  const PhantomStreamOptions& options() const { return options_; }

 private:
  struct Oscillator {
    double centre = 0, a1 = 0, t1 = 1, p1 = 0, a2 = 0, t2 = 1, p2 = 0;
    double at(double t) const;
  };
  Oscillator make_oscillator(double centre, double a1, double a2);

  PhantomStreamOptions options_;
  PhantomRng rng_;          // motion, episodes
  PhantomRng speckle_rng_;  // per-pixel speckle
  PhantomParams base_;  // the quantities that stay fixed
  Oscillator cx_, cy_, r_, tissue_y_;
  int64_t count_ = 0;
  int64_t absent_left_ = 0;  // frames left in the current bone-free episode
};

}  // namespace um::pipeline
