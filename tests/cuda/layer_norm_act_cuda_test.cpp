// GPU tests of layer_norm_act (src/nn/layer_norm_act_cuda.cu: one warp per row, float32
// statistics, the activation on the float32 value, one rounding) against the CPU op (exactly
// layer_norm then the activation op): SAM's upscaling shape ([1, 16384, 64], GELU) and every
// activation, an odd width without affine parameters, a strided input, mixed dtypes refused.
// Tolerances: float32 1e-5 of the output's scale; float16 (inputs rounded on both sides, the GPU
// rounds its output once, the CPU stays float32) 4e-3 of the scale.
#include <gtest/gtest.h>

#include <string>

#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/ops_layer_norm_act.h"

namespace um {
namespace {

using test::f16_rounded;
using test::random_cpu;
using test::to_gpu;

constexpr float kF32Tol = 1e-5f;
constexpr float kF16Tol = 4e-3f;

Tensor gpu_or_none(const Tensor& t, DType d) { return t.defined() ? to_gpu(t, d) : Tensor(); }
Tensor rounded_or_none(const Tensor& t) { return t.defined() ? f16_rounded(t) : Tensor(); }

void expect_matches_cpu(const Tensor& x, const Tensor& w, const Tensor& b, nn::Activation act,
                        const std::string& what) {
  SCOPED_TRACE(what);
  EXPECT_GPU_NEAR(nn::layer_norm_act(to_gpu(x), gpu_or_none(w, DType::kF32),
                                     gpu_or_none(b, DType::kF32), 1e-6f, act),
                  nn::layer_norm_act(x, w, b, 1e-6f, act), kF32Tol);
  const Tensor xh = f16_rounded(x), wh = rounded_or_none(w), bh = rounded_or_none(b);
  const Tensor y16 = nn::layer_norm_act(to_gpu(xh, DType::kF16), gpu_or_none(wh, DType::kF16),
                                        gpu_or_none(bh, DType::kF16), 1e-6f, act);
  EXPECT_EQ(y16.dtype(), DType::kF16);
  EXPECT_GPU_NEAR(y16, nn::layer_norm_act(xh, wh, bh, 1e-6f, act), kF16Tol);
}

TEST(LayerNormActCuda, MatchesCpu) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({1, 16384, 64}, 1, -3.f, 3.f);
  const Tensor w = random_cpu({64}, 2), b = random_cpu({64}, 3);
  expect_matches_cpu(x, w, b, nn::Activation::kGELU, "SAM upscaling, GELU");
  expect_matches_cpu(x, w, b, nn::Activation::kNone, "none");
  expect_matches_cpu(x, w, b, nn::Activation::kReLU, "ReLU");
  expect_matches_cpu(x, w, b, nn::Activation::kSiLU, "SiLU");
  expect_matches_cpu(random_cpu({9, 13}, 4), Tensor(), Tensor(), nn::Activation::kGELU,
                     "odd width, no affine");
}

TEST(LayerNormActCuda, StridedInput) {
  UM_REQUIRE_CUDA();
  const Tensor x = random_cpu({64, 10}, 5), w = random_cpu({64}, 6), b = random_cpu({64}, 7);
  EXPECT_GPU_NEAR(nn::layer_norm_act(to_gpu(x).transpose(0, 1), to_gpu(w), to_gpu(b), 1e-6f,
                                     nn::Activation::kGELU),
                  nn::layer_norm_act(x.transpose(0, 1), w, b, 1e-6f, nn::Activation::kGELU),
                  kF32Tol);
}

TEST(LayerNormActCuda, RejectsMixedDtypesAndDevices) {
  UM_REQUIRE_CUDA();
  const Tensor x = to_gpu(random_cpu({2, 8}, 8), DType::kF16);
  EXPECT_THROW(
      nn::layer_norm_act(x, to_gpu(random_cpu({8}, 9)), Tensor(), 1e-6f, nn::Activation::kGELU),
      Error);
  EXPECT_THROW(nn::layer_norm_act(x, random_cpu({8}, 9).to(DType::kF16), Tensor(), 1e-6f,
                                  nn::Activation::kGELU),
               Error);  // CPU weight
}

}  // namespace
}  // namespace um
