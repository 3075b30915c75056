// GPU tests of nn::window_attention (src/nn/window_attention_cuda.cu) against the CPU reference
// op (window_attention_cpu.cpp, itself tested against TinyViT's official pad/split/attend/merge
// sequence in tests/mobilesam/window_attention_test.cpp). Both kernels are covered: the float16
// tensor-core kernel (key_dim 32, <= 256 tokens per window: TinyViT's three stage shapes at full
// size, padded and unpadded grids, batch 2) and the plain kernel (float32; float16 with another
// key_dim; float16 operands that are not 16-byte aligned). Tolerances: float32 1e-5 of the
// output's scale; float16 runs see float16-rounded inputs on both sides and allow 4e-3 (P and the
// output are rounded to float16 once each: about 2^-11 relative each).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "core/status.h"
#include "cuda_test_support.h"
#include "nn/ops_sam.h"

namespace um {
namespace {

using test::max_abs_diff_gpu;
using test::random_cpu;
using test::to_cpu_f32;
using test::to_gpu;

struct Case {
  int64_t batch, h, w, ws, heads, kd;
  std::string label() const {
    return std::to_string(batch) + "x" + std::to_string(h) + "x" + std::to_string(w) + " ws " +
           std::to_string(ws) + " heads " + std::to_string(heads) + " kd " + std::to_string(kd);
  }
};

Tensor rounded(const Tensor& cpu, DType dtype) {
  return dtype == DType::kF16 ? test::f16_rounded(cpu) : cpu;
}

// qkv_offset > 0 places the GPU qkv that many elements into a larger buffer (misaligned for the
// tensor-core kernel, which then must not be chosen).
void expect_matches_cpu(const Case& c, DType dtype, uint32_t seed, int64_t qkv_offset = 0) {
  SCOPED_TRACE(c.label() + (dtype == DType::kF16 ? " float16" : " float32") + " offset " +
               std::to_string(qkv_offset));
  const int64_t row = 3 * c.heads * c.kd, n = c.ws * c.ws;
  const Tensor qkv = rounded(random_cpu({c.batch, c.h * c.w, row}, seed, -2.f, 2.f), dtype);
  const Tensor pad = rounded(random_cpu({row}, seed + 1, -2.f, 2.f), dtype);
  const Tensor bias = rounded(random_cpu({1, c.heads, n, n}, seed + 2, -3.f, 3.f), dtype);
  const nn::WindowAttentionParams p{c.h, c.w, c.ws, c.heads, c.kd,
                                    1.f / std::sqrt(static_cast<float>(c.kd))};
  const Tensor ref = nn::window_attention(qkv, pad, bias, p);
  Tensor qkv_gpu = to_gpu(qkv, dtype);
  if (qkv_offset > 0) {
    Tensor big = Tensor::zeros({qkv.numel() + qkv_offset}, dtype, qkv_gpu.device());
    Tensor view = big.slice(0, qkv_offset, qkv_offset + qkv.numel()).view(qkv.shape());
    view.copy_from(qkv_gpu);
    qkv_gpu = view;
  }
  const Tensor y = nn::window_attention(qkv_gpu, to_gpu(pad, dtype), to_gpu(bias, dtype), p);
  EXPECT_EQ(y.dtype(), dtype);
  EXPECT_TRUE(y.device().is_cuda());
  const float scale = test::scale_of(ref);
  const float tol = dtype == DType::kF16 ? 4e-3f : 1e-5f;
  EXPECT_LE(max_abs_diff_gpu(y, ref), tol * scale);
}

// TinyViT's stages at full size (1024 input): 128x128 tokens, 7x7 windows, 4 heads; 64x64 with
// 14x14 windows and 5 heads; 64x64 with 7x7 windows and 10 heads. All three pad the grid.
const Case kTinyVit[] = {{1, 128, 128, 7, 4, 32}, {1, 64, 64, 14, 5, 32}, {1, 64, 64, 7, 10, 32}};

TEST(WindowAttentionCuda, TinyVitStagesFloat16MatchCpu) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 100;
  for (const Case& c : kTinyVit) expect_matches_cpu(c, DType::kF16, seed += 10);
}

TEST(WindowAttentionCuda, TinyVitStagesFloat32MatchCpu) {
  UM_REQUIRE_CUDA();
  uint32_t seed = 200;
  for (const Case& c : kTinyVit) expect_matches_cpu(c, DType::kF32, seed += 10);
}

TEST(WindowAttentionCuda, EdgeShapesMatchCpu) {
  UM_REQUIRE_CUDA();
  const Case cases[] = {
      {1, 14, 14, 7, 2, 32},  // no padding: the pad row is not needed
      {1, 7, 7, 7, 3, 32},    // one window
      {2, 10, 9, 7, 2, 32},   // batch 2, padded both sides
      {1, 20, 17, 16, 1, 32},  // 256 tokens per window: the tensor-core kernel's limit
      {1, 20, 17, 17, 1, 32},  // 289 tokens: the plain kernel
      {1, 10, 9, 7, 2, 16},   // float16 with key_dim 16: the plain kernel
      {1, 9, 11, 5, 3, 8},
  };
  uint32_t seed = 300;
  for (const Case& c : cases) {
    expect_matches_cpu(c, DType::kF16, seed += 10);
    expect_matches_cpu(c, DType::kF32, seed += 10);
  }
}

TEST(WindowAttentionCuda, MisalignedFloat16OperandsTakeThePlainKernel) {
  UM_REQUIRE_CUDA();
  expect_matches_cpu({1, 10, 9, 7, 2, 32}, DType::kF16, 400, /*qkv_offset=*/1);
  expect_matches_cpu({1, 64, 64, 14, 5, 32}, DType::kF16, 410, /*qkv_offset=*/3);
}

TEST(WindowAttentionCuda, NoPaddingNeedsNoPadRow) {
  UM_REQUIRE_CUDA();
  const Tensor qkv = random_cpu({1, 196, 96}, 500);
  const Tensor bias = random_cpu({1, 1, 49, 49}, 501);
  const nn::WindowAttentionParams p{14, 14, 7, 1, 32, 0.17f};
  const Tensor ref = nn::window_attention(qkv, Tensor(), bias, p);
  const Tensor y = nn::window_attention(to_gpu(qkv), Tensor(), to_gpu(bias), p);
  EXPECT_LE(max_abs_diff_gpu(y, ref), 1e-5f);
}

TEST(WindowAttentionCuda, BadOperandsThrow) {
  UM_REQUIRE_CUDA();
  const nn::WindowAttentionParams p{10, 9, 7, 2, 32, 0.17f};
  const Tensor qkv = to_gpu(random_cpu({1, 90, 192}, 1), DType::kF16);
  const Tensor pad = to_gpu(random_cpu({192}, 2), DType::kF16);
  const Tensor bias = to_gpu(random_cpu({2, 49, 49}, 3), DType::kF16);
  EXPECT_NO_THROW(nn::window_attention(qkv, pad, bias, p));
  EXPECT_THROW(nn::window_attention(qkv, pad.to(DType::kF32), bias, p), Error);  // dtype
  EXPECT_THROW(nn::window_attention(qkv, pad.to(Device::cpu()), bias, p), Error);  // device
  EXPECT_THROW(nn::window_attention(qkv, pad, to_gpu(random_cpu({2, 49, 48}, 3), DType::kF16), p),
               Error);
  EXPECT_THROW(nn::window_attention(qkv, Tensor(), bias, p), Error);
}

}  // namespace
}  // namespace um
