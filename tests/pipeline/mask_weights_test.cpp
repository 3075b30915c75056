// Tests for W_in / W_edge / W_out: hand-made masks with known answers, the border semantics,
// and random masks against a direct (window-by-window) reference.
#include "pipeline/mask_weights.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "core/status.h"

namespace um::pipeline {
namespace {

using Mask = std::vector<uint8_t>;

Mask rect_mask(int w, int h, int x0, int y0, int x1, int y1) {  // [x0, x1) x [y0, y1)
  Mask m(static_cast<size_t>(w) * h, 0);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) m[static_cast<size_t>(y) * w + x] = 1;
  return m;
}

int count(const Mask& m) { return static_cast<int>(std::count(m.begin(), m.end(), 1)); }

// Direct definition: min/max over the in-frame part of the k x k window.
Mask reference_morph(const Mask& in, int w, int h, int k, bool erode) {
  Mask out(in.size());
  const int r = k / 2;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      int v = erode ? 1 : 0;
      for (int dy = -r; dy <= r; ++dy) {
        for (int dx = -r; dx <= r; ++dx) {
          const int yy = y + dy, xx = x + dx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
          const int s = in[static_cast<size_t>(yy) * w + xx] != 0;
          v = erode ? std::min(v, s) : std::max(v, s);
        }
      }
      out[static_cast<size_t>(y) * w + x] = static_cast<uint8_t>(v);
    }
  }
  return out;
}

TEST(MaskWeights, SinglePixel) {
  const Mask m = rect_mask(9, 9, 4, 4, 5, 5);
  const MaskWeights w = compute_mask_weights(m, 9, 9);
  EXPECT_EQ(count(w.w_in), 0);        // a 1-px mask erodes away
  EXPECT_EQ(count(w.w_edge), 9);      // the 3x3 dilation
  EXPECT_EQ(count(w.w_out), 24);      // 5x5 minus the pixel itself
  EXPECT_EQ(w.w_out[4 * 9 + 4], 0);
  EXPECT_EQ(w.w_out[2 * 9 + 2], 1);   // corner of the 5x5
  EXPECT_EQ(w.w_edge[3 * 9 + 3], 1);  // corner of the 3x3
}

TEST(MaskWeights, FiveByFiveSquare) {
  const Mask m = rect_mask(11, 11, 3, 3, 8, 8);
  const MaskWeights w = compute_mask_weights(m, 11, 11);
  EXPECT_EQ(w.w_in, rect_mask(11, 11, 4, 4, 7, 7));            // 3x3 core
  EXPECT_EQ(count(w.w_edge), 7 * 7 - 3 * 3);                    // dilate3 7x7 minus core
  EXPECT_EQ(count(w.w_out), 9 * 9 - 5 * 5);                     // dilate5 9x9 minus square
  for (size_t i = 0; i < m.size(); ++i) {
    EXPECT_EQ(w.w_edge[i] & w.w_in[i], 0);  // disjoint
    EXPECT_EQ(w.w_out[i] & m[i], 0);
    EXPECT_LE(w.w_in[i], m[i]);
  }
}

TEST(MaskWeights, FrameBorderDoesNotErode) {
  // A mask filling the frame: outside pixels do not take part, so nothing erodes (OpenCV
  // semantics; scipy's border_value=0 would leave only the interior).
  const Mask full(6 * 5, 1);
  const MaskWeights w = compute_mask_weights(full, 6, 5);
  EXPECT_EQ(count(w.w_in), 30);
  EXPECT_EQ(count(w.w_edge), 0);
  EXPECT_EQ(count(w.w_out), 0);
  // A band along the left edge keeps its edge column inside.
  const Mask left = rect_mask(8, 8, 0, 0, 3, 8);
  const MaskWeights wl = compute_mask_weights(left, 8, 8);
  EXPECT_EQ(wl.w_in, rect_mask(8, 8, 0, 0, 2, 8));
  EXPECT_EQ(wl.w_out, rect_mask(8, 8, 3, 0, 5, 8));
}

TEST(MaskWeights, EmptyMaskGivesEmptyMaps) {
  const Mask m(20 * 10, 0);
  const MaskWeights w = compute_mask_weights(m, 20, 10);
  EXPECT_EQ(count(w.w_in) + count(w.w_edge) + count(w.w_out), 0);
}

TEST(MaskWeights, NonzeroValuesCountAsOne) {
  Mask m = rect_mask(11, 11, 3, 3, 8, 8);
  for (auto& v : m) v *= 255;
  const MaskWeights w = compute_mask_weights(m, 11, 11);
  EXPECT_EQ(w.w_in, rect_mask(11, 11, 4, 4, 7, 7));
  EXPECT_EQ(count(w.w_out), 56);
}

TEST(MaskWeights, RandomMasksMatchDirectDefinition) {
  std::mt19937 rng(17);
  const int sizes[][2] = {{1, 1}, {1, 7}, {7, 1}, {2, 3}, {13, 9}, {40, 33}, {64, 64}};
  for (auto [w, h] : sizes) {
    for (int density : {10, 50, 90}) {
      Mask m(static_cast<size_t>(w) * h);
      for (auto& v : m) v = static_cast<uint8_t>(static_cast<int>(rng() % 100) < density);
      const MaskWeights got = compute_mask_weights(m, w, h);
      const Mask e3 = reference_morph(m, w, h, 3, true);
      const Mask d3 = reference_morph(m, w, h, 3, false);
      const Mask d5 = reference_morph(m, w, h, 5, false);
      for (size_t i = 0; i < m.size(); ++i) {
        ASSERT_EQ(got.w_in[i], e3[i]) << w << "x" << h << " i=" << i;
        ASSERT_EQ(got.w_edge[i], d3[i] - e3[i]) << w << "x" << h << " i=" << i;
        ASSERT_EQ(got.w_out[i], d5[i] - m[i]) << w << "x" << h << " i=" << i;
      }
    }
  }
}

TEST(MaskWeights, SizeMismatchIsAClearError) {
  const Mask m(10, 1);
  EXPECT_THROW((void)compute_mask_weights(m, 4, 4), um::Error);
  EXPECT_THROW((void)compute_mask_weights(m, 0, 10), um::Error);
}

}  // namespace
}  // namespace um::pipeline
