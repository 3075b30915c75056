// Activations, broadcasting binary ops, concat and split.
#include <gtest/gtest.h>

#include <cmath>

#include "core/status.h"
#include "nn/ops.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::max_abs_diff;
using test::random_tensor;

TEST(Activations, MatchFormulas) {
  const Tensor x = random_tensor({3, 17}, 1, -6.f, 6.f);
  const Tensor r = relu(x), s = silu(x), g = gelu(x), sg = sigmoid(x);
  for (int64_t i = 0; i < x.numel(); ++i) {
    const double v = x.data<float>()[i];
    EXPECT_EQ(r.data<float>()[i], v > 0 ? v : 0);
    EXPECT_NEAR(s.data<float>()[i], v / (1 + std::exp(-v)), 1e-6);
    EXPECT_NEAR(g.data<float>()[i], 0.5 * v * (1 + std::erf(v / std::sqrt(2.0))), 1e-6);
    EXPECT_NEAR(sg.data<float>()[i], 1 / (1 + std::exp(-v)), 1e-6);
  }
  const Tensor p = Tensor::from_vector({-0.5f, 0.f, 0.25f, 1.f, 2.f}, {5});
  const Tensor is = inverse_sigmoid(p);
  EXPECT_NEAR(is.data<float>()[0], std::log(1e-5), 1e-4);  // clamped to 0 then to eps
  EXPECT_NEAR(is.data<float>()[2], std::log(0.25 / 0.75), 1e-6);
  EXPECT_NEAR(is.data<float>()[3], -std::log(1e-5), 1e-4);
  EXPECT_NEAR(is.data<float>()[4], -std::log(1e-5), 1e-4);
}

TEST(Binary, BroadcastsLikeNumPy) {
  const Tensor a = random_tensor({2, 3, 4, 5}, 2);
  const Tensor b = random_tensor({3, 1, 5}, 3);
  const Tensor c = random_tensor({1, 3, 1, 1}, 4);
  const Tensor sum = add(a, b), prod = mul(a, c), dif = sub(b, a), quo = div(a, add_scalar(c, 3.f));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      for (int64_t k = 0; k < 4; ++k)
        for (int64_t l = 0; l < 5; ++l) {
          const int64_t o = ((i * 3 + j) * 4 + k) * 5 + l;
          const float av = a.data<float>()[o], bv = b.data<float>()[j * 5 + l], cv = c.data<float>()[j];
          EXPECT_FLOAT_EQ(sum.data<float>()[o], av + bv);
          EXPECT_FLOAT_EQ(prod.data<float>()[o], av * cv);
          EXPECT_FLOAT_EQ(dif.data<float>()[o], bv - av);
          EXPECT_FLOAT_EQ(quo.data<float>()[o], av / (cv + 3.f));
        }
  // Non-contiguous operand (a transposed view).
  const Tensor t = random_tensor({5, 4}, 5).transpose(0, 1);
  const Tensor s2 = add(a, t);
  EXPECT_FLOAT_EQ(s2.data<float>()[7], a.data<float>()[7] + t.contiguous().data<float>()[7]);
  EXPECT_LT(max_abs_diff(mul_scalar(a, 2.f), add(a, a)), 1e-6f);
  try {
    (void)add(a, random_tensor({4, 4}, 6));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3, 4, 5]"), std::string::npos) << e.what();
  }
}

TEST(ConcatSplit, RoundTripAlongEachDim) {
  const Tensor a = random_tensor({2, 3, 4}, 7);
  for (int64_t d = 0; d < 3; ++d) {
    const auto parts = split(a, {1, a.size(d) - 1}, d);
    const Tensor back = concat({parts[0], parts[1]}, d);
    EXPECT_EQ(max_abs_diff(back, a), 0.f) << "dim " << d;
  }
  const Tensor c = concat({a, random_tensor({2, 5, 4}, 8)}, 1);
  EXPECT_EQ(c.shape(), (Shape{2, 8, 4}));
  EXPECT_EQ(c.data<float>()[1 * 8 * 4 + 2 * 4 + 3], a.data<float>()[1 * 12 + 2 * 4 + 3]);  // [1, 2, 3]
  EXPECT_THROW((void)concat({a, random_tensor({2, 5, 3}, 9)}, 1), Error);
  EXPECT_THROW((void)split(a, {1, 1}, 1), Error);
}

}  // namespace
}  // namespace um::nn
