// GPU tests of the fused tensor-core attention (src/nn/attention_mma_cuda.cu: float16, head dim
// 32, no bias; the warp core of attention_mma_warp.cuh) and of the dispatch that picks it: the
// path forced through attention_cuda_with_path(..., AttentionPath::kMma) against the CPU
// reference op (float16-rounded inputs on both sides, kF16Tol of the output's scale) and against
// the GEMM path it replaces for D-FINE (both round P to float16 before P v: they agree far
// tighter than the CPU tolerance); key counts around the 16-key steps, the one-/two-pass
// boundary (64 keys) and the key split over 2 or 4 warps, very negative scores, query counts around the 64-row blocks, D-FINE's head views of its packed
// projections read in place, the heads-merged output layout, large scores, what it refuses, the
// automatic dispatch, and a capture into a CUDA graph.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "attention_test_util.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "nn/attention_cuda.h"
#include "nn/ops.h"

namespace um {
namespace {

using test::GraphReplay;
using namespace attention_test;  // attention_test_util.h

// The fused kernel vs the GEMM path: both float16 P, float32 accumulation; they differ by the
// exp approximation, the summation order and the final rounding (about a float16 ulp).
constexpr float kVsGemmTol = 2e-3f;

// Contiguous random q, k, v: the kernel forced vs the CPU op and vs the GEMM path; the output
// is the [B, H, Lq, D] view of a [B, Lq, H, D] tensor.
void expect_mma(const Case& c, uint32_t seed, float qk_range = 2.f) {
  SCOPED_TRACE(c.label());
  const AttentionOperands o = make_attention_operands(c, seed, Tensor(), DType::kF16, qk_range);
  const Tensor y = attention_cuda_with_path(o.qg, o.kg, o.vg, Tensor(), o.scale,
                                            AttentionPath::kMma);
  EXPECT_EQ(y.dtype(), DType::kF16);
  EXPECT_EQ(shape_str(y.shape()), shape_str(Shape{c.b, c.h, c.lq, c.d}));
  EXPECT_TRUE(y.permute({0, 2, 1, 3}).is_contiguous()) << "heads not merged in storage";
  EXPECT_LE(rel_err(y, o.ref), kF16Tol);
  const Tensor gemm = attention_cuda_with_path(o.qg, o.kg, o.vg, Tensor(), o.scale,
                                               AttentionPath::kGemm);
  EXPECT_LE(rel_err(y, to_cpu_f32(gemm)), kVsGemmTol);
}

TEST(AttentionMmaCuda, KeyCountsAroundTheSteps) {
  UM_REQUIRE_CUDA();
  // 1..4 steps run the one-pass variant (compile-time steps), more the two-pass one with the keys
  // split over 2 warps per row group (5..8 steps) or 4 (9 and more; 9 steps leave the 4th warp
  // no key at all); zero key rows pad the last step.
  uint32_t seed = 100;
  for (int64_t lk : {1, 7, 15, 16, 17, 33, 48, 63, 64, 65, 80, 129, 300, 400, 511, 512}) {
    expect_mma({2, 3, 49, lk, 32}, seed);
    seed += 10;
  }
}

TEST(AttentionMmaCuda, QueryCountsAroundTheBlocks) {
  UM_REQUIRE_CUDA();
  // A block takes 64 rows in 4 warps of 16: one row, a partial warp, a partial block, several.
  uint32_t seed = 300;
  for (int64_t lq : {1, 5, 16, 17, 63, 64, 65, 130, 300}) {
    expect_mma({1, 2, lq, 70, 32}, seed);
    seed += 10;
  }
}

TEST(AttentionMmaCuda, DFineShapesAndLargeScores) {
  UM_REQUIRE_CUDA();
  expect_mma({1, 8, 300, 300, 32}, 400);  // the decoder's self-attention
  expect_mma({1, 8, 400, 400, 32}, 410);  // the encoder's AIFI (20 x 20 tokens)
  // |q|, |k| up to 6: scores up to ~200 after the scale; the max-subtracted exponent must not
  // overflow or lose the rows.
  expect_mma({2, 4, 100, 120, 32}, 420, 6.f);
}

// Every score of a row equal and very negative (q = 6, k = -6: -204 after the scale, -294 in
// the kernel's log2 units): the rows' max must come out of the key shares' statistics without
// overflow, also when a share has no key (129 keys: 9 steps over 4 warps); the softmax is
// uniform, the output the mean of v.
TEST(AttentionMmaCuda, VeryNegativeScoresAndAnEmptyKeyShare) {
  UM_REQUIRE_CUDA();
  for (int64_t lk : {80, 129, 300}) {
    SCOPED_TRACE("Lk " + std::to_string(lk));
    const Tensor q = Tensor::full({1, 2, 20, 32}, 6.f);
    const Tensor k = Tensor::full({1, 2, lk, 32}, -6.f);
    const Tensor v = f16_rounded(random_cpu({1, 2, lk, 32}, 450));
    const float scale = 1.f / std::sqrt(32.f);
    const Tensor ref = nn::scaled_dot_product_attention(q, k, v, Tensor(), scale);
    const Tensor y = attention_cuda_with_path(to_gpu(q, DType::kF16), to_gpu(k, DType::kF16),
                                              to_gpu(v, DType::kF16), Tensor(), scale,
                                              AttentionPath::kMma);
    EXPECT_LE(rel_err(y, ref), kF16Tol);
  }
}

// D-FINE's decoder: q and k are the two halves of one [B, L, 2E] projection, v its own [B, L, E]
// one; the heads are strided views of them (no copies), and the dispatch picks this kernel.
TEST(AttentionMmaCuda, PackedProjectionViewsInPlace) {
  UM_REQUIRE_CUDA();
  for (int64_t b : {1, 2}) {
    SCOPED_TRACE("B " + std::to_string(b));
    const int64_t l = 300, e = 256, nh = 8, hd = 32;
    const Tensor qk = f16_rounded(random_cpu({b, l, 2 * e}, 500 + static_cast<uint32_t>(b)));
    const Tensor vv = f16_rounded(random_cpu({b, l, e}, 510 + static_cast<uint32_t>(b)));
    auto heads = [&](const Tensor& t, int64_t first) {
      const Tensor s = t.slice(2, first, first + e);
      return Tensor(s.storage(), {b, nh, l, hd}, {s.strides()[0], hd, s.strides()[1], 1},
                    s.offset(), s.dtype());
    };
    const float scale = 1.f / std::sqrt(32.f);
    const Tensor ref = nn::scaled_dot_product_attention(heads(qk, 0), heads(qk, e),
                                                        heads(vv, 0), Tensor(), scale);
    const Tensor qkg = to_gpu(qk, DType::kF16), vg = to_gpu(vv, DType::kF16);
    const Tensor q = heads(qkg, 0), k = heads(qkg, e), v = heads(vg, 0);
    ASSERT_EQ(attention_cuda_auto_path(q, k, v), AttentionPath::kMma);
    const Tensor y = nn::scaled_dot_product_attention(q, k, v, Tensor(), scale);
    EXPECT_LE(rel_err(y, ref), kF16Tol);
    // The caller's merge back to [B, L, E] is a view: no copy kernel.
    EXPECT_TRUE(y.permute({0, 2, 1, 3}).is_contiguous());
  }
}

TEST(AttentionMmaCuda, AutomaticDispatch) {
  UM_REQUIRE_CUDA();
  auto path_of = [](const Shape& qs, const Shape& ks, DType dt, bool bias) {
    const Tensor q = Tensor::empty(qs, dt, Device::cuda());
    const Tensor k = Tensor::empty(ks, dt, Device::cuda());
    const Tensor b = bias ? Tensor::empty({1, qs[1], qs[2], ks[2]}, dt, Device::cuda()) : Tensor();
    return attention_cuda_auto_path(q, k, k, b);
  };
  const DType f16 = DType::kF16, f32 = DType::kF32;
  // D-FINE's self-attentions (8 heads x 300 / 400 rows): this kernel; with a bias the GEMM path.
  EXPECT_EQ(path_of({1, 8, 300, 32}, {1, 8, 300, 32}, f16, false), AttentionPath::kMma);
  EXPECT_EQ(path_of({1, 8, 400, 32}, {1, 8, 400, 32}, f16, false), AttentionPath::kMma);
  EXPECT_EQ(path_of({1, 8, 300, 32}, {1, 8, 300, 32}, f16, true), AttentionPath::kGemm);
  // 512 keys qualify, 513 do not; 1024 score rows qualify, 1023 do not (the GEMM path wants
  // 1024 too: the tiled kernel; SAM's 8 x 7 token self-attention stays there); float32 and head
  // dim 16 never.
  EXPECT_EQ(path_of({1, 2, 512, 32}, {1, 2, 512, 32}, f16, false), AttentionPath::kMma);
  EXPECT_EQ(path_of({1, 2, 512, 32}, {1, 2, 513, 32}, f16, false), AttentionPath::kGemm);
  EXPECT_EQ(path_of({1, 1, 1023, 32}, {1, 1, 40, 32}, f16, false), AttentionPath::kTiled);
  EXPECT_EQ(path_of({1, 1, 1024, 32}, {1, 1, 40, 32}, f16, false), AttentionPath::kMma);
  EXPECT_EQ(path_of({1, 8, 7, 32}, {1, 8, 7, 32}, f16, false), AttentionPath::kTiled);
  EXPECT_EQ(path_of({1, 8, 300, 32}, {1, 8, 300, 32}, f32, false), AttentionPath::kTiled);
  EXPECT_EQ(path_of({1, 8, 300, 16}, {1, 8, 300, 16}, f16, false), AttentionPath::kGemm);
}

TEST(AttentionMmaCuda, RefusesWhatItCannotRun) {
  UM_REQUIRE_CUDA();
  const Tensor q = to_gpu(random_cpu({2, 3, 40, 32}, 600), DType::kF16);
  auto mma = [](const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& bias) {
    return attention_cuda_with_path(a, b, c, bias, 0.1f, AttentionPath::kMma);
  };
  const Tensor q32 = to_gpu(random_cpu({2, 3, 40, 32}, 601));
  const Tensor d16 = to_gpu(random_cpu({2, 3, 40, 16}, 602), DType::kF16);
  const Tensor k513 = to_gpu(random_cpu({2, 3, 513, 32}, 603), DType::kF16);
  const Tensor bias = to_gpu(random_cpu({3, 40, 40}, 604), DType::kF16);
  EXPECT_THROW(mma(q32, q32, q32, Tensor()), Error);  // float32
  EXPECT_THROW(mma(d16, d16, d16, Tensor()), Error);  // head dim 16
  EXPECT_THROW(mma(q, k513, k513, Tensor()), Error);  // more keys than a block stages
  EXPECT_THROW(mma(q, q, q, bias), Error);            // a bias
  // Rows at odd element offsets ([B, L, 3E + 1] sliced, 2-byte aligned): no 16-byte copies.
  const int64_t l = 40, e = 3 * 32, row = 3 * e + 1;
  const Tensor x = to_gpu(random_cpu({1, l, row}, 605), DType::kF16);
  const Tensor s = x.slice(2, 0, e);
  const Tensor odd(s.storage(), {1, 3, l, 32}, {s.strides()[0], 32, s.strides()[1], 1},
                   s.offset(), s.dtype());
  EXPECT_THROW(mma(odd, odd, odd, Tensor()), Error);
  EXPECT_NE(attention_cuda_auto_path(odd, odd, odd), AttentionPath::kMma);
  // A strided last dim.
  const Tensor t = to_gpu(random_cpu({2, 3, 32, 40}, 606), DType::kF16).transpose(2, 3);
  EXPECT_THROW(mma(t, t, t, Tensor()), Error);
}

TEST(AttentionMmaCuda, EmptyShapes) {
  UM_REQUIRE_CUDA();
  expect_empty_shapes(AttentionPath::kMma);
}

TEST(AttentionMmaCuda, CapturesIntoACudaGraph) {
  UM_REQUIRE_CUDA();
  const AttentionOperands o = make_attention_operands({1, 8, 300, 300, 32}, 800, Tensor(),
                                                      DType::kF16);
  ASSERT_EQ(attention_cuda_auto_path(o.qg, o.kg, o.vg), AttentionPath::kMma);
  GraphReplay replay;
  const Tensor y = replay.run(
      [&] { return nn::scaled_dot_product_attention(o.qg, o.kg, o.vg, Tensor(), o.scale); },
      "fused tensor-core attention");
  ASSERT_TRUE(replay.ok());
  EXPECT_LE(rel_err(y, o.ref), kF16Tol);
}

}  // namespace
}  // namespace um
