// GPU tests of grouped_mlp (src/nn/grouped_mlp_cuda.cu: one block per group, the row kept in
// shared memory across the layers) against the CPU op (exactly the unfused linear/ReLU MLP):
// SAM's hypernetwork and IoU-head shapes (16-byte weight loads), odd widths (element loads), a
// layer without bias, strided rows, a wide layer (2048), negative hidden values (the ReLU), a
// float16 row with float32 parameters (SAM's IoU head), a capture into a CUDA graph, and
// arguments of the wrong dtype or device.
// Tolerances: float32, 1e-5 of the output's scale (only the summation order differs). float16
// runs see float16-rounded inputs on both sides; the GPU rounds every layer's output to float16
// (as the unfused float16 GEMMs do), the CPU reference stays float32: 1e-2 of the scale.
#include <gtest/gtest.h>

#include <cmath>
#include <exception>
#include <string>
#include <vector>

#include "core/cuda/cuda_runtime.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "mlp_test_stack.h"
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

std::vector<Tensor> gpu_all(const std::vector<Tensor>& ts, DType d, bool round16) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) {
    out.push_back(t.defined() ? to_gpu(round16 ? f16_rounded(t) : t, d) : Tensor());
  }
  return out;
}

std::vector<Tensor> rounded_all(const std::vector<Tensor>& ts) {
  std::vector<Tensor> out;
  for (const Tensor& t : ts) out.push_back(t.defined() ? f16_rounded(t) : Tensor());
  return out;
}

void expect_matches_cpu(const Tensor& x, const MlpStack& s, const std::string& what) {
  SCOPED_TRACE(what);
  const Tensor y32 = nn::grouped_mlp(to_gpu(x, DType::kF32), gpu_all(s.w, DType::kF32, false),
                                     gpu_all(s.b, DType::kF32, false));
  EXPECT_EQ(y32.dtype(), DType::kF32);
  EXPECT_GPU_NEAR(y32, nn::grouped_mlp(x, s.w, s.b), kF32Tol);
  const Tensor y16 =
      nn::grouped_mlp(to_gpu(f16_rounded(x), DType::kF16), gpu_all(s.w, DType::kF16, true),
                      gpu_all(s.b, DType::kF16, true));
  EXPECT_EQ(y16.dtype(), DType::kF16);
  EXPECT_GPU_NEAR(y16, nn::grouped_mlp(f16_rounded(x), rounded_all(s.w), rounded_all(s.b)),
                  kF16Tol);
}

TEST(GroupedMlpCuda, MatchesCpu) {
  UM_REQUIRE_CUDA();
  expect_matches_cpu(random_cpu({4, 256}, 1, -2.f, 2.f),
                     random_mlp_stack({256, 256, 256, 32}, 10, {.groups = 4, .scaled = true}),
                     "SAM hypernetworks");
  expect_matches_cpu(random_cpu({1, 256}, 2, -2.f, 2.f),
                     random_mlp_stack({256, 256, 256, 4}, 20, {.groups = 1, .scaled = true}),
                     "SAM IoU head");
  expect_matches_cpu(
      random_cpu({3, 13}, 3),
      random_mlp_stack({13, 9, 7, 5}, 30, {.groups = 3, .no_bias = {1}, .scaled = true}),
      "odd widths (element loads), layer 1 without bias");
  expect_matches_cpu(random_cpu({2, 40}, 4),
                     random_mlp_stack({40, 2048, 24}, 40, {.groups = 2, .scaled = true}),
                     "a 2048-wide hidden layer");
  expect_matches_cpu(random_cpu({5, 8}, 5),
                     random_mlp_stack({8, 3}, 50, {.groups = 5, .scaled = true}),
                     "one layer, 5 groups");
}

TEST(GroupedMlpCuda, Float16RowsWithFloat32Parameters) {
  UM_REQUIRE_CUDA();
  // SAM's IoU head: float32 weights on the float16 decoder's token (a strided row of hs).
  const Tensor hs = f16_rounded(random_cpu({1, 7, 256}, 11, -2.f, 2.f));
  const MlpStack s = random_mlp_stack({256, 256, 256, 4}, 110, {.groups = 1, .scaled = true});
  const Tensor ref = nn::grouped_mlp(hs.select(1, 0), s.w, s.b);
  const Tensor y =
      nn::grouped_mlp(to_gpu(hs, DType::kF16).select(1, 0), gpu_all(s.w, DType::kF32, false),
                      gpu_all(s.b, DType::kF32, false));
  EXPECT_EQ(y.dtype(), DType::kF32);
  EXPECT_GPU_NEAR(y, ref, kF32Tol);
  // Odd widths (element loads) too.
  const Tensor x = f16_rounded(random_cpu({3, 13}, 12));
  const MlpStack o = random_mlp_stack({13, 9, 5}, 120, {.groups = 3, .scaled = true});
  EXPECT_GPU_NEAR(nn::grouped_mlp(to_gpu(x, DType::kF16), gpu_all(o.w, DType::kF32, false),
                                  gpu_all(o.b, DType::kF32, false)),
                  nn::grouped_mlp(x, o.w, o.b), kF32Tol);
}

TEST(GroupedMlpCuda, ReadsStridedRows) {
  UM_REQUIRE_CUDA();
  const Tensor hs = random_cpu({1, 7, 256}, 6, -2.f, 2.f);
  const MlpStack s = random_mlp_stack({256, 64, 32}, 60, {.groups = 4, .scaled = true});
  const Tensor ref = nn::grouped_mlp(hs.slice(1, 1, 5).select(0, 0), s.w, s.b);
  // The mask-token rows of the uploaded [1, 7, 256] tensor (row stride 256, offset 256).
  const Tensor hs_gpu = to_gpu(hs, DType::kF32);
  EXPECT_GPU_NEAR(
      nn::grouped_mlp(hs_gpu.slice(1, 1, 5).select(0, 0), gpu_all(s.w, DType::kF32, false),
                      gpu_all(s.b, DType::kF32, false)),
      ref, kF32Tol);
  // A column stride of 2.
  const Tensor wide = random_cpu({4, 512}, 7);
  const Tensor cols = wide.view({4, 256, 2}).select(2, 1);
  const Tensor wide_gpu = to_gpu(wide, DType::kF32);
  EXPECT_GPU_NEAR(
      nn::grouped_mlp(wide_gpu.view({4, 256, 2}).select(2, 1), gpu_all(s.w, DType::kF32, false),
                      gpu_all(s.b, DType::kF32, false)),
      nn::grouped_mlp(cols, s.w, s.b), kF32Tol);
}

TEST(GroupedMlpCuda, ReluBetweenLayersOnly) {
  UM_REQUIRE_CUDA();
  // Every hidden value negative -> ReLU 0 -> the output is the last bias, not clamped.
  const Tensor x = Tensor::full({2, 16}, 1.f);
  MlpStack s;
  s.w = {Tensor::full({2, 8, 16}, -1.f), Tensor::full({2, 8, 8}, 5.f)};
  s.b = {Tensor::full({2, 8}, 0.5f), Tensor::full({2, 8}, -7.f)};
  for (DType d : {DType::kF32, DType::kF16}) {
    const Tensor y = test::to_cpu_f32(
        nn::grouped_mlp(to_gpu(x, d), gpu_all(s.w, d, false), gpu_all(s.b, d, false)));
    for (int64_t i = 0; i < y.numel(); ++i) EXPECT_EQ(y.data<float>()[i], -7.f) << dtype_name(d);
  }
}

TEST(GroupedMlpCuda, CapturesIntoAGraph) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({4, 256}, 8);
  const MlpStack s = random_mlp_stack({256, 256, 256, 32}, 80, {.groups = 4, .scaled = true});
  const Tensor ref = nn::grouped_mlp(f16_rounded(x), rounded_all(s.w), rounded_all(s.b));
  const Tensor xg = to_gpu(f16_rounded(x), DType::kF16);
  const std::vector<Tensor> wg = gpu_all(s.w, DType::kF16, true);
  const std::vector<Tensor> bg = gpu_all(s.b, DType::kF16, true);
  GraphReplay replay;
  const Tensor y = replay.run([&] { return nn::grouped_mlp(xg, wg, bg); }, "grouped_mlp");
  ASSERT_TRUE(replay.ok());
  EXPECT_GPU_NEAR(y, ref, kF16Tol);
}

TEST(GroupedMlpCuda, RejectsMixedDtypesAndDevices) {
  UM_REQUIRE_CUDA();
  const MlpStack s = random_mlp_stack({8, 4}, 90, {.groups = 2, .scaled = true});
  const Tensor x16 = to_gpu(random_cpu({2, 8}, 9), DType::kF16);
  EXPECT_THROW(
      nn::grouped_mlp(x16, gpu_all(s.w, DType::kF32, false), gpu_all(s.b, DType::kF16, true)),
      Error);
  EXPECT_THROW(nn::grouped_mlp(x16, gpu_all(s.w, DType::kF16, true), s.b), Error);  // CPU bias
  // float32 x with float16 parameters: not a supported mix.
  EXPECT_THROW(nn::grouped_mlp(to_gpu(random_cpu({2, 8}, 9)), gpu_all(s.w, DType::kF16, true),
                               gpu_all(s.b, DType::kF16, true)),
               Error);
  EXPECT_THROW(nn::grouped_mlp(random_cpu({2, 8}, 9), gpu_all(s.w, DType::kF32, false),
                               gpu_all(s.b, DType::kF32, false)),
               Error);  // CPU x, GPU weights
}

}  // namespace
}  // namespace um
