// linear with a fused residual add (nn::linear(x, weight, bias, residual)) on the CPU: it must be
// exactly the two ops TinyViT ran before the fusion, add(residual, linear(x, weight, bias)), bit
// for bit (the CUDA GEMM is checked against this op in tests/cuda/linear_residual_cuda_test.cpp);
// an undefined residual is the plain linear; a residual of the wrong shape, dtype or device is
// refused with um::Error.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::bit_identical;
using test::random_tensor;

// True when both tensors have the same shape and the same float32 bits everywhere.
TEST(LinearResidual, IsExactlyAddOfLinear) {
  const Tensor x = random_tensor({2, 7, 13}, 1), w = random_tensor({9, 13}, 2);
  const Tensor b = random_tensor({9}, 3), r = random_tensor({2, 7, 9}, 4, -4.f, 4.f);
  const Tensor y = linear(x, w, b, r);
  ASSERT_EQ(y.shape(), (Shape{2, 7, 9}));
  EXPECT_TRUE(bit_identical(y, add(r, linear(x, w, b))));
  // The result really contains the residual (not just the linear).
  EXPECT_FALSE(bit_identical(y, linear(x, w, b)));
  // Without a bias, a single vector and a 2-D input.
  EXPECT_TRUE(bit_identical(linear(x, w, Tensor(), r), add(r, linear(x, w, Tensor()))));
  const Tensor v = random_tensor({13}, 5), rv = random_tensor({9}, 6);
  EXPECT_TRUE(bit_identical(linear(v, w, b, rv), add(rv, linear(v, w, b))));
  const Tensor x2 = random_tensor({5, 13}, 7), r2 = random_tensor({5, 9}, 8);
  EXPECT_TRUE(bit_identical(linear(x2, w, b, r2), add(r2, linear(x2, w, b))));
}

TEST(LinearResidual, StridedOperands) {
  const Tensor w = random_tensor({6, 11}, 10), b = random_tensor({6}, 11);
  // A transposed (non-contiguous) residual and a permuted 3-D input.
  const Tensor x = random_tensor({11, 4, 3}, 12).permute({1, 2, 0});  // [4, 3, 11]
  const Tensor r = random_tensor({4, 6, 3}, 13).transpose(1, 2);      // [4, 3, 6], strided
  ASSERT_FALSE(r.is_contiguous());
  EXPECT_TRUE(bit_identical(linear(x, w, b, r), add(r, linear(x, w, b))));
  // TinyViT's sizes at one stage: tokens [1, 64, 128] -> 128 (proj) on contiguous data.
  const Tensor xt = random_tensor({1, 64, 128}, 14), wt = random_tensor({128, 128}, 15);
  const Tensor bt = random_tensor({128}, 16), rt = random_tensor({1, 64, 128}, 17);
  EXPECT_TRUE(bit_identical(linear(xt, wt, bt, rt), add(rt, linear(xt, wt, bt))));
}

TEST(LinearResidual, UndefinedResidualIsThePlainLinear) {
  const Tensor x = random_tensor({3, 10}, 20), w = random_tensor({4, 10}, 21);
  const Tensor b = random_tensor({4}, 22);
  EXPECT_TRUE(bit_identical(linear(x, w, b, Tensor()), linear(x, w, b)));
  EXPECT_TRUE(bit_identical(linear(x, w, Tensor(), Tensor()), linear(x, w, Tensor())));
}

TEST(LinearResidual, NoInputFeaturesGivesResidualPlusBias) {
  const Tensor x = Tensor::empty({3, 0}), w = Tensor::empty({4, 0});
  const Tensor b = random_tensor({4}, 30), r = random_tensor({3, 4}, 31);
  const Tensor y = linear(x, w, b, r);
  ASSERT_EQ(y.shape(), (Shape{3, 4}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 4; ++j) {
      EXPECT_EQ(y.data<float>()[i * 4 + j], r.data<float>()[i * 4 + j] + b.data<float>()[j]);
    }
  // The plain linear with no input features is the bias on every row (or zeros).
  const Tensor plain = linear(x, w, b);
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(plain.data<float>()[i], b.data<float>()[i % 4]);
  const Tensor zero = linear(x, w, Tensor());
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(zero.data<float>()[i], 0.f);
}

TEST(LinearResidual, RejectsBadResidual) {
  const Tensor x = random_tensor({2, 5, 8}, 40), w = random_tensor({3, 8}, 41);
  const Tensor b = random_tensor({3}, 42);
  // Wrong shape: a different out size, a missing leading dim, a broadcastable [3] row.
  EXPECT_THROW((void)linear(x, w, b, random_tensor({2, 5, 4}, 43)), Error);
  EXPECT_THROW((void)linear(x, w, b, random_tensor({5, 3}, 44)), Error);
  EXPECT_THROW((void)linear(x, w, b, random_tensor({3}, 45)), Error);
  // Wrong dtype.
  EXPECT_THROW((void)linear(x, w, b, random_tensor({2, 5, 3}, 46).to(DType::kF16)), Error);
  // A bad weight is still reported with a residual present.
  EXPECT_THROW((void)linear(x, random_tensor({3, 7}, 47), b, random_tensor({2, 5, 3}, 48)),
               Error);
  try {
    (void)linear(x, w, b, random_tensor({2, 5, 4}, 49));
    FAIL() << "a residual of the wrong shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("residual"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("linear"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace um::nn
