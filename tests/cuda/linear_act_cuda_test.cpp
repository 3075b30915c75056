// GPU tests of nn::linear_act (nn/ops_fused.h; src/nn/linear_cuda.cu: ReLU as cuBLASLt's
// RELU / RELU_BIAS epilogue, SiLU/GELU as the GEMM then the activation pass) against the CPU op
// (exactly linear then the activation): with and without bias, 2-D / 3-D / strided inputs, D-FINE's
// decoder shapes (MLP hidden layers 256 -> 256 in float32, the FFN 256 -> 1024 in float16), the
// same GEMM shape with and without the epilogue (the plan cache must tell them apart), the
// plain-kernel fallback with relu, in_features == 0, bad arguments, and a capture into a graph.
// Tolerances: float32 (true fp32 GEMM) 1e-5 of the output's scale (max(1, max |ref|)): only the
// summation order differs (ReLU is exact). float16 runs see float16-rounded inputs on both sides;
// the GPU rounds its float32 result once (unit roundoff 4.9e-4): 1e-2 of the scale.
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
#include "nn/ops_fused.h"

namespace um {
namespace {

using nn::Activation;
using test::GraphReplay;
using test::f16_rounded;
using test::max_abs_diff_gpu;
using test::random_cpu;
using test::scale_of;
using test::to_cpu_f32;
using test::to_gpu;

constexpr float kF32Tol = 1e-5f;
constexpr float kF16Tol = 1e-2f;

const char* act_name(Activation a) {
  switch (a) {
    case Activation::kNone: return "none";
    case Activation::kReLU: return "relu";
    case Activation::kSiLU: return "silu";
    case Activation::kGELU: return "gelu";
  }
  return "?";
}

Tensor gpu_or_none(const Tensor& t, DType d) { return t.defined() ? to_gpu(t, d) : Tensor(); }
Tensor rounded_or_none(const Tensor& t) { return t.defined() ? f16_rounded(t) : Tensor(); }

// One case (x may be a strided CPU view: its GPU copy keeps the same view), float32 and float16.
void expect_matches_cpu(const Tensor& x, const Tensor& w, const Tensor& b, Activation act,
                        const std::string& what) {
  SCOPED_TRACE(what + std::string(", ") + act_name(act));
  const Tensor y32 = nn::linear_act(to_gpu(x), to_gpu(w), gpu_or_none(b, DType::kF32), act);
  EXPECT_EQ(y32.dtype(), DType::kF32);
  EXPECT_TRUE(y32.is_contiguous());
  EXPECT_GPU_NEAR(y32, nn::linear_act(x, w, b, act), kF32Tol);
  const Tensor xh = f16_rounded(x), wh = f16_rounded(w), bh = rounded_or_none(b);
  const Tensor y16 = nn::linear_act(to_gpu(xh, DType::kF16), to_gpu(wh, DType::kF16),
                                    gpu_or_none(bh, DType::kF16), act);
  EXPECT_EQ(y16.dtype(), DType::kF16);
  EXPECT_GPU_NEAR(y16, nn::linear_act(xh, wh, bh, act), kF16Tol);
}

TEST(LinearActCuda, MatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({3, 5, 64}, 1), w = random_cpu({48, 64}, 2);
  const Tensor b = random_cpu({48}, 3);
  for (Activation a :
       {Activation::kReLU, Activation::kNone, Activation::kSiLU, Activation::kGELU}) {
    expect_matches_cpu(x, w, b, a, "3-D input with bias");
    expect_matches_cpu(x, w, Tensor(), a, "3-D input, no bias");
    expect_matches_cpu(x.view({15, 64}), w, b, a, "2-D input");
    expect_matches_cpu(random_cpu({64}, 4), w, b, a, "a single vector");
  }
  // The ReLU really ran on the GPU: no negative output, and the linear alone had some.
  const Tensor y = to_cpu_f32(nn::linear_act(to_gpu(x), to_gpu(w), to_gpu(b), Activation::kReLU));
  float lo = 0.f;
  for (int64_t i = 0; i < y.numel(); ++i) lo = std::min(lo, y.data<float>()[i]);
  EXPECT_EQ(lo, 0.f);
  EXPECT_GT(max_abs_diff_gpu(nn::linear(to_gpu(x), to_gpu(w), to_gpu(b)), y), 0.1f);
}

TEST(LinearActCuda, StridedInputs) {
  UM_REQUIRE_CUDA();
  const Tensor w = random_cpu({24, 40}, 10), b = random_cpu({24}, 11);
  // A permuted 3-D x (its last dim strided: read in place or copied, either must be right) and a
  // transposed 2-D x; each as a view of its own GPU storage.
  const Tensor base3 = random_cpu({40, 2, 33}, 12);
  const Tensor base2 = random_cpu({40, 17}, 13);
  for (DType d : {DType::kF32, DType::kF16}) {
    SCOPED_TRACE(dtype_name(d));
    const bool half = d == DType::kF16;
    const Tensor ws = half ? f16_rounded(w) : w, bs = half ? f16_rounded(b) : b;
    const Tensor b3 = half ? f16_rounded(base3) : base3, b2 = half ? f16_rounded(base2) : base2;
    const float tol = half ? kF16Tol : kF32Tol;
    const Tensor xp = to_gpu(b3, d).permute({1, 2, 0});  // [2, 33, 40]
    ASSERT_FALSE(xp.is_contiguous());
    EXPECT_GPU_NEAR(nn::linear_act(xp, to_gpu(ws, d), to_gpu(bs, d), Activation::kReLU),
                    nn::linear_act(b3.permute({1, 2, 0}), ws, bs, Activation::kReLU), tol);
    const Tensor xt = to_gpu(b2, d).transpose(0, 1);  // [17, 40]
    ASSERT_FALSE(xt.is_contiguous());
    EXPECT_GPU_NEAR(nn::linear_act(xt, to_gpu(ws, d), Tensor(), Activation::kReLU),
                    nn::linear_act(b2.transpose(0, 1), ws, Tensor(), Activation::kReLU), tol);
    // Every other row of a [34, 40] block: a row stride of 80 elements.
    const Tensor rows = random_cpu({34, 40}, 14);
    const Tensor rs = half ? f16_rounded(rows) : rows;
    const Tensor xr = to_gpu(rs, d).view({17, 2, 40}).select(1, 0);
    ASSERT_FALSE(xr.is_contiguous());
    EXPECT_GPU_NEAR(nn::linear_act(xr, to_gpu(ws, d), to_gpu(bs, d), Activation::kReLU),
                    nn::linear_act(rs.view({17, 2, 40}).select(1, 0), ws, bs, Activation::kReLU),
                    tol);
  }
}

TEST(LinearActCuda, DfineDecoderShapes) {
  UM_REQUIRE_CUDA();
  // The box-chain MLP hidden layers (float32, 300 queries, 256 -> 256; query_pos 4 -> 512) and
  // the decoder FFN's linear1 (float16, 256 -> 1024). Small weights keep outputs O(1).
  const Tensor x = random_cpu({1, 300, 256}, 20);
  const Tensor w = random_cpu({256, 256}, 21, -0.1f, 0.1f), b = random_cpu({256}, 22);
  EXPECT_GPU_NEAR(nn::linear_act(to_gpu(x), to_gpu(w), to_gpu(b), Activation::kReLU),
                  nn::linear_act(x, w, b, Activation::kReLU), kF32Tol);
  const Tensor r = random_cpu({1, 300, 4}, 23, 0.f, 1.f);
  const Tensor wq = random_cpu({512, 4}, 24), bq = random_cpu({512}, 25);
  EXPECT_GPU_NEAR(nn::linear_act(to_gpu(r), to_gpu(wq), to_gpu(bq), Activation::kReLU),
                  nn::linear_act(r, wq, bq, Activation::kReLU), kF32Tol);
  const Tensor w1 = f16_rounded(random_cpu({1024, 256}, 26, -0.1f, 0.1f));
  const Tensor b1 = f16_rounded(random_cpu({1024}, 27));
  const Tensor xh = f16_rounded(x);
  EXPECT_GPU_NEAR(nn::linear_act(to_gpu(xh, DType::kF16), to_gpu(w1, DType::kF16),
                                 to_gpu(b1, DType::kF16), Activation::kReLU),
                  nn::linear_act(xh, w1, b1, Activation::kReLU), kF16Tol);
}

TEST(LinearActCuda, SameShapeWithAndWithoutRelu) {
  UM_REQUIRE_CUDA();
  // One GEMM shape alternating between the plain BIAS epilogue, RELU_BIAS, RELU (no bias) and
  // none: each call must get its own result, whatever the plan cache holds.
  const Tensor x = random_cpu({64, 96}, 30), w = random_cpu({32, 96}, 31), b = random_cpu({32}, 32);
  const Tensor xg = to_gpu(x), wg = to_gpu(w), bg = to_gpu(b);
  for (int round = 0; round < 2; ++round) {
    EXPECT_GPU_NEAR(nn::linear(xg, wg, bg), nn::linear(x, w, b), kF32Tol);
    EXPECT_GPU_NEAR(nn::linear_act(xg, wg, bg, Activation::kReLU),
                    nn::linear_act(x, w, b, Activation::kReLU), kF32Tol);
    EXPECT_GPU_NEAR(nn::linear(xg, wg, Tensor()), nn::linear(x, w, Tensor()), kF32Tol);
    EXPECT_GPU_NEAR(nn::linear_act(xg, wg, Tensor(), Activation::kReLU),
                    nn::linear_act(x, w, Tensor(), Activation::kReLU), kF32Tol);
  }
}

TEST(LinearActCuda, NoInputFeatures) {
  UM_REQUIRE_CUDA();
  // in_features == 0: the output is relu(bias) on every row (no GEMM runs).
  const Tensor b = random_cpu({6}, 40);
  const Tensor ref = nn::linear_act(Tensor::empty({2, 3, 0}), Tensor::empty({6, 0}), b,
                                    Activation::kReLU);
  for (int64_t i = 0; i < ref.numel(); ++i) {
    EXPECT_EQ(ref.data<float>()[i], std::max(b.data<float>()[i % 6], 0.f));
  }
  const Tensor y = nn::linear_act(Tensor::empty({2, 3, 0}, DType::kF32, Device::cuda()),
                                  Tensor::empty({6, 0}, DType::kF32, Device::cuda()), to_gpu(b),
                                  Activation::kReLU);
  EXPECT_GPU_NEAR(y, ref, kF32Tol);
}

// lt_gemm and the plain-kernel fallback with relu: batched, a transposed operand, alpha, with
// and without bias; both must equal max(0, alpha * A @ B + bias).
TEST(LinearActCuda, LtGemmAndFallbackWithRelu) {
  UM_REQUIRE_CUDA();
  const int64_t batch = 2, m = 7, n = 5, k = 12;
  const Tensor a = random_cpu({batch, m, k}, 50), bt = random_cpu({batch, n, k}, 51);
  const Tensor bias = random_cpu({n}, 52);
  const Tensor prod = nn::matmul(a, bt.transpose(1, 2));  // [batch, m, n]
  const Tensor ag = to_gpu(a), btg = to_gpu(bt), biasg = to_gpu(bias);
  for (int with_bias = 0; with_bias < 2; ++with_bias) {
    Tensor ref = prod.clone();
    for (int64_t i = 0; i < ref.numel(); ++i) {
      float& v = ref.data<float>()[i];
      v = 0.5f * v + (with_bias ? bias.data<float>()[i % n] : 0.f);
      v = v > 0.f ? v : 0.f;
    }
    nn::detail::LtGemm g;
    g.dtype = DType::kF32;
    g.m = m;
    g.n = n;
    g.k = k;
    g.batch = batch;
    g.a = {ag.raw_data(), k, 1, m * k};
    g.b = {btg.raw_data(), 1, k, n * k};  // bt[t].transpose(): [k, n]
    g.bias = with_bias ? biasg.raw_data() : nullptr;
    g.alpha = 0.5f;
    g.relu = true;
    for (int which = 0; which < 2; ++which) {
      SCOPED_TRACE(std::string(which == 0 ? "lt_gemm" : "gemm_fallback") +
                   (with_bias ? ", bias" : ", no bias"));
      Tensor out = Tensor::zeros({batch, m, n}, DType::kF32, Device::cuda());
      g.c = out.raw_data();
      if (which == 0) {
        nn::detail::lt_gemm(g);
      } else {
        nn::detail::gemm_fallback(g);
      }
      EXPECT_GPU_NEAR(out, ref, kF32Tol);
    }
  }
}

TEST(LinearActCuda, RejectsBadArguments) {
  UM_REQUIRE_CUDA();
  const Tensor x = to_gpu(random_cpu({2, 5, 8}, 60)), w = to_gpu(random_cpu({3, 8}, 61));
  const Tensor b = to_gpu(random_cpu({3}, 62));
  EXPECT_THROW((void)nn::linear_act(x, to_gpu(random_cpu({3, 7}, 63)), b, Activation::kReLU),
               Error);
  EXPECT_THROW((void)nn::linear_act(x, w, to_gpu(random_cpu({4}, 64)), Activation::kReLU), Error);
  EXPECT_THROW((void)nn::linear_act(x, w.to(DType::kF16), b, Activation::kReLU), Error);
  EXPECT_THROW((void)nn::linear_act(x, w, b.to(DType::kF16), Activation::kReLU), Error);
  EXPECT_THROW((void)nn::linear_act(x, random_cpu({3, 8}, 65), b, Activation::kReLU), Error);
  EXPECT_THROW((void)nn::linear_act(x, w, b, static_cast<Activation>(42)), Error);
  EXPECT_THROW((void)nn::linear_act(random_cpu({2, 5, 8}, 66), w, b, Activation::kReLU), Error);
  try {
    (void)nn::linear_act(x, to_gpu(random_cpu({3, 7}, 67)), b, Activation::kReLU);
    FAIL() << "a mismatched weight was accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("linear_act"), std::string::npos) << e.what();
  }
}

TEST(LinearActCuda, WarmCallCapturesIntoACudaGraph) {
  UM_REQUIRE_CUDA();
  // The decoder FFN's float16 linear1 + ReLU: warm once (the plan), then capture and replay; the
  // replay alone must give the result, and a warm call must not synchronise the host.
  const Tensor x = f16_rounded(random_cpu({1, 300, 256}, 70));
  const Tensor w = f16_rounded(random_cpu({1024, 256}, 71, -0.1f, 0.1f));
  const Tensor b = f16_rounded(random_cpu({1024}, 72));
  const Tensor ref = nn::linear_act(x, w, b, Activation::kReLU);
  const Tensor xg = to_gpu(x, DType::kF16), wg = to_gpu(w, DType::kF16);
  const Tensor bg = to_gpu(b, DType::kF16);
  GraphReplay replay;
  const Tensor y =
      replay.run([&] { return nn::linear_act(xg, wg, bg, Activation::kReLU); }, "linear_act");
  ASSERT_TRUE(replay.ok());
  EXPECT_GPU_NEAR(y, ref, kF16Tol);
}

}  // namespace
}  // namespace um
