// Conv2d and BatchNorm folding against a naive direct convolution.
#include <gtest/gtest.h>

#include <cmath>

#include "core/status.h"
#include "nn/ops.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::max_abs_diff;
using test::random_tensor;

Tensor naive_conv(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p) {
  const int64_t n = x.size(0), cin = x.size(1), h = x.size(2), wd = x.size(3);
  const int64_t cout = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t ho = (h + 2 * p.pad_h - p.dilation_h * (kh - 1) - 1) / p.stride_h + 1;
  const int64_t wo = (wd + 2 * p.pad_w - p.dilation_w * (kw - 1) - 1) / p.stride_w + 1;
  const int64_t cin_g = cin / p.groups, cout_g = cout / p.groups;
  Tensor y = Tensor::zeros({n, cout, ho, wo});
  const float* px = x.data<float>();
  const float* pw = w.data<float>();
  float* py = y.data<float>();
  for (int64_t bi = 0; bi < n; ++bi)
    for (int64_t oc = 0; oc < cout; ++oc)
      for (int64_t oy = 0; oy < ho; ++oy)
        for (int64_t ox = 0; ox < wo; ++ox) {
          double acc = b.defined() ? b.data<float>()[oc] : 0.0;
          const int64_t g = oc / cout_g;
          for (int64_t ic = 0; ic < cin_g; ++ic)
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                const int64_t iy = oy * p.stride_h + ky * p.dilation_h - p.pad_h;
                const int64_t ix = ox * p.stride_w + kx * p.dilation_w - p.pad_w;
                if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                acc += static_cast<double>(px[((bi * cin + g * cin_g + ic) * h + iy) * wd + ix]) *
                       pw[((oc * cin_g + ic) * kh + ky) * kw + kx];
              }
          py[((bi * cout + oc) * ho + oy) * wo + ox] = static_cast<float>(acc);
        }
  return y;
}

struct ConvCase {
  Shape x, w;
  Conv2dParams p;
  bool bias;
};

TEST(Conv2d, MatchesNaiveReference) {
  const ConvCase cases[] = {
      {{1, 3, 17, 13}, {5, 3, 3, 3}, Conv2dParams::square(1, 1), true},
      {{2, 3, 17, 13}, {4, 3, 3, 3}, Conv2dParams::square(2, 1), false},
      {{1, 8, 9, 11}, {6, 8, 1, 1}, Conv2dParams::square(1, 0), true},     // pointwise
      {{1, 8, 9, 11}, {6, 8, 1, 1}, Conv2dParams::square(2, 0), true},     // strided 1x1
      {{1, 6, 15, 12}, {9, 2, 3, 3}, Conv2dParams::square(1, 1, 3), true},  // groups
      {{1, 6, 15, 12}, {6, 1, 5, 5}, Conv2dParams::square(1, 2, 6), true},  // depthwise
      {{1, 4, 15, 12}, {8, 1, 3, 3}, Conv2dParams::square(2, 1, 4), true},  // depthwise x2
      {{1, 5, 14, 16}, {7, 5, 3, 2}, {2, 1, 1, 0, 2, 3, 1}, true},          // dilation, asym
      {{1, 4, 11, 9}, {4, 1, 3, 3}, {1, 2, 2, 2, 2, 2, 4}, false},          // dw + dilation
      {{1, 2, 7, 7}, {3, 2, 2, 2}, Conv2dParams::square(1, 0), true},       // even kernel
  };
  uint32_t seed = 1;
  for (const auto& c : cases) {
    const Tensor x = random_tensor(c.x, seed++);
    const Tensor w = random_tensor(c.w, seed++);
    const Tensor b = c.bias ? random_tensor({c.w[0]}, seed++) : Tensor();
    const Tensor got = conv2d(x, w, b, c.p);
    const Tensor want = naive_conv(x, w, b, c.p);
    EXPECT_LT(max_abs_diff(got, want), 1e-5f) << shape_str(c.x) << " * " << shape_str(c.w);
  }
}

TEST(Conv2d, AcceptsNonContiguousInput) {
  const Tensor base = random_tensor({1, 9, 8, 3}, 7);
  const Tensor x = base.permute({0, 3, 1, 2});  // [1, 3, 9, 8] view
  const Tensor w = random_tensor({4, 3, 3, 3}, 8);
  const auto p = Conv2dParams::square(1, 1);
  EXPECT_LT(max_abs_diff(conv2d(x, w, Tensor(), p), naive_conv(x.contiguous(), w, Tensor(), p)),
            1e-5f);
}

TEST(Conv2d, RejectsMismatchedShapesNamingThem) {
  const Tensor x = random_tensor({1, 4, 8, 8}, 1);
  const Tensor w = random_tensor({6, 3, 3, 3}, 2);
  try {
    (void)conv2d(x, w, Tensor(), Conv2dParams::square(1, 1));
    FAIL() << "expected um::Error";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument);
    const std::string msg = e.what();
    EXPECT_NE(msg.find("conv2d"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[1, 4, 8, 8]"), std::string::npos) << msg;
    EXPECT_NE(msg.find("[6, 3, 3, 3]"), std::string::npos) << msg;
  }
  EXPECT_THROW((void)conv2d(x, random_tensor({6, 4, 9, 9}, 3), Tensor(), {}), Error);
  // 2 input rows, kernel 3, stride 2: (2 - 3) / 2 + 1 would round to one output row; PyTorch
  // refuses an input shorter than the kernel, and so does conv2d.
  EXPECT_THROW((void)conv2d(random_tensor({1, 1, 2, 2}, 5), random_tensor({1, 1, 3, 3}, 6),
                            Tensor(), Conv2dParams::square(2, 0)),
               Error);
  EXPECT_THROW((void)conv2d(x, random_tensor({6, 4, 3, 3}, 3), random_tensor({5}, 4), {}), Error);
}

TEST(FoldBatchNorm, EqualsConvThenBatchNorm) {
  const Tensor x = random_tensor({1, 3, 10, 9}, 11);
  const Tensor w = random_tensor({5, 3, 3, 3}, 12);
  const Tensor cb = random_tensor({5}, 13);
  const Tensor gamma = random_tensor({5}, 14, 0.5f, 1.5f);
  const Tensor beta = random_tensor({5}, 15);
  const Tensor mean = random_tensor({5}, 16);
  const Tensor var = random_tensor({5}, 17, 0.1f, 2.f);
  const float eps = 1e-5f;
  for (const Tensor& bias : {cb, Tensor()}) {
    auto [fw, fb] = fold_batch_norm(w, bias, gamma, beta, mean, var, eps);
    const auto p = Conv2dParams::square(1, 1);
    Tensor got = conv2d(x, fw, fb, p);
    Tensor want = naive_conv(x, w, bias, p);
    float* pw = want.data<float>();
    const int64_t hw = want.size(2) * want.size(3);
    for (int64_t c = 0; c < 5; ++c)
      for (int64_t i = 0; i < hw; ++i) {
        float& v = pw[c * hw + i];
        v = (v - mean.data<float>()[c]) / std::sqrt(var.data<float>()[c] + eps) *
                gamma.data<float>()[c] +
            beta.data<float>()[c];
      }
    EXPECT_LT(max_abs_diff(got, want), 1e-5f);
  }
  EXPECT_THROW((void)fold_batch_norm(w, Tensor(), random_tensor({4}, 1), beta, mean, var, eps),
               Error);
}

}  // namespace
}  // namespace um::nn
