// Helpers shared by the attention GPU tests (attention_fast_cuda_test.cpp for the key-tiled
// kernel, attention_gemm_cuda_test.cpp for the tensor-core GEMM path, attention_mma_cuda_test.cpp
// for the fused tensor-core kernel): the tolerances, the relative error against the CPU
// reference (NaN-aware for fully masked rows), the case description, the operands of one random
// case (CPU reference output and the GPU copies) and the empty-shape checks of a forced path.
// Usage (inside a test file's anonymous namespace in um): using namespace attention_test;
//        const AttentionOperands o = make_attention_operands(c, seed, bias, dtype);
//        EXPECT_LE(rel_err(<gpu output>, o.ref), tol_of(dtype));
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"
#include "cuda_test_support.h"
#include "nn/attention_cuda.h"
#include "nn/ops.h"

namespace um::test {

// float32: 1e-4 of the output's scale (max(1, max |ref|)); float16 runs see float16-rounded
// inputs on both sides: 1e-2 of the scale.
constexpr float kF32Tol = 1e-4f;
constexpr float kF16Tol = 1e-2f;

inline float tol_of(DType dt) { return dt == DType::kF16 ? kF16Tol : kF32Tol; }
inline const char* name_of(DType dt) { return dt == DType::kF16 ? "f16" : "f32"; }

using test::f16_rounded;  // cuda_test_support.h

// Max |gpu - ref| over the finite reference entries, relative to max(1, max |ref|); a NaN in the
// reference must be NaN on the GPU too (a fully masked row), any other NaN counts as infinite.
inline float rel_err(const Tensor& gpu, const Tensor& ref_in) {
  const Tensor a = to_cpu_f32(gpu).contiguous(), r = ref_in.contiguous();
  EXPECT_EQ(shape_str(a.shape()), shape_str(r.shape()));
  if (a.shape() != r.shape()) return INFINITY;
  float scale = 1.f, err = 0.f;
  for (int64_t i = 0; i < r.numel(); ++i) {
    if (std::isfinite(r.data<float>()[i])) scale = std::max(scale, std::fabs(r.data<float>()[i]));
  }
  for (int64_t i = 0; i < r.numel(); ++i) {
    const float x = a.data<float>()[i], y = r.data<float>()[i];
    if (std::isnan(y)) {
      if (!std::isnan(x)) return INFINITY;
      continue;
    }
    const float dlt = std::fabs(x - y);
    if (!(dlt <= err)) err = std::isnan(dlt) ? INFINITY : dlt;
  }
  return err / scale;
}

// One attention problem: q [b, h, lq, d], k and v [b, h, lk, d].
struct AttnCase {
  int64_t b, h, lq, lk, d;
  std::string label() const {
    return "B" + std::to_string(b) + " H" + std::to_string(h) + " Lq" + std::to_string(lq) +
           " Lk" + std::to_string(lk) + " D" + std::to_string(d);
  }
};

// Contiguous random q, k, v from `seed` (float16-rounded for a float16 run, as is the bias),
// scale 1/sqrt(d), the CPU reference output, and the operands uploaded as `dtype`.
struct AttentionOperands {
  Tensor q, k, v, bias;  // CPU, float32
  float scale = 1.f;
  Tensor ref;              // CPU reference output
  Tensor qg, kg, vg, bg;   // GPU, `dtype`; bg undefined without a bias
};

// qk_range: q and k are uniform in [-qk_range, qk_range] (larger: larger scores).
inline AttentionOperands make_attention_operands(const AttnCase& c, uint32_t seed,
                                                 const Tensor& bias_in, DType dtype,
                                                 float qk_range = 2.f) {
  const bool half = dtype == DType::kF16;
  auto prep = [&](const Tensor& t) { return half ? f16_rounded(t) : t; };
  AttentionOperands o;
  o.q = prep(random_cpu({c.b, c.h, c.lq, c.d}, seed, -qk_range, qk_range));
  o.k = prep(random_cpu({c.b, c.h, c.lk, c.d}, seed + 1, -qk_range, qk_range));
  o.v = prep(random_cpu({c.b, c.h, c.lk, c.d}, seed + 2));
  o.bias = bias_in.defined() ? prep(bias_in) : Tensor();
  o.scale = 1.f / std::sqrt(static_cast<float>(c.d));
  o.ref = nn::scaled_dot_product_attention(o.q, o.k, o.v, o.bias, o.scale);
  o.qg = to_gpu(o.q, dtype);
  o.kg = to_gpu(o.k, dtype);
  o.vg = to_gpu(o.v, dtype);
  o.bg = o.bias.defined() ? to_gpu(o.bias, dtype) : Tensor();
  return o;
}

// The bias broadcast patterns over the scores of the case {3, 4, 49, 49, 32}, each with the
// seed offset its check uses (the bias itself is drawn from offset + 1): [H, L, L], TinyViT's
// [1, H, L, L], the full [B, H, L, L], [L, L], per key [B, 1, 1, L] and per row [B, H, L, 1].
struct BiasPattern {
  uint32_t seed_offset;
  Tensor bias;  // CPU, float32
};

inline std::vector<BiasPattern> bias_broadcast_patterns(uint32_t seed) {
  return {{10, random_cpu({4, 49, 49}, seed + 11, -3.f, 3.f)},
          {20, random_cpu({1, 4, 49, 49}, seed + 21, -3.f, 3.f)},
          {30, random_cpu({3, 4, 49, 49}, seed + 31, -3.f, 3.f)},
          {40, random_cpu({49, 49}, seed + 41, -3.f, 3.f)},
          {50, random_cpu({3, 1, 1, 49}, seed + 51, -3.f, 3.f)},
          {60, random_cpu({3, 4, 49, 1}, seed + 61, -3.f, 3.f)}};
}

// Empty operands on a forced path: no keys give zeros (an empty softmax sums to 0, as on the
// CPU); no queries an empty output.
inline void expect_empty_shapes(nn::detail::AttentionPath path) {
  using nn::detail::attention_cuda_with_path;
  const Tensor q = to_gpu(random_cpu({1, 2, 5, 32}, 700), DType::kF16);
  const Tensor k0 = Tensor::empty({1, 2, 0, 32}, DType::kF16, Device::cuda());
  const Tensor yc = to_cpu_f32(attention_cuda_with_path(q, k0, k0, Tensor(), 0.1f, path));
  EXPECT_EQ(shape_str(yc.shape()), shape_str(Shape{1, 2, 5, 32}));
  for (int64_t i = 0; i < yc.numel(); ++i) EXPECT_EQ(yc.data<float>()[i], 0.f);
  const Tensor q0 = Tensor::empty({1, 2, 0, 32}, DType::kF16, Device::cuda());
  const Tensor k = to_gpu(random_cpu({1, 2, 7, 32}, 701), DType::kF16);
  EXPECT_EQ(attention_cuda_with_path(q0, k, k, Tensor(), 0.1f, path).numel(), 0);
}

}  // namespace um::test

// What the attention tests use unqualified: one using-directive brings it in.
namespace um::attention_test {

using nn::detail::AttentionPath;
using nn::detail::attention_cuda_auto_path;
using nn::detail::attention_cuda_with_path;
using test::AttentionOperands;
using test::bias_broadcast_patterns;
using test::expect_empty_shapes;
using test::f16_rounded;
using test::kF16Tol;
using test::kF32Tol;
using test::make_attention_operands;
using test::name_of;
using test::random_cpu;
using test::rel_err;
using test::to_cpu_f32;
using test::to_gpu;
using test::tol_of;
using Case = test::AttnCase;

}  // namespace um::attention_test
