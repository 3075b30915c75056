// GPU tests of the fused float16 linear + exact-GELU kernel (src/nn/linear_gelu_cuda.cu) behind
// nn::linear_act(x, w, b, Activation::kGELU) on CUDA: TinyViT's three MLP shapes, row and column
// tails (M not a multiple of the 128-row tile, N not a multiple of the 64-feature tile, K not a
// multiple of the 32-wide step), leading batch dims, a strided view the kernel takes, inputs it
// must leave to the general path (which must still be right), and a capture into a CUDA graph.
// References: the CPU op on the same float16-rounded operands (float32 math, the model's
// reference) and the unfused GPU sequence nn::gelu(nn::linear(...)).
// Tolerances, relative to the reference's scale max(1, max |ref|): the fused kernel rounds its
// float32 result once (unit roundoff 4.9e-4); the float32 sums differ only in order (K <= 320):
// 2e-3 against the CPU. The unfused GPU path rounds the GEMM's output before the GELU and again
// after it: 2e-3 between the two GPU paths as well. A wrong fragment mapping, tile offset or
// mask gives errors of the order of the scale itself.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/status.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "nn/linear_gelu_cuda.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"

namespace um {
namespace {

using nn::Activation;
using nn::detail::linear_gelu_f16_supported;
using test::GraphReplay;
using test::f16_rounded;
using test::random_cpu;
using test::to_gpu;

constexpr float kTol = 2e-3f;

// Float16-rounded operands of one case (float32 CPU tensors) and their float16 GPU copies.
// Weights scaled by 1/sqrt(K) (like a trained layer) keep the pre-activations O(1), so both
// signs of the GELU's input and its curved part around 0 are exercised.
struct Operands {
  Tensor x, w, b;     // CPU, float32 holding float16 values
  Tensor xg, wg, bg;  // GPU, float16
};
Operands make_operands(const Shape& x_shape, int64_t n, bool with_bias, uint32_t seed) {
  const int64_t k = x_shape.back();
  const float a = 2.f / std::sqrt(static_cast<float>(k));
  Operands o;
  o.x = f16_rounded(random_cpu(x_shape, seed, -1.5f, 1.5f));
  o.w = f16_rounded(random_cpu({n, k}, seed + 1, -a, a));
  if (with_bias) o.b = f16_rounded(random_cpu({n}, seed + 2, -0.5f, 0.5f));
  o.xg = to_gpu(o.x, DType::kF16);
  o.wg = to_gpu(o.w, DType::kF16);
  if (with_bias) o.bg = to_gpu(o.b, DType::kF16);
  return o;
}

// The fused op against the CPU reference and the unfused GPU sequence; `fused` says whether the
// fused kernel must take these operands (checked, so a test of the kernel cannot silently run
// the general path, and a fallback case cannot silently run the kernel).
void expect_gelu_linear_matches(const Tensor& xg, const Tensor& x_cpu, const Operands& o,
                                bool fused, const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(linear_gelu_f16_supported(xg, o.wg, o.bg), fused);
  const Tensor y = nn::linear_act(xg, o.wg, o.bg, Activation::kGELU);
  ASSERT_EQ(y.dtype(), DType::kF16);
  EXPECT_TRUE(y.is_contiguous());
  const Tensor ref = nn::linear_act(x_cpu, o.w, o.b, Activation::kGELU);
  EXPECT_GPU_NEAR(y, ref, kTol);
  const Tensor unfused = nn::gelu(nn::linear(xg, o.wg, o.bg));
  EXPECT_GPU_NEAR(y, test::to_cpu_f32(unfused), kTol);
}

void expect_case(int64_t m, int64_t k, int64_t n, bool with_bias, uint32_t seed) {
  const Operands o = make_operands({m, k}, n, with_bias, seed);
  expect_gelu_linear_matches(o.xg, o.x, o, /*fused=*/true,
                             "M=" + std::to_string(m) + " K=" + std::to_string(k) +
                                 " N=" + std::to_string(n) + (with_bias ? " bias" : " no bias"));
}

TEST(LinearGeluCuda, TinyVitShapes) {
  UM_REQUIRE_CUDA();
  // [1, tokens, C] -> [1, tokens, 4C], as TinyViT's Block calls fc1.
  const int64_t shapes[3][3] = {{16384, 128, 512}, {4096, 160, 640}, {4096, 320, 1280}};
  uint32_t seed = 100;
  for (const auto& s : shapes) {
    const Operands o = make_operands({1, s[0], s[1]}, s[2], /*with_bias=*/true, seed += 10);
    expect_gelu_linear_matches(o.xg, o.x, o, true,
                               "TinyViT M=" + std::to_string(s[0]) + " K=" + std::to_string(s[1]));
  }
}

TEST(LinearGeluCuda, RowColumnAndKTails) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 200;
  for (int64_t m : {1, 37, 4097}) {
    for (int64_t n : {8, 72}) {
      for (int64_t k : {16, 32, 48}) expect_case(m, k, n, /*with_bias=*/true, seed += 10);
    }
  }
  // K not a multiple of 16 or 32 (zero-filled chunks), no bias, N of several column tiles with a
  // partial last one, M one past a row tile.
  expect_case(129, 24, 136, /*with_bias=*/false, 300);
  expect_case(37, 40, 200, /*with_bias=*/true, 310);
  expect_case(128, 8, 64, /*with_bias=*/false, 320);
  expect_case(255, 160, 640, /*with_bias=*/false, 330);
}

TEST(LinearGeluCuda, LeadingDimsAndRowStride) {
  UM_REQUIRE_CUDA();
  {
    const Operands o = make_operands({2, 37, 48}, 72, true, 400);
    expect_gelu_linear_matches(o.xg, o.x, o, true, "[2, 37, 48]");
    const Tensor y = nn::linear_act(o.xg, o.wg, o.bg, Activation::kGELU);
    EXPECT_EQ(shape_str(y.shape()), shape_str(Shape{2, 37, 72}));
  }
  {
    // A single vector [K] and a [1, 1, K] token.
    const Operands o = make_operands({48}, 16, true, 410);
    expect_gelu_linear_matches(o.xg, o.x, o, true, "[48]");
    const Operands t = make_operands({1, 1, 32}, 24, true, 420);
    expect_gelu_linear_matches(t.xg, t.x, t, true, "[1, 1, 32]");
  }
  {
    // Every other row of a [2 * 37, 48] block: row stride 96 (a multiple of 8), taken in place.
    const Operands o = make_operands({74, 48}, 72, true, 430);
    const Tensor xg = o.xg.view({37, 2, 48}).select(1, 0);
    const Tensor xc = o.x.view({37, 2, 48}).select(1, 0);
    ASSERT_FALSE(xg.is_contiguous());
    expect_gelu_linear_matches(xg, xc, o, true, "row stride 96");
  }
}

TEST(LinearGeluCuda, UnsupportedLayoutsFallBack) {
  UM_REQUIRE_CUDA();
  // Row stride 52 (not a multiple of 8): the first 48 columns of a [37, 52] block.
  {
    const Operands o = make_operands({37, 52}, 72, true, 500);
    const Operands w = make_operands({1, 48}, 72, true, 501);  // weight [72, 48] and bias
    const Tensor xg = o.xg.slice(1, 0, 48), xc = o.x.slice(1, 0, 48);
    expect_gelu_linear_matches(xg, xc, w, false, "row stride 52");
  }
  // A start 2 bytes past 16-byte alignment: a contiguous [37, 48] view at element offset 1.
  {
    const Operands o = make_operands({37 * 48 + 1}, 72, true, 510);
    const Operands w = make_operands({1, 48}, 72, true, 511);
    const Tensor xg = o.xg.slice(0, 1, 37 * 48 + 1).view({37, 48});
    const Tensor xc = o.x.slice(0, 1, 37 * 48 + 1).view({37, 48});
    expect_gelu_linear_matches(xg, xc, w, false, "unaligned start");
  }
  // A transposed x (last dim strided).
  {
    const Operands o = make_operands({48, 37}, 72, true, 520);
    const Operands w = make_operands({1, 48}, 72, true, 521);
    expect_gelu_linear_matches(o.xg.transpose(0, 1), o.x.transpose(0, 1), w, false, "transposed");
  }
  // K = 20 (not a multiple of 8) and N = 20 (not a multiple of 8).
  {
    const Operands o = make_operands({37, 20}, 72, true, 530);
    expect_gelu_linear_matches(o.xg, o.x, o, false, "K=20");
    const Operands p = make_operands({37, 48}, 20, true, 540);
    expect_gelu_linear_matches(p.xg, p.x, p, false, "N=20");
  }
  // float32 and other activations never take the float16 GELU kernel.
  {
    const Operands o = make_operands({37, 48}, 72, true, 550);
    const Tensor x32 = to_gpu(o.x), w32 = to_gpu(o.w), b32 = to_gpu(o.b);
    EXPECT_FALSE(linear_gelu_f16_supported(x32, w32, b32));
    EXPECT_GPU_NEAR(nn::linear_act(x32, w32, b32, Activation::kGELU),
                    nn::linear_act(o.x, o.w, o.b, Activation::kGELU), 1e-5f);
  }
  // A bad weight still reports the general path's error.
  {
    const Operands o = make_operands({37, 48}, 72, true, 560);
    const Tensor bad_w = to_gpu(random_cpu({72, 40}, 561), DType::kF16);
    EXPECT_THROW(nn::linear_act(o.xg, bad_w, o.bg, Activation::kGELU), Error);
  }
}

TEST(LinearGeluCuda, GraphReplay) {
  UM_REQUIRE_CUDA();
  const Operands o = make_operands({1, 4096, 160}, 640, true, 600);
  ASSERT_TRUE(linear_gelu_f16_supported(o.xg, o.wg, o.bg));
  GraphReplay replay;
  const Tensor y =
      replay.run([&] { return nn::linear_act(o.xg, o.wg, o.bg, Activation::kGELU); },
                 "linear_act gelu f16");
  ASSERT_TRUE(replay.ok());
  EXPECT_GPU_NEAR(y, nn::linear_act(o.x, o.w, o.b, Activation::kGELU), kTol);
}

}  // namespace
}  // namespace um
