// GPU tests of nn::mlp (src/nn/mlp_cuda.cu: a 16-row tile per block or per sm_90 cluster, the
// hidden rows kept in shared memory) against the CPU op (exactly the linear_act ... linear
// sequence): D-FINE's box-chain shapes (bbox heads with the corners / anchors residual, the
// 4 -> 512 -> 256 query-position head, the LQE head with the scores residual), row counts that
// are not whole tiles, odd widths (element loads) with a layer without bias, strided x and
// residual, 3-D rows, both kernel variants (clusters and one block per tile), a capture into a
// CUDA graph, the float16, too-wide and too-many-rows cases (the per-layer sequence on CUDA), and
// arguments of the wrong dtype or device. Every float32 case also runs with
// MlpParams::allow_split_tf32 (src/nn/mlp_tf32_cuda.cu on sm_90: 3xTF32 tensor-core products,
// launched programmatically after the kernel before it), once inside a graph behind a producer.
// Tolerance: float32, 1e-5 of the output's scale (only the summation order differs); 3xTF32 the
// same 1e-5 (~1e-6 measured by the conv tests' rule; a plain TF32 product, 2^-11, would fail it).
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "core/status.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "mlp_test_stack.h"
#include "nn/ops.h"
#include "nn/ops_mlp.h"

namespace um {
namespace {

using test::f16_rounded;
using test::GraphReplay;
using test::MlpStack;
using test::random_cpu;
using test::random_mlp_stack;
using test::to_gpu;

constexpr float kF32Tol = 1e-5f;
constexpr float kF16Tol = 1e-2f;
constexpr float kSplitTf32Tol = 1e-5f;
constexpr nn::MlpParams kSplitTf32{.allow_split_tf32 = true};

std::vector<Tensor> gpu_all(const std::vector<Tensor>& ts, DType d = DType::kF32) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(t.defined() ? to_gpu(t, d) : Tensor());
  return out;
}

// Both kernel variants (the cluster one where the device runs clusters) against the CPU op.
void expect_matches_cpu(const Tensor& x, const MlpStack& s, const Tensor& residual,
                        const std::string& what, bool fused = true) {
  SCOPED_TRACE(what);
  const Tensor ref = nn::mlp(x, s.w, s.b, residual);
  const Tensor xg = to_gpu(x);
  const Tensor rg = residual.defined() ? to_gpu(residual) : Tensor();
  const Tensor y = nn::mlp(xg, gpu_all(s.w), gpu_all(s.b), rg);
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_EQ(shape_str(y.shape()), shape_str(ref.shape()));
  EXPECT_GPU_NEAR(y, ref, kF32Tol);
  if (fused && x.dim() == 2) {
    EXPECT_GPU_NEAR(nn::detail::mlp_fused_cuda(xg, gpu_all(s.w), gpu_all(s.b), rg,
                                               /*allow_clusters=*/false),
                    ref, kF32Tol);
  }
  // The 3xTF32 kernel where the fused kernel takes the case (else the same per-layer sequence).
  EXPECT_GPU_NEAR(nn::mlp(xg, gpu_all(s.w), gpu_all(s.b), rg, kSplitTf32), ref, kSplitTf32Tol);
}

TEST(MlpCuda, MatchesCpuOnDFineShapes) {
  UM_REQUIRE_CUDA();
  if (!nn::detail::mlp_tf32_cuda_runs()) {
    std::cout << "[  NOTE    ] no thread-block clusters here: allow_split_tf32 runs the FFMA kernel\n";
  }
  const Tensor q = random_cpu({300, 256}, 1, -2.f, 2.f);
  expect_matches_cpu(q, random_mlp_stack({256, 256, 256, 132}, 10, {.scaled = true}),
                     random_cpu({300, 132}, 2), "bbox head + corners residual");
  expect_matches_cpu(q, random_mlp_stack({256, 256, 256, 4}, 20, {.scaled = true}),
                     random_cpu({300, 4}, 3), "enc / pre bbox head + anchors residual");
  expect_matches_cpu(random_cpu({300, 4}, 4, 0.f, 1.f),
                     random_mlp_stack({4, 512, 256}, 30, {.scaled = true}), Tensor(),
                     "query position head (512 wide)");
  expect_matches_cpu(random_cpu({300, 20}, 5, 0.f, 1.f),
                     random_mlp_stack({20, 64, 1}, 40, {.scaled = true}), random_cpu({300, 1}, 6),
                     "LQE head + scores residual");
}

TEST(MlpCuda, PartialTilesOddWidthsAndStrides) {
  UM_REQUIRE_CUDA();
  for (int64_t rows : {1, 15, 16, 17, 37}) {
    expect_matches_cpu(
        random_cpu({rows, 13}, 7),
        random_mlp_stack({13, 9, 7, 5}, 50, {.no_bias = {1}, .scaled = true}), Tensor(),
        "odd widths (element loads), layer 1 without bias, rows " + std::to_string(rows));
    expect_matches_cpu(random_cpu({rows, 64}, 8),
                       random_mlp_stack({64, 96, 3}, 60, {.scaled = true}),
                       random_cpu({rows, 3}, 9), "rows " + std::to_string(rows));
  }
  // x with a column stride of 2 and a transposed residual, on the GPU as on the CPU.
  const Tensor wide = random_cpu({33, 128}, 11);
  const Tensor res_t = random_cpu({8, 33}, 12);
  const MlpStack s = random_mlp_stack({64, 32, 8}, 70, {.scaled = true});
  const Tensor ref = nn::mlp(wide.view({33, 64, 2}).select(2, 1), s.w, s.b, res_t.transpose(0, 1));
  const Tensor y = nn::mlp(to_gpu(wide).view({33, 64, 2}).select(2, 1), gpu_all(s.w), gpu_all(s.b),
                           to_gpu(res_t).transpose(0, 1));
  EXPECT_GPU_NEAR(y, ref, kF32Tol);
  EXPECT_GPU_NEAR(nn::mlp(to_gpu(wide).view({33, 64, 2}).select(2, 1), gpu_all(s.w), gpu_all(s.b),
                          to_gpu(res_t).transpose(0, 1), kSplitTf32),
                  ref, kSplitTf32Tol);
  // 3-D rows (the decoder's [B, Q, C]).
  const Tensor x3 = random_cpu({2, 21, 32}, 13);
  const Tensor r3 = random_cpu({2, 21, 4}, 14);
  expect_matches_cpu(x3, random_mlp_stack({32, 32, 4}, 80, {.scaled = true}), r3, "3-D rows");
}

TEST(MlpCuda, ReluBetweenLayersOnly) {
  UM_REQUIRE_CUDA();
  // Every hidden value negative -> ReLU 0 -> the output is the last bias, not clamped.
  const Tensor y = test::to_cpu_f32(
      nn::mlp(to_gpu(Tensor::full({20, 16}, 1.f)),
              {to_gpu(Tensor::full({8, 16}, -1.f)), to_gpu(Tensor::full({4, 8}, 5.f))},
              {to_gpu(Tensor::full({8}, 0.5f)), to_gpu(Tensor::full({4}, -7.f))}));
  for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], -7.f);
  const Tensor y_tf32 = test::to_cpu_f32(
      nn::mlp(to_gpu(Tensor::full({20, 16}, 1.f)),
              {to_gpu(Tensor::full({8, 16}, -1.f)), to_gpu(Tensor::full({4, 8}, 5.f))},
              {to_gpu(Tensor::full({8}, 0.5f)), to_gpu(Tensor::full({4}, -7.f))}, Tensor(),
              kSplitTf32));
  for (int64_t i = 0; i < y_tf32.numel(); ++i) EXPECT_EQ(y_tf32.data<float>()[i], -7.f);
}

TEST(MlpCuda, CapturesIntoAGraph) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({300, 256}, 15, -2.f, 2.f);
  const Tensor res = random_cpu({300, 132}, 16);
  const MlpStack s = random_mlp_stack({256, 256, 256, 132}, 90, {.scaled = true});
  const Tensor ref = nn::mlp(x, s.w, s.b, res);
  const Tensor xg = to_gpu(x), rg = to_gpu(res);
  const std::vector<Tensor> wg = gpu_all(s.w), bg = gpu_all(s.b);
  GraphReplay replay;
  const Tensor y = replay.run([&] { return nn::mlp(xg, wg, bg, rg); }, "mlp");
  ASSERT_TRUE(replay.ok());
  EXPECT_GPU_NEAR(y, ref, kF32Tol);
}

// The 3xTF32 kernel starts programmatically (before the kernel that writes its input has
// finished) and waits for it: inside a graph, behind a producer of x and of the residual, the
// box chain's 4 -> 512 -> 256 head and a bbox head, one after the other.
TEST(MlpCuda, SplitTf32WaitsForItsProducersInAGraph) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({300, 256}, 23, -2.f, 2.f);
  const Tensor res = random_cpu({300, 132}, 24);
  const MlpStack pos = random_mlp_stack({4, 512, 256}, 140, {.scaled = true});
  const MlpStack box = random_mlp_stack({256, 256, 256, 132}, 150, {.scaled = true});
  const Tensor ref_in = nn::sigmoid(x.slice(1, 0, 4).contiguous());
  const Tensor ref = nn::mlp(nn::mlp(ref_in, pos.w, pos.b), box.w, box.b, nn::sigmoid(res));
  const Tensor xg = to_gpu(x), rg = to_gpu(res);
  const std::vector<Tensor> pw = gpu_all(pos.w), pb = gpu_all(pos.b);
  const std::vector<Tensor> bw = gpu_all(box.w), bb = gpu_all(box.b);
  GraphReplay replay;
  const Tensor y = replay.run(
      [&] {
        const Tensor in = nn::sigmoid(xg.slice(1, 0, 4).contiguous());
        const Tensor h = nn::mlp(in, pw, pb, Tensor(), kSplitTf32);
        return nn::mlp(h, bw, bb, nn::sigmoid(rg), kSplitTf32);
      },
      "mlp 3xTF32");
  ASSERT_TRUE(replay.ok());
  EXPECT_GPU_NEAR(y, ref, kSplitTf32Tol);
}

TEST(MlpCuda, Float16WideLayersAndManyRowsRunTheLayerSequence) {
  UM_REQUIRE_CUDA();
  const MlpStack s = random_mlp_stack({64, 48, 8}, 100, {.scaled = true});
  const Tensor x = f16_rounded(random_cpu({40, 64}, 17));
  std::vector<Tensor> w16, b16, w_r, b_r;
  for (size_t i = 0; i < s.w.size(); ++i) {
    w_r.push_back(f16_rounded(s.w[i]));
    b_r.push_back(f16_rounded(s.b[i]));
  }
  const Tensor y16 = nn::mlp(to_gpu(x, DType::kF16), gpu_all(w_r, DType::kF16),
                             gpu_all(b_r, DType::kF16));
  EXPECT_EQ(y16.dtype(), DType::kF16);
  EXPECT_GPU_NEAR(y16, nn::mlp(x, w_r, b_r), kF16Tol);
  // A hidden layer wider than the fused kernel's tile: the per-layer sequence, float32.
  expect_matches_cpu(random_cpu({20, 16}, 18),
                     random_mlp_stack({16, nn::kMlpFusedMaxWidth + 8, 4}, 110, {.scaled = true}),
                     Tensor(), "wider than the tile", /*fused=*/false);
  // More rows than the fused kernel takes: the per-layer sequence too.
  const int64_t many = nn::kMlpFusedMaxRows + 3;
  expect_matches_cpu(random_cpu({many, 24}, 21),
                     random_mlp_stack({24, 16, 4}, 130, {.scaled = true}),
                     random_cpu({many, 4}, 22), "more rows than the fused kernel takes",
                     /*fused=*/false);
}

TEST(MlpCuda, RejectsMixedDtypesAndDevices) {
  UM_REQUIRE_CUDA();
  const MlpStack s = random_mlp_stack({8, 4}, 120, {.scaled = true});
  const Tensor xg = to_gpu(random_cpu({2, 8}, 19));
  EXPECT_THROW(nn::mlp(xg, gpu_all(s.w, DType::kF16), gpu_all(s.b)), Error);
  EXPECT_THROW(nn::mlp(xg, gpu_all(s.w), s.b), Error);  // CPU bias
  EXPECT_THROW(nn::mlp(random_cpu({2, 8}, 19), gpu_all(s.w), gpu_all(s.b)), Error);  // CPU x
  EXPECT_THROW(nn::mlp(xg, gpu_all(s.w), gpu_all(s.b), random_cpu({2, 4}, 20)), Error);
}

}  // namespace
}  // namespace um
