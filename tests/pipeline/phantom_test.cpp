// Tests for the PHANTOM.md generator: drawn quantities stay in the documented ranges, the image
// statistics follow the documented formula, the ground truth is consistent with the geometry,
// and the moving stream stays smooth.
#include "pipeline/phantom.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "pipeline/phantom_stream.h"

namespace um::pipeline {
namespace {

void expect_in(double v, const Range& r, double scale, const char* what) {
  EXPECT_GE(v, r.lo * scale - 1e-9) << what;
  EXPECT_LE(v, r.hi * scale + 1e-9) << what;
}

TEST(Phantom, ParamsStayInDocumentedRangesAndCoverThem) {
  PhantomRng rng(123);
  const auto& rg = kPhantomRanges;
  int with_bone = 0;
  const int n = 4000;
  double min_cx = 1, max_cx = 0;
  for (int i = 0; i < n; ++i) {
    const FrameSize s = phantom_default_sizes()[i % 4];
    const PhantomParams p = draw_phantom_params(rng, s);
    const double w = s.width, h = s.height;
    expect_in(p.cx, rg.cx_frac_w, w, "cx");
    expect_in(p.cy, rg.cy_frac_h, h, "cy");
    expect_in(p.r, rg.r_frac_w, w, "r");
    expect_in(p.half, rg.half_frac_w, w, "half");
    expect_in(p.th, rg.thickness_px, 1, "th");
    expect_in(p.wobble, rg.wobble_px, 1, "wobble");
    expect_in(p.freq, rg.wobble_freq, 1, "freq");
    expect_in(p.base, rg.speckle_base, 1, "base");
    expect_in(p.amp, rg.speckle_amp, 1, "amp");
    expect_in(p.k, rg.atten_k, 1, "k");
    expect_in(p.tissue_amp, rg.tissue_amp, 1, "tissue amp");
    expect_in(p.tissue_y, rg.tissue_y_frac_h, h, "tissue y");
    expect_in(p.tissue_slope, rg.tissue_slope, 1, "tissue slope");
    expect_in(p.tissue_width, rg.tissue_width, 1, "tissue width");
    expect_in(p.echo, rg.echo_amp, 1, "echo");
    expect_in(p.shadow, rg.shadow_factor, 1, "shadow");
    with_bone += p.has_bone;
    min_cx = std::min(min_cx, p.cx / w);
    max_cx = std::max(max_cx, p.cx / w);
  }
  // Uniform draws cover the range (4000 draws leave < 0.01 of the range uncovered).
  EXPECT_LT(min_cx, 0.26);
  EXPECT_GT(max_cx, 0.74);
  // 90 % with bone: binomial sd is 0.0047 for n = 4000; allow 4 sd.
  EXPECT_NEAR(static_cast<double>(with_bone) / n, 0.9, 0.02);
}

TEST(Phantom, RayleighVariateHasUnitScaleMoments) {
  PhantomRng rng(5);
  double sum = 0, sum2 = 0;
  const int n = 200000;
  for (int i = 0; i < n; ++i) {
    const double v = rng.rayleigh();
    ASSERT_GE(v, 0.0);
    sum += v;
    sum2 += v * v;
  }
  const double mean = sum / n, var = sum2 / n - mean * mean;
  EXPECT_NEAR(mean, std::sqrt(std::numbers::pi / 2.0), 0.01);
  EXPECT_NEAR(var, (4.0 - std::numbers::pi) / 2.0, 0.01);
}

TEST(Phantom, SizesCycleAndSeedIsReproducible) {
  PhantomGenerator a(42), b(42), c(43);
  for (int i = 0; i < 5; ++i) {
    const PhantomFrame fa = a.next(), fb = b.next(), fc = c.next();
    const FrameSize expect = phantom_default_sizes()[i % 4];
    EXPECT_EQ(fa.params.height, expect.height);
    EXPECT_EQ(fa.params.width, expect.width);
    EXPECT_EQ(fa.pixels.size(), static_cast<size_t>(expect.height) * expect.width);
    EXPECT_EQ(fa.pixels, fb.pixels);
    EXPECT_EQ(fa.mask, fb.mask);
    EXPECT_NE(fa.pixels, fc.pixels);
  }
  PhantomGenerator fixed(1, FrameSize{300, 200});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fixed.next().pixels.size(), 300u * 200u);
}

TEST(Phantom, GroundTruthMatchesGeometry) {
  PhantomGenerator gen(7);
  int bone_frames = 0;
  for (int i = 0; i < 24; ++i) {
    const PhantomFrame f = gen.next();
    const PhantomParams& p = f.params;
    const int w = p.width, h = p.height;
    int x0 = w, y0 = h, x1 = 0, y1 = 0;
    size_t count = 0;
    for (int y = 0; y < h; ++y) {
      for (int x = 0; x < w; ++x) {
        const bool expect = p.has_bone && std::abs(x - p.cx) < p.half &&
                            std::abs(y - p.surface_y(x)) < 1.2 * p.th;
        ASSERT_EQ(f.mask[static_cast<size_t>(y) * w + x], expect ? 1 : 0)
            << "frame " << i << " at " << x << "," << y;
        if (expect) {
          ++count;
          x0 = std::min(x0, x), y0 = std::min(y0, y);
          x1 = std::max(x1, x + 1), y1 = std::max(y1, y + 1);
        }
      }
    }
    EXPECT_EQ(f.has_box, count > 0);
    if (!p.has_bone) {
      EXPECT_EQ(count, 0u);
      continue;
    }
    ++bone_frames;
    ASSERT_GT(count, 0u) << "a bone frame must have a non-empty band";
    EXPECT_EQ(f.box[0], x0);
    EXPECT_EQ(f.box[1], y0);
    EXPECT_EQ(f.box[2], x1);  // exclusive
    EXPECT_EQ(f.box[3], y1);
    // The band contains the apex column and spans at most the 2 * half columns over the bone.
    EXPECT_LE(f.box[0], p.cx);
    EXPECT_GE(f.box[2], p.cx);
    EXPECT_LE(f.box[2] - f.box[0], 2 * p.half + 1);
  }
  EXPECT_GT(bone_frames, 15);
}

// The expected (mean) intensity of a pixel before smoothing, following PHANTOM.md.
double expected_pixel(const PhantomParams& p, int x, int y) {
  const double atten = std::clamp(1.0 - y / (p.k * p.height), 0.25, 1.0);
  double v = (p.base + p.amp * std::sqrt(std::numbers::pi / 2.0)) * atten;
  const double t = (y - p.tissue_y - p.tissue_slope * x) / p.tissue_width;
  v += p.tissue_amp * std::exp(-t * t);
  if (p.has_bone && std::abs(x - p.cx) < p.half) {
    const double d = y - p.surface_y(x);
    v += p.echo * std::exp(-(d / p.th) * (d / p.th));
    if (d > 1.5 * p.th) v *= p.shadow;
  }
  return v;
}

TEST(Phantom, IntensityStatisticsFollowTheDocumentedModel) {
  PhantomGenerator gen(11);
  for (int i = 0; i < 8; ++i) {
    const PhantomFrame f = gen.next();
    const PhantomParams& p = f.params;
    const int w = p.width, h = p.height;
    // Row bands of 16 rows, far from the bone band (where clamping at 255 biases the mean):
    // the empirical mean follows the expected mean within sampling noise.
    for (int y0 = 8; y0 + 16 < h - 8; y0 += 64) {
      double got = 0, want = 0;
      int n = 0;
      for (int y = y0; y < y0 + 16; ++y) {
        for (int x = 1; x < w - 1; ++x) {
          if (p.has_bone && std::abs(x - p.cx) < p.half + 2 &&
              std::abs(y - p.surface_y(x)) < 4 * p.th + 3) {
            continue;
          }
          got += f.pixels[static_cast<size_t>(y) * w + x];
          want += expected_pixel(p, x, y);
          ++n;
        }
      }
      if (n < 2000) continue;
      EXPECT_NEAR(got / n, want / n, 0.03 * (want / n) + 1.0) << "frame " << i << " rows " << y0;
    }
    // Bone frames: the echo band is far brighter than the shadow under it.
    if (!p.has_bone) continue;
    double band = 0, shadow = 0;
    int nb = 0, ns = 0;
    for (int x = static_cast<int>(p.cx - p.half / 2); x < p.cx + p.half / 2; ++x) {
      if (x < 0 || x >= w) continue;
      const int ys = static_cast<int>(std::lround(p.surface_y(x)));
      if (ys >= 0 && ys < h) band += f.pixels[static_cast<size_t>(ys) * w + x], ++nb;
      const int yd = ys + static_cast<int>(4 * p.th) + 3;
      if (yd >= 0 && yd < h) shadow += f.pixels[static_cast<size_t>(yd) * w + x], ++ns;
    }
    ASSERT_GT(nb, 0);
    ASSERT_GT(ns, 0);
    EXPECT_GT(band / nb, 2.0 * (shadow / ns) + 40) << "frame " << i;
  }
}

TEST(Phantom, NoBoneFramesExistAndHaveEmptyTruth) {
  PhantomGenerator gen(3);
  int empty = 0;
  for (int i = 0; i < 60; ++i) {
    const PhantomFrame f = gen.next();
    if (f.params.has_bone) continue;
    ++empty;
    EXPECT_FALSE(f.has_box);
    EXPECT_EQ(std::count(f.mask.begin(), f.mask.end(), 1), 0);
  }
  EXPECT_GT(empty, 0) << "about 6 of 60 frames should have no bone";
}

TEST(PhantomStream, MotionIsSmoothAndStaysInRange) {
  PhantomStream stream(9, {.size = {558, 422}, .fps = 25.0, .absent_fraction = 0.1});
  PhantomParams prev = stream.next_params();
  double max_step = 0, total_step = 0;
  int absent = 0;
  const int n = 25 * 600;  // ten minutes
  for (int i = 1; i < n; ++i) {
    const PhantomParams p = stream.next_params();
    const double step = std::max({std::abs(p.cx - prev.cx), std::abs(p.cy - prev.cy),
                                  std::abs(p.tissue_y - prev.tissue_y)});
    max_step = std::max(max_step, step);
    total_step += step;
    expect_in(p.cx, kPhantomRanges.cx_frac_w, 422, "cx");
    expect_in(p.cy, kPhantomRanges.cy_frac_h, 558, "cy");
    expect_in(p.r, kPhantomRanges.r_frac_w, 422, "r");
    expect_in(p.tissue_y, kPhantomRanges.tissue_y_frac_h, 558, "tissue y");
    EXPECT_EQ(p.th, prev.th);  // fixed per sequence
    absent += !p.has_bone;
    prev = p;
  }
  EXPECT_LE(max_step, 8.0) << "a few pixels per frame at most";
  EXPECT_GT(total_step / n, 0.5) << "it does move";
  EXPECT_NEAR(static_cast<double>(absent) / n, 0.1, 0.05);
}

TEST(PhantomStream, RendersTheSameSequenceAsItsParameters) {
  PhantomStream a(4), b(4);
  for (int i = 0; i < 3; ++i) {
    const PhantomFrame f = a.next();
    const PhantomParams p = b.next_params();
    EXPECT_EQ(f.params.cx, p.cx);
    EXPECT_EQ(f.params.has_bone, p.has_bone);
    EXPECT_EQ(f.pixels.size(), 558u * 422u);
  }
}

TEST(Phantom, ParseFrameSize) {
  EXPECT_EQ(*parse_frame_size("558x422"), (FrameSize{558, 422}));
  EXPECT_EQ(*parse_frame_size("600X800"), (FrameSize{600, 800}));
  EXPECT_EQ(parse_frame_size("558").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_frame_size("558x422x3").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_frame_size("558*422").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(parse_frame_size("100x422").status().code(), StatusCode::kOutOfRange);
  EXPECT_EQ(parse_frame_size("558x4096").status().code(), StatusCode::kOutOfRange);
}

}  // namespace
}  // namespace um::pipeline
