// GPU tests of the key-tiled attention kernel (src/nn/attention_tiled_cuda.cu) and of the
// dispatch between it and the generic kernel (src/nn/attention_cuda.cu): every case is compared
// with the CPU reference op, and the model shapes also with the generic kernel forced through
// attention_cuda_with_path. Boundaries: key counts around the 32-lane and 64-key tile edges,
// query counts that leave a block partly empty, every bias broadcast pattern, head views of a
// packed qkv (16-byte vector staging and, with an odd packing, the scalar staging), head dims
// 1..64, float16 and float32, masked keys, a fully masked row (NaN like the CPU) and split keys.
// Tolerances as in dense_cuda_test.cpp: float32 1e-4 of the output's scale (max(1, max |ref|));
// float16 runs see float16-rounded inputs on both sides, 1e-2 of the scale.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "attention_test_util.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/attention_cuda.h"
#include "nn/ops.h"

namespace um {
namespace {

using namespace attention_test;  // attention_test_util.h

// The path the automatic dispatch must pick for a case the tiled kernel takes (16-byte aligned
// rows): the fused tensor-core kernel (attention_mma_cuda.cu) for float16 without bias, head dim
// 32, <= 512 keys and >= 1024 score rows; else the tensor-core GEMM path (attention_gemm_cuda.cu)
// for float16 with >= 32 keys, head dim >= 16 and >= 1024 score rows (every case here is far
// below its 64 MiB scratch bound); else tiled.
AttentionPath expected_auto(const Case& c, DType dtype, bool bias) {
  const bool rows = c.b * c.h * c.lq >= 1024;
  if (dtype == DType::kF16 && !bias && c.d == 32 && c.lk <= 512 && rows) {
    return AttentionPath::kMma;
  }
  return dtype == DType::kF16 && c.lk >= 32 && c.d >= 16 && rows ? AttentionPath::kGemm
                                                                 : AttentionPath::kTiled;
}

// Contiguous random q, k, v (float16-rounded for a float16 run) checked against the CPU op, on
// the automatic path (expected_auto) and on the tiled kernel forced.
void expect_tiled(const Case& c, uint32_t seed, const Tensor& bias_in, DType dtype) {
  SCOPED_TRACE(c.label() + (dtype == DType::kF16 ? " f16" : " f32") +
               (bias_in.defined() ? " bias " + shape_str(bias_in.shape()) : " no bias"));
  const AttentionOperands o = make_attention_operands(c, seed, bias_in, dtype);
  const Tensor &ref = o.ref, &qg = o.qg, &kg = o.kg, &vg = o.vg, &bg = o.bg;
  const float scale = o.scale;
  EXPECT_EQ(attention_cuda_auto_path(qg, kg, vg, bg), expected_auto(c, dtype, bg.defined()));
  const Tensor y = nn::scaled_dot_product_attention(qg, kg, vg, bg, scale);
  EXPECT_EQ(y.dtype(), dtype);
  const float tol = tol_of(dtype);
  EXPECT_LE(rel_err(y, ref), tol);
  EXPECT_LE(rel_err(attention_cuda_with_path(qg, kg, vg, bg, scale, AttentionPath::kTiled), ref),
            tol);
}

TEST(AttentionTiledCuda, KeyCountsAroundTheTileEdges) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 300;
  for (int64_t lk : {1, 2, 31, 32, 33, 49, 63, 64, 65, 127, 128, 129, 196}) {
    for (DType dt : {DType::kF32, DType::kF16}) {
      expect_tiled({2, 3, 49, lk, 32}, seed, Tensor(), dt);
      expect_tiled({2, 3, 49, lk, 32}, seed + 3, random_cpu({3, 49, lk}, seed + 4, -3.f, 3.f), dt);
      seed += 5;
    }
  }
}

TEST(AttentionTiledCuda, QueryCountsAndRowsPerWarp) {
  UM_REQUIRE_CUDA();
  // Few blocks (one row per warp) and many blocks (up to 8 rows per warp, 64 per block): query
  // counts that fill a block exactly, leave it partly empty, or spill one row into a new block.
  uint32_t seed = 400;
  for (int64_t lq : {1, 7, 8, 9, 49, 63, 64, 65, 100}) {
    expect_tiled({1, 2, lq, 49, 32}, seed, Tensor(), DType::kF32);          // few blocks
    expect_tiled({40, 10, lq, 49, 32}, seed + 3, Tensor(), DType::kF32);    // R = 8 when possible
    expect_tiled({8, 10, lq, 49, 32}, seed + 6, Tensor(), DType::kF16);     // R = 2..8
    seed += 9;
  }
}

TEST(AttentionTiledCuda, HeadDims) {
  UM_REQUIRE_CUDA();
  // 16 and 32 are compiled specially; 64 uses the second output dim of every lane; 1, 8, 20, 48
  // and 33 the runtime-D kernel (20 and 33 also the scalar staging: not whole 16-byte vectors).
  uint32_t seed = 500;
  for (int64_t d : {1, 8, 16, 20, 32, 33, 48, 64}) {
    for (DType dt : {DType::kF32, DType::kF16}) {
      expect_tiled({2, 2, 30, 70, d}, seed, random_cpu({2, 2, 30, 70}, seed + 4, -3.f, 3.f), dt);
      seed += 5;
    }
  }
}

TEST(AttentionTiledCuda, BiasBroadcastPatterns) {
  UM_REQUIRE_CUDA();
  const Case c{3, 4, 49, 49, 32};
  uint32_t seed = 600;
  for (DType dt : {DType::kF32, DType::kF16}) {
    expect_tiled(c, seed, Tensor(), dt);
    for (const auto& pattern : bias_broadcast_patterns(seed)) {
      expect_tiled(c, seed + pattern.seed_offset, pattern.bias, dt);
    }
    seed += 100;
  }
  // A transposed bias view (its stride along the keys is 49, not 1).
  const Tensor q = random_cpu({2, 4, 49, 32}, 690, -2.f, 2.f);
  const Tensor base = random_cpu({4, 49, 49}, 691, -3.f, 3.f);
  const Tensor qg = to_gpu(q);
  EXPECT_LE(rel_err(nn::scaled_dot_product_attention(qg, qg, qg, to_gpu(base).transpose(1, 2),
                                                     0.2f),
                    nn::scaled_dot_product_attention(q, q, q, base.transpose(1, 2), 0.2f)),
            kF32Tol);
}

// q, k, v as head views of packed projections (no copies), as the models pass them.
TEST(AttentionTiledCuda, PackedHeadViews) {
  UM_REQUIRE_CUDA();
  for (DType dt : {DType::kF32, DType::kF16}) {
    SCOPED_TRACE(dt == DType::kF16 ? "f16" : "f32");
    const float tol = dt == DType::kF16 ? kF16Tol : kF32Tol;
    // TinyViT: qkv [bw, n, heads, 3 * kd] interleaved per head (16-byte aligned rows).
    {
      const int64_t bw = 6, n = 49, h = 4, kd = 32;
      const Tensor x = f16_rounded(random_cpu({bw, n, h, 3 * kd}, 700, -2.f, 2.f));
      auto part = [&](const Tensor& t, int64_t i) {
        return t.slice(3, i * kd, (i + 1) * kd).permute({0, 2, 1, 3});
      };
      const Tensor bias = f16_rounded(random_cpu({1, h, n, n}, 701, -3.f, 3.f));
      const Tensor g = to_gpu(x, dt);
      EXPECT_EQ(attention_cuda_auto_path(part(g, 0), part(g, 1), part(g, 2), to_gpu(bias, dt)),
                expected_auto({bw, h, n, n, kd}, dt, true));
      EXPECT_LE(rel_err(nn::scaled_dot_product_attention(part(g, 0), part(g, 1), part(g, 2),
                                                         to_gpu(bias, dt), 0.17f),
                        nn::scaled_dot_product_attention(part(x, 0), part(x, 1), part(x, 2), bias,
                                                         0.17f)),
                tol);
    }
    // MultiheadAttention self-attention: qkv [B, L, 3E] sliced, heads [B, L, H, hd] permuted.
    // E = 8 * 33 + 1: odd row strides and offsets, so the staging loads single elements.
    for (int64_t e : {256, 8 * 33}) {
      const int64_t b = 2, l = 70, nh = 8, hd = e / nh, row = 3 * e + (e == 256 ? 0 : 1);
      const Tensor x = f16_rounded(random_cpu({b, l, row}, 702 + static_cast<uint32_t>(e)));
      auto heads = [&](const Tensor& t, int64_t i) {
        const Tensor s = t.slice(2, i * e, (i + 1) * e);
        return Tensor(s.storage(), {b, nh, l, hd}, {s.strides()[0], hd, s.strides()[1], 1},
                      s.offset(), s.dtype());
      };
      const Tensor g = to_gpu(x, dt);
      const float scale = 1.f / std::sqrt(static_cast<float>(hd));
      SCOPED_TRACE("E " + std::to_string(e));
      EXPECT_LE(rel_err(nn::scaled_dot_product_attention(heads(g, 0), heads(g, 1), heads(g, 2),
                                                         Tensor(), scale),
                        nn::scaled_dot_product_attention(heads(x, 0), heads(x, 1), heads(x, 2),
                                                         Tensor(), scale)),
                tol);
    }
  }
}

TEST(AttentionTiledCuda, MaskedKeysAndAFullyMaskedRow) {
  UM_REQUIRE_CUDA();
  // Keys 0..69 masked for every row (the whole first 64-key tile is -inf: the running max starts
  // at -inf and must not give NaN), every 3rd key of the rest masked, and row 5 masked entirely
  // (NaN on the CPU and on the GPU).
  const int64_t lq = 20, lk = 150;
  Tensor mask = random_cpu({lq, lk}, 800, -2.f, 2.f);
  float* p = mask.data<float>();
  for (int64_t i = 0; i < lq; ++i) {
    for (int64_t j = 0; j < lk; ++j) {
      if (j < 70 || j % 3 == 0 || i == 5) p[i * lk + j] = -INFINITY;
    }
  }
  for (DType dt : {DType::kF32, DType::kF16}) {
    expect_tiled({2, 3, lq, lk, 32}, 801, mask, dt);
  }
  // Split keys (7 rows x 4096 keys) with the first 3000 keys masked: whole splits see only -inf.
  Tensor key_mask = random_cpu({1, 1, 1, 4096}, 802, -2.f, 2.f);
  for (int64_t j = 0; j < 3000; ++j) key_mask.data<float>()[j] = -INFINITY;
  for (DType dt : {DType::kF32, DType::kF16}) expect_tiled({1, 8, 7, 4096, 16}, 803, key_mask, dt);
}

TEST(AttentionTiledCuda, ShapesOfTheModelsMatchCpuAndGenericKernel) {
  UM_REQUIRE_CUDA();
  struct ModelCase {
    Case c;
    bool bias;
    const char* what;
  };
  const ModelCase cases[] = {
      {{19 * 19, 4, 49, 49, 32}, true, "TinyViT stage 2 (128x128 tokens, 361 windows)"},
      {{25, 5, 196, 196, 32}, true, "TinyViT stage 3 (64x64 tokens, 14x14 windows)"},
      {{100, 10, 49, 49, 32}, true, "TinyViT stage 4 (64x64 tokens, 100 windows)"},
      {{1, 8, 7, 4096, 16}, false, "SAM tokens -> image (split keys)"},
      {{1, 8, 4096, 7, 16}, false, "SAM image -> tokens"},
      {{1, 8, 7, 7, 32}, false, "SAM token self-attention"},
      {{1, 8, 300, 300, 32}, false, "D-FINE decoder self-attention"},
      {{1, 8, 400, 400, 32}, false, "D-FINE encoder self-attention"},
  };
  uint32_t seed = 900;
  for (const ModelCase& m : cases) {
    SCOPED_TRACE(m.what);
    for (DType dt : {DType::kF32, DType::kF16}) {
      const Tensor bias =
          m.bias ? random_cpu({1, m.c.h, m.c.lq, m.c.lk}, seed + 7, -3.f, 3.f) : Tensor();
      expect_tiled(m.c, seed, bias, dt);
      // The generic kernel on the same device inputs agrees with the tiled one.
      const Tensor q = to_gpu(random_cpu({m.c.b, m.c.h, m.c.lq, m.c.d}, seed, -2.f, 2.f), dt);
      const Tensor k = to_gpu(random_cpu({m.c.b, m.c.h, m.c.lk, m.c.d}, seed + 1, -2.f, 2.f), dt);
      const Tensor v = to_gpu(random_cpu({m.c.b, m.c.h, m.c.lk, m.c.d}, seed + 2), dt);
      const Tensor bg = bias.defined() ? to_gpu(bias, dt) : Tensor();
      const Tensor gen = attention_cuda_with_path(q, k, v, bg, 0.2f, AttentionPath::kGeneric);
      const Tensor til = attention_cuda_with_path(q, k, v, bg, 0.2f, AttentionPath::kTiled);
      EXPECT_LE(rel_err(til, to_cpu_f32(gen)), dt == DType::kF16 ? kF16Tol : kF32Tol);
      seed += 10;
    }
  }
}

TEST(AttentionTiledCuda, DispatchFallsBackToTheGenericKernel) {
  UM_REQUIRE_CUDA();
  // Head dim 128: generic (and forcing the tiled kernel is refused).
  const Tensor q = random_cpu({1, 2, 9, 128}, 950, -2.f, 2.f);
  const Tensor qg = to_gpu(q);
  EXPECT_EQ(attention_cuda_auto_path(qg, qg, qg), AttentionPath::kGeneric);
  EXPECT_THROW(attention_cuda_with_path(qg, qg, qg, Tensor(), 0.1f, AttentionPath::kTiled), Error);
  EXPECT_LE(rel_err(nn::scaled_dot_product_attention(qg, qg, qg, Tensor(), 0.1f),
                    nn::scaled_dot_product_attention(q, q, q, Tensor(), 0.1f)),
            kF32Tol);
  // A strided last dim (q stored [B, H, D, L], seen transposed): generic, still right.
  const Tensor qt = random_cpu({2, 3, 32, 40}, 951, -2.f, 2.f).transpose(2, 3);
  const Tensor qtg = to_gpu(random_cpu({2, 3, 32, 40}, 951, -2.f, 2.f)).transpose(2, 3);
  const Tensor k = random_cpu({2, 3, 40, 32}, 952, -2.f, 2.f);
  const Tensor kg = to_gpu(k);
  EXPECT_EQ(attention_cuda_auto_path(qtg, kg, kg), AttentionPath::kGeneric);
  EXPECT_THROW(attention_cuda_with_path(qtg, kg, kg, Tensor(), 0.1f, AttentionPath::kTiled), Error);
  EXPECT_LE(rel_err(nn::scaled_dot_product_attention(qtg, kg, kg, Tensor(), 0.1f),
                    nn::scaled_dot_product_attention(qt, k, k, Tensor(), 0.1f)),
            kF32Tol);
  // Bad operands are refused on either path.
  const Tensor k5 = to_gpu(random_cpu({2, 3, 40, 16}, 953));
  EXPECT_THROW(attention_cuda_with_path(kg, k5, k5, Tensor(), 0.1f, AttentionPath::kTiled), Error);
  EXPECT_THROW(attention_cuda_with_path(kg, kg, kg, to_gpu(random_cpu({3, 5, 5}, 954)), 0.1f,
                                        AttentionPath::kTiled),
               Error);
}

TEST(AttentionTiledCuda, EmptyShapes) {
  UM_REQUIRE_CUDA();
  // No keys: an empty softmax sums to 0 (zeros, as on the CPU); no queries: an empty output.
  const Tensor q = to_gpu(random_cpu({1, 2, 5, 32}, 960));
  const Tensor k0 = Tensor::empty({1, 2, 0, 32}, DType::kF32, Device::cuda());
  const Tensor y = attention_cuda_with_path(q, k0, k0, Tensor(), 0.1f, AttentionPath::kTiled);
  EXPECT_EQ(shape_str(y.shape()), shape_str(Shape{1, 2, 5, 32}));
  const Tensor yc = to_cpu_f32(y);
  for (int64_t i = 0; i < yc.numel(); ++i) EXPECT_EQ(yc.data<float>()[i], 0.f);
  const Tensor q0 = Tensor::empty({1, 2, 0, 32}, DType::kF32, Device::cuda());
  const Tensor k = to_gpu(random_cpu({1, 2, 7, 32}, 961));
  EXPECT_EQ(attention_cuda_with_path(q0, k, k, Tensor(), 0.1f, AttentionPath::kTiled).numel(), 0);
}

}  // namespace
}  // namespace um
