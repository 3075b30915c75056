// Tests for the quality scores: hand-made frames/masks with known answers, and the phantom's
// ground truth scoring high while a misplaced mask scores low.
#include "pipeline/quality.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "pipeline/mask_weights.h"
#include "pipeline/phantom.h"

namespace um::pipeline {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes rect(int w, int h, int x0, int y0, int x1, int y1, uint8_t v = 1, uint8_t bg = 0) {
  Bytes m(static_cast<size_t>(w) * h, bg);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) m[static_cast<size_t>(y) * w + x] = v;
  return m;
}

QualityScores score(const Bytes& frame, const Bytes& mask, int w, int h,
                    const Bytes* prev = nullptr, int sx = 0, int sy = 0) {
  const MaskWeights mw = compute_mask_weights(mask, w, h);
  QualityInputs in{frame.data(), mask.data(), mw.w_in.data(), mw.w_edge.data(), mw.w_out.data(),
                   w,           h,           prev ? prev->data() : nullptr, sx, sy};
  return compute_quality(in);
}

TEST(Quality, ContrastOfABrightBlockOnDarkBackground) {
  // Inside 200, outside 50: (200 - 50) / (200 + 50) = 0.6 exactly.
  const int w = 40, h = 30;
  const Bytes frame = rect(w, h, 10, 10, 30, 20, 200, 50);
  const Bytes mask = rect(w, h, 10, 10, 30, 20);
  EXPECT_NEAR(score(frame, mask, w, h).contrast, 0.6f, 1e-6);
  // A mask on the dark part scores 0 (clamped), not negative.
  const Bytes dark = rect(w, h, 0, 0, 8, 8);
  EXPECT_EQ(score(frame, dark, w, h).contrast, 0.0f);
}

TEST(Quality, SharpnessHighOnAStepEdgeAndZeroOnAFlatFrame) {
  const int w = 40, h = 30;
  const Bytes mask = rect(w, h, 10, 10, 30, 20);
  // A step edge exactly on the mask boundary over a noise-free background: the median gradient
  // of the frame is 0, so sharpness is 1.
  const Bytes step = rect(w, h, 10, 10, 30, 20, 200, 50);
  EXPECT_FLOAT_EQ(score(step, mask, w, h).sharpness, 1.0f);
  // A flat frame has no gradient anywhere: 0.
  const Bytes flat(static_cast<size_t>(w) * h, 90);
  EXPECT_EQ(score(flat, mask, w, h).sharpness, 0.0f);
  // A uniform ramp (gradient 2 everywhere, edge no stronger than anything else): ~0.
  Bytes ramp(static_cast<size_t>(w) * h);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) ramp[static_cast<size_t>(y) * w + x] = static_cast<uint8_t>(2 * x);
  EXPECT_LT(score(ramp, mask, w, h).sharpness, 0.15f);
}

TEST(Quality, ContinuityIsTheLargestComponentShare) {
  const int w = 30, h = 20;
  const Bytes frame(static_cast<size_t>(w) * h, 100);
  Bytes mask = rect(w, h, 2, 2, 12, 8);  // 60 px
  EXPECT_FLOAT_EQ(score(frame, mask, w, h).continuity, 1.0f);
  for (int y = 12; y < 16; ++y)          // + 20 px apart: 60 / 80
    for (int x = 20; x < 25; ++x) mask[static_cast<size_t>(y) * w + x] = 1;
  EXPECT_FLOAT_EQ(score(frame, mask, w, h).continuity, 0.75f);
  // Diagonal neighbours connect (8-connectivity).
  Bytes diag(static_cast<size_t>(w) * h, 0);
  for (int i = 0; i < 10; ++i) diag[static_cast<size_t>(i) * w + i] = 1;
  EXPECT_FLOAT_EQ(score(frame, diag, w, h).continuity, 1.0f);
  EXPECT_EQ(score(frame, Bytes(static_cast<size_t>(w) * h, 0), w, h).continuity, 0.0f);
}

TEST(Quality, StabilityCompensatesTheGivenMotion) {
  const int w = 40, h = 30;
  const Bytes frame(static_cast<size_t>(w) * h, 100);
  const Bytes prev = rect(w, h, 5, 5, 15, 15);
  const Bytes cur = rect(w, h, 8, 7, 18, 17);  // moved by (3, 2)
  const QualityScores raw = score(frame, cur, w, h, &prev, 0, 0);
  EXPECT_TRUE(raw.stability_valid);
  EXPECT_NEAR(raw.stability, 56.0f / 144.0f, 1e-6);  // 7x8 overlap of two 100-px squares
  const QualityScores comp = score(frame, cur, w, h, &prev, 3, 2);
  EXPECT_FLOAT_EQ(comp.stability, 1.0f);
  // Without a previous mask the score is not available and not averaged in.
  const QualityScores none = score(frame, cur, w, h);
  EXPECT_FALSE(none.stability_valid);
  EXPECT_FLOAT_EQ(none.combined, 0.5f * (none.sharpness + none.contrast));
  EXPECT_FLOAT_EQ(comp.combined, (comp.sharpness + comp.contrast + 1.0f) / 3.0f);
}

TEST(Quality, TrackerSignalIsTheStabilityWhenGiven) {
  const int w = 40, h = 30;
  const Bytes frame(static_cast<size_t>(w) * h, 100);
  const Bytes prev = rect(w, h, 5, 5, 15, 15);
  const Bytes cur = rect(w, h, 8, 7, 18, 17);
  const MaskWeights mw = compute_mask_weights(cur, w, h);
  TemporalStability ts;
  ts.valid = true;
  ts.stability = 0.25f;
  QualityInputs in{frame.data(), cur.data(), mw.w_in.data(), mw.w_edge.data(), mw.w_out.data(),
                   w, h, prev.data(), 3, 2, &ts};
  QualityScores q = compute_quality(in);
  EXPECT_TRUE(q.stability_valid);
  EXPECT_FLOAT_EQ(q.stability, 0.25f);
  EXPECT_FLOAT_EQ(q.mask_stability, 1.0f);  // still reported, motion-compensated
  EXPECT_FLOAT_EQ(q.combined, (q.sharpness + q.contrast + 0.25f) / 3.0f);
  // A tracker without a previous match: no stability term, even with a previous mask.
  ts.valid = false;
  q = compute_quality(in);
  EXPECT_FALSE(q.stability_valid);
  EXPECT_FLOAT_EQ(q.combined, 0.5f * (q.sharpness + q.contrast));
}

TEST(Quality, PhantomTruthScoresHighAndAMisplacedMaskLow) {
  PhantomGenerator gen(21);
  int checked = 0;
  while (checked < 6) {
    const PhantomFrame f = gen.next();
    if (!f.has_box) continue;
    const int w = f.params.width, h = f.params.height;
    const QualityScores good = score(f.pixels, f.mask, w, h);
    EXPECT_GT(good.combined, 0.6f) << "frame " << gen.count();  // theta_on
    EXPECT_GT(good.contrast, 0.3f);
    EXPECT_GT(good.sharpness, 0.7f);
    EXPECT_FLOAT_EQ(good.continuity, 1.0f);
    // The same band moved 60 px down into the shadow / speckle.
    Bytes moved(f.mask.size(), 0);
    for (int y = 0; y + 60 < h; ++y)
      for (int x = 0; x < w; ++x)
        moved[static_cast<size_t>(y + 60) * w + x] = f.mask[static_cast<size_t>(y) * w + x];
    const QualityScores bad = score(f.pixels, moved, w, h);
    EXPECT_LT(bad.combined, 0.4f) << "frame " << gen.count();  // theta_off
    ++checked;
  }
}

}  // namespace
}  // namespace um::pipeline
