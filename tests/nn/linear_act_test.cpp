// nn::linear_act on the CPU: it must be exactly the sequence the models ran before the fusion,
// nn::linear then the activation pass (nn::relu / act_affine_inplace, same float32 expressions),
// bit for bit, with and without a bias, 2-D/3-D/strided inputs; bad arguments are refused with
// um::Error. (The CUDA epilogue is checked against this op in tests/cuda/linear_act_cuda_test.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_dfine.h"
#include "nn/ops_fused.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::bit_identical;
using test::random_tensor;

// The unfused sequence: linear, then the activation in place (what dfine::Mlp ran).
Tensor reference(const Tensor& x, const Tensor& w, const Tensor& b, ActKind act) {
  Tensor y = linear(x, w, b).contiguous();
  act_affine_inplace(y, act);
  return y;
}

TEST(LinearAct, ReluIsExactlyLinearThenRelu) {
  const Tensor x = random_tensor({2, 7, 13}, 1), w = random_tensor({9, 13}, 2);
  const Tensor b = random_tensor({9}, 3);
  const Tensor y = linear_act(x, w, b, Activation::kReLU);
  ASSERT_EQ(y.shape(), (Shape{2, 7, 9}));
  EXPECT_TRUE(bit_identical(y, reference(x, w, b, ActKind::kReLU)));
  EXPECT_TRUE(bit_identical(y, relu(linear(x, w, b))));
  // The ReLU really ran: no negative output, and some of the linear's outputs were negative.
  const Tensor lin = linear(x, w, b);
  int negatives = 0;
  for (int64_t i = 0; i < y.numel(); ++i) {
    EXPECT_GE(y.data<float>()[i], 0.f);
    negatives += lin.data<float>()[i] < 0.f;
  }
  EXPECT_GT(negatives, 0);
  // No bias, a 2-D input, a single vector.
  EXPECT_TRUE(bit_identical(linear_act(x, w, Tensor(), Activation::kReLU),
                            reference(x, w, Tensor(), ActKind::kReLU)));
  const Tensor x2 = random_tensor({5, 13}, 4);
  EXPECT_TRUE(bit_identical(linear_act(x2, w, b, Activation::kReLU),
                            reference(x2, w, b, ActKind::kReLU)));
  const Tensor v = random_tensor({13}, 5);
  EXPECT_TRUE(bit_identical(linear_act(v, w, b, Activation::kReLU),
                            reference(v, w, b, ActKind::kReLU)));
}

TEST(LinearAct, OtherActivations) {
  const Tensor x = random_tensor({3, 4, 16}, 10), w = random_tensor({8, 16}, 11);
  const Tensor b = random_tensor({8}, 12);
  EXPECT_TRUE(bit_identical(linear_act(x, w, b, Activation::kNone), linear(x, w, b)));
  EXPECT_TRUE(bit_identical(linear_act(x, w, b, Activation::kSiLU),
                            reference(x, w, b, ActKind::kSiLU)));
  EXPECT_TRUE(bit_identical(linear_act(x, w, b, Activation::kGELU),
                            reference(x, w, b, ActKind::kGELU)));
  EXPECT_TRUE(bit_identical(linear_act(x, w, b, Activation::kGELU), gelu(linear(x, w, b))));
}

TEST(LinearAct, StridedInput) {
  const Tensor w = random_tensor({6, 11}, 20), b = random_tensor({6}, 21);
  const Tensor x = random_tensor({11, 4, 3}, 22).permute({1, 2, 0});  // [4, 3, 11], strided
  ASSERT_FALSE(x.is_contiguous());
  EXPECT_TRUE(bit_identical(linear_act(x, w, b, Activation::kReLU),
                            reference(x.contiguous(), w, b, ActKind::kReLU)));
  const Tensor xt = random_tensor({11, 5}, 23).transpose(0, 1);  // [5, 11], strided 2-D
  EXPECT_TRUE(bit_identical(linear_act(xt, w, b, Activation::kReLU),
                            reference(xt.contiguous(), w, b, ActKind::kReLU)));
}

TEST(LinearAct, RejectsBadArguments) {
  const Tensor x = random_tensor({2, 5, 8}, 30), w = random_tensor({3, 8}, 31);
  const Tensor b = random_tensor({3}, 32);
  EXPECT_THROW((void)linear_act(Tensor(), w, b, Activation::kReLU), Error);
  EXPECT_THROW((void)linear_act(x, Tensor(), b, Activation::kReLU), Error);
  EXPECT_THROW((void)linear_act(x, random_tensor({3, 7}, 33), b, Activation::kReLU), Error);
  EXPECT_THROW((void)linear_act(x, w, random_tensor({4}, 34), Activation::kReLU), Error);
  EXPECT_THROW((void)linear_act(x, w, b, static_cast<Activation>(42)), Error);
  EXPECT_THROW((void)linear_act(x.to(DType::kF16), w, b, Activation::kReLU), Error);
  try {
    (void)linear_act(x, random_tensor({3, 7}, 35), b, Activation::kReLU);
    FAIL() << "a mismatched weight was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("weight"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace um::nn
