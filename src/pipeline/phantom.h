// File: src/pipeline/phantom.h
// Purpose: the built-in ultrasound bone phantom of ../shared/docs/PHANTOM.md (the distribution
// the phantom demo models were trained on) with its ground truth: independent frames for the
// quality evaluation (PhantomGenerator) and, in phantom_stream.h, a smoothly moving sequence
// for the simulator.
//
// Usage:
//   PhantomGenerator gen(/*seed=*/7);              // sizes cycle 558x422, 480x640, 600x800, 512x512
//   PhantomFrame f = gen.next();                   // f.pixels (H*W gray), f.mask, f.box
//   Frame frame = to_frame(f, /*id=*/0);           // into the pipeline
//
// Every drawn quantity is uniform in the range PHANTOM.md gives (kPhantomRanges below, named
// after the document's terms). Randomness is a std::mt19937_64 (fully specified by the C++
// standard, so a seed gives the same frames on every platform) with our own conversion to
// doubles (std::uniform_real_distribution is implementation-defined).
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/status.h"

#include "pipeline/frame.h"

namespace um::pipeline {

struct FrameSize {
  int height = 0;
  int width = 0;
  bool operator==(const FrameSize&) const = default;
};

// The demo's size cycle, H x W: 558x422, 480x640, 600x800, 512x512.
const std::vector<FrameSize>& phantom_default_sizes();

// "558x422" (H x W, as the demo sizes are written) -> FrameSize. kInvalidArgument for another
// form, kOutOfRange for a side outside [kMinFrameSide, kMaxFrameSide].
Result<FrameSize> parse_frame_size(const std::string& text);

// A closed range [lo, hi] that a quantity is drawn from uniformly.
struct Range {
  double lo = 0;
  double hi = 0;
};

// PHANTOM.md's ranges. "frac of W/H" ranges are multiplied by the frame size when drawn.
struct PhantomRanges {
  Range cx_frac_w{0.25, 0.75};       // bone apex x
  Range cy_frac_h{0.15, 0.6};        // bone apex y
  Range r_frac_w{0.2, 0.9};          // radius of curvature
  Range half_frac_w{0.18, 0.45};     // half extent in x
  Range thickness_px{2.5, 6.0};      // surface thickness th
  Range wobble_px{0.0, 6.0};         // wobble amplitude
  Range wobble_freq{0.005, 0.03};    // rad / px
  Range speckle_base{20, 50};
  Range speckle_amp{12, 35};         // times a Rayleigh(1) variate
  Range atten_k{1.2, 2.5};           // clamp(1 - y / (k H), 0.25, 1)
  Range tissue_amp{10, 50};
  Range tissue_y_frac_h{0.05, 0.9};
  Range tissue_slope{-0.05, 0.05};
  Range tissue_width{2, 6};
  Range echo_amp{110, 200};
  Range shadow_factor{0.08, 0.35};
  double bone_probability = 0.9;     // frames without bone: 10 %
};
inline constexpr PhantomRanges kPhantomRanges{};

// All per-frame quantities, in pixels (already multiplied by W/H).
struct PhantomParams {
  int height = 0;
  int width = 0;
  bool has_bone = true;
  double cx = 0, cy = 0, r = 1, half = 0, th = 1;
  double wobble = 0, freq = 0;
  double base = 0, amp = 0;
  double k = 1;
  double tissue_amp = 0, tissue_y = 0, tissue_slope = 0, tissue_width = 1;
  double echo = 0, shadow = 1;

  // The bone surface s(x) = cy + (x - cx)^2 / (2 r) + wobble * sin(freq * x).
  double surface_y(double x) const;
};

// A rendered frame with its ground truth.
struct PhantomFrame {
  PhantomParams params;
  std::vector<uint8_t> pixels;  // H*W gray
  std::vector<uint8_t> mask;    // H*W, 1 where |d| < 1.2 th and inside; all 0 without bone
  bool has_box = false;         // false for a frame without bone (or an empty mask)
  // The mask's extent, [x0, y0, x1, y1) in pixels (exclusive upper bounds).
  int box[4] = {0, 0, 0, 0};
};

// The RNG every phantom function draws from, and its conversions.
class PhantomRng {
 public:
  explicit PhantomRng(uint64_t seed) : engine_(seed) {}
  double uniform01() { return static_cast<double>(engine_() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(const Range& r) { return r.lo + (r.hi - r.lo) * uniform01(); }
  double rayleigh();  // sqrt(-2 ln u), u in (0, 1]
  bool bernoulli(double p) { return uniform01() < p; }

 private:
  std::mt19937_64 engine_;
};

// Draws one frame's quantities for an H x W frame.
PhantomParams draw_phantom_params(PhantomRng& rng, FrameSize size,
                                  const PhantomRanges& ranges = kPhantomRanges);

// Renders the image (speckle from `rng`) and the ground truth of `p`.
PhantomFrame render_phantom(const PhantomParams& p, PhantomRng& rng);

// Independent frames; sizes cycle through phantom_default_sizes() unless one size is given.
class PhantomGenerator {
 public:
  explicit PhantomGenerator(uint64_t seed, std::optional<FrameSize> size = std::nullopt,
                            PhantomRanges ranges = kPhantomRanges);
  PhantomFrame next();
  int64_t count() const { return count_; }

 private:
  PhantomRng rng_;
  std::optional<FrameSize> size_;
  PhantomRanges ranges_;
  int64_t count_ = 0;
};

// Wraps a phantom image as a pipeline Frame (1 mm spacing, identity direction, centre origin 0).
Frame to_frame(const PhantomFrame& f, uint64_t id);

// Ground-truth helpers shared by the evaluation and the tests.
// The tight extent [x0, y0, x1, y1) of the nonzero pixels; false if the mask is empty.
bool mask_extent(const std::vector<uint8_t>& mask, int width, int height, int box[4]);

}  // namespace um::pipeline
