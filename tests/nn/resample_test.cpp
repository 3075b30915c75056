// Pooling, nearest upsampling, bilinear resize and grid sampling.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "core/status.h"
#include "nn/ops.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::max_abs_diff;
using test::random_tensor;

TEST(MaxPool2d, CeilModeMatchesTorchShapesAndValues) {
  // torch.nn.MaxPool2d(2, 1, ceil_mode=True) on 5x7 -> 4x6 (HGNetv2 stem); (3, 2, 1, ceil) on
  // 7x8 -> 4x5 with the last window starting inside the input.
  const Tensor x = random_tensor({2, 3, 5, 7}, 1);
  const Tensor y = max_pool2d(x, 2, 1, 0, true);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4, 6}));
  const Tensor x2 = random_tensor({1, 2, 7, 8}, 2);
  const Tensor y2 = max_pool2d(x2, 3, 2, 1, true);
  ASSERT_EQ(y2.shape(), (Shape{1, 2, 4, 5}));
  EXPECT_EQ(max_pool2d(x2, 3, 2, 1, false).shape(), (Shape{1, 2, 4, 4}));
  EXPECT_EQ(max_pool2d(random_tensor({1, 1, 6, 6}, 3), 2, 2, 0, true).shape(), (Shape{1, 1, 3, 3}));
  EXPECT_EQ(max_pool2d(random_tensor({1, 1, 5, 5}, 3), 2, 2, 0, true).shape(), (Shape{1, 1, 3, 3}));
  for (const auto& [in, out, k, s, pd] :
       {std::tuple{x, y, 2, 1, 0}, std::tuple{x2, y2, 3, 2, 1}}) {
    const int64_t h = in.size(2), w = in.size(3);
    for (int64_t p = 0; p < in.size(0) * in.size(1); ++p)
      for (int64_t oy = 0; oy < out.size(2); ++oy)
        for (int64_t ox = 0; ox < out.size(3); ++ox) {
          float m = -std::numeric_limits<float>::infinity();
          for (int64_t ky = 0; ky < k; ++ky)
            for (int64_t kx = 0; kx < k; ++kx) {
              const int64_t iy = oy * s - pd + ky, ix = ox * s - pd + kx;
              if (iy >= 0 && iy < h && ix >= 0 && ix < w) m = std::max(m, in.data<float>()[(p * h + iy) * w + ix]);
            }
          EXPECT_EQ(out.data<float>()[(p * out.size(2) + oy) * out.size(3) + ox], m);
        }
  }
  EXPECT_THROW((void)max_pool2d(random_tensor({3, 4, 4}, 1), 2, 2, 0, false), Error);
}

TEST(UpsampleNearest2x, RepeatsEachPixel) {
  const Tensor x = random_tensor({1, 2, 3, 5}, 4);
  const Tensor y = upsample_nearest2x(x);
  ASSERT_EQ(y.shape(), (Shape{1, 2, 6, 10}));
  for (int64_t c = 0; c < 2; ++c)
    for (int64_t i = 0; i < 6; ++i)
      for (int64_t j = 0; j < 10; ++j)
        EXPECT_EQ(y.data<float>()[(c * 6 + i) * 10 + j], x.data<float>()[(c * 3 + i / 2) * 5 + j / 2]);
}

TEST(ResizeBilinear, KnownTorchValues) {
  // F.interpolate([[1, 2]], size=4, mode='bilinear', align_corners=False) -> 1, 1.25, 1.75, 2.
  const Tensor x = Tensor::from_vector({1.f, 2.f}, {1, 1, 1, 2});
  const Tensor y = resize_bilinear(x, 1, 4, false);
  const float want[] = {1.f, 1.25f, 1.75f, 2.f};
  for (int i = 0; i < 4; ++i) EXPECT_FLOAT_EQ(y.data<float>()[i], want[i]);
  // align_corners=True, 2 -> 3: 1, 1.5, 2.
  const Tensor y2 = resize_bilinear(x, 1, 3, true);
  EXPECT_FLOAT_EQ(y2.data<float>()[1], 1.5f);
  EXPECT_FLOAT_EQ(y2.data<float>()[2], 2.f);
  // Downscaling 4 -> 2 without antialias samples at 0.5 and 2.5: (a+b)/2, (c+d)/2.
  const Tensor x3 = Tensor::from_vector({0.f, 2.f, 4.f, 10.f}, {1, 1, 1, 4});
  const Tensor y3 = resize_bilinear(x3, 1, 2, false);
  EXPECT_FLOAT_EQ(y3.data<float>()[0], 1.f);
  EXPECT_FLOAT_EQ(y3.data<float>()[1], 7.f);
}

TEST(ResizeBilinear, SourceIndexRoundingMatchesTorch) {
  // On a 0/1 checkerboard row the output is the interpolation weight itself. PyTorch computes
  // src = float_scale * (dst + 0.5) - 0.5 in double and takes lambda from that double; rounding
  // src to float first would be off by up to ~3e-5 at indices near 400.
  const int64_t in = 422, out = 640;
  Tensor x = Tensor::empty({1, 1, 1, in});
  for (int64_t i = 0; i < in; ++i) x.data<float>()[i] = static_cast<float>(i % 2);
  const Tensor y = resize_bilinear(x, 1, out, false);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  for (int64_t o = 0; o < out; ++o) {
    double src = std::max(0.0, double(scale) * (o + 0.5) - 0.5);
    const int64_t i0 = std::min<int64_t>(static_cast<int64_t>(src), in - 1);
    const int64_t i1 = std::min<int64_t>(i0 + 1, in - 1);
    const float l1 = static_cast<float>(src - i0);
    const float want = (1.f - l1) * static_cast<float>(i0 % 2) + l1 * static_cast<float>(i1 % 2);
    EXPECT_NEAR(y.data<float>()[o], want, 1e-6) << "dst " << o;
  }
}

TEST(ResizeBilinear, SeparableAndIdentity) {
  const Tensor x = random_tensor({1, 2, 7, 9}, 5);
  EXPECT_LT(max_abs_diff(resize_bilinear(x, 7, 9, false), x), 1e-6f);
  EXPECT_LT(max_abs_diff(resize_bilinear(x, 7, 9, true), x), 1e-6f);
  // Resizing rows then columns equals resizing both at once (bilinear is separable).
  for (bool ac : {false, true}) {
    const Tensor both = resize_bilinear(x, 13, 5, ac);
    const Tensor seq = resize_bilinear(resize_bilinear(x, 13, 9, ac), 13, 5, ac);
    EXPECT_LT(max_abs_diff(both, seq), 1e-5f);
  }
}

TEST(GridSample, MatchesNaiveBilinearWithZeroPadding) {
  const Tensor x = random_tensor({2, 3, 5, 6}, 6);
  const Tensor grid = random_tensor({2, 4, 7, 2}, 7, -1.3f, 1.3f);  // some samples fall outside
  const Tensor y = grid_sample_bilinear(x, grid);
  ASSERT_EQ(y.shape(), (Shape{2, 3, 4, 7}));
  auto pix = [&](int64_t b, int64_t c, int64_t iy, int64_t ix) -> double {
    if (iy < 0 || iy >= 5 || ix < 0 || ix >= 6) return 0.0;
    return x.data<float>()[((b * 3 + c) * 5 + iy) * 6 + ix];
  };
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t i = 0; i < 28; ++i) {
      const double gx = grid.data<float>()[(b * 28 + i) * 2], gy = grid.data<float>()[(b * 28 + i) * 2 + 1];
      const double px = (gx + 1) * 6 / 2 - 0.5, py = (gy + 1) * 5 / 2 - 0.5;  // pixel-centre convention
      const int64_t x0 = static_cast<int64_t>(std::floor(px)), y0 = static_cast<int64_t>(std::floor(py));
      const double fx = px - x0, fy = py - y0;
      for (int64_t c = 0; c < 3; ++c) {
        const double want = pix(b, c, y0, x0) * (1 - fx) * (1 - fy) + pix(b, c, y0, x0 + 1) * fx * (1 - fy) +
                            pix(b, c, y0 + 1, x0) * (1 - fx) * fy + pix(b, c, y0 + 1, x0 + 1) * fx * fy;
        EXPECT_NEAR(y.data<float>()[(b * 3 + c) * 28 + i], want, 1e-5);
      }
    }
  // Sampling exactly at pixel centres returns the pixels.
  Tensor g = Tensor::empty({1, 1, 1, 2});
  g.data<float>()[0] = (2 * 2 + 1) / 6.f - 1;  // x = 2
  g.data<float>()[1] = (2 * 3 + 1) / 5.f - 1;  // y = 3
  EXPECT_NEAR(grid_sample_bilinear(x.slice(0, 0, 1), g).data<float>()[0], pix(0, 0, 3, 2), 1e-5);
  EXPECT_THROW((void)grid_sample_bilinear(x, random_tensor({2, 4, 7, 3}, 1)), Error);
}

}  // namespace
}  // namespace um::nn
