// GPU tests of layer_norm_add (src/nn/layer_norm_add_cuda.cu: one warp per row, float32
// statistics, y rounded to the data dtype, then y + addend) against the CPU op (exactly
// layer_norm then add): SAM's query and key shapes, an odd width, no affine parameters, strided
// operands, a capture into a CUDA graph, and arguments of the wrong dtype or device.
// Tolerances: float32 1e-5 of the output's scale (summation order only). float16 runs see
// float16-rounded inputs on both sides; the GPU rounds y and y + addend to float16 (unit
// roundoff 4.9e-4), the CPU stays float32: 4e-3 of the scale.
#include <gtest/gtest.h>

#include <exception>
#include <string>

#include "core/cuda/cuda_runtime.h"
#include "core/status.h"
#include "cuda_test_support.h"
#include "graph_replay_test_util.h"
#include "nn/ops_layer_norm_add.h"

namespace um {
namespace {

using test::GraphReplay;
using test::f16_rounded;
using test::random_cpu;
using test::to_gpu;

constexpr float kF32Tol = 1e-5f;
constexpr float kF16Tol = 4e-3f;

Tensor gpu_or_none(const Tensor& t, DType d) { return t.defined() ? to_gpu(t, d) : Tensor(); }
Tensor rounded_or_none(const Tensor& t) { return t.defined() ? f16_rounded(t) : Tensor(); }

void expect_matches_cpu(const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& a,
                        const std::string& what) {
  SCOPED_TRACE(what);
  const auto [ry, rz] = nn::layer_norm_add(x, w, b, 1e-5f, a);
  const auto [y, z] = nn::layer_norm_add(to_gpu(x), gpu_or_none(w, DType::kF32),
                                         gpu_or_none(b, DType::kF32), 1e-5f, to_gpu(a));
  EXPECT_GPU_NEAR(y, ry, kF32Tol);
  EXPECT_GPU_NEAR(z, rz, kF32Tol);
  const Tensor xh = f16_rounded(x), ah = f16_rounded(a);
  const Tensor wh = rounded_or_none(w), bh = rounded_or_none(b);
  const auto [hy, hz] = nn::layer_norm_add(xh, wh, bh, 1e-5f, ah);
  const auto [y16, z16] =
      nn::layer_norm_add(to_gpu(xh, DType::kF16), gpu_or_none(wh, DType::kF16),
                         gpu_or_none(bh, DType::kF16), 1e-5f, to_gpu(ah, DType::kF16));
  EXPECT_EQ(y16.dtype(), DType::kF16);
  EXPECT_EQ(z16.dtype(), DType::kF16);
  EXPECT_GPU_NEAR(y16, hy, kF16Tol);
  EXPECT_GPU_NEAR(z16, hz, kF16Tol);
}

TEST(LayerNormAddCuda, MatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor w = random_cpu({256}, 1), b = random_cpu({256}, 2);
  expect_matches_cpu(random_cpu({1, 7, 256}, 3, -3.f, 3.f), w, b, random_cpu({1, 7, 256}, 4),
                     "queries");
  expect_matches_cpu(random_cpu({1, 4096, 256}, 5, -3.f, 3.f), w, b, random_cpu({1, 4096, 256}, 6),
                     "keys");
  expect_matches_cpu(random_cpu({9, 13}, 7), Tensor(), Tensor(), random_cpu({9, 13}, 8),
                     "odd width, no affine");
  expect_matches_cpu(random_cpu({3, 1000}, 9, 5.f, 7.f), random_cpu({1000}, 10), Tensor(),
                     random_cpu({3, 1000}, 11), "wide rows with a large mean, no bias");
}

TEST(LayerNormAddCuda, StridedOperands) {
  UM_REQUIRE_CUDA();
  const Tensor w = random_cpu({64}, 12), b = random_cpu({64}, 13);
  const Tensor x = random_cpu({64, 10}, 14), a = random_cpu({64, 10}, 15);
  const auto [ry, rz] = nn::layer_norm_add(x.transpose(0, 1), w, b, 1e-5f, a.transpose(0, 1));
  const auto [y, z] = nn::layer_norm_add(to_gpu(x).transpose(0, 1), to_gpu(w), to_gpu(b), 1e-5f,
                                         to_gpu(a).transpose(0, 1));
  EXPECT_GPU_NEAR(y, ry, kF32Tol);
  EXPECT_GPU_NEAR(z, rz, kF32Tol);
}

TEST(LayerNormAddCuda, CapturesIntoAGraph) {
  UM_REQUIRE_CUDA();
  const Tensor x = f16_rounded(random_cpu({1, 4096, 256}, 16, -3.f, 3.f));
  const Tensor a = f16_rounded(random_cpu({1, 4096, 256}, 17));
  const Tensor w = f16_rounded(random_cpu({256}, 18)), b = f16_rounded(random_cpu({256}, 19));
  const auto [ry, rz] = nn::layer_norm_add(x, w, b, 1e-5f, a);
  const Tensor xg = to_gpu(x, DType::kF16), ag = to_gpu(a, DType::kF16);
  const Tensor wg = to_gpu(w, DType::kF16), bg = to_gpu(b, DType::kF16);
  GraphReplay replay;
  const auto out =
      replay.run([&] { return nn::layer_norm_add(xg, wg, bg, 1e-5f, ag); }, "layer_norm_add");
  ASSERT_TRUE(replay.ok());
  EXPECT_GPU_NEAR(out.first, ry, kF16Tol);
  EXPECT_GPU_NEAR(out.second, rz, kF16Tol);
}

TEST(LayerNormAddCuda, RejectsMixedDtypesAndDevices) {
  UM_REQUIRE_CUDA();
  const Tensor x = to_gpu(random_cpu({2, 8}, 20), DType::kF16);
  const Tensor w = to_gpu(random_cpu({8}, 21), DType::kF16);
  EXPECT_THROW(nn::layer_norm_add(x, w, w, 1e-5f, to_gpu(random_cpu({2, 8}, 22))), Error);
  EXPECT_THROW(nn::layer_norm_add(x, w, w, 1e-5f, random_cpu({2, 8}, 22)), Error);  // CPU addend
  EXPECT_THROW(nn::layer_norm_add(x, random_cpu({8}, 23), w, 1e-5f, x), Error);
}

}  // namespace
}  // namespace um
