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

// The direct definition of shifted_mask_iou (quality.h), pixel by pixel.
float reference_shifted_iou(const Bytes& mask, const Bytes& prev, int w, int h, int sx, int sy) {
  uint64_t a = 0, b = 0, inter = 0;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      const int px = x - sx, py = y - sy;
      const bool m = mask[static_cast<size_t>(y) * w + x] != 0;
      const bool p = px >= 0 && px < w && py >= 0 && py < h &&
                     prev[static_cast<size_t>(py) * w + px] != 0;
      a += m, b += p, inter += m && p;
    }
  }
  const uint64_t uni = a + b - inter;
  return uni == 0 ? -1.0f : static_cast<float>(static_cast<double>(inter) / uni);
}

TEST(QualityStats, ShiftedMaskIouMatchesTheDirectDefinition) {
  std::mt19937 rng(9);
  const int sizes[][2] = {{1, 1}, {7, 3}, {40, 30}, {160, 200}};
  for (const auto& wh : sizes) {
    const int w = wh[0], h = wh[1];
    Bytes mask(static_cast<size_t>(w) * h), prev(mask.size());
    for (int trial = 0; trial < 6; ++trial) {
      for (auto& v : mask) v = (rng() % 3 == 0) ? static_cast<uint8_t>(1 + rng() % 200) : 0;
      for (auto& v : prev) v = (rng() % 4 == 0) ? 1 : 0;
      if (trial == 0) std::fill(prev.begin(), prev.end(), 0);
      if (trial == 1) std::fill(mask.begin(), mask.end(), 0);
      if (trial == 2) std::fill(prev.begin(), prev.end(), 0), std::fill(mask.begin(), mask.end(), 0);
      for (int sy : {-h - 1, -h, -2, -1, 0, 1, 3, h, h + 2}) {
        for (int sx : {-w - 3, -w, -1, 0, 2, w - 1, w, w + 1}) {
          EXPECT_EQ(shifted_mask_iou(mask.data(), prev.data(), w, h, sx, sy),
                    reference_shifted_iou(mask, prev, w, h, sx, sy))
              << w << "x" << h << " trial " << trial << " shift (" << sx << ", " << sy << ")";
        }
      }
    }
  }
}

// Largest 8-connected component share by a plain recursive-free BFS over every pixel.
float reference_continuity(const Bytes& mask, int w, int h) {
  std::vector<int> label(mask.size(), -1);
  size_t total = 0, largest = 0;
  for (size_t s0 = 0; s0 < mask.size(); ++s0) {
    if (!mask[s0] || label[s0] >= 0) continue;
    std::vector<size_t> queue{s0};
    label[s0] = 1;
    for (size_t head = 0; head < queue.size(); ++head) {
      const int px = static_cast<int>(queue[head] % w), py = static_cast<int>(queue[head] / w);
      for (int yy = py - 1; yy <= py + 1; ++yy)
        for (int xx = px - 1; xx <= px + 1; ++xx) {
          if (xx < 0 || yy < 0 || xx >= w || yy >= h) continue;
          const size_t q = static_cast<size_t>(yy) * w + xx;
          if (mask[q] && label[q] < 0) label[q] = 1, queue.push_back(q);
        }
    }
    total += queue.size();
    largest = std::max(largest, queue.size());
  }
  return total == 0 ? 0.0f : static_cast<float>(static_cast<double>(largest) / total);
}

TEST(QualityStats, ContinuityMatchesTheDirectDefinition) {
  std::mt19937 rng(4);
  const int sizes[][2] = {{1, 1}, {5, 3}, {9, 9}, {37, 11}, {160, 200}};
  for (const auto& wh : sizes) {
    const int w = wh[0], h = wh[1];
    for (int trial = 0; trial < 8; ++trial) {
      Bytes mask(static_cast<size_t>(w) * h, 0);
      const unsigned density = 2 + trial * 3;  // percent .. about a quarter
      for (auto& v : mask) v = (rng() % 100 < density) ? static_cast<uint8_t>(1 + rng() % 3) : 0;
      if (trial == 7) mask.back() = 1;  // a pixel in the last (partial) word
      EXPECT_EQ(mask_continuity(mask.data(), w, h), reference_continuity(mask, w, h))
          << w << "x" << h << " trial " << trial;
    }
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
