// nn::mlp on the CPU (src/nn/mlp_cpu.cpp): one MLP over every row of x must give exactly, bit for
// bit, the sequence the D-FINE heads ran before the op (nn::linear_act with ReLU per hidden layer,
// nn::linear with the residual last), for 2-D and 3-D rows, a layer without bias, a strided x;
// bad arguments are refused with um::Error naming them. The CUDA kernel is checked against this
// op in tests/cuda/mlp_cuda_test.cpp.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "mlp_test_stack.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"
#include "nn/ops_mlp.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::bit_identical;
using test::random_tensor;
using um::test::MlpStack;
using um::test::random_mlp_stack;

Tensor sequence(const Tensor& x, const MlpStack& s, const Tensor& residual) {
  Tensor y = x;
  for (size_t i = 0; i + 1 < s.w.size(); ++i) y = linear_act(y, s.w[i], s.b[i], Activation::kReLU);
  return linear(y, s.w.back(), s.b.back(), residual);
}

TEST(Mlp, BitIdenticalToTheLayerSequence) {
  const MlpStack bbox = random_mlp_stack({256, 256, 256, 132}, 1);
  const Tensor x = random_tensor({1, 300, 256}, 2, -2.f, 2.f);
  const Tensor corners = random_tensor({1, 300, 132}, 3);
  const Tensor y = mlp(x, bbox.w, bbox.b, corners);
  EXPECT_EQ(y.shape(), (Shape{1, 300, 132}));
  EXPECT_TRUE(bit_identical(y, sequence(x, bbox, corners)));
  EXPECT_TRUE(bit_identical(mlp(x, bbox.w, bbox.b), sequence(x, bbox, Tensor())));

  const MlpStack pos = random_mlp_stack({4, 512, 256}, 4);
  const Tensor ref = random_tensor({300, 4}, 5, 0.f, 1.f);
  EXPECT_TRUE(bit_identical(mlp(ref, pos.w, pos.b), sequence(ref, pos, Tensor())));

  const MlpStack odd = random_mlp_stack({13, 9, 7, 5}, 6, {.no_bias = {1}});
  const Tensor wide = random_tensor({7, 26}, 7);
  const Tensor strided = wide.view({7, 13, 2}).select(2, 1);  // column stride 2
  EXPECT_TRUE(bit_identical(mlp(strided, odd.w, odd.b), sequence(strided, odd, Tensor())));

  const MlpStack one = random_mlp_stack({8, 3}, 8);
  const Tensor r1 = random_tensor({5, 3}, 9);
  EXPECT_TRUE(bit_identical(mlp(random_tensor({5, 8}, 10), one.w, one.b, r1),
                            sequence(random_tensor({5, 8}, 10), one, r1)));
}

TEST(Mlp, ReluBetweenLayersOnly) {
  // Every hidden value negative -> ReLU 0 -> the output is the last bias (not clamped to 0).
  const Tensor y = mlp(Tensor::full({2, 16}, 1.f), {Tensor::full({8, 16}, -1.f), Tensor::full({4, 8}, 5.f)},
                       {Tensor::full({8}, 0.5f), Tensor::full({4}, -7.f)});
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], -7.f);
}

TEST(Mlp, RefusesBadArguments) {
  const MlpStack s = random_mlp_stack({8, 6, 4}, 11);
  const Tensor x = random_tensor({3, 8}, 12);
  auto expect_error = [](const std::function<void()>& f, const std::string& needle) {
    try {
      f();
      ADD_FAILURE() << "no error, expected one naming '" << needle << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error([&] { mlp(Tensor(), s.w, s.b); }, "x is undefined");
  expect_error([&] { mlp(x, {}, {}); }, "layers");
  expect_error([&] { mlp(x, s.w, {s.b[0]}); }, "biases");
  expect_error([&] { mlp(random_tensor({3, 7}, 13), s.w, s.b); }, "weights[0]");
  expect_error([&] { mlp(x, {s.w[0], random_tensor({4, 5}, 14)}, s.b); }, "weights[1]");
  expect_error([&] { mlp(x, s.w, {s.b[0], random_tensor({5}, 15)}); }, "biases[1]");
  expect_error([&] { mlp(x, s.w, s.b, random_tensor({3, 5}, 16)); }, "residual");
  expect_error([&] { mlp(x, {s.w[0].to(DType::kF16), s.w[1]}, s.b); }, "weights[0]");
}

}  // namespace
}  // namespace um::nn
