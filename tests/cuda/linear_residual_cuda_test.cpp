// GPU tests of linear with a fused residual add (nn::linear(x, weight, bias, residual): one
// cuBLASLt GEMM with the residual as its C input and beta = 1, src/nn/linear_cuda.cu and
// src/nn/cublaslt_context.cpp) against the CPU op (exactly add(residual, linear(...))):
// TinyViT's proj/fc2 shapes, a 3-D input, strided and misaligned residuals, no bias, in_features
// == 0, the same shape with and without a residual (the plan cache must tell them apart), the
// plain-kernel fallback and lt_gemm with a residual and a padded row stride, bad residuals, and a
// capture into a CUDA graph.
// Tolerances: float32 (true fp32 GEMM, no TF32) 1e-5 of the output's scale (max(1, max |ref|)):
// only the summation order differs. float16 runs see float16-rounded inputs (x, weight, bias,
// residual) on both sides; the GPU rounds its float32 sum once to float16 (unit roundoff 4.9e-4
// relative), the CPU reference stays float32: 1e-2 of the scale.
#include <gtest/gtest.h>


#include <algorithm>
#include <cmath>
#include <exception>
#include <string>

#include "core/cuda/cuda_runtime.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "nn/cublaslt_context.h"
#include "nn/ops.h"

namespace um {
namespace {

using test::GraphReplay;
using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;
using test::f16_rounded;
using test::scale_of;

constexpr float kF32Tol = 1e-5f;
constexpr float kF16Tol = 1e-2f;


// One linear-with-residual case on float-valued CPU tensors (bias may be undefined), compared
// with the CPU op in float32 and (inputs rounded to float16 on both sides) float16.
void expect_matches_cpu(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& r,
                        const std::string& what) {
  SCOPED_TRACE(what);
  auto gpu = [](const Tensor& t, DType d) { return t.defined() ? to_gpu(t, d) : Tensor(); };
  EXPECT_GPU_NEAR(nn::linear(gpu(x, DType::kF32), gpu(w, DType::kF32), gpu(b, DType::kF32),
                             gpu(r, DType::kF32)),
                  nn::linear(x, w, b, r), kF32Tol);
  auto h = [](const Tensor& t) { return t.defined() ? f16_rounded(t) : Tensor(); };
  const Tensor xh = h(x), wh = h(w), bh = h(b), rh = h(r);
  const Tensor y16 = nn::linear(gpu(xh, DType::kF16), gpu(wh, DType::kF16),
                                gpu(bh, DType::kF16), gpu(rh, DType::kF16));
  EXPECT_EQ(y16.dtype(), DType::kF16);
  EXPECT_GPU_NEAR(y16, nn::linear(xh, wh, bh, rh), kF16Tol);
}

TEST(LinearResidualCuda, MatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({3, 5, 64}, 1), w = random_cpu({48, 64}, 2);
  const Tensor b = random_cpu({48}, 3), r = random_cpu({3, 5, 48}, 4, -8.f, 8.f);
  expect_matches_cpu(x, w, b, r, "3-D input with bias");
  expect_matches_cpu(x, w, Tensor(), r, "no bias");
  expect_matches_cpu(x.view({15, 64}), w, b, r.view({15, 48}), "2-D input");
  expect_matches_cpu(random_cpu({64}, 5), w, b, random_cpu({48}, 6), "a single vector");
  // The residual must really be added (a GEMM that ignored C would still be near linear()).
  const Tensor y = nn::linear(to_gpu(x), to_gpu(w), to_gpu(b), to_gpu(r));
  EXPECT_GT(max_abs_diff_gpu(y, nn::linear(x, w, b)), 1.f);
}

TEST(LinearResidualCuda, TinyVitShapes) {
  UM_REQUIRE_CUDA();
  // TinyViT-sized residual GEMMs: the 128x128 token grid at dim 128 (proj 128 -> 128) and the
  // 64x64 grid at dim 160 (a 512-wide input -> 160). Small weights keep the outputs O(1) like
  // the model's.
  expect_matches_cpu(random_cpu({1, 16384, 128}, 10), random_cpu({128, 128}, 11, -0.2f, 0.2f),
                     random_cpu({128}, 12), random_cpu({1, 16384, 128}, 13, -4.f, 4.f),
                     "[1, 16384, 128] -> 128");
  expect_matches_cpu(random_cpu({1, 4096, 512}, 14), random_cpu({160, 512}, 15, -0.1f, 0.1f),
                     random_cpu({160}, 16), random_cpu({1, 4096, 160}, 17, -4.f, 4.f),
                     "[1, 4096, 512] -> 160");
}

TEST(LinearResidualCuda, StridedAndMisalignedResidual) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({2, 33, 40}, 20), w = random_cpu({24, 40}, 21);
  const Tensor b = random_cpu({24}, 22);
  // A transposed residual view: [2, 24, 33] read as [2, 33, 24] (copied into a block first).
  const Tensor rt = random_cpu({2, 24, 33}, 23).transpose(1, 2);
  ASSERT_FALSE(rt.is_contiguous());
  for (DType d : {DType::kF32, DType::kF16}) {
    SCOPED_TRACE(dtype_name(d));
    const bool half = d == DType::kF16;
    const Tensor xs = half ? f16_rounded(x) : x, ws = half ? f16_rounded(w) : w;
    const Tensor bs = half ? f16_rounded(b) : b;
    const Tensor rs = half ? f16_rounded(rt.contiguous()) : rt.contiguous();
    const Tensor ref = nn::linear(xs, ws, bs, rs);
    const float tol = half ? kF16Tol : kF32Tol;
    // The GPU residual as a strided view of its own device storage.
    const Tensor rg = to_gpu(rs.view({2, 33, 24}).transpose(1, 2).contiguous(), d).transpose(1, 2);
    ASSERT_FALSE(rg.is_contiguous());
    EXPECT_GPU_NEAR(nn::linear(to_gpu(xs, d), to_gpu(ws, d), to_gpu(bs, d), rg), ref, tol);
    // A contiguous residual at an odd element offset (4- or 2-byte aligned): cuBLASLt's C
    // alignment preference must describe it, not the output's.
    const Tensor flat = to_gpu(random_cpu({1 + 2 * 33 * 24}, 24), d);
    Tensor rodd = flat.slice(0, 1, 1 + 2 * 33 * 24).view({2, 33, 24});
    rodd.copy_from(to_gpu(rs, d));
    ASSERT_TRUE(rodd.is_contiguous());
    EXPECT_GPU_NEAR(nn::linear(to_gpu(xs, d), to_gpu(ws, d), to_gpu(bs, d), rodd), ref, tol);
    // A strided input too (permuted x, read in place by cuBLASLt).
    const Tensor xp = to_gpu(xs.permute({2, 0, 1}).contiguous(), d).permute({1, 2, 0});
    EXPECT_GPU_NEAR(nn::linear(xp, to_gpu(ws, d), to_gpu(bs, d), rg), ref, tol);
  }
}

TEST(LinearResidualCuda, SameShapeWithAndWithoutResidual) {
  UM_REQUIRE_CUDA();
  // One GEMM shape alternating between beta = 0 and beta = 1 (and residual alignments): each
  // call must get its own result, whatever the plan cache holds.
  const Tensor x = random_cpu({64, 96}, 30), w = random_cpu({32, 96}, 31), b = random_cpu({32}, 32);
  const Tensor r = random_cpu({64, 32}, 33, -4.f, 4.f);
  const Tensor xg = to_gpu(x), wg = to_gpu(w), bg = to_gpu(b), rg = to_gpu(r);
  const Tensor flat = to_gpu(random_cpu({1 + 64 * 32}, 34));
  Tensor rodd = flat.slice(0, 1, 1 + 64 * 32).view({64, 32});
  rodd.copy_from(rg);
  for (int round = 0; round < 2; ++round) {
    EXPECT_GPU_NEAR(nn::linear(xg, wg, bg), nn::linear(x, w, b), kF32Tol);
    EXPECT_GPU_NEAR(nn::linear(xg, wg, bg, rg), nn::linear(x, w, b, r), kF32Tol);
    EXPECT_GPU_NEAR(nn::linear(xg, wg, bg, rodd), nn::linear(x, w, b, r), kF32Tol);
    EXPECT_GPU_NEAR(nn::linear(xg, wg, bg, Tensor()), nn::linear(x, w, b), kF32Tol);
  }
}

TEST(LinearResidualCuda, NoInputFeatures) {
  UM_REQUIRE_CUDA();
  const Tensor b = random_cpu({4}, 40), r = random_cpu({2, 3, 4}, 41);
  {  // The CPU reference itself: residual + bias on every row.
    const Tensor cpu = nn::linear(Tensor::empty({2, 3, 0}), Tensor::empty({4, 0}), b, r);
    for (int64_t i = 0; i < 24; ++i) {
      EXPECT_EQ(cpu.data<float>()[i], r.data<float>()[i] + b.data<float>()[i % 4]);
    }
  }
  for (DType d : {DType::kF32, DType::kF16}) {
    SCOPED_TRACE(dtype_name(d));
    const Tensor xg = Tensor::empty({2, 3, 0}, d, Device::cuda());
    const Tensor wg = Tensor::empty({4, 0}, d, Device::cuda());
    const bool half = d == DType::kF16;
    const Tensor bs = half ? f16_rounded(b) : b, rs = half ? f16_rounded(r) : r;
    EXPECT_GPU_NEAR(nn::linear(xg, wg, to_gpu(bs, d), to_gpu(rs, d)),
                    nn::linear(Tensor::empty({2, 3, 0}), Tensor::empty({4, 0}), bs, rs),
                    half ? kF16Tol : kF32Tol);
    EXPECT_GPU_NEAR(nn::linear(xg, wg, Tensor(), to_gpu(rs, d)), rs, half ? kF16Tol : kF32Tol);
  }
}

TEST(LinearResidualCuda, RejectsBadResidual) {
  UM_REQUIRE_CUDA();
  const Tensor x = to_gpu(random_cpu({2, 5, 8}, 50)), w = to_gpu(random_cpu({3, 8}, 51));
  const Tensor b = to_gpu(random_cpu({3}, 52));
  const Tensor r = random_cpu({2, 5, 3}, 53);
  EXPECT_THROW((void)nn::linear(x, w, b, to_gpu(random_cpu({2, 5, 4}, 54))), Error);
  EXPECT_THROW((void)nn::linear(x, w, b, to_gpu(random_cpu({10, 3}, 55))), Error);
  EXPECT_THROW((void)nn::linear(x, w, b, to_gpu(random_cpu({3}, 56))), Error);  // no broadcast
  EXPECT_THROW((void)nn::linear(x, w, b, to_gpu(r, DType::kF16)), Error);        // dtype mix
  EXPECT_THROW((void)nn::linear(x, w, b, r), Error);                             // CPU residual
  EXPECT_THROW((void)nn::linear(random_cpu({2, 5, 8}, 57), random_cpu({3, 8}, 58), Tensor(),
                                to_gpu(r)),
               Error);  // CPU op, GPU residual
  try {
    (void)nn::linear(x, w, b, to_gpu(random_cpu({2, 5, 4}, 59)));
    FAIL() << "a residual of the wrong shape was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("residual"), std::string::npos) << e.what();
  }
}

// lt_gemm and the plain-kernel fallback with a residual: batched, a transposed operand, alpha,
// bias and a padded row stride (ldc > n) that the residual shares; c_float32 refuses it.
TEST(LinearResidualCuda, LtGemmAndFallbackWithResidual) {
  UM_REQUIRE_CUDA();
  const int64_t batch = 3, m = 6, n = 5, k = 10, ldc = 8;
  const Tensor a = random_cpu({batch, m, k}, 60), bt = random_cpu({batch, n, k}, 61);
  const Tensor bias = random_cpu({n}, 62), res = random_cpu({batch, m, ldc}, 63, -4.f, 4.f);
  Tensor ref = nn::matmul(a, bt.transpose(1, 2));  // [batch, m, n]
  for (int64_t t = 0; t < batch; ++t)
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        float& v = ref.data<float>()[(t * m + i) * n + j];
        v = 0.5f * v + bias.data<float>()[j] + res.data<float>()[(t * m + i) * ldc + j];
      }
  const Tensor ag = to_gpu(a), btg = to_gpu(bt), biasg = to_gpu(bias), resg = to_gpu(res);
  nn::detail::LtGemm g;
  g.dtype = DType::kF32;
  g.m = m;
  g.n = n;
  g.k = k;
  g.batch = batch;
  g.a = {ag.raw_data(), k, 1, m * k};
  g.b = {btg.raw_data(), 1, k, n * k};  // bt[t].transpose(): [k, n]
  g.bias = biasg.raw_data();
  g.residual = resg.raw_data();
  g.alpha = 0.5f;
  g.ldc = ldc;
  for (int which = 0; which < 2; ++which) {
    SCOPED_TRACE(which == 0 ? "lt_gemm" : "gemm_fallback");
    Tensor out = Tensor::zeros({batch, m, ldc}, DType::kF32, Device::cuda());
    g.c = out.raw_data();
    if (which == 0) {
      nn::detail::lt_gemm(g);
    } else {
      nn::detail::gemm_fallback(g);
    }
    const Tensor got = to_cpu_f32(out).slice(2, 0, n).contiguous();
    float diff = 0.f;
    for (int64_t i = 0; i < ref.numel(); ++i) {
      diff = std::max(diff, std::fabs(got.data<float>()[i] - ref.data<float>()[i]));
    }
    EXPECT_LE(diff, kF32Tol * scale_of(ref));
  }
  nn::detail::LtGemm bad = g;
  Tensor out32 = Tensor::empty({batch, m, ldc}, DType::kF32, Device::cuda());
  bad.c = out32.raw_data();
  bad.bias = nullptr;
  bad.c_float32 = true;
  EXPECT_THROW(nn::detail::lt_gemm(bad), Error);
  EXPECT_THROW(nn::detail::gemm_fallback(bad), Error);
}

TEST(LinearResidualCuda, WarmCallCapturesIntoACudaGraph) {
  UM_REQUIRE_CUDA();
  // TinyViT's float16 fc2 with its residual: warm once (the cuBLASLt plan), then capture and
  // replay; the replay alone must give the result.
  const Tensor x = f16_rounded(random_cpu({1, 4096, 512}, 70));
  const Tensor w = f16_rounded(random_cpu({160, 512}, 71, -0.1f, 0.1f));
  const Tensor b = f16_rounded(random_cpu({160}, 72));
  const Tensor r = f16_rounded(random_cpu({1, 4096, 160}, 73, -4.f, 4.f));
  const Tensor ref = nn::linear(x, w, b, r);
  const Tensor xg = to_gpu(x, DType::kF16), wg = to_gpu(w, DType::kF16);
  const Tensor bg = to_gpu(b, DType::kF16), rg = to_gpu(r, DType::kF16);
  GraphReplay replay;
  const Tensor y =
      replay.run([&] { return nn::linear(xg, wg, bg, rg); }, "linear with residual");
  ASSERT_TRUE(replay.ok());
  EXPECT_GPU_NEAR(y, ref, kF16Tol);
}

}  // namespace
}  // namespace um
