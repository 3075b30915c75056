// GPU tests of nn::window_attention (src/nn/window_attention_cuda.cu) against the CPU reference
// op (window_attention_cpu.cpp, itself tested against TinyViT's official pad/split/attend/merge
// sequence in tests/mobilesam/window_attention_test.cpp). Both kernels are covered: the float16
// tensor-core kernel (key_dim 32, <= 256 tokens per window: TinyViT's three stage shapes at full
// size, padded and unpadded grids, batch 2; each padded key count 64/128/208/256, the one-pass
// (<= 64 keys) and two-pass variants, each with the bias read in __half2 pairs (even n) and
// scalar (odd n, or a bias that is not 4-byte aligned); near one-hot softmax rows whose max sits
// anywhere in the row) and the plain kernel (float32; float16 with another key_dim; float16
// operands that are not 16-byte aligned). Tolerances: float32 1e-5 of the output's scale; float16
// runs see float16-rounded inputs on both sides and allow 4e-3 (P and the output are rounded to
// float16 once each: about 2^-11 relative each).
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

// `t` on the GPU, `offset` elements into a larger buffer (offset 0: a plain copy).
Tensor to_gpu_at(const Tensor& t, DType dtype, int64_t offset) {
  Tensor gpu = to_gpu(t, dtype);
  if (offset == 0) return gpu;
  Tensor big = Tensor::zeros({t.numel() + offset}, dtype, gpu.device());
  Tensor view = big.slice(0, offset, offset + t.numel()).view(t.shape());
  view.copy_from(gpu);
  return view;
}

struct Options {
  int64_t qkv_offset = 0;   // > 0: qkv not 16-byte aligned; the plain kernel must be chosen
  int64_t bias_offset = 0;  // odd: the float16 bias is not 4-byte aligned (scalar bias loads)
  float bias_range = 3.f;   // bias uniform in [-range, range]; large: near one-hot rows
};

void expect_matches_cpu(const Case& c, DType dtype, uint32_t seed, const Options& o = {}) {
  SCOPED_TRACE(c.label() + (dtype == DType::kF16 ? " float16" : " float32") + " qkv offset " +
               std::to_string(o.qkv_offset) + " bias offset " + std::to_string(o.bias_offset) +
               " bias range " + std::to_string(o.bias_range));
  const int64_t row = 3 * c.heads * c.kd, n = c.ws * c.ws;
  const Tensor qkv = rounded(random_cpu({c.batch, c.h * c.w, row}, seed, -2.f, 2.f), dtype);
  const Tensor pad = rounded(random_cpu({row}, seed + 1, -2.f, 2.f), dtype);
  const Tensor bias =
      rounded(random_cpu({1, c.heads, n, n}, seed + 2, -o.bias_range, o.bias_range), dtype);
  const nn::WindowAttentionParams p{c.h, c.w, c.ws, c.heads, c.kd,
                                    1.f / std::sqrt(static_cast<float>(c.kd))};
  const Tensor ref = nn::window_attention(qkv, pad, bias, p);
  const Tensor y = nn::window_attention(to_gpu_at(qkv, dtype, o.qkv_offset), to_gpu(pad, dtype),
                                        to_gpu_at(bias, dtype, o.bias_offset), p);
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
      // Each padded key count of the tensor-core kernel with even n (bias pairs) and odd n:
      {1, 16, 24, 8, 2, 32},   // 64 tokens exactly, no padding, even
      {1, 13, 11, 6, 2, 32},   // 36 -> 64 keys, even
      {1, 3, 5, 1, 2, 32},     // 1 token per window: 63 masked keys, 3 lanes of 4 see none
      {1, 20, 19, 10, 2, 32},  // 100 -> 128 keys (two passes), even
      {1, 23, 22, 11, 3, 32},  // 121 -> 128 keys, odd
      {2, 27, 30, 13, 2, 32},  // 169 -> 208 keys, odd, batch 2
      {1, 30, 30, 15, 1, 32},  // 225 -> 256 keys, odd
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
  expect_matches_cpu({1, 10, 9, 7, 2, 32}, DType::kF16, 400, {.qkv_offset = 1});
  expect_matches_cpu({1, 64, 64, 14, 5, 32}, DType::kF16, 410, {.qkv_offset = 3});
}

// n = 196 is even, but a bias 2 bytes off 4-byte alignment must be read one half at a time.
TEST(WindowAttentionCuda, UnalignedFloat16BiasMatchesCpu) {
  UM_REQUIRE_CUDA();
  expect_matches_cpu({1, 64, 64, 14, 5, 32}, DType::kF16, 420, {.bias_offset = 1});
  expect_matches_cpu({1, 16, 24, 8, 2, 32}, DType::kF16, 430, {.bias_offset = 1});
}

// A bias of +-40 makes rows nearly one-hot, the max at a random key: the two-pass kernel's
// running max then moves between steps (its exp-sum is rescaled), and most exps underflow.
TEST(WindowAttentionCuda, PeakedSoftmaxMatchesCpu) {
  UM_REQUIRE_CUDA();
  const Case cases[] = {{2, 64, 64, 14, 5, 32}, {1, 128, 128, 7, 4, 32}, {1, 20, 19, 10, 2, 32}};
  uint32_t seed = 440;
  for (const Case& c : cases) {
    expect_matches_cpu(c, DType::kF16, seed += 10, {.bias_range = 40.f});
    expect_matches_cpu(c, DType::kF32, seed += 10, {.bias_range = 40.f});
  }
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
