// The decoder's mixed-precision fusions (nn/ops_dfine.h: add_mixed, add_mixed2, add_layer_norm,
// gated_sum, gated_sum_layer_norm) on the CPU: each must be exactly the op sequence the D-FINE
// decoder ran before the fusion (bit for bit) and agree with an independent per-element loop; bad arguments
// are refused with um::Error naming the problem. The CUDA kernels are checked against these ops
// in tests/cuda/dfine_mixed_cuda_test.cpp.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/status.h"
#include "nn/ops.h"
#include "nn/ops_dfine.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::max_abs_diff;
using test::bit_identical;
using test::random_tensor;

// What Decoder::Layer ran before: sigmoid, split, two muls, add.
Tensor unfused_gate(const Tensor& g, const Tensor& x1, const Tensor& x2) {
  const Tensor s = sigmoid(g);
  const int64_t e = x1.size(-1);
  const auto gs = split(s, {e, e}, s.dim() - 1);
  return add(mul(gs[0], x1), mul(gs[1], x2));
}

// Independent: the gate per element in double.
Tensor naive_gate(const Tensor& g, const Tensor& x1, const Tensor& x2) {
  const int64_t e = x1.size(-1), rows = x1.numel() / e;
  Tensor y = Tensor::empty(x1.shape());
  const Tensor gc = g.contiguous(), ac = x1.contiguous(), bc = x2.contiguous();
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < e; ++c) {
      const double s1 = 1.0 / (1.0 + std::exp(-double(gc.data<float>()[r * 2 * e + c])));
      const double s2 = 1.0 / (1.0 + std::exp(-double(gc.data<float>()[r * 2 * e + e + c])));
      y.data<float>()[r * e + c] = static_cast<float>(s1 * ac.data<float>()[r * e + c] +
                                                      s2 * bc.data<float>()[r * e + c]);
    }
  }
  return y;
}

TEST(AddMixed, IsExactlyAdd) {
  const Tensor a = random_tensor({2, 30, 16}, 1), b = random_tensor({2, 30, 16}, 2, -10.f, 10.f);
  EXPECT_TRUE(bit_identical(add_mixed(a, b, DType::kF32), add(a, b)));
  // A float16 result is the float32 sum rounded once.
  const Tensor h = add_mixed(a, b, DType::kF16);
  EXPECT_EQ(h.dtype(), DType::kF16);
  EXPECT_TRUE(bit_identical(h, add(a, b).to(DType::kF16)));
  // Strided operands.
  const Tensor at = random_tensor({2, 16, 30}, 3).transpose(1, 2);
  ASSERT_FALSE(at.is_contiguous());
  EXPECT_TRUE(bit_identical(add_mixed(at, b, DType::kF32), add(at, b)));
  EXPECT_LE(max_abs_diff(add_mixed(at, b, DType::kF32), add(at.contiguous(), b)), 0.f);
}

TEST(AddMixed, RejectsBadArguments) {
  const Tensor a = random_tensor({2, 3, 4}, 10), b = random_tensor({2, 3, 4}, 11);
  EXPECT_THROW((void)add_mixed(a, random_tensor({3, 4}, 12), DType::kF32), Error);  // no bcast
  EXPECT_THROW((void)add_mixed(a, b, DType::kI64), Error);
  EXPECT_THROW((void)add_mixed(Tensor(), b, DType::kF32), Error);
  EXPECT_THROW((void)add_mixed(a, Tensor::zeros({2, 3, 4}, DType::kI64), DType::kF32), Error);
  EXPECT_THROW((void)add_mixed(a, b.to(DType::kF16), DType::kF32), Error);  // CPU: float32 only
  try {
    (void)add_mixed(a, random_tensor({2, 3, 5}, 13), DType::kF32);
    FAIL() << "mismatched shapes were accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("add_mixed"), std::string::npos) << e.what();
  }
}

TEST(AddMixed, ClampedFormIsAddOfClamp) {
  const Tensor a = random_tensor({1, 30, 16}, 14), b = random_tensor({1, 30, 16}, 15, -20.f, 20.f);
  const Tensor cb = clamp(b, -10.f, 10.f);
  EXPECT_TRUE(bit_identical(add_mixed(a, b, DType::kF32, -10.f, 10.f), add(a, cb)));
  EXPECT_FALSE(bit_identical(add_mixed(a, b, DType::kF32, -10.f, 10.f), add(a, b)));
  const auto [p, q] = add_mixed2(a, b, DType::kF32, DType::kF16, -10.f, 10.f);
  EXPECT_TRUE(bit_identical(p, add(a, cb)));
  EXPECT_TRUE(bit_identical(q, add(a, cb).to(DType::kF16)));
  // Unbounded: the plain sum.
  EXPECT_TRUE(bit_identical(add_mixed(a, b, DType::kF32, -INFINITY, INFINITY), add(a, b)));
  EXPECT_THROW((void)add_mixed(a, b, DType::kF32, 1.f, -1.f), Error);
  EXPECT_THROW((void)add_mixed2(a, b, DType::kF32, DType::kF32, 1.f, -1.f), Error);
}

TEST(AddMixed2, IsAddRoundedTwice) {
  const Tensor a = random_tensor({1, 30, 16}, 5), b = random_tensor({1, 30, 16}, 6, -10.f, 10.f);
  const auto [y32, y16] = add_mixed2(a, b, DType::kF32, DType::kF16);
  EXPECT_TRUE(bit_identical(y32, add(a, b)));
  EXPECT_TRUE(bit_identical(y16, add(a, b).to(DType::kF16)));
  const auto [p, q] = add_mixed2(a, b, DType::kF32, DType::kF32);
  EXPECT_TRUE(bit_identical(p, add(a, b)));
  EXPECT_TRUE(bit_identical(q, add(a, b)));
  EXPECT_THROW((void)add_mixed2(a, random_tensor({1, 30, 15}, 7), DType::kF32, DType::kF16),
               Error);
  EXPECT_THROW((void)add_mixed2(a, b, DType::kF32, DType::kU8), Error);
}

TEST(AddLayerNorm, IsExactlyAddThenLayerNorm) {
  const Tensor a = random_tensor({2, 9, 24}, 8), b = random_tensor({2, 9, 24}, 9, -3.f, 3.f);
  const Tensor w = random_tensor({24}, 10, 0.5f, 1.5f), bias = random_tensor({24}, 11);
  const Tensor ref = layer_norm(add(a, b), w, bias, 1e-5f);
  EXPECT_TRUE(bit_identical(add_layer_norm(a, b, w, bias, 1e-5f, DType::kF32), ref));
  EXPECT_TRUE(bit_identical(add_layer_norm(a, b, w, bias, 1e-5f, DType::kF16),
                            ref.to(DType::kF16)));
  EXPECT_TRUE(bit_identical(add_layer_norm(a, b, Tensor(), Tensor(), 1e-5f, DType::kF32),
                            layer_norm(add(a, b), Tensor(), Tensor(), 1e-5f)));
  // Independent: per-row mean 0 and variance ~1 without the affine.
  const Tensor n = add_layer_norm(a, b, Tensor(), Tensor(), 1e-5f, DType::kF32);
  for (int64_t r = 0; r < 18; ++r) {
    double m = 0, v = 0;
    for (int64_t c = 0; c < 24; ++c) m += n.data<float>()[r * 24 + c];
    for (int64_t c = 0; c < 24; ++c) v += std::pow(n.data<float>()[r * 24 + c] - m / 24, 2);
    EXPECT_NEAR(m / 24, 0.0, 1e-5);
    EXPECT_NEAR(v / 24, 1.0, 1e-3);
  }
  EXPECT_THROW((void)add_layer_norm(a, random_tensor({2, 9, 23}, 12), w, bias, 1e-5f,
                                    DType::kF32),
               Error);
  EXPECT_THROW((void)add_layer_norm(a, b, random_tensor({23}, 13), bias, 1e-5f, DType::kF32),
               Error);
  EXPECT_THROW((void)add_layer_norm(a, b, w, bias, -1.f, DType::kF32), Error);
  EXPECT_THROW((void)add_layer_norm(a, b.to(DType::kF16), w, bias, 1e-5f, DType::kF32), Error);
}

TEST(GatedSum, IsExactlyTheUnfusedGate) {
  const Tensor g = random_tensor({2, 7, 24}, 20, -4.f, 4.f);
  const Tensor x1 = random_tensor({2, 7, 12}, 21), x2 = random_tensor({2, 7, 12}, 22, -3.f, 3.f);
  const Tensor y = gated_sum(g, x1, x2, DType::kF32);
  EXPECT_TRUE(bit_identical(y, unfused_gate(g, x1, x2)));
  EXPECT_LE(max_abs_diff(y, naive_gate(g, x1, x2)), 1e-6f);
  EXPECT_TRUE(bit_identical(gated_sum(g, x1, x2, DType::kF16),
                            unfused_gate(g, x1, x2).to(DType::kF16)));
  // 2-D rows and a strided x2.
  const Tensor x2t = random_tensor({12, 14}, 23).transpose(0, 1);
  EXPECT_TRUE(bit_identical(gated_sum(g.view({14, 24}), x1.view({14, 12}), x2t, DType::kF32),
                            unfused_gate(g.view({14, 24}), x1.view({14, 12}), x2t)));
}

TEST(GatedSumLayerNorm, IsExactlyGateThenLayerNorm) {
  const Tensor g = random_tensor({1, 9, 32}, 30, -4.f, 4.f);
  const Tensor x1 = random_tensor({1, 9, 16}, 31), x2 = random_tensor({1, 9, 16}, 32);
  const Tensor w = random_tensor({16}, 33, 0.5f, 1.5f), b = random_tensor({16}, 34);
  const Tensor ref = layer_norm(unfused_gate(g, x1, x2), w, b, 1e-5f);
  const Tensor y = gated_sum_layer_norm(g, x1, x2, w, b, 1e-5f, DType::kF32);
  EXPECT_TRUE(bit_identical(y, ref));
  EXPECT_LE(max_abs_diff(y, layer_norm(naive_gate(g, x1, x2), w, b, 1e-5f)), 1e-5f);
  EXPECT_TRUE(bit_identical(gated_sum_layer_norm(g, x1, x2, Tensor(), Tensor(), 1e-5f,
                                                 DType::kF32),
                            layer_norm(unfused_gate(g, x1, x2), Tensor(), Tensor(), 1e-5f)));
  EXPECT_TRUE(bit_identical(gated_sum_layer_norm(g, x1, x2, w, b, 1e-5f, DType::kF16),
                            ref.to(DType::kF16)));
  // The norm ran: each row has mean ~0 without the affine.
  const Tensor n = gated_sum_layer_norm(g, x1, x2, Tensor(), Tensor(), 1e-5f, DType::kF32);
  for (int64_t r = 0; r < 9; ++r) {
    double m = 0;
    for (int64_t c = 0; c < 16; ++c) m += n.data<float>()[r * 16 + c];
    EXPECT_NEAR(m / 16, 0.0, 1e-5);
  }
}

TEST(GatedSum, RejectsBadArguments) {
  const Tensor g = random_tensor({2, 5, 8}, 40), x1 = random_tensor({2, 5, 4}, 41);
  const Tensor x2 = random_tensor({2, 5, 4}, 42), w = random_tensor({4}, 43);
  EXPECT_THROW((void)gated_sum(random_tensor({2, 5, 7}, 44), x1, x2, DType::kF32), Error);
  EXPECT_THROW((void)gated_sum(random_tensor({2, 6, 8}, 45), x1, x2, DType::kF32), Error);
  EXPECT_THROW((void)gated_sum(random_tensor({10, 8}, 46), x1, x2, DType::kF32), Error);
  EXPECT_THROW((void)gated_sum(g, x1, random_tensor({2, 5, 3}, 47), DType::kF32), Error);
  EXPECT_THROW((void)gated_sum(g, x1, x2, DType::kI64), Error);
  EXPECT_THROW((void)gated_sum(g, Tensor(), x2, DType::kF32), Error);
  EXPECT_THROW((void)gated_sum(g.to(DType::kF16), x1, x2, DType::kF32), Error);  // CPU: float32
  EXPECT_THROW((void)gated_sum_layer_norm(g, x1, x2, random_tensor({5}, 48), Tensor(), 1e-5f,
                                          DType::kF32),
               Error);
  EXPECT_THROW((void)gated_sum_layer_norm(g, x1, x2, w, random_tensor({2, 2}, 49), 1e-5f,
                                          DType::kF32),
               Error);
  EXPECT_THROW((void)gated_sum_layer_norm(g, x1, x2, w, w, 0.f, DType::kF32), Error);
  try {
    (void)gated_sum(random_tensor({2, 5, 7}, 50), x1, x2, DType::kF32);
    FAIL() << "a gate of the wrong width was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("2 * E"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace um::nn
