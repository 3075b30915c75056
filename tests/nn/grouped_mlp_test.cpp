// grouped_mlp on the CPU (src/nn/grouped_mlp_cpu.cpp): each group's row must get exactly, bit for
// bit, what the unfused MLP gives it (nn::linear per layer, nn::relu between layers, none after
// the last), also for a strided x and a layer without bias; bad arguments are refused with
// um::Error naming them. The CUDA kernel is checked against this op in
// tests/cuda/grouped_mlp_cuda_test.cpp.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "core/status.h"
#include "mlp_test_stack.h"
#include "nn/ops.h"
#include "nn/ops_mlp.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::bit_identical;
using test::random_tensor;
using um::test::MlpStack;
using um::test::random_mlp_stack;

// The unfused sequence on row r (what SAM's Mlp runs on its [1, in] token).
Tensor unfused_row(const Tensor& x, const MlpStack& s, int64_t r) {
  Tensor y = x.select(0, r).unsqueeze(0);
  for (size_t i = 0; i < s.w.size(); ++i) {
    y = linear(y, s.w[i].select(0, r).contiguous(),
               s.b[i].defined() ? s.b[i].select(0, r).contiguous() : Tensor());
    if (i + 1 < s.w.size()) y = relu(y);
  }
  return y;
}

void expect_exact(const Tensor& x, const MlpStack& s, const std::string& what) {
  SCOPED_TRACE(what);
  const Tensor y = grouped_mlp(x, s.w, s.b);
  ASSERT_EQ(y.shape(), (Shape{x.size(0), s.w.back().size(1)}));
  EXPECT_TRUE(y.is_contiguous());
  for (int64_t r = 0; r < x.size(0); ++r) {
    EXPECT_TRUE(bit_identical(y.select(0, r).unsqueeze(0), unfused_row(x, s, r))) << "row " << r;
  }
}

TEST(GroupedMlp, IsExactlyTheUnfusedMlpPerRow) {
  // SAM's hypernetworks (4 x 256 -> 256 -> 256 -> 32) and IoU head (1 x 256 -> ... -> 4).
  expect_exact(random_tensor({4, 256}, 1, -3.f, 3.f),
               random_mlp_stack({256, 256, 256, 32}, 10, {.groups = 4}), "hypernetworks");
  expect_exact(random_tensor({1, 256}, 2, -3.f, 3.f),
               random_mlp_stack({256, 256, 256, 4}, 20, {.groups = 1}), "iou head");
  // Odd widths, one layer, a layer without bias.
  expect_exact(random_tensor({3, 13}, 3),
               random_mlp_stack({13, 9, 7, 5}, 30, {.groups = 3, .no_bias = {1}}),
               "odd widths, no bias in layer 1");
  expect_exact(random_tensor({2, 6}, 4), random_mlp_stack({6, 11}, 40, {.groups = 2}), "one layer");
}

TEST(GroupedMlp, ReadsStridedRows) {
  // The mask-token rows of a [1, 7, C] transformer output, and a column-strided view.
  const Tensor hs = random_tensor({1, 7, 24}, 5, -2.f, 2.f);
  const MlpStack s = random_mlp_stack({24, 16, 8}, 50, {.groups = 4});
  const Tensor rows = hs.slice(1, 1, 5).select(0, 0);  // [4, 24], row stride 24
  expect_exact(rows, s, "token rows");
  const Tensor wide = random_tensor({4, 48}, 6);
  const Tensor every_other = wide.view({4, 24, 2}).select(2, 1);  // [4, 24], column stride 2
  ASSERT_FALSE(every_other.is_contiguous());
  expect_exact(every_other, s, "column stride 2");
  EXPECT_TRUE(bit_identical(grouped_mlp(every_other, s.w, s.b),
                            grouped_mlp(every_other.contiguous(), s.w, s.b)));
}

TEST(GroupedMlp, ReluBetweenLayersOnly) {
  // Weights that make every hidden value negative: the ReLU zeroes them, so the output is the
  // last bias exactly; and the last layer's negative outputs are NOT clamped.
  const Tensor x = Tensor::full({2, 3}, 1.f);
  MlpStack s;
  s.w = {Tensor::full({2, 4, 3}, -1.f), Tensor::full({2, 2, 4}, 5.f)};
  s.b = {Tensor::full({2, 4}, 0.5f), Tensor::full({2, 2}, -7.f)};
  const Tensor y = grouped_mlp(x, s.w, s.b);
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], -7.f);
}

void expect_invalid(const std::function<void()>& f, const std::string& needle) {
  try {
    f();
    ADD_FAILURE() << "no error; expected one mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.status().code(), StatusCode::kInvalidArgument) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("grouped_mlp"), std::string::npos) << e.what();
  }
}

TEST(GroupedMlp, RejectsBadArgumentsNamingThem) {
  const Tensor x = random_tensor({4, 8}, 7);
  const MlpStack s = random_mlp_stack({8, 6, 2}, 70, {.groups = 4});
  expect_invalid([&] { grouped_mlp(Tensor(), s.w, s.b); }, "x is undefined");
  expect_invalid([&] { grouped_mlp(x.view({32}), s.w, s.b); }, "x must be [G, in]");
  expect_invalid([&] { grouped_mlp(x, {}, {}); }, "layers");
  expect_invalid([&] { grouped_mlp(x, s.w, {s.b[0]}); }, "biases");
  expect_invalid([&] { grouped_mlp(random_tensor({3, 8}, 8), s.w, s.b); }, "weights[0]");
  expect_invalid([&] { grouped_mlp(random_tensor({4, 7}, 8), s.w, s.b); }, "weights[0]");
  expect_invalid([&] { grouped_mlp(x, {s.w[0], random_tensor({4, 2, 5}, 9)}, s.b); }, "weights[1]");
  expect_invalid([&] { grouped_mlp(x, s.w, {s.b[0], random_tensor({4, 3}, 9)}); }, "biases[1]");
  expect_invalid([&] { grouped_mlp(x, {s.w[0].view({4, 48})}, {s.b[0]}); }, "weights[0]");
  expect_invalid([&] { grouped_mlp(x, {s.w[0].to(DType::kF16), s.w[1]}, s.b); }, "weights[0]");
  std::vector<Tensor> many_w(kGroupedMlpMaxLayers + 1), many_b(kGroupedMlpMaxLayers + 1);
  for (auto& w : many_w) w = random_tensor({4, 8, 8}, 11);
  expect_invalid([&] { grouped_mlp(x, many_w, many_b); }, "layers");
  expect_invalid(
      [&] {
        grouped_mlp(random_tensor({1, 2}, 12), {random_tensor({1, kGroupedMlpMaxWidth + 1, 2}, 13)},
                    {Tensor()});
      },
      "width");
  // float32 parameters on a float16 x pass the checks but are CUDA-only: refused on the CPU.
  EXPECT_THROW(grouped_mlp(x.to(DType::kF16), s.w, s.b), Error);
  // float16 on the CPU: refused (the CPU op is float32).
  EXPECT_THROW(grouped_mlp(x.to(DType::kF16), {s.w[0].to(DType::kF16)}, {s.b[0].to(DType::kF16)}),
               Error);
}

}  // namespace
}  // namespace um::nn
