// GPU tests of the tensor-core attention path (src/nn/attention_gemm_cuda.cu: S = q k^T by one
// strided-batched cuBLASLt GEMM into float32 scores, a softmax kernel writing P in the input
// dtype, out = P v by a second GEMM) and of the dispatch that picks it. Every case forces the
// path through attention_cuda_with_path(..., AttentionPath::kGemm) and compares with the CPU
// reference op: TinyViT's window shapes (fewer windows), key/query counts and head dims around
// the edges (head dim 1 makes cuBLASLt's alignment minimal), every bias broadcast pattern, masked
// keys and a fully masked row (NaN like the CPU), head views read in place (one batch stride)
// and views that need a copy (TinyViT's per-head-packed qkv, a [B, N, 3, H, D] packing), and a
// capture into a CUDA graph (no host sync, scratch from the pool).
// Tolerances as in attention_fast_cuda_test.cpp: float32 (true-fp32 GEMMs) 1e-4 of the output's
// scale (max(1, max |ref|)); float16 runs see float16-rounded inputs on both sides, 1e-2 of the
// scale (P is rounded to float16 before the PV GEMM, as in PyTorch's fp16 math path: about
// 2^-11 relative, well inside the bound).
#include <gtest/gtest.h>


#include <algorithm>
#include <cmath>
#include <exception>
#include <functional>
#include <string>

#include "core/cuda/cuda_runtime.h"
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

// Contiguous random q, k, v (float16-rounded for a float16 run): the GEMM path forced vs the CPU
// op. Where the automatic dispatch picks the GEMM path, the public op is checked too.
void expect_gemm(const Case& c, uint32_t seed, const Tensor& bias_in, DType dtype) {
  SCOPED_TRACE(c.label() + " " + name_of(dtype) +
               (bias_in.defined() ? " bias " + shape_str(bias_in.shape()) : " no bias"));
  const AttentionOperands o = make_attention_operands(c, seed, bias_in, dtype);
  const Tensor &ref = o.ref, &qg = o.qg, &kg = o.kg, &vg = o.vg, &bg = o.bg;
  const float scale = o.scale;
  const Tensor y = attention_cuda_with_path(qg, kg, vg, bg, scale, AttentionPath::kGemm);
  EXPECT_EQ(y.dtype(), dtype);
  EXPECT_TRUE(y.is_contiguous());
  EXPECT_LE(rel_err(y, ref), tol_of(dtype));
  if (attention_cuda_auto_path(qg, kg, vg, bg) == AttentionPath::kGemm) {
    EXPECT_LE(rel_err(nn::scaled_dot_product_attention(qg, kg, vg, bg, scale), ref),
              tol_of(dtype));
  }
}

TEST(AttentionGemmCuda, TinyVitWindowShapesMatchCpu) {
  UM_REQUIRE_CUDA();
  // TinyViT's stages with fewer windows: 7x7 windows of 4 heads (stage 2), 14x14 windows of
  // 5 heads (stage 3), 7x7 windows of 10 heads (stage 4); head dim 32; bias [1, H, N, N] or none.
  const Case cases[] = {{6, 4, 49, 49, 32}, {2, 5, 196, 196, 32}, {3, 10, 49, 49, 32}};
  uint32_t seed = 100;
  for (const Case& c : cases) {
    for (DType dt : {DType::kF32, DType::kF16}) {
      expect_gemm(c, seed, Tensor(), dt);
      expect_gemm(c, seed + 3, random_cpu({1, c.h, c.lq, c.lk}, seed + 4, -3.f, 3.f), dt);
      seed += 5;
    }
  }
}

TEST(AttentionGemmCuda, KeyAndQueryCountsAndHeadDims) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 200;
  for (DType dt : {DType::kF32, DType::kF16}) {
    // Key counts: below the dispatch's 32 (forced still works), odd, and D-FINE's 300.
    for (int64_t lk : {1, 7, 31, 32, 33, 100, 300}) {
      expect_gemm({2, 3, 49, lk, 32}, seed, random_cpu({3, 49, lk}, seed + 4, -3.f, 3.f), dt);
      seed += 5;
    }
    // Query counts: one row, a few, more rows than keys.
    for (int64_t lq : {1, 5, 130}) {
      expect_gemm({2, 3, lq, 49, 32}, seed, Tensor(), dt);
      seed += 5;
    }
    // Head dims: 1 and 20 (operand rows below 16-byte alignment), 16, 64, and 160 (above the
    // fused kernels' 128: only this path takes it).
    for (int64_t d : {1, 16, 20, 64, 160}) {
      expect_gemm({2, 2, 30, 70, d}, seed, random_cpu({2, 2, 30, 70}, seed + 4, -3.f, 3.f), dt);
      seed += 5;
    }
    // SAM's tokens -> image (7 rows x 4096 keys, head dim 16).
    expect_gemm({1, 8, 7, 4096, 16}, seed, Tensor(), dt);
    seed += 5;
  }
}

TEST(AttentionGemmCuda, BiasBroadcastPatterns) {
  UM_REQUIRE_CUDA();
  const Case c{3, 4, 49, 49, 32};
  uint32_t seed = 300;
  for (DType dt : {DType::kF32, DType::kF16}) {
    for (const auto& pattern : bias_broadcast_patterns(seed)) {
      expect_gemm(c, seed + pattern.seed_offset, pattern.bias, dt);
    }
    seed += 100;
  }
  // A transposed bias view (its stride along the keys is 49, not 1).
  const Tensor q = random_cpu({2, 4, 49, 32}, 390, -2.f, 2.f);
  const Tensor base = random_cpu({4, 49, 49}, 391, -3.f, 3.f);
  const Tensor qg = to_gpu(q);
  EXPECT_LE(rel_err(attention_cuda_with_path(qg, qg, qg, to_gpu(base).transpose(1, 2), 0.2f,
                                             AttentionPath::kGemm),
                    nn::scaled_dot_product_attention(q, q, q, base.transpose(1, 2), 0.2f)),
            kF32Tol);
}

TEST(AttentionGemmCuda, MaskedKeysAndAFullyMaskedRow) {
  UM_REQUIRE_CUDA();
  // Keys 0..39 masked for every row, every 3rd key of the rest masked, and row 5 masked entirely
  // (NaN on the CPU, and on the GPU through 0 * (1 / 0) in the softmax and NaN * v in the GEMM).
  const int64_t lq = 20, lk = 90;
  Tensor mask = random_cpu({lq, lk}, 400, -2.f, 2.f);
  float* p = mask.data<float>();
  for (int64_t i = 0; i < lq; ++i) {
    for (int64_t j = 0; j < lk; ++j) {
      if (j < 40 || j % 3 == 0 || i == 5) p[i * lk + j] = -INFINITY;
    }
  }
  for (DType dt : {DType::kF32, DType::kF16}) expect_gemm({2, 3, lq, lk, 32}, 401, mask, dt);
  // A TinyViT-shaped case (1176 score rows: float16 also goes through the automatic dispatch)
  // with row 17 of head 2 masked.
  Tensor tv_mask = random_cpu({1, 4, 49, 49}, 402, -3.f, 3.f);
  for (int64_t j = 0; j < 49; ++j) tv_mask.data<float>()[(2 * 49 + 17) * 49 + j] = -INFINITY;
  for (DType dt : {DType::kF32, DType::kF16}) expect_gemm({6, 4, 49, 49, 32}, 403, tv_mask, dt);
}

// q, k, v built by `views` from one packed base tensor, on the CPU and on the GPU alike.
using ViewsFn = std::function<void(const Tensor& base, Tensor* q, Tensor* k, Tensor* v)>;

void expect_views(const Tensor& base_cpu, const ViewsFn& views, const Tensor& bias_cpu,
                  float scale, DType dt, bool expect_auto_gemm) {
  SCOPED_TRACE(std::string(name_of(dt)) + " base " + shape_str(base_cpu.shape()));
  const Tensor base = dt == DType::kF16 ? f16_rounded(base_cpu) : base_cpu;
  const Tensor bias = bias_cpu.defined() && dt == DType::kF16 ? f16_rounded(bias_cpu) : bias_cpu;
  Tensor q, k, v, qg, kg, vg;
  views(base, &q, &k, &v);
  const Tensor g = to_gpu(base, dt);
  views(g, &qg, &kg, &vg);
  const Tensor bg = bias.defined() ? to_gpu(bias, dt) : Tensor();
  const Tensor ref = nn::scaled_dot_product_attention(q, k, v, bias, scale);
  EXPECT_LE(rel_err(attention_cuda_with_path(qg, kg, vg, bg, scale, AttentionPath::kGemm), ref),
            tol_of(dt));
  if (expect_auto_gemm) {
    EXPECT_EQ(attention_cuda_auto_path(qg, kg, vg, bg), AttentionPath::kGemm);
    EXPECT_LE(rel_err(nn::scaled_dot_product_attention(qg, kg, vg, bg, scale), ref), tol_of(dt));
  }
}

TEST(AttentionGemmCuda, StridedHeadViews) {
  UM_REQUIRE_CUDA();
  for (DType dt : {DType::kF32, DType::kF16}) {
    const bool half = dt == DType::kF16;
    // Packed qkv [B, N, 3, H, D] -> q = x[:, :, 0].permute(0, 2, 1, 3): with B == 1 the heads
    // are one batch stride (read in place); with B == 3 the window and head steps do not fold
    // (copied first). Both must give the CPU result.
    for (int64_t b : {1, 3}) {
      const int64_t n = 49, h = 4, d = 32;
      const ViewsFn views = [](const Tensor& x, Tensor* q, Tensor* k, Tensor* v) {
        *q = x.select(2, 0).permute({0, 2, 1, 3});
        *k = x.select(2, 1).permute({0, 2, 1, 3});
        *v = x.select(2, 2).permute({0, 2, 1, 3});
      };
      SCOPED_TRACE("packed [B, N, 3, H, D], B " + std::to_string(b));
      expect_views(random_cpu({b, n, 3, h, d}, 500 + static_cast<uint32_t>(b), -2.f, 2.f), views,
                   random_cpu({1, h, n, n}, 510, -3.f, 3.f), 0.17f, dt, false);
    }
    // TinyViT's per-head interleaved qkv [bw, n, heads, 3 * kd] (the model's exact views; 1176
    // score rows, so float16 takes the GEMM path automatically).
    {
      const int64_t bw = 6, n = 49, h = 4, kd = 32;
      const ViewsFn views = [kd](const Tensor& x, Tensor* q, Tensor* k, Tensor* v) {
        *q = x.slice(3, 0, kd).permute({0, 2, 1, 3});
        *k = x.slice(3, kd, 2 * kd).permute({0, 2, 1, 3});
        *v = x.slice(3, 2 * kd, 3 * kd).permute({0, 2, 1, 3});
      };
      SCOPED_TRACE("TinyViT qkv [bw, n, h, 3kd]");
      expect_views(random_cpu({bw, n, h, 3 * kd}, 520, -2.f, 2.f), views,
                   random_cpu({1, h, n, n}, 521, -3.f, 3.f), 1.f / std::sqrt(32.f), dt, half);
    }
    // MultiheadAttention self-attention: [B, L, row] sliced into q | k | v of E, heads
    // [B, H, L, hd] with the heads one batch stride apart only when B == 1. row = 3E + 1 puts
    // every row start at an odd element (2-byte alignment in float16).
    for (int64_t b : {1, 2}) {
      const int64_t l = 70, e = 8 * 32, nh = 8, hd = 32, row = 3 * e + 1;
      const ViewsFn views = [=](const Tensor& x, Tensor* q, Tensor* k, Tensor* v) {
        auto heads = [&](int64_t i) {
          const Tensor s = x.slice(2, i * e, (i + 1) * e);
          return Tensor(s.storage(), {b, nh, l, hd}, {s.strides()[0], hd, s.strides()[1], 1},
                        s.offset(), s.dtype());
        };
        *q = heads(0);
        *k = heads(1);
        *v = heads(2);
      };
      SCOPED_TRACE("MHA [B, L, 3E + 1], B " + std::to_string(b));
      expect_views(random_cpu({b, l, row}, 530 + static_cast<uint32_t>(b)), views, Tensor(),
                   1.f / std::sqrt(32.f), dt, false);
    }
    // Transposed storage: q and k stored [B, H, D, L] and seen as [B, H, L, D] (their last dim
    // strided: cuBLASLt reads them with the other transpose flag), v contiguous.
    {
      const int64_t b = 2, h = 3, l = 40, d = 32;
      const ViewsFn views = [=](const Tensor& x, Tensor* q, Tensor* k, Tensor* v) {
        *q = x.select(0, 0).transpose(2, 3);
        *k = x.select(0, 1).transpose(2, 3);
        *v = x.select(0, 2).view({b, h, l, d});
      };
      SCOPED_TRACE("transposed q and k");
      expect_views(random_cpu({3, b, h, d, l}, 540, -2.f, 2.f), views, Tensor(), 0.2f, dt, false);
    }
  }
}

TEST(AttentionGemmCuda, AutomaticDispatch) {
  UM_REQUIRE_CUDA();
  // Head dim 32 without bias goes to the fused kernel first (attention_mma_cuda_test.cpp checks
  // that dispatch), so the head-dim-32 cases here carry a bias ([1, H, Lq, Lk], as TinyViT's).
  auto path_of = [](const Shape& qs, const Shape& ks, DType dt) {
    const Tensor q = Tensor::empty(qs, dt, Device::cuda());
    const Tensor k = Tensor::empty(ks, dt, Device::cuda());
    const Tensor bias =
        qs[3] == 32 ? Tensor::empty({1, qs[1], qs[2], ks[2]}, dt, Device::cuda()) : Tensor();
    return attention_cuda_auto_path(q, k, k, bias);
  };
  // TinyViT's full window counts, float16: the GEMM path; float32 keeps the tiled kernel.
  const Case tinyvit[] = {{361, 4, 49, 49, 32}, {25, 5, 196, 196, 32}, {100, 10, 49, 49, 32}};
  for (const Case& c : tinyvit) {
    SCOPED_TRACE(c.label());
    EXPECT_EQ(path_of({c.b, c.h, c.lq, c.d}, {c.b, c.h, c.lk, c.d}, DType::kF16),
              AttentionPath::kGemm);
    EXPECT_EQ(path_of({c.b, c.h, c.lq, c.d}, {c.b, c.h, c.lk, c.d}, DType::kF32),
              AttentionPath::kTiled);
  }
  // D-FINE's self-attention shapes (8 heads x 400 / 300 rows) with a bias: the GEMM path.
  EXPECT_EQ(path_of({1, 8, 400, 32}, {1, 8, 400, 32}, DType::kF16), AttentionPath::kGemm);
  EXPECT_EQ(path_of({1, 8, 300, 32}, {1, 8, 300, 32}, DType::kF16), AttentionPath::kGemm);
  // Too few keys (SAM's image -> tokens, 7 keys; 31 keys), too small a head dim (8), too few
  // score rows (SAM's tokens -> image: 8 x 7 rows; 1023 rows).
  EXPECT_EQ(path_of({1, 8, 4096, 16}, {1, 8, 7, 16}, DType::kF16), AttentionPath::kTiled);
  EXPECT_EQ(path_of({24, 4, 49, 32}, {24, 4, 31, 32}, DType::kF16), AttentionPath::kTiled);
  EXPECT_EQ(path_of({24, 4, 49, 8}, {24, 4, 49, 8}, DType::kF16), AttentionPath::kTiled);
  EXPECT_EQ(path_of({1, 8, 7, 16}, {1, 8, 4096, 16}, DType::kF16), AttentionPath::kTiled);
  EXPECT_EQ(path_of({1, 3, 341, 32}, {1, 3, 49, 32}, DType::kF16), AttentionPath::kTiled);
  EXPECT_EQ(path_of({1, 4, 256, 32}, {1, 4, 49, 32}, DType::kF16), AttentionPath::kGemm);
  EXPECT_EQ(path_of({24, 4, 49, 16}, {24, 4, 49, 16}, DType::kF16), AttentionPath::kGemm);
  EXPECT_EQ(path_of({24, 4, 49, 32}, {24, 4, 32, 32}, DType::kF16), AttentionPath::kGemm);
  // The score scratch: exactly 64 MiB (4096 x 4096 float32) qualifies, one key more does not.
  EXPECT_EQ(path_of({1, 1, 4096, 16}, {1, 1, 4096, 16}, DType::kF16), AttentionPath::kGemm);
  EXPECT_EQ(path_of({1, 1, 4096, 16}, {1, 1, 4097, 16}, DType::kF16), AttentionPath::kTiled);
  // Head dim 128 with few keys: the generic kernel as before.
  EXPECT_EQ(path_of({1, 2, 9, 128}, {1, 2, 9, 128}, DType::kF16), AttentionPath::kGeneric);
}

TEST(AttentionGemmCuda, BadOperandsThrowUmError) {
  UM_REQUIRE_CUDA();
  const Tensor q = to_gpu(random_cpu({2, 3, 40, 32}, 600), DType::kF16);
  const Tensor k16 = to_gpu(random_cpu({2, 3, 40, 16}, 601), DType::kF16);
  const Tensor q32 = to_gpu(random_cpu({2, 3, 40, 32}, 602));
  auto gemm = [](const Tensor& a, const Tensor& b, const Tensor& c, const Tensor& bias) {
    return attention_cuda_with_path(a, b, c, bias, 0.1f, AttentionPath::kGemm);
  };
  EXPECT_THROW(gemm(q, k16, k16, Tensor()), Error);                                  // D differs
  EXPECT_THROW(gemm(q, q32, q32, Tensor()), Error);                                  // dtypes
  EXPECT_THROW(gemm(q, q, q, to_gpu(random_cpu({3, 5, 5}, 603), DType::kF16)), Error);  // bias
  EXPECT_THROW(gemm(q, q, q, to_gpu(random_cpu({3, 40, 40}, 604))), Error);  // f32 bias, f16 q
  EXPECT_THROW(gemm(q.view({6, 40, 32}), q.view({6, 40, 32}), q.view({6, 40, 32}), Tensor()),
               Error);                                                               // not 4-D
}

TEST(AttentionGemmCuda, EmptyShapes) {
  UM_REQUIRE_CUDA();
  expect_empty_shapes(AttentionPath::kGemm);
}

TEST(AttentionGemmCuda, WarmCallCapturesIntoACudaGraph) {
  UM_REQUIRE_CUDA();
  // The model's float16 TinyViT views (copies, two GEMMs, the softmax kernel, pool scratch):
  // warm once (cuBLASLt plans), then capture and replay; the replay alone must give the result.
  const int64_t bw = 6, n = 49, h = 4, kd = 32;  // 1176 score rows: the automatic GEMM path
  const Tensor x = f16_rounded(random_cpu({bw, n, h, 3 * kd}, 800, -2.f, 2.f));
  const Tensor bias = f16_rounded(random_cpu({1, h, n, n}, 801, -3.f, 3.f));
  auto part = [&](const Tensor& t, int64_t i) {
    return t.slice(3, i * kd, (i + 1) * kd).permute({0, 2, 1, 3});
  };
  const float scale = 1.f / std::sqrt(32.f);
  const Tensor ref = nn::scaled_dot_product_attention(part(x, 0), part(x, 1), part(x, 2), bias,
                                                      scale);
  const Tensor xg = to_gpu(x, DType::kF16), bg = to_gpu(bias, DType::kF16);
  ASSERT_EQ(attention_cuda_auto_path(part(xg, 0), part(xg, 1), part(xg, 2), bg),
            AttentionPath::kGemm);
  GraphReplay replay;
  const Tensor y = replay.run(
      [&] {
        return nn::scaled_dot_product_attention(part(xg, 0), part(xg, 1), part(xg, 2), bg, scale);
      },
      "GEMM attention");
  ASSERT_TRUE(replay.ok());
  EXPECT_LE(rel_err(y, ref), kF16Tol);
}

}  // namespace
}  // namespace um
