// linear, matmul, layer_norm, softmax and attention against naive loops.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/status.h"
#include "nn/ops.h"
#include "nn_test_util.h"

namespace um::nn {
namespace {

using test::max_abs_diff;
using test::random_tensor;

// [m, k] @ [k, n] on contiguous 2-D tensors, double accumulation.
Tensor naive_mm(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  Tensor c = Tensor::empty({m, n});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double acc = 0;
      for (int64_t t = 0; t < k; ++t) acc += double(a.data<float>()[i * k + t]) * b.data<float>()[t * n + j];
      c.data<float>()[i * n + j] = static_cast<float>(acc);
    }
  return c;
}

TEST(Linear, MatchesNaiveWithAndWithoutBias) {
  const Tensor x = random_tensor({2, 7, 13}, 1);
  const Tensor w = random_tensor({9, 13}, 2);
  const Tensor b = random_tensor({9}, 3);
  const Tensor y = linear(x, w, b);
  ASSERT_EQ(y.shape(), (Shape{2, 7, 9}));
  const Tensor ref = naive_mm(x.view({14, 13}), w.transpose(0, 1));
  for (int64_t r = 0; r < 14; ++r)
    for (int64_t j = 0; j < 9; ++j)
      EXPECT_NEAR(y.data<float>()[r * 9 + j], ref.data<float>()[r * 9 + j] + b.data<float>()[j], 1e-5);
  EXPECT_LT(max_abs_diff(linear(x, w, Tensor()).view({14, 9}), ref), 1e-5f);
  // A transposed (non-contiguous) 2-D input.
  const Tensor xt = random_tensor({13, 5}, 4).transpose(0, 1);
  EXPECT_LT(max_abs_diff(linear(xt, w, Tensor()), naive_mm(xt, w.transpose(0, 1))), 1e-5f);
  EXPECT_THROW((void)linear(x, random_tensor({9, 12}, 5), Tensor()), Error);
  EXPECT_THROW((void)linear(x, w, random_tensor({8}, 6)), Error);
}

TEST(Matmul, BroadcastsBatchDimsAndReadsTransposedViews) {
  const Tensor a = random_tensor({3, 1, 5, 7}, 10);
  const Tensor b = random_tensor({2, 7, 4}, 11);
  const Tensor c = matmul(a, b);
  ASSERT_EQ(c.shape(), (Shape{3, 2, 5, 4}));
  for (int64_t i = 0; i < 3; ++i)
    for (int64_t j = 0; j < 2; ++j)
      EXPECT_LT(max_abs_diff(c.select(0, i).select(0, j),
                             naive_mm(a.select(0, i).select(0, 0), b.select(0, j))),
                1e-5f);
  const Tensor bt = random_tensor({2, 4, 7}, 12).transpose(1, 2);  // [2, 7, 4] view
  const Tensor c2 = matmul(a, bt);
  EXPECT_LT(max_abs_diff(c2.select(0, 1).select(0, 1),
                         naive_mm(a.select(0, 1).select(0, 0), bt.select(0, 1))),
            1e-5f);
  // A view with no unit stride in its last two dims is packed.
  const Tensor odd = random_tensor({7, 2, 4, 2}, 13).select(3, 1).select(1, 0);  // [7, 4], strides (16, 2)
  EXPECT_LT(max_abs_diff(matmul(a.select(0, 0).select(0, 0), odd),
                         naive_mm(a.select(0, 0).select(0, 0), odd)),
            1e-5f);
  EXPECT_THROW((void)matmul(a, random_tensor({2, 6, 4}, 1)), Error);
  EXPECT_THROW((void)matmul(random_tensor({3, 5, 7}, 1), random_tensor({2, 7, 4}, 1)), Error);
}

TEST(LayerNorm, MatchesNaive) {
  const Tensor x = random_tensor({3, 5, 33}, 20, -4.f, 9.f);
  const Tensor w = random_tensor({33}, 21), b = random_tensor({33}, 22);
  const Tensor y = layer_norm(x, w, b, 1e-5f);
  for (int64_t r = 0; r < 15; ++r) {
    const float* xr = x.data<float>() + r * 33;
    double mean = 0, var = 0;
    for (int i = 0; i < 33; ++i) mean += xr[i];
    mean /= 33;
    for (int i = 0; i < 33; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    var /= 33;
    for (int i = 0; i < 33; ++i) {
      const double want = (xr[i] - mean) / std::sqrt(var + 1e-5) * w.data<float>()[i] + b.data<float>()[i];
      EXPECT_NEAR(y.data<float>()[r * 33 + i], want, 1e-5);
    }
  }
  EXPECT_THROW((void)layer_norm(x, random_tensor({32}, 1), b, 1e-5f), Error);
}

TEST(Softmax, AnyDimSumsToOneAndMatchesNaive) {
  const Tensor x = random_tensor({2, 6, 3}, 30, -20.f, 20.f);
  for (int64_t d : {0, 1, 2, -1}) {
    const Tensor y = softmax(x, d);
    const int64_t dd = d < 0 ? d + 3 : d;
    for (int64_t i = 0; i < 2; ++i)
      for (int64_t j = 0; j < 6; ++j)
        for (int64_t k = 0; k < 3; ++k) {
          int64_t idx[3] = {i, j, k};
          double denom = 0;
          const float v = x.data<float>()[(i * 6 + j) * 3 + k];
          for (int64_t t = 0; t < x.size(dd); ++t) {
            idx[dd] = t;
            denom += std::exp(double(x.data<float>()[(idx[0] * 6 + idx[1]) * 3 + idx[2]]) - v);
          }
          EXPECT_NEAR(y.data<float>()[(i * 6 + j) * 3 + k], 1.0 / denom, 1e-6) << "dim " << d;
        }
  }
  EXPECT_THROW((void)softmax(x, 3), Error);
}

// Naive attention for one [B, H, L, D] problem with an optional full bias.
Tensor naive_sdpa(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias, float scale) {
  const int64_t b = q.size(0), h = q.size(1), lq = q.size(2), lk = k.size(2), d = q.size(3);
  Tensor out = Tensor::empty({b, h, lq, d});
  const Tensor qc = q.contiguous(), kc = k.contiguous(), vc = v.contiguous();
  for (int64_t bi = 0; bi < b; ++bi)
    for (int64_t hi = 0; hi < h; ++hi)
      for (int64_t i = 0; i < lq; ++i) {
        std::vector<double> s(lk);
        double mx = -1e300;
        for (int64_t j = 0; j < lk; ++j) {
          double acc = 0;
          for (int64_t t = 0; t < d; ++t)
            acc += double(qc.data<float>()[((bi * h + hi) * lq + i) * d + t]) *
                   kc.data<float>()[((bi * h + hi) * lk + j) * d + t];
          s[j] = acc * scale + (bias.defined() ? bias.data<float>()[i * lk + j] : 0.f);
          mx = std::max(mx, s[j]);
        }
        double sum = 0;
        for (auto& e : s) sum += (e = std::exp(e - mx));
        for (int64_t t = 0; t < d; ++t) {
          double acc = 0;
          for (int64_t j = 0; j < lk; ++j) acc += s[j] / sum * vc.data<float>()[((bi * h + hi) * lk + j) * d + t];
          out.data<float>()[((bi * h + hi) * lq + i) * d + t] = static_cast<float>(acc);
        }
      }
  return out;
}

TEST(ScaledDotProductAttention, MatchesNaiveWithBroadcastBias) {
  const Tensor q = random_tensor({2, 3, 5, 8}, 40), k = random_tensor({2, 3, 7, 8}, 41);
  const Tensor v = random_tensor({2, 3, 7, 8}, 42), bias = random_tensor({5, 7}, 43);
  EXPECT_LT(max_abs_diff(scaled_dot_product_attention(q, k, v, bias, 0.3f),
                         naive_sdpa(q, k, v, bias, 0.3f)),
            1e-5f);
  EXPECT_LT(max_abs_diff(scaled_dot_product_attention(q, k, v, Tensor(), 0.3f),
                         naive_sdpa(q, k, v, Tensor(), 0.3f)),
            1e-5f);
  EXPECT_THROW((void)scaled_dot_product_attention(q, k, random_tensor({2, 3, 6, 8}, 1), Tensor(), 1.f),
               Error);
  EXPECT_THROW((void)scaled_dot_product_attention(q, k, v, random_tensor({4, 7}, 1), 1.f), Error);
}

TEST(MultiHeadAttention, MatchesTorchFormulaForSelfAndCrossAttention) {
  const int64_t e = 12, nh = 3, hd = 4;
  MultiheadAttentionWeights w;
  w.in_proj_weight = random_tensor({3 * e, e}, 50);
  w.in_proj_bias = random_tensor({3 * e}, 51);
  w.out_proj_weight = random_tensor({e, e}, 52);
  w.out_proj_bias = random_tensor({e}, 53);
  w.num_heads = nh;
  const Tensor x = random_tensor({2, 6, e}, 54), mem = random_tensor({2, 9, e}, 55);
  for (bool self : {true, false}) {
    const Tensor& kv = self ? x : mem;
    const Tensor got = multi_head_attention(x, kv, kv, w);
    // Reference: project, split heads, naive attention, merge, project.
    auto proj = [&](const Tensor& t, int64_t i) {
      const int64_t l = t.size(1);
      Tensor y = naive_mm(t.reshape({-1, e}), w.in_proj_weight.slice(0, i * e, (i + 1) * e).transpose(0, 1));
      for (int64_t r = 0; r < y.size(0); ++r)
        for (int64_t j = 0; j < e; ++j) y.data<float>()[r * e + j] += w.in_proj_bias.data<float>()[i * e + j];
      return y.view({2, l, nh, hd}).permute({0, 2, 1, 3}).contiguous();
    };
    const Tensor o = naive_sdpa(proj(x, 0), proj(kv, 1), proj(kv, 2), Tensor(), 0.5f);
    Tensor merged = o.permute({0, 2, 1, 3}).contiguous().view({12, e});
    Tensor want = naive_mm(merged, w.out_proj_weight.transpose(0, 1));
    for (int64_t r = 0; r < 12; ++r)
      for (int64_t j = 0; j < e; ++j) want.data<float>()[r * e + j] += w.out_proj_bias.data<float>()[j];
    EXPECT_LT(max_abs_diff(got.view({12, e}), want), 1e-5f) << (self ? "self" : "cross");
  }
  w.num_heads = 5;
  EXPECT_THROW((void)multi_head_attention(x, x, x, w), Error);
}

}  // namespace
}  // namespace um::nn
