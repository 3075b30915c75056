// GPU tests of the dense CUDA ops (linear/matmul through cuBLASLt, softmax, layer norms, fused
// attention, top-k, gather_rows) against the CPU reference ops.
// Tolerances: float32 must match within 1e-4 of the output's scale (max(1, max |ref|)): true
// fp32 GEMMs (no TF32) and float32 softmax statistics differ from the CPU only by summation
// order. float16 runs compare with the CPU op applied to the same float16-rounded inputs, so the
// error is the float16 rounding of intermediate/outputs (unit roundoff 4.9e-4, a few roundings
// deep) with float32 accumulation: 1e-2 of the output's scale.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "core/cuda/cuda_runtime.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/cublaslt_context.h"
#include "nn/ops.h"

namespace um {
namespace {

using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;
using test::f16_rounded;
using test::scale_of;

constexpr float kF32Tol = 1e-4f;
constexpr float kF16Tol = 1e-2f;


// ---- linear / matmul ---------------------------------------------------------------------------

TEST(DenseCuda, LinearMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({3, 5, 64}, 1), w = random_cpu({48, 64}, 2), b = random_cpu({48}, 3);
  EXPECT_GPU_NEAR(nn::linear(to_gpu(x), to_gpu(w), to_gpu(b)), nn::linear(x, w, b), kF32Tol);
  EXPECT_GPU_NEAR(nn::linear(to_gpu(x), to_gpu(w), Tensor()), nn::linear(x, w, Tensor()), kF32Tol);
  // A single vector, and a larger K (accumulation length) that still must be true fp32.
  const Tensor v = random_cpu({64}, 4);
  EXPECT_GPU_NEAR(nn::linear(to_gpu(v), to_gpu(w), to_gpu(b)), nn::linear(v, w, b), kF32Tol);
  const Tensor xl = random_cpu({300, 1024}, 5), wl = random_cpu({256, 1024}, 6);
  EXPECT_GPU_NEAR(nn::linear(to_gpu(xl), to_gpu(wl), Tensor()), nn::linear(xl, wl, Tensor()),
                  kF32Tol);
}

TEST(DenseCuda, LinearStridedOperands) {
  UM_REQUIRE_CUDA();
  const Tensor w = random_cpu({24, 32}, 7), b = random_cpu({24}, 8);
  // x^T view (rs == 1): the transpose flag path.
  const Tensor xt = random_cpu({32, 9}, 9).transpose(0, 1);
  EXPECT_GPU_NEAR(nn::linear(to_gpu(random_cpu({32, 9}, 9)).transpose(0, 1), to_gpu(w), to_gpu(b)),
                  nn::linear(xt, w, b), kF32Tol);
  // A permuted 3-D x whose leading dims do not collapse: copied first.
  const Tensor xp = random_cpu({5, 3, 32}, 10);
  EXPECT_GPU_NEAR(nn::linear(to_gpu(xp).permute({1, 0, 2}), to_gpu(w), to_gpu(b)),
                  nn::linear(xp.permute({1, 0, 2}), w, b), kF32Tol);
  // The middle third of a packed projection (pointer 128 bytes off the allocation: the cuBLASLt
  // alignment preference must allow it), and a weight stored transposed.
  const Tensor qkv = random_cpu({4, 10, 96}, 11);
  const Tensor wt = random_cpu({32, 24}, 12);
  EXPECT_GPU_NEAR(nn::linear(to_gpu(qkv).slice(2, 32, 64), to_gpu(wt).transpose(0, 1), to_gpu(b)),
                  nn::linear(qkv.slice(2, 32, 64), wt.transpose(0, 1), b), kF32Tol);
  // A bias slice 4 bytes off its allocation (copied to an aligned block for the epilogue).
  EXPECT_GPU_NEAR(nn::linear(to_gpu(qkv).slice(2, 0, 32), to_gpu(wt).transpose(0, 1),
                             to_gpu(random_cpu({25}, 18)).slice(0, 1, 25)),
                  nn::linear(qkv.slice(2, 0, 32), wt.transpose(0, 1),
                             random_cpu({25}, 18).slice(0, 1, 25)),
                  kF32Tol);
  // A weight/bias taken as row slices of packed in_proj parameters.
  const Tensor win = random_cpu({72, 32}, 13), bin = random_cpu({72}, 14);
  EXPECT_GPU_NEAR(nn::linear(to_gpu(qkv).slice(2, 0, 32), to_gpu(win).slice(0, 24, 48),
                             to_gpu(bin).slice(0, 24, 48)),
                  nn::linear(qkv.slice(2, 0, 32), win.slice(0, 24, 48), bin.slice(0, 24, 48)),
                  kF32Tol);
}

TEST(DenseCuda, LinearHalf) {
  UM_REQUIRE_CUDA();
  const Tensor x = f16_rounded(random_cpu({2, 50, 128}, 15));
  const Tensor w = f16_rounded(random_cpu({96, 128}, 16)), b = f16_rounded(random_cpu({96}, 17));
  const Tensor y =
      nn::linear(to_gpu(x, DType::kF16), to_gpu(w, DType::kF16), to_gpu(b, DType::kF16));
  EXPECT_EQ(y.dtype(), DType::kF16);
  EXPECT_GPU_NEAR(y, nn::linear(x, w, b), kF16Tol);
}

TEST(DenseCuda, MatmulBatchedAndBroadcast) {
  UM_REQUIRE_CUDA();
  const Tensor a = random_cpu({2, 3, 7, 16}, 20), b = random_cpu({2, 3, 16, 5}, 21);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(a), to_gpu(b)), nn::matmul(a, b), kF32Tol);
  // Right operand broadcast over the batch (folded into one GEMM).
  const Tensor a3 = random_cpu({4, 7, 16}, 22), b2 = random_cpu({16, 5}, 23);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(a3), to_gpu(b2)), nn::matmul(a3, b2), kF32Tol);
  // Left operand broadcast.
  const Tensor a2 = random_cpu({7, 16}, 24), b3 = random_cpu({4, 16, 5}, 25);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(a2), to_gpu(b3)), nn::matmul(a2, b3), kF32Tol);
  // Both broadcast on different dims.
  const Tensor a4 = random_cpu({2, 1, 7, 16}, 26), b4 = random_cpu({1, 3, 16, 5}, 27);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(a4), to_gpu(b4)), nn::matmul(a4, b4), kF32Tol);
  // Plain 2-D, m = 1 and n = 1.
  const Tensor r = random_cpu({1, 16}, 28), c = random_cpu({16, 1}, 29);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(r), to_gpu(b2)), nn::matmul(r, b2), kF32Tol);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(a2), to_gpu(c)), nn::matmul(a2, c), kF32Tol);
}

TEST(DenseCuda, MatmulStridedOperands) {
  UM_REQUIRE_CUDA();
  // k^T as a transposed view (rs == 1): q @ k^T of attention shape.
  const Tensor q = random_cpu({1, 8, 49, 32}, 30), k = random_cpu({1, 8, 49, 32}, 31);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(q), to_gpu(k).transpose(2, 3)),
                  nn::matmul(q, k.transpose(2, 3)), kF32Tol);
  // A permuted batch that does not collapse into one stride (materialised).
  const Tensor ap = random_cpu({3, 2, 7, 16}, 32), b = random_cpu({2, 3, 16, 5}, 33);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(ap).permute({1, 0, 2, 3}), to_gpu(b)),
                  nn::matmul(ap.permute({1, 0, 2, 3}), b), kF32Tol);
  // Heads of a [B, L, H, D] tensor seen as [B, H, L, D] (batch strides D and L*H*D, rows H*D).
  const Tensor blhd = random_cpu({2, 9, 4, 8}, 34), m = random_cpu({8, 6}, 35);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(blhd).permute({0, 2, 1, 3}), to_gpu(m)),
                  nn::matmul(blhd.permute({0, 2, 1, 3}), m), kF32Tol);
  // Neither of the last two strides is 1 (every second column): copied first.
  const Tensor wide = random_cpu({7, 32}, 36), rhs = random_cpu({16, 5}, 37);
  const Tensor wide_gpu = to_gpu(wide);
  const Tensor every2_gpu(wide_gpu.storage(), {7, 16}, {32, 2}, 0, DType::kF32);
  const Tensor every2_cpu(wide.storage(), {7, 16}, {32, 2}, 0, DType::kF32);
  EXPECT_GPU_NEAR(nn::matmul(every2_gpu, to_gpu(rhs)), nn::matmul(every2_cpu, rhs), kF32Tol);
}

TEST(DenseCuda, MatmulHalf) {
  UM_REQUIRE_CUDA();
  const Tensor a = f16_rounded(random_cpu({4, 40, 64}, 38)),
               b = f16_rounded(random_cpu({4, 64, 24}, 39));
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(a, DType::kF16), to_gpu(b, DType::kF16)), nn::matmul(a, b),
                  kF16Tol);
  EXPECT_GPU_NEAR(nn::matmul(to_gpu(a, DType::kF16), to_gpu(b, DType::kF16).select(0, 1)),
                  nn::matmul(a, b.select(0, 1)), kF16Tol);
}

// The plain-kernel GEMM that runs where cuBLASLt offers no algorithm: batched, a transposed
// operand, bias and alpha, against the CPU matmul.
TEST(DenseCuda, GemmFallbackMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor a = random_cpu({3, 6, 10}, 45), bt = random_cpu({3, 4, 10}, 46);
  const Tensor bias = random_cpu({4}, 47);
  const Tensor ag = to_gpu(a), btg = to_gpu(bt), biasg = to_gpu(bias);
  Tensor out = Tensor::empty({3, 6, 4}, DType::kF32, Device::cuda());
  nn::detail::LtGemm g;
  g.dtype = DType::kF32;
  g.m = 6;
  g.n = 4;
  g.k = 10;
  g.batch = 3;
  g.a = {ag.raw_data(), 10, 1, 60};
  g.b = {btg.raw_data(), 1, 10, 40};  // bt[t].transpose(): [10, 4]
  g.c = out.raw_data();
  g.bias = biasg.raw_data();
  g.alpha = 0.5f;
  nn::detail::gemm_fallback(g);
  Tensor ref = nn::matmul(a, bt.transpose(1, 2));
  for (int64_t i = 0; i < ref.numel(); ++i) {
    ref.data<float>()[i] = 0.5f * ref.data<float>()[i] + bias.data<float>()[i % 4];
  }
  EXPECT_GPU_NEAR(out, ref, kF32Tol);
}

// ---- softmax / layer norms ---------------------------------------------------------------------

TEST(DenseCuda, SoftmaxMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({6, 37}, 40, -8.f, 8.f), big = random_cpu({4, 5000}, 41, -8.f, 8.f);
  EXPECT_GPU_NEAR(nn::softmax(to_gpu(x), -1), nn::softmax(x, -1), kF32Tol);
  EXPECT_GPU_NEAR(nn::softmax(to_gpu(big), 1), nn::softmax(big, 1), kF32Tol);
  const Tensor x3 = random_cpu({3, 5, 7}, 42, -8.f, 8.f);
  EXPECT_GPU_NEAR(nn::softmax(to_gpu(x3), 1), nn::softmax(x3, 1), kF32Tol);
  EXPECT_GPU_NEAR(nn::softmax(to_gpu(x3), 0), nn::softmax(x3, 0), kF32Tol);
  // A transposed (strided) input.
  EXPECT_GPU_NEAR(nn::softmax(to_gpu(x3).transpose(1, 2), -1), nn::softmax(x3.transpose(1, 2), -1),
                  kF32Tol);
  // -inf entries (masked scores) get exactly 0.
  Tensor masked = random_cpu({2, 10}, 43);
  masked.data<float>()[3] = -std::numeric_limits<float>::infinity();
  masked.data<float>()[17] = -std::numeric_limits<float>::infinity();
  EXPECT_GPU_NEAR(nn::softmax(to_gpu(masked), -1), nn::softmax(masked, -1), kF32Tol);
  const Tensor xh = f16_rounded(x3);
  EXPECT_GPU_NEAR(nn::softmax(to_gpu(xh, DType::kF16), -1), nn::softmax(xh, -1), kF16Tol);
}

TEST(DenseCuda, LayerNormMatchesCpu) {
  UM_REQUIRE_CUDA();
  // Values around 100 with spread 1: a one-pass E[x^2] - E[x]^2 would lose the variance.
  const Tensor x = random_cpu({4, 9, 96}, 50, 99.f, 101.f);
  const Tensor w = random_cpu({96}, 51), b = random_cpu({96}, 52);
  EXPECT_GPU_NEAR(nn::layer_norm(to_gpu(x), to_gpu(w), to_gpu(b), 1e-5f),
                  nn::layer_norm(x, w, b, 1e-5f), kF32Tol);
  EXPECT_GPU_NEAR(nn::layer_norm(to_gpu(x), Tensor(), Tensor(), 1e-6f),
                  nn::layer_norm(x, Tensor(), Tensor(), 1e-6f), kF32Tol);
  const Tensor wide = random_cpu({3, 1000}, 53);
  const Tensor ww = random_cpu({1000}, 54), bw = random_cpu({1000}, 55);
  EXPECT_GPU_NEAR(nn::layer_norm(to_gpu(wide), to_gpu(ww), to_gpu(bw), 1e-5f),
                  nn::layer_norm(wide, ww, bw, 1e-5f), kF32Tol);
  // Permuted input (channels last of an NCHW tensor).
  const Tensor nchw = random_cpu({2, 96, 3, 5}, 56);
  EXPECT_GPU_NEAR(nn::layer_norm(to_gpu(nchw).permute({0, 2, 3, 1}), to_gpu(w), to_gpu(b), 1e-5f),
                  nn::layer_norm(nchw.permute({0, 2, 3, 1}), w, b, 1e-5f), kF32Tol);
  const Tensor xh = f16_rounded(random_cpu({5, 64}, 57)), wh = f16_rounded(random_cpu({64}, 58)),
               bh = f16_rounded(random_cpu({64}, 59));
  EXPECT_GPU_NEAR(nn::layer_norm(to_gpu(xh, DType::kF16), to_gpu(wh, DType::kF16),
                                 to_gpu(bh, DType::kF16), 1e-5f),
                  nn::layer_norm(xh, wh, bh, 1e-5f), kF16Tol);
}

TEST(DenseCuda, LayerNorm2dMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 32, 9, 11}, 60, -3.f, 5.f);
  const Tensor w = random_cpu({32}, 61), b = random_cpu({32}, 62);
  EXPECT_GPU_NEAR(nn::layer_norm_2d(to_gpu(x), to_gpu(w), to_gpu(b), 1e-6f),
                  nn::layer_norm_2d(x, w, b, 1e-6f), kF32Tol);
  // From an NHWC tensor permuted to NCHW (strided).
  const Tensor nhwc = random_cpu({1, 6, 7, 32}, 63);
  EXPECT_GPU_NEAR(
      nn::layer_norm_2d(to_gpu(nhwc).permute({0, 3, 1, 2}), to_gpu(w), to_gpu(b), 1e-6f),
      nn::layer_norm_2d(nhwc.permute({0, 3, 1, 2}), w, b, 1e-6f), kF32Tol);
  const Tensor xh = f16_rounded(x), wh = f16_rounded(w), bh = f16_rounded(b);
  EXPECT_GPU_NEAR(nn::layer_norm_2d(to_gpu(xh, DType::kF16), to_gpu(wh, DType::kF16),
                                    to_gpu(bh, DType::kF16), 1e-6f),
                  nn::layer_norm_2d(xh, wh, bh, 1e-6f), kF16Tol);
}

// ---- attention ---------------------------------------------------------------------------------

struct AttnCase {
  int64_t b, h, lq, lk, d;
};

void expect_attention(const AttnCase& c, uint32_t seed, const Tensor& bias_cpu) {
  const Tensor q = random_cpu({c.b, c.h, c.lq, c.d}, seed, -2.f, 2.f);
  const Tensor k = random_cpu({c.b, c.h, c.lk, c.d}, seed + 1, -2.f, 2.f);
  const Tensor v = random_cpu({c.b, c.h, c.lk, c.d}, seed + 2);
  const float scale = 1.f / std::sqrt(static_cast<float>(c.d));
  const Tensor ref = nn::scaled_dot_product_attention(q, k, v, bias_cpu, scale);
  const Tensor bias_gpu = bias_cpu.defined() ? to_gpu(bias_cpu) : Tensor();
  SCOPED_TRACE("B" + std::to_string(c.b) + " H" + std::to_string(c.h) + " Lq" +
               std::to_string(c.lq) + " Lk" + std::to_string(c.lk) + " D" + std::to_string(c.d));
  EXPECT_GPU_NEAR(
      nn::scaled_dot_product_attention(to_gpu(q), to_gpu(k), to_gpu(v), bias_gpu, scale), ref,
      kF32Tol);
}

TEST(DenseCuda, AttentionShapesOfTheModels) {
  UM_REQUIRE_CUDA();
  expect_attention({6, 4, 49, 49, 32}, 70, Tensor());    // TinyViT window, no bias
  expect_attention({1, 8, 7, 4096, 16}, 71, Tensor());   // SAM tokens -> image
  expect_attention({1, 8, 4096, 7, 16}, 72, Tensor());   // SAM image -> tokens
  expect_attention({1, 8, 7, 7, 32}, 73, Tensor());      // SAM token self-attention
  expect_attention({1, 8, 300, 300, 32}, 74, Tensor());  // D-FINE decoder self-attention
  expect_attention({1, 8, 400, 400, 32}, 75, Tensor());  // D-FINE encoder (20 x 20)
  expect_attention({2, 2, 40, 33, 128}, 76, Tensor());   // D = 128, key tile boundary + 1
  expect_attention({1, 3, 5, 70, 20}, 77, Tensor());     // D not a multiple of 32
}

TEST(DenseCuda, AttentionWithBias) {
  UM_REQUIRE_CUDA();
  // TinyViT: the relative-position bias [H, 49, 49] broadcast over the windows.
  expect_attention({8, 4, 49, 49, 32}, 80, random_cpu({4, 49, 49}, 81, -3.f, 3.f));
  // A full [B, H, Lq, Lk] bias, a [Lq, Lk] one, and one broadcast along the queries.
  expect_attention({2, 3, 17, 45, 32}, 82, random_cpu({2, 3, 17, 45}, 83, -3.f, 3.f));
  expect_attention({2, 3, 17, 45, 32}, 84, random_cpu({17, 45}, 85, -3.f, 3.f));
  expect_attention({2, 3, 17, 45, 32}, 86, random_cpu({2, 1, 1, 45}, 87, -3.f, 3.f));
  // A mask: -inf on some keys (never a whole row) gives those keys weight 0.
  Tensor mask = random_cpu({1, 1, 17, 45}, 88);
  for (int64_t i = 0; i < mask.numel(); i += 3) mask.data<float>()[i] = -INFINITY;
  expect_attention({2, 3, 17, 45, 32}, 89, mask);
  // Split keys (few query blocks, 1000 keys: 6 splits of 192 on the tiled kernel) with the first
  // 600 keys masked, so that whole splits see only -inf, and a bias on the rest.
  Tensor key_mask = random_cpu({1, 1, 1, 1000}, 150, -2.f, 2.f);
  for (int64_t i = 0; i < 600; ++i) key_mask.data<float>()[i] = -INFINITY;
  expect_attention({1, 2, 3, 1000, 32}, 151, key_mask);
  expect_attention({1, 2, 3, 1000, 32}, 152, random_cpu({2, 3, 1000}, 153, -3.f, 3.f));
}

TEST(DenseCuda, AttentionStridedHeadViews) {
  UM_REQUIRE_CUDA();
  // q, k, v as head views of one packed qkv [B, L, 3, H, D] tensor (TinyViT / SAM layout).
  const int64_t b = 3, l = 49, h = 4, d = 32;
  const Tensor qkv = random_cpu({b, l, 3, h, d}, 90, -2.f, 2.f);
  const Tensor g = to_gpu(qkv);
  auto head = [](const Tensor& t, int64_t i) { return t.select(2, i).permute({0, 2, 1, 3}); };
  const Tensor bias = random_cpu({h, l, l}, 91);
  const Tensor ref =
      nn::scaled_dot_product_attention(head(qkv, 0), head(qkv, 1), head(qkv, 2), bias, 0.25f);
  EXPECT_GPU_NEAR(
      nn::scaled_dot_product_attention(head(g, 0), head(g, 1), head(g, 2), to_gpu(bias), 0.25f),
      ref, kF32Tol);
  // Bias as a transposed view.
  const Tensor bias_t = random_cpu({h, l, l}, 92);
  EXPECT_GPU_NEAR(nn::scaled_dot_product_attention(head(g, 0), head(g, 1), head(g, 2),
                                                   to_gpu(bias_t).transpose(1, 2), 0.25f),
                  nn::scaled_dot_product_attention(head(qkv, 0), head(qkv, 1), head(qkv, 2),
                                                   bias_t.transpose(1, 2), 0.25f),
                  kF32Tol);
}

TEST(DenseCuda, AttentionHalf) {
  UM_REQUIRE_CUDA();
  const Tensor q = f16_rounded(random_cpu({4, 4, 49, 32}, 93, -2.f, 2.f));
  const Tensor k = f16_rounded(random_cpu({4, 4, 49, 32}, 94, -2.f, 2.f));
  const Tensor v = f16_rounded(random_cpu({4, 4, 49, 32}, 95));
  const Tensor bias = f16_rounded(random_cpu({4, 49, 49}, 96));
  const Tensor y =
      nn::scaled_dot_product_attention(to_gpu(q, DType::kF16), to_gpu(k, DType::kF16),
                                       to_gpu(v, DType::kF16), to_gpu(bias, DType::kF16), 0.125f);
  EXPECT_EQ(y.dtype(), DType::kF16);
  EXPECT_GPU_NEAR(y, nn::scaled_dot_product_attention(q, k, v, bias, 0.125f), kF16Tol);
  // SAM's token -> image attention in float16 (the split-key path).
  const Tensor qs = f16_rounded(random_cpu({1, 8, 7, 16}, 154, -2.f, 2.f));
  const Tensor ks = f16_rounded(random_cpu({1, 8, 4096, 16}, 155, -2.f, 2.f));
  const Tensor vs = f16_rounded(random_cpu({1, 8, 4096, 16}, 156));
  EXPECT_GPU_NEAR(nn::scaled_dot_product_attention(to_gpu(qs, DType::kF16), to_gpu(ks, DType::kF16),
                                                   to_gpu(vs, DType::kF16), Tensor(), 0.25f),
                  nn::scaled_dot_product_attention(qs, ks, vs, Tensor(), 0.25f), kF16Tol);
}

TEST(DenseCuda, AttentionRejectsBadInput) {
  UM_REQUIRE_CUDA();
  const Tensor q = to_gpu(random_cpu({1, 2, 5, 160}, 97));
  EXPECT_THROW(nn::scaled_dot_product_attention(q, q, q, Tensor(), 1.f), Error);  // D > 128
  const Tensor q2 = to_gpu(random_cpu({1, 2, 5, 16}, 98));
  EXPECT_THROW(nn::scaled_dot_product_attention(q2, q2, q2, to_gpu(random_cpu({3, 5, 5}, 99)), 1.f),
               Error);  // bias does not broadcast
}

TEST(DenseCuda, MultiHeadAttentionMatchesCpu) {
  UM_REQUIRE_CUDA();
  const int64_t e = 64;
  nn::MultiheadAttentionWeights w;
  w.in_proj_weight = random_cpu({3 * e, e}, 100, -0.2f, 0.2f);
  w.in_proj_bias = random_cpu({3 * e}, 101, -0.2f, 0.2f);
  w.out_proj_weight = random_cpu({e, e}, 102, -0.2f, 0.2f);
  w.out_proj_bias = random_cpu({e}, 103, -0.2f, 0.2f);
  w.num_heads = 8;
  nn::MultiheadAttentionWeights wg = w;
  wg.in_proj_weight = to_gpu(w.in_proj_weight);
  wg.in_proj_bias = to_gpu(w.in_proj_bias);
  wg.out_proj_weight = to_gpu(w.out_proj_weight);
  wg.out_proj_bias = to_gpu(w.out_proj_bias);
  const Tensor x = random_cpu({2, 30, e}, 104), mem = random_cpu({2, 50, e}, 105);
  const Tensor xg = to_gpu(x), memg = to_gpu(mem);
  // Self-attention (one packed projection) and cross-attention (three slices).
  EXPECT_GPU_NEAR(nn::multi_head_attention(xg, xg, xg, wg), nn::multi_head_attention(x, x, x, w),
                  kF32Tol);
  EXPECT_GPU_NEAR(nn::multi_head_attention(xg, memg, memg, wg),
                  nn::multi_head_attention(x, mem, mem, w), kF32Tol);
  // Query = key, another value (D-FINE's decoder self-attention: target + pos, target): q and k
  // packed into one projection on the GPU, three projections on the CPU.
  const Tensor v = random_cpu({2, 30, e}, 106);
  EXPECT_GPU_NEAR(nn::multi_head_attention(xg, xg, to_gpu(v), wg),
                  nn::multi_head_attention(x, x, v, w), kF32Tol);
}

// ---- top-k / gather ----------------------------------------------------------------------------

// Values on a coarse grid so that many are equal: the tie order (lower index first) is tested.
Tensor tied_scores(const Shape& shape, uint32_t seed) {
  Tensor t = random_cpu(shape, seed, -4.f, 4.f);
  for (int64_t i = 0; i < t.numel(); ++i)
    t.data<float>()[i] = std::round(t.data<float>()[i] * 8.f) / 8.f;
  return t;
}

void expect_topk_equal(const Tensor& x_cpu, const Tensor& x_gpu, int64_t k) {
  const auto [rv, ri] = nn::topk(x_cpu, k);
  const auto [gv, gi] = nn::topk(x_gpu, k);
  ASSERT_EQ(gv.dtype(), DType::kF32);
  ASSERT_EQ(gi.dtype(), DType::kI64);
  const Tensor gvc = gv.to(Device::cpu()), gic = gi.to(Device::cpu());
  ASSERT_EQ(gic.shape(), ri.shape());
  int64_t mismatches = 0;
  for (int64_t i = 0; i < ri.numel(); ++i) {
    const float a = gvc.data<float>()[i], b = rv.data<float>()[i];
    const bool same_value = (std::isnan(a) && std::isnan(b)) || a == b;
    if (gic.data<int64_t>()[i] != ri.data<int64_t>()[i] || !same_value) ++mismatches;
  }
  EXPECT_EQ(mismatches, 0) << "topk k=" << k << " of " << shape_str(x_cpu.shape());
}

TEST(DenseCuda, TopkMatchesCpuWithTies) {
  UM_REQUIRE_CUDA();
  const Tensor small = tied_scores({3, 1000}, 110);
  expect_topk_equal(small, to_gpu(small), 300);
  expect_topk_equal(small, to_gpu(small), 1);
  // D-FINE's [1, 300 * classes] row: longer than one in-shared-memory sort.
  const Tensor row = tied_scores({1, 24000}, 111);
  expect_topk_equal(row, to_gpu(row), 300);
  // k == n, a short row, NaN (largest) and -0 / +0 (equal).
  Tensor odd = Tensor::from_vector({0.f, -0.f, 1.f, NAN, -1.f, 0.f, NAN}, {1, 7});
  expect_topk_equal(odd, to_gpu(odd), 7);
  // A strided input and float16 data (compared on the float16 values).
  const Tensor wide = tied_scores({1000, 4}, 112);
  expect_topk_equal(wide.transpose(0, 1), to_gpu(wide).transpose(0, 1), 50);
  const Tensor h = f16_rounded(random_cpu({2, 5000}, 113));
  expect_topk_equal(h, to_gpu(h, DType::kF16), 300);
  EXPECT_THROW(nn::topk(to_gpu(small), 1001), Error);
}

TEST(DenseCuda, GatherRowsMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 10, 3}, 120);
  Tensor idx = Tensor::empty({2, 4}, DType::kI64), idx1 = Tensor::empty({1, 4}, DType::kI64);
  const int64_t rows[8] = {9, 0, 3, 3, 1, 8, 2, 7};
  for (int i = 0; i < 8; ++i) idx.data<int64_t>()[i] = rows[i];
  for (int i = 0; i < 4; ++i) idx1.data<int64_t>()[i] = rows[7 - i];
  EXPECT_EQ(max_abs_diff_gpu(nn::gather_rows(to_gpu(x), idx.to(Device::cuda()), 1),
                             nn::gather_rows(x, idx, 1)),
            0.f);
  EXPECT_EQ(max_abs_diff_gpu(nn::gather_rows(to_gpu(x), idx1.to(Device::cuda()), 1),
                             nn::gather_rows(x, idx1, 1)),
            0.f);
  // int64 data (D-FINE gathers labels) and float16 data, byte-exact.
  const Tensor xi = random_cpu({2, 10, 3}, 121, -1000.f, 1000.f).to(DType::kI64);
  const Tensor gi = nn::gather_rows(xi.to(Device::cuda()), idx.to(Device::cuda()), 1);
  EXPECT_EQ(max_abs_diff_gpu(gi.to(DType::kF32), nn::gather_rows(xi, idx, 1).to(DType::kF32)), 0.f);
  EXPECT_EQ(max_abs_diff_gpu(nn::gather_rows(to_gpu(x, DType::kF16), idx.to(Device::cuda()), 1),
                             nn::gather_rows(f16_rounded(x), idx, 1)),
            0.f);
}

// ---- device rules ------------------------------------------------------------------------------

TEST(DenseCuda, CpuGpuMixThrows) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 8}, 130), w = random_cpu({4, 8}, 131), b = random_cpu({4}, 132);
  EXPECT_THROW(nn::linear(to_gpu(x), w, to_gpu(b)), Error);
  EXPECT_THROW(nn::linear(to_gpu(x), to_gpu(w), b), Error);
  EXPECT_THROW(nn::linear(x, to_gpu(w), b), Error);
  EXPECT_THROW(nn::linear(to_gpu(x), to_gpu(w, DType::kF16), to_gpu(b)), Error);  // dtype mix
  EXPECT_THROW(nn::matmul(to_gpu(x), w.transpose(0, 1)), Error);
  EXPECT_THROW(nn::layer_norm(to_gpu(x), random_cpu({8}, 133), Tensor(), 1e-5f), Error);
  const Tensor q = random_cpu({1, 1, 3, 8}, 134);
  EXPECT_THROW(nn::scaled_dot_product_attention(to_gpu(q), q, to_gpu(q), Tensor(), 1.f), Error);
  Tensor idx = Tensor::zeros({2, 1}, DType::kI64);
  EXPECT_THROW(nn::gather_rows(to_gpu(x), idx, 1), Error);
}

TEST(DenseCuda, WarmOpsDoNotSynchroniseTheHost) {
  UM_REQUIRE_CUDA();
  const Tensor x = to_gpu(random_cpu({2, 49, 64}, 140)), w = to_gpu(random_cpu({64, 64}, 141));
  const Tensor q = x.view({2, 49, 2, 32}).permute({0, 2, 1, 3});
  auto frame = [&] {
    Tensor y = nn::linear(x, w, Tensor());
    y = nn::layer_norm(y, Tensor(), Tensor(), 1e-5f);
    y = nn::softmax(y, -1);
    Tensor a = nn::scaled_dot_product_attention(q, q, q, Tensor(), 0.2f);
    Tensor m = nn::matmul(a, a.transpose(2, 3));
    return nn::topk(m.view({4, 49 * 49}), 30);
  };
  frame();  // warm-up: cuBLASLt handle, workspace and plans
  const uint64_t before = cuda::host_sync_count();
  frame();
  EXPECT_EQ(cuda::host_sync_count(), before);
}

}  // namespace
}  // namespace um
