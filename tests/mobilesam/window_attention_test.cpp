// File: tests/mobilesam/window_attention_test.cpp
// Purpose: nn::window_attention against TinyViTBlock's official sequence, run with the model's
// own reference pieces on the CPU: zero-pad + split (mobilesam::window_partition), LayerNorm and
// the qkv projection on the padded windows, scaled_dot_product_attention per head, merge + crop
// (window_reverse). The op instead projects only the image tokens and uses one precomputed row,
// qkv(norm(0)), for every padding token; both must agree on every token, near the border too.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <string>

#include "core/status.h"
#include "models/mobilesam/window_partition.h"
#include "nn/ops.h"
#include "nn/ops_sam.h"

namespace um {
namespace {

Tensor random_tensor(const Shape& s, uint32_t seed, float stddev = 1.f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> nd(0.f, stddev);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = nd(rng);
  return t;
}

struct Case {
  int64_t batch, h, w, ws, heads, kd;
};

struct Weights {
  Tensor ln_w, ln_b, qkv_w, qkv_b, bias;
};

Weights random_weights(const Case& c, uint32_t seed) {
  const int64_t dim = c.heads * c.kd, n = c.ws * c.ws;
  // A LayerNorm bias far from zero makes the padding tokens' keys matter.
  return {random_tensor({dim}, seed, 0.3f), random_tensor({dim}, seed + 1, 1.f),
          random_tensor({3 * dim, dim}, seed + 2, 0.2f), random_tensor({3 * dim}, seed + 3, 0.2f),
          random_tensor({c.heads, n, n}, seed + 4, 1.f)};
}

// The official order: pad + split, then norm -> qkv -> attention per window, merge + crop.
Tensor official(const Tensor& tokens, const Weights& wt, const Case& c) {
  const int64_t n = c.ws * c.ws;
  const Tensor win = mobilesam::window_partition(tokens, c.h, c.w, c.ws);
  const int64_t bw = win.size(0);
  const Tensor qkv = nn::linear(nn::layer_norm(win, wt.ln_w, wt.ln_b, 1e-5f), wt.qkv_w, wt.qkv_b)
                         .view({bw, n, c.heads, 3 * c.kd});
  const Tensor q = qkv.slice(3, 0, c.kd).permute({0, 2, 1, 3});
  const Tensor k = qkv.slice(3, c.kd, 2 * c.kd).permute({0, 2, 1, 3});
  const Tensor v = qkv.slice(3, 2 * c.kd, 3 * c.kd).permute({0, 2, 1, 3});
  const float scale = 1.f / std::sqrt(static_cast<float>(c.kd));
  const Tensor o =
      nn::scaled_dot_product_attention(q, k, v, wt.bias.view({1, c.heads, n, n}), scale)
          .permute({0, 2, 1, 3})
          .reshape({bw, n, c.heads * c.kd});
  return mobilesam::window_reverse(o, c.batch, c.h, c.w, c.ws);
}

// The op's order: norm -> qkv on the image tokens only, the padding row computed once.
Tensor fused(const Tensor& tokens, const Weights& wt, const Case& c) {
  const int64_t dim = c.heads * c.kd;
  const Tensor qkv =
      nn::linear(nn::layer_norm(tokens, wt.ln_w, wt.ln_b, 1e-5f), wt.qkv_w, wt.qkv_b);
  const Tensor pad = nn::linear(wt.ln_b.view({1, dim}), wt.qkv_w, wt.qkv_b).view({3 * dim});
  const nn::WindowAttentionParams p{c.h,     c.w,  c.ws,
                                    c.heads, c.kd, 1.f / std::sqrt(static_cast<float>(c.kd))};
  return nn::window_attention(qkv, pad, wt.bias, p);
}

TEST(WindowAttention, MatchesTheOfficialPadSplitAttendMergeSequence) {
  const Case cases[] = {
      {1, 10, 9, 7, 2, 8},    // padded bottom and right, 2 x 2 windows
      {1, 7, 7, 7, 3, 4},     // one window, no padding (TinyViT's "h == w == window" branch)
      {2, 14, 21, 7, 2, 8},   // several windows, no padding, batch 2
      {1, 5, 12, 4, 1, 16},   // padded bottom only
      {1, 16, 16, 14, 2, 8},  // one big border window per side (the 64x64 / 14 stage shape)
  };
  uint32_t seed = 1;
  for (const Case& c : cases) {
    SCOPED_TRACE("case " + std::to_string(c.h) + "x" + std::to_string(c.w) + " ws " +
                 std::to_string(c.ws));
    const Weights wt = random_weights(c, seed += 10);
    const Tensor tokens = random_tensor({c.batch, c.h * c.w, c.heads * c.kd}, seed + 7);
    const Tensor want = official(tokens, wt, c);
    const Tensor got = fused(tokens, wt, c);
    ASSERT_EQ(got.shape(), want.shape());
    double worst = 0.0;
    for (int64_t i = 0; i < want.numel(); ++i) {
      worst = std::max(worst,
                       std::abs(static_cast<double>(got.data<float>()[i]) - want.data<float>()[i]));
    }
    EXPECT_LT(worst, 1e-5) << "largest difference";
  }
}

TEST(WindowAttention, PaddingTokensChangeTheBorderWindows) {
  // Guards the test above against a vacuous pass: with a different padding row the border
  // tokens' results must change (the pads take part in every border softmax).
  const Case c{1, 10, 9, 7, 2, 8};
  const Weights wt = random_weights(c, 77);
  const Tensor tokens = random_tensor({1, c.h * c.w, c.heads * c.kd}, 78);
  const Tensor qkv =
      nn::linear(nn::layer_norm(tokens, wt.ln_w, wt.ln_b, 1e-5f), wt.qkv_w, wt.qkv_b);
  const nn::WindowAttentionParams p{c.h, c.w, c.ws, c.heads, c.kd, 0.35f};
  const Tensor a = nn::window_attention(qkv, Tensor::zeros({3 * c.heads * c.kd}), wt.bias, p);
  const Tensor b = nn::window_attention(qkv, random_tensor({3 * c.heads * c.kd}, 79), wt.bias, p);
  double diff = 0.0;
  for (int64_t i = 0; i < a.numel(); ++i) diff += std::abs(a.data<float>()[i] - b.data<float>()[i]);
  EXPECT_GT(diff, 1e-2);
}

TEST(WindowAttention, BadArgumentsThrow) {
  const nn::WindowAttentionParams p{10, 9, 7, 2, 8, 0.35f};
  const Tensor qkv = random_tensor({1, 90, 48}, 1);
  const Tensor pad = random_tensor({48}, 2);
  const Tensor bias = random_tensor({2, 49, 49}, 3);
  EXPECT_NO_THROW(nn::window_attention(qkv, pad, bias, p));
  EXPECT_THROW(nn::window_attention(random_tensor({1, 91, 48}, 1), pad, bias, p), Error);
  EXPECT_THROW(nn::window_attention(random_tensor({1, 90, 47}, 1), pad, bias, p), Error);
  EXPECT_THROW(nn::window_attention(random_tensor({90, 48}, 1), pad, bias, p), Error);
  EXPECT_THROW(nn::window_attention(qkv, Tensor(), bias, p), Error);  // padding needs the row
  EXPECT_THROW(nn::window_attention(qkv, random_tensor({47}, 2), bias, p), Error);
  EXPECT_THROW(nn::window_attention(qkv, pad, random_tensor({2, 49, 48}, 3), p), Error);
  EXPECT_THROW(nn::window_attention(qkv, pad, Tensor(), p), Error);
  EXPECT_THROW(nn::window_attention(qkv.to(DType::kF16), pad, bias, p), Error);
  nn::WindowAttentionParams zero = p;
  zero.window = 0;
  EXPECT_THROW(nn::window_attention(qkv, pad, bias, zero), Error);
  // No padding needed (14 x 14, window 7): the pad row may be left undefined.
  const nn::WindowAttentionParams exact{14, 14, 7, 2, 8, 0.35f};
  EXPECT_NO_THROW(nn::window_attention(random_tensor({1, 196, 48}, 4), Tensor(), bias, exact));
}

}  // namespace
}  // namespace um
