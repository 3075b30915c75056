// File: src/pipeline/phantom_stream.cpp
// Purpose: the moving phantom sequence (see phantom_stream.h for the motion model).
#include "pipeline/phantom_stream.h"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace um::pipeline {
namespace {
// Bone-free episodes last 0.6-1.6 s (mean 1.1 s): a probe lifted off and put back.
constexpr Range kAbsentSeconds{0.6, 1.6};
}  // namespace

double PhantomStream::Oscillator::at(double t) const {
  constexpr double k2Pi = 2.0 * std::numbers::pi;
  return centre + a1 * std::sin(k2Pi * t / t1 + p1) + a2 * std::sin(k2Pi * t / t2 + p2);
}

PhantomStream::Oscillator PhantomStream::make_oscillator(double centre, double a1, double a2) {
  Oscillator o;
  o.centre = centre;
  o.a1 = a1;
  o.a2 = a2;
  o.t1 = rng_.uniform({6.0, 12.0});
  o.t2 = rng_.uniform({3.0, 6.0});
  o.p1 = rng_.uniform({0.0, 2.0 * std::numbers::pi});
  o.p2 = rng_.uniform({0.0, 2.0 * std::numbers::pi});
  return o;
}

PhantomStream::PhantomStream(uint64_t seed, PhantomStreamOptions options)
    : options_(options), rng_(seed), speckle_rng_(seed ^ 0x9E3779B97F4A7C15ull) {
  base_ = draw_phantom_params(rng_, options_.size);
  base_.has_bone = true;
  const double w = options_.size.width, h = options_.size.height;
  // centre +- (a1 + a2) stays inside PHANTOM.md's range of each quantity:
  cx_ = make_oscillator(0.50 * w, 0.15 * w, 0.05 * w);        // [0.30, 0.70] W  in [0.25, 0.75]
  cy_ = make_oscillator(0.375 * h, 0.12 * h, 0.04 * h);       // [0.215, 0.535] H in [0.15, 0.6]
  r_ = make_oscillator(0.55 * w, 0.20 * w, 0.10 * w);         // [0.25, 0.85] W  in [0.2, 0.9]
  tissue_y_ = make_oscillator(0.475 * h, 0.25 * h, 0.10 * h); // [0.125, 0.825] H in [0.05, 0.9]
}

PhantomFrame PhantomStream::next() {
  const PhantomParams p = next_params();
  return render_phantom(p, speckle_rng_);
}

PhantomParams PhantomStream::next_params() {
  const double t = static_cast<double>(count_) / options_.fps;
  ++count_;
  PhantomParams p = base_;
  p.cx = cx_.at(t);
  p.cy = cy_.at(t);
  p.r = r_.at(t);
  p.tissue_y = tissue_y_.at(t);

  // Episodes without bone: mean length L frames, started with probability q per frame so that
  // the long-run absent share L / (L + 1/q) equals absent_fraction.
  bool absent = false;
  if (absent_left_ > 0) {
    absent = true;
    --absent_left_;
  } else if (options_.absent_fraction >= 1.0) {
    absent = true;
  } else if (options_.absent_fraction > 0.0) {
    const double mean_len = 0.5 * (kAbsentSeconds.lo + kAbsentSeconds.hi) * options_.fps;
    const double q = options_.absent_fraction / ((1.0 - options_.absent_fraction) * mean_len);
    if (rng_.bernoulli(q)) {
      absent = true;
      absent_left_ =
          std::max<int64_t>(1, std::llround(rng_.uniform(kAbsentSeconds) * options_.fps)) - 1;
    }
  }
  p.has_bone = !absent;
  return p;
}

}  // namespace um::pipeline
