// conv2d_bias_act (nn/ops_fused.h) on the CPU: bit-identical to the sequence it replaces in the
// models, nn::conv2d (bias included) -> activation -> affine, where the activation/affine step is
// nn::act_affine_inplace (D-FINE's ConvBN) or nn::relu/silu/gelu (TinyViT's Conv2d_BN + GELU);
// for every activation, with and without bias and affine, on contiguous and strided inputs; plus
// the argument checks.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_dfine.h"
#include "nn/ops_fused.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::random_tensor;

// Bitwise equality of two float32 tensors of the same shape (+0 and -0 count as equal, which
// is what == on the values says: the affine of the old path could turn -0 into +0).
void expect_identical(const Tensor& got, const Tensor& want, const std::string& what) {
  ASSERT_EQ(shape_str(got.shape()), shape_str(want.shape())) << what;
  const Tensor a = got.contiguous(), b = want.contiguous();
  int64_t mismatches = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float x = a.data<float>()[i], y = b.data<float>()[i];
    if (!(x == y) && std::memcmp(&x, &y, sizeof(float)) != 0) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << what;
}

ActKind to_kind(Activation a) {
  switch (a) {
    case Activation::kReLU: return ActKind::kReLU;
    case Activation::kSiLU: return ActKind::kSiLU;
    case Activation::kGELU: return ActKind::kGELU;
    case Activation::kNone: break;
  }
  return ActKind::kNone;
}

struct Case {
  Shape x, w;
  Conv2dParams p;
};

TEST(Conv2dBiasAct, MatchesConvThenActAffineExactly) {
  const Case cases[] = {
      {{1, 6, 13, 11}, {8, 6, 3, 3}, Conv2dParams::square(2, 1)},        // strided 3x3
      {{2, 8, 9, 9}, {8, 1, 5, 5}, Conv2dParams::square(1, 2, 8)},       // depthwise 5x5
      {{1, 12, 7, 10}, {15, 4, 1, 1}, Conv2dParams::square(1, 0, 3)},    // grouped 1x1
  };
  const Activation acts[] = {Activation::kNone, Activation::kReLU, Activation::kSiLU,
                             Activation::kGELU};
  uint32_t seed = 100;
  for (const Case& c : cases) {
    const Tensor x = random_tensor(c.x, ++seed, -3.f, 3.f);
    const Tensor w = random_tensor(c.w, ++seed);
    const Tensor b = random_tensor({c.w[0]}, ++seed);
    for (const bool with_bias : {false, true}) {
      const Tensor bias = with_bias ? b : Tensor();
      for (const Activation act : acts) {
        for (const bool affine : {false, true}) {
          const float scale = affine ? 0.75f : 1.f, shift = affine ? -0.2f : 0.f;
          const std::string what = "x " + shape_str(c.x) + " act " +
                                   std::to_string(static_cast<int>(act)) + " bias " +
                                   std::to_string(with_bias) + " affine " + std::to_string(affine);
          Tensor want = conv2d(x, w, bias, c.p);
          act_affine_inplace(want, to_kind(act), affine, scale, shift);
          expect_identical(conv2d_bias_act(x, w, bias, c.p, act, scale, shift), want, what);
        }
      }
    }
  }
}

TEST(Conv2dBiasAct, GeluMatchesTinyVitSequenceExactly) {
  // TinyViT ran nn::gelu(conv(x)) and nn::relu/silu the same way elsewhere.
  const Tensor x = random_tensor({1, 4, 10, 10}, 7, -2.f, 2.f);
  const Tensor w = random_tensor({6, 4, 3, 3}, 8), b = random_tensor({6}, 9);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  const Tensor y = conv2d(x, w, b, p);
  expect_identical(conv2d_bias_act(x, w, b, p, Activation::kGELU), gelu(y), "gelu");
  expect_identical(conv2d_bias_act(x, w, b, p, Activation::kReLU), relu(y), "relu");
  expect_identical(conv2d_bias_act(x, w, b, p, Activation::kSiLU), silu(y), "silu");
  expect_identical(conv2d_bias_act(x, w, b, p, Activation::kNone), y, "none");
}

TEST(Conv2dBiasAct, StridedInputsMatchContiguous) {
  const Tensor big = random_tensor({2, 5, 12, 14}, 21);
  const Tensor x = big.slice(1, 1, 4).slice(3, 2, 13);  // [2, 3, 12, 11], non-contiguous
  const Tensor xp = random_tensor({1, 9, 8, 3}, 22).permute({0, 3, 1, 2});  // [1, 3, 9, 8]
  const Tensor w = random_tensor({4, 3, 3, 3}, 23), b = random_tensor({4}, 24);
  const Conv2dParams p = Conv2dParams::square(2, 1);
  for (const Tensor& xi : {x, xp}) {
    Tensor want = conv2d(xi.contiguous(), w, b, p);
    act_affine_inplace(want, ActKind::kSiLU, true, 1.5f, 0.25f);
    expect_identical(conv2d_bias_act(xi, w, b, p, Activation::kSiLU, 1.5f, 0.25f), want,
                     "strided " + shape_str(xi.shape()));
  }
}

TEST(Conv2dBiasAct, BadArgumentsThrowUmError) {
  const Tensor x = random_tensor({1, 4, 6, 6}, 31), w = random_tensor({5, 4, 3, 3}, 32);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  EXPECT_THROW(conv2d_bias_act(Tensor(), w, Tensor(), p, Activation::kReLU), Error);
  EXPECT_THROW(conv2d_bias_act(x, Tensor(), Tensor(), p, Activation::kReLU), Error);
  EXPECT_THROW(conv2d_bias_act(x, random_tensor({5, 4, 3}, 33), Tensor(), p, Activation::kReLU),
               Error);
  EXPECT_THROW(conv2d_bias_act(x, w, random_tensor({4}, 34), p, Activation::kReLU), Error);
  EXPECT_THROW(conv2d_bias_act(x, random_tensor({5, 3, 3, 3}, 35), Tensor(), p, Activation::kGELU),
               Error);  // channel mismatch, caught by conv2d
  EXPECT_THROW(conv2d_bias_act(x, w, Tensor(), p, static_cast<Activation>(9)), Error);
}

// The residual variant is conv2d_bias_act followed by add, bit for bit, with any residual strides.
TEST(Conv2dBiasActResidual, MatchesFusedOpThenAddExactly) {
  const Tensor x = random_tensor({2, 4, 7, 6}, 41), w = random_tensor({5, 4, 3, 3}, 42);
  const Tensor b = random_tensor({5}, 43);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  const Tensor r = random_tensor({2, 5, 7, 6}, 44);
  const Tensor r_strided = random_tensor({2, 7, 6, 5}, 45).permute({0, 3, 1, 2});
  for (const Tensor& res : {r, r_strided}) {
    for (const Activation act : {Activation::kNone, Activation::kReLU, Activation::kSiLU}) {
      const Tensor want = add(conv2d_bias_act(x, w, b, p, act, 0.75f, -0.5f), res);
      const Tensor got = conv2d_bias_act_residual(x, w, b, p, act, res, 0.75f, -0.5f);
      EXPECT_TRUE(test::bit_identical(got, want));
    }
  }
}

TEST(Conv2dBiasActResidual, BadResidualThrowsUmError) {
  const Tensor x = random_tensor({1, 4, 6, 6}, 51), w = random_tensor({5, 4, 3, 3}, 52);
  const Conv2dParams p = Conv2dParams::square(1, 1);
  EXPECT_THROW(conv2d_bias_act_residual(x, w, Tensor(), p, Activation::kReLU, Tensor()), Error);
  EXPECT_THROW(conv2d_bias_act_residual(x, w, Tensor(), p, Activation::kReLU,
                                        random_tensor({1, 5, 6, 5}, 53)),
               Error);  // wrong shape
  EXPECT_THROW(conv2d_bias_act_residual(x, w, Tensor(), p, Activation::kReLU,
                                        random_tensor({1, 5, 6, 6}, 54).to(DType::kF16)),
               Error);  // wrong dtype
}

}  // namespace
}  // namespace um::nn
