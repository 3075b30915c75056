// File: tests/mobilesam/ops_test.cpp
// Purpose: the ops MobileSAM brought to the op library, against independent references:
// conv_transpose2d and layer_norm_2d against naive double-precision loops written from the
// PyTorch definitions; the Pillow-style resize against outputs of Pillow 13.0 itself
// (Image.resize(size, Image.BILINEAR), recorded below) and the fixture's `resized_rgb`;
// TinyViT's window split/merge with zero padding. No model forward: light enough for ASan.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "core/status.h"
#include "io/safetensors.h"
#include "models/mobilesam/preprocess.h"
#include "models/mobilesam/window_partition.h"
#include "nn/ops.h"
#include "nn/resize_antialias.h"
#include "test_support.h"

namespace um {
namespace {

Tensor random_tensor(const Shape& s, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, 1.f);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
  return t;
}

// ConvTranspose2d by definition: out[co, y*s - p + i, x*s - p + j] += x[ci, y, x] * w[ci, co, i, j].
std::vector<double> naive_conv_transpose(const Tensor& x, const Tensor& w, const Tensor& b,
                                         int s, int p, int64_t oh, int64_t ow) {
  const int64_t n = x.size(0), cin = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t cout = w.size(1), kh = w.size(2), kw = w.size(3);
  std::vector<double> out(static_cast<size_t>(n * cout * oh * ow), 0.0);
  const float* xp = x.data<float>();
  const float* wp = w.data<float>();
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t co = 0; co < cout; ++co)
      for (int64_t y = 0; y < oh; ++y)
        for (int64_t xx = 0; xx < ow; ++xx) out[((bi * cout + co) * oh + y) * ow + xx] = b.data<float>()[co];
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t ci = 0; ci < cin; ++ci)
      for (int64_t y = 0; y < h; ++y)
        for (int64_t xx = 0; xx < wd; ++xx)
          for (int64_t co = 0; co < cout; ++co)
            for (int64_t i = 0; i < kh; ++i)
              for (int64_t j = 0; j < kw; ++j) {
                const int64_t oy = y * s - p + i, ox = xx * s - p + j;
                if (oy < 0 || oy >= oh || ox < 0 || ox >= ow) continue;
                out[((bi * cout + co) * oh + oy) * ow + ox] +=
                    double(xp[((bi * cin + ci) * h + y) * wd + xx]) *
                    wp[((ci * cout + co) * kh + i) * kw + j];
              }
  return out;
}

struct ConvTCase {
  int64_t n, cin, h, w, cout, k;
  int stride, pad;
};

TEST(ConvTranspose2d, MatchesDefinition) {
  for (const ConvTCase& c : {ConvTCase{1, 8, 5, 7, 4, 2, 2, 0}, ConvTCase{2, 3, 4, 3, 5, 3, 2, 1},
                             ConvTCase{1, 4, 6, 6, 2, 3, 1, 1}, ConvTCase{1, 2, 3, 5, 3, 4, 3, 2}}) {
    const Tensor x = random_tensor({c.n, c.cin, c.h, c.w}, 1);
    const Tensor w = random_tensor({c.cin, c.cout, c.k, c.k}, 2);
    const Tensor b = random_tensor({c.cout}, 3);
    const Tensor y = nn::conv_transpose2d(x, w, b, c.stride, c.pad);
    const int64_t oh = (c.h - 1) * c.stride - 2 * c.pad + c.k;
    const int64_t ow = (c.w - 1) * c.stride - 2 * c.pad + c.k;
    ASSERT_EQ(y.shape(), (Shape{c.n, c.cout, oh, ow}));
    const auto ref = naive_conv_transpose(x, w, b, c.stride, c.pad, oh, ow);
    for (size_t i = 0; i < ref.size(); ++i) ASSERT_NEAR(y.data<float>()[i], ref[i], 1e-4) << i;
  }
}

TEST(ConvTranspose2d, RejectsBadShapes) {
  const Tensor x = random_tensor({1, 8, 4, 4}, 1);
  EXPECT_THROW(nn::conv_transpose2d(x, random_tensor({4, 2, 2, 2}, 2), Tensor(), 2, 0), Error);
  EXPECT_THROW(nn::conv_transpose2d(x, random_tensor({8, 2, 2, 2}, 2), random_tensor({3}, 3), 2, 0),
               Error);
  EXPECT_THROW(nn::conv_transpose2d(x, random_tensor({8, 2, 2, 2}, 2), Tensor(), 0, 0), Error);
  EXPECT_THROW(nn::conv_transpose2d(x.view({8, 4, 4}), random_tensor({8, 2, 2, 2}, 2), Tensor(), 2, 0),
               Error);
}

TEST(LayerNorm2d, MatchesDefinition) {
  const Tensor x = random_tensor({2, 5, 3, 4}, 4);
  const Tensor w = random_tensor({5}, 5), b = random_tensor({5}, 6);
  const float eps = 1e-6f;
  const Tensor y = nn::layer_norm_2d(x, w, b, eps);
  ASSERT_EQ(y.shape(), x.shape());
  const float* xp = x.data<float>();
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t p = 0; p < 12; ++p) {
      double mean = 0, var = 0;
      for (int64_t c = 0; c < 5; ++c) mean += xp[(n * 5 + c) * 12 + p];
      mean /= 5;
      for (int64_t c = 0; c < 5; ++c) var += std::pow(xp[(n * 5 + c) * 12 + p] - mean, 2);
      var /= 5;
      for (int64_t c = 0; c < 5; ++c) {
        const double ref = (xp[(n * 5 + c) * 12 + p] - mean) / std::sqrt(var + eps) *
                               w.data<float>()[c] + b.data<float>()[c];
        EXPECT_NEAR(y.data<float>()[(n * 5 + c) * 12 + p], ref, 1e-5);
      }
    }
  EXPECT_THROW(nn::layer_norm_2d(x, random_tensor({4}, 1), b, eps), Error);
}

// A 6x9 (H x W) gray image and Pillow 13.0's Image.resize((W', H'), Image.BILINEAR) of it.
const std::vector<uint8_t> kSmall = {
    78,  204, 64,  34,  16,  250, 233, 32,  103, 122, 13,  204, 138, 172, 208, 127, 124, 100,
    12,  151, 222, 203, 251, 153, 211, 235, 80,  182, 176, 41,  88,  7,   141, 241, 73,  124,
    223, 123, 222, 37,  84,  55,  200, 102, 211, 60,  159, 237, 53,  138, 57,  140, 55,  21};
const std::vector<uint8_t> kShrunk2x4 = {114, 134, 173, 127, 154, 114, 121, 129};
const std::vector<uint8_t> kGrown11x5 = {
    131, 81,  75,  201, 82,  115, 102, 106, 185, 92,  88,  139, 159, 159, 108, 83,  171, 190, 170,
    130, 87,  201, 215, 195, 154, 128, 142, 138, 188, 133, 169, 84,  58,  176, 112, 175, 119, 63,
    153, 141, 171, 149, 71,  131, 147, 136, 159, 89,  110, 82,  115, 165, 99,  98,  44};

std::vector<uint8_t> resize_small(int64_t oh, int64_t ow) {
  Tensor img = Tensor::empty({6, 9, 1}, DType::kU8);
  std::copy(kSmall.begin(), kSmall.end(), img.data<uint8_t>());
  const Tensor out = nn::resize_bilinear_antialias_u8(img, oh, ow);
  return {out.data<uint8_t>(), out.data<uint8_t>() + out.numel()};
}

TEST(ResizeAntialias, MatchesPillowWhenShrinking) { EXPECT_EQ(resize_small(2, 4), kShrunk2x4); }
TEST(ResizeAntialias, MatchesPillowWhenGrowing) { EXPECT_EQ(resize_small(11, 5), kGrown11x5); }

TEST(ResizeAntialias, RejectsBadInput) {
  EXPECT_THROW(nn::resize_bilinear_antialias_u8(Tensor::empty({4, 4, 1}), 2, 2), Error);
  EXPECT_THROW(nn::resize_bilinear_antialias_u8(Tensor::empty({4, 4, 1}, DType::kU8), 0, 2), Error);
  EXPECT_THROW(nn::resize_bilinear_antialias_u8(Tensor::empty({4, 4}, DType::kU8), 2, 2), Error);
}

TEST(MobileSamPreprocess, GeometryRoundsLikeTheOfficialCode) {
  const auto g = mobilesam::input_geometry(558, 422);
  EXPECT_EQ(g.input_h, 1024);
  EXPECT_EQ(g.input_w, 774);  // int(422 * 1024 / 558 + 0.5) = int(774.92) = 774
  const auto g2 = mobilesam::input_geometry(2048, 2047);
  EXPECT_EQ(g2.input_h, 1024);
  EXPECT_EQ(g2.input_w, 1024);  // 1023.5 rounds up
}

TEST(MobileSamPreprocess, ResizedRgbMatchesFixture) {
  // (named `path` because UM_REQUIRE_FIXTURE's parameter is called path)
  const auto path = test::fixtures_dir() / "mobilesam" / "tensors.safetensors";
  UM_REQUIRE_FIXTURE(path);
  auto t = io::read_safetensors(path.string());
  ASSERT_TRUE(t.ok()) << t.status().to_string();
  const Tensor& rgb = t->at("image_rgb");
  const Tensor& ref = t->at("resized_rgb");
  const auto g = mobilesam::input_geometry(rgb.size(0), rgb.size(1));
  const Tensor ours = mobilesam::resize_longest_side(rgb, g);
  ASSERT_EQ(ours.shape(), ref.shape());
  int max_diff = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    max_diff = std::max(max_diff, std::abs(int(ours.data<uint8_t>()[i]) - int(ref.data<uint8_t>()[i])));
  }
  EXPECT_LE(max_diff, 1);
}

TEST(WindowPartition, PadsWithZerosAndRoundTrips) {
  const int64_t h = 5, w = 4, ws = 3, c = 2;
  const Tensor x = random_tensor({1, h * w, c}, 9);
  const Tensor win = mobilesam::window_partition(x, h, w, ws);
  ASSERT_EQ(win.shape(), (Shape{4, ws * ws, c}));  // 2 x 2 windows
  // Window (0, 1) holds columns 3..5: column 3 real, columns 4 and 5 zero padding.
  const float* wp = win.data<float>() + 1 * ws * ws * c;
  EXPECT_EQ(wp[0], x.data<float>()[3 * c]);
  EXPECT_EQ(wp[1 * c], 0.f);
  EXPECT_EQ(wp[2 * c + 1], 0.f);
  const Tensor back = mobilesam::window_reverse(win, 1, h, w, ws);
  ASSERT_EQ(back.shape(), x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) EXPECT_EQ(back.data<float>()[i], x.data<float>()[i]);
}

}  // namespace
}  // namespace um
