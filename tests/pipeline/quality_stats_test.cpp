// Tests for QualityPixelStats (quality_stats.h): the stats-based sharpness / contrast agree with
// the previous direct definitions (double-precision edge sum) within 1e-5 on phantom frames,
// the stats hold the counts they claim, compute_quality with precomputed stats equals
// compute_quality without, and so does FrameTemporalState::observe_mask (which then makes the
// weight maps only when they are to be returned).
#include "pipeline/quality_stats.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "pipeline/frame_state.h"
#include "pipeline/mask_weights.h"
#include "pipeline/phantom.h"
#include "pipeline/quality.h"

namespace um::pipeline {
namespace {

using Bytes = std::vector<uint8_t>;

// The definitions of quality.h as they were before the fixed-point edge sum (double sum).
float sobel_g(const Bytes& img, int w, int h, int x, int y) {
  const int xm = std::max(x - 1, 0), xp = std::min(x + 1, w - 1);
  const int ym = std::max(y - 1, 0), yp = std::min(y + 1, h - 1);
  auto at = [&](int xx, int yy) { return static_cast<int>(img[static_cast<size_t>(yy) * w + xx]); };
  const int gx = (at(xp, ym) + 2 * at(xp, y) + at(xp, yp)) - (at(xm, ym) + 2 * at(xm, y) + at(xm, yp));
  const int gy = (at(xm, yp) + 2 * at(x, yp) + at(xp, yp)) - (at(xm, ym) + 2 * at(x, ym) + at(xp, ym));
  return std::sqrt(static_cast<float>(gx * gx + gy * gy)) * 0.125f;
}

float reference_sharpness(const Bytes& frame, const Bytes& w_edge, int w, int h) {
  std::vector<uint32_t> hist(kGradientBins, 0);
  double edge_sum = 0;
  size_t edge_n = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const float g = sobel_g(frame, w, h, x, y);
      hist[std::min(kGradientBins - 1, static_cast<int>(g * kGradientBinsPerLevel))]++;
      if (w_edge[static_cast<size_t>(y) * w + x]) edge_sum += g, ++edge_n;
    }
  }
  if (edge_n == 0) return 0.0f;
  const double edge_mean = edge_sum / static_cast<double>(edge_n);
  if (edge_mean <= 0) return 0.0f;
  const uint64_t half = (static_cast<uint64_t>(w) * h + 1) / 2;
  uint64_t acc = 0;
  int bin = 0;
  for (; bin < kGradientBins; ++bin) {
    acc += hist[bin];
    if (acc >= half) break;
  }
  const double median = static_cast<double>(bin) / kGradientBinsPerLevel;
  return static_cast<float>(std::clamp(1.0 - median / edge_mean, 0.0, 1.0));
}

float reference_contrast(const Bytes& frame, const Bytes& mask, const Bytes& w_in,
                         const Bytes& w_out) {
  uint64_t in_sum = 0, in_n = 0, mask_sum = 0, mask_n = 0, out_sum = 0, out_n = 0;
  for (size_t i = 0; i < frame.size(); ++i) {
    if (w_in[i]) in_sum += frame[i], ++in_n;
    if (mask[i]) mask_sum += frame[i], ++mask_n;
    if (w_out[i]) out_sum += frame[i], ++out_n;
  }
  if (in_n == 0) in_sum = mask_sum, in_n = mask_n;
  if (in_n == 0 || out_n == 0) return 0.0f;
  const double a = static_cast<double>(in_sum) / in_n, b = static_cast<double>(out_sum) / out_n;
  if (a + b <= 0) return 0.0f;
  return static_cast<float>(std::clamp((a - b) / (a + b), 0.0, 1.0));
}

QualityPixelStats stats_of(const Bytes& frame, const Bytes& mask, const MaskWeights& mw, int w,
                           int h) {
  QualityPixelStats s;
  std::fill_n(reinterpret_cast<unsigned char*>(&s), sizeof(s), 0xAB);  // overwritten entirely
  compute_quality_stats(frame.data(), mask.data(), mw.w_in.data(), mw.w_edge.data(),
                        mw.w_out.data(), w, h, s);
  return s;
}

TEST(QualityStats, MatchesThePreviousDefinitionsOnPhantomFrames) {
  PhantomGenerator gen(5);
  int with_bone = 0;
  double worst = 0;
  for (int i = 0; i < 12; ++i) {
    const PhantomFrame f = gen.next();
    const int w = f.params.width, h = f.params.height;
    // The truth mask, and the same mask moved 40 px down (a poor mask, other scores).
    Bytes moved(f.mask.size(), 0);
    for (int y = 0; y + 40 < h; ++y)
      for (int x = 0; x < w; ++x)
        moved[static_cast<size_t>(y + 40) * w + x] = f.mask[static_cast<size_t>(y) * w + x];
    for (const Bytes* mask : std::vector<const Bytes*>{&f.mask, &moved}) {
      const MaskWeights mw = compute_mask_weights(*mask, w, h);
      const QualityPixelStats s = stats_of(f.pixels, *mask, mw, w, h);
      const float sharp = sharpness_from_stats(s);
      const float ref = reference_sharpness(f.pixels, mw.w_edge, w, h);
      EXPECT_NEAR(sharp, ref, 1e-5) << "frame " << i;
      worst = std::max(worst, static_cast<double>(std::fabs(sharp - ref)));
      EXPECT_EQ(contrast_from_stats(s), reference_contrast(f.pixels, *mask, mw.w_in, mw.w_out))
          << "frame " << i;
      // The public single-score functions are the same computation.
      EXPECT_EQ(mask_sharpness(f.pixels.data(), mw.w_edge.data(), w, h), sharp);
      EXPECT_EQ(mask_contrast(f.pixels.data(), mask->data(), mw.w_in.data(), mw.w_out.data(), w, h),
                contrast_from_stats(s));
    }
    with_bone += f.has_box;
  }
  EXPECT_GE(with_bone, 6);  // the comparison saw real bone masks, not only empty ones
  std::printf("max |sharpness - previous definition| on phantom frames: %.3g\n", worst);
}

TEST(QualityStats, HoldsTheCountsAndSums) {
  const int w = 23, h = 17;
  std::mt19937 rng(3);
  Bytes frame(static_cast<size_t>(w) * h), mask(frame.size(), 0);
  for (auto& v : frame) v = static_cast<uint8_t>(rng() & 0xFF);
  for (int y = 4; y < 12; ++y)
    for (int x = 0; x < 9; ++x) mask[static_cast<size_t>(y) * w + x] = 1;  // touches the border
  const MaskWeights mw = compute_mask_weights(mask, w, h);
  const QualityPixelStats s = stats_of(frame, mask, mw, w, h);
  uint64_t hist_total = 0;
  for (uint32_t c : s.grad_hist) hist_total += c;
  EXPECT_EQ(hist_total, static_cast<uint64_t>(w) * h);
  uint64_t in_sum = 0, in_n = 0, mask_sum = 0, mask_n = 0, out_sum = 0, out_n = 0, edge_n = 0;
  double edge_sum = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const size_t i = static_cast<size_t>(y) * w + x;
      if (mw.w_in[i]) in_sum += frame[i], ++in_n;
      if (mask[i]) mask_sum += frame[i], ++mask_n;
      if (mw.w_out[i]) out_sum += frame[i], ++out_n;
      if (mw.w_edge[i]) edge_sum += sobel_g(frame, w, h, x, y), ++edge_n;
    }
  }
  EXPECT_EQ(s.in_sum, in_sum);
  EXPECT_EQ(s.in_n, in_n);
  EXPECT_EQ(s.mask_sum, mask_sum);
  EXPECT_EQ(s.mask_n, 72u);
  EXPECT_EQ(s.mask_n, mask_n);
  EXPECT_EQ(s.out_sum, out_sum);
  EXPECT_EQ(s.out_n, out_n);
  EXPECT_EQ(s.edge_n, edge_n);
  // Each of edge_n terms is rounded by at most half a unit of 2^-16.
  EXPECT_NEAR(static_cast<double>(s.edge_sum_q16) / 65536.0, edge_sum, 0.5 * edge_n / 65536.0);
  // Struct equality sees a single changed count.
  QualityPixelStats t = s;
  EXPECT_TRUE(t == s);
  t.grad_hist[kGradientBins - 1] += 1;
  EXPECT_FALSE(t == s);
}

TEST(QualityStats, EmptyMapsGiveZeroScores) {
  const int w = 16, h = 12;
  Bytes frame(static_cast<size_t>(w) * h, 77), empty(frame.size(), 0);
  const MaskWeights mw = compute_mask_weights(empty, w, h);
  const QualityPixelStats s = stats_of(frame, empty, mw, w, h);
  EXPECT_EQ(s.edge_n, 0u);
  EXPECT_EQ(s.mask_n, 0u);
  EXPECT_EQ(s.grad_hist[0], static_cast<uint32_t>(w * h));  // flat frame: g = 0 everywhere
  EXPECT_EQ(sharpness_from_stats(s), 0.0f);
  EXPECT_EQ(contrast_from_stats(s), 0.0f);
}

TEST(QualityStats, ComputeQualityWithPrecomputedStatsIsUnchanged) {
  PhantomGenerator gen(8);
  int checked = 0;
  while (checked < 4) {
    const PhantomFrame f = gen.next();
    if (!f.has_box) continue;
    const int w = f.params.width, h = f.params.height;
    const MaskWeights mw = compute_mask_weights(f.mask, w, h);
    Bytes prev(f.mask.size(), 0);
    std::copy(f.mask.begin() + w, f.mask.end(), prev.begin());  // one row up
    TemporalStability ts;
    ts.valid = checked % 2 == 0;
    ts.stability = 0.8f;
    QualityInputs in{f.pixels.data(), f.mask.data(), mw.w_in.data(), mw.w_edge.data(),
                     mw.w_out.data(), w, h, prev.data(), 0, 1,
                     checked < 2 ? &ts : nullptr};
    const QualityScores direct = compute_quality(in);
    const QualityPixelStats s = stats_of(f.pixels, f.mask, mw, w, h);
    in.precomputed = &s;
    const QualityScores pre = compute_quality(in);
    EXPECT_EQ(pre.sharpness, direct.sharpness);
    EXPECT_EQ(pre.contrast, direct.contrast);
    EXPECT_EQ(pre.continuity, direct.continuity);
    EXPECT_EQ(pre.stability, direct.stability);
    EXPECT_EQ(pre.stability_valid, direct.stability_valid);
    EXPECT_EQ(pre.mask_stability, direct.mask_stability);
    EXPECT_EQ(pre.combined, direct.combined);
    EXPECT_GT(direct.sharpness, 0.5f);  // a real bone edge, not a trivial 0 == 0
    // With precomputed stats the frame and the maps are not read at all.
    QualityInputs no_pixels = in;
    no_pixels.frame = no_pixels.w_in = no_pixels.w_edge = no_pixels.w_out = nullptr;
    const QualityScores blind = compute_quality(no_pixels);
    EXPECT_EQ(blind.combined, direct.combined);
    ++checked;
  }
}

TEST(QualityStats, FrameStateWithPrecomputedStatsMatchesWithout) {
  PhantomGenerator gen(12, FrameSize{200, 160});
  ProcessorConfig with_maps, without_maps;
  without_maps.output_weights = false;
  FrameTemporalState plain(with_maps), pre(with_maps), pre_no_maps(without_maps);
  int masked = 0;
  for (int i = 0; i < 10; ++i) {
    const PhantomFrame f = gen.next();
    const Frame frame = to_frame(f, static_cast<uint64_t>(i));
    const Box box{static_cast<float>(f.box[0]), static_cast<float>(f.box[1]),
                  static_cast<float>(f.box[2]), static_cast<float>(f.box[3]), 0.9f};
    FrameResult a, b, c;
    for (FrameResult* r : {&a, &b, &c}) r->width = frame.width, r->height = frame.height;
    const bool seg = plain.observe_detection(a, f.has_box, box);
    ASSERT_EQ(pre.observe_detection(b, f.has_box, box), seg);
    ASSERT_EQ(pre_no_maps.observe_detection(c, f.has_box, box), seg);
    if (seg) {
      const MaskWeights mw = compute_mask_weights(f.mask, frame.width, frame.height);
      const QualityPixelStats s = stats_of(f.pixels, f.mask, mw, frame.width, frame.height);
      a.mask = b.mask = c.mask = f.mask;
      plain.observe_mask(a, frame);
      pre.observe_mask(b, frame, &s);
      pre_no_maps.observe_mask(c, frame, &s);
      ++masked;
    }
    plain.finish(a);
    pre.finish(b);
    pre_no_maps.finish(c);
    for (const FrameResult* r : {&b, &c}) {
      EXPECT_EQ(r->quality.sharpness, a.quality.sharpness) << "frame " << i;
      EXPECT_EQ(r->quality.contrast, a.quality.contrast) << "frame " << i;
      EXPECT_EQ(r->quality.continuity, a.quality.continuity) << "frame " << i;
      EXPECT_EQ(r->quality.stability, a.quality.stability) << "frame " << i;
      EXPECT_EQ(r->quality.mask_stability, a.quality.mask_stability) << "frame " << i;
      EXPECT_EQ(r->quality.combined, a.quality.combined) << "frame " << i;
      EXPECT_EQ(r->mask_area, a.mask_area) << "frame " << i;
      EXPECT_EQ(r->state, a.state) << "frame " << i;
    }
    // Maps: made on the host when they are returned, not at all otherwise.
    EXPECT_EQ(b.w_in, a.w_in);
    EXPECT_EQ(b.w_edge, a.w_edge);
    EXPECT_EQ(b.w_out, a.w_out);
    EXPECT_EQ(a.w_in.size(), seg ? f.mask.size() : 0u);
    EXPECT_TRUE(c.w_in.empty() && c.w_edge.empty() && c.w_out.empty());
  }
  EXPECT_GE(masked, 6);
}

}  // namespace
}  // namespace um::pipeline
