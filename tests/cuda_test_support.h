// File: tests/cuda_test_support.h
// Purpose: what the GPU tests share. They build whenever the CUDA toolkit is present and SKIP,
// loudly, on a machine without a usable GPU (CI); on the GPU machine they compare every CUDA
// path against the CPU reference.
// Usage:
//   TEST(LayerNormCuda, MatchesCpu) {
//     UM_REQUIRE_CUDA();
//     Tensor x = random_tensor({2, 5, 64}, 1);
//     Tensor y = nn::layer_norm(to_gpu(x, DType::kF16), ...);
//     EXPECT_LE(max_abs_diff_gpu(y, nn::layer_norm(x, ...)), 2e-3f);
//   }
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "core/cuda/cuda_runtime.h"
#include "core/tensor.h"
#include "test_random.h"

namespace um::test {

// Installs the Tensor CUDA backend once; true when a GPU is usable.
inline bool cuda_ready() {
  static const bool ok = [] {
    if (!um::cuda::available()) return false;
    um::cuda::install_tensor_backend();
    return true;
  }();
  return ok;
}

// A float32 CPU tensor moved to the GPU, converted to `dtype` there.
inline Tensor to_gpu(const Tensor& cpu, DType dtype = DType::kF32) {
  return cpu.to(Device::cuda()).to(dtype);
}
// A GPU tensor of any float dtype back as a contiguous float32 CPU tensor.
inline Tensor to_cpu_f32(const Tensor& gpu) { return gpu.to(DType::kF32).to(Device::cpu()); }

inline Tensor random_cpu(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  return random_uniform(shape, seed, lo, hi);
}

// max(1, max |ref| over the finite entries): the scale GPU-vs-CPU tolerances are relative to
// (an inf or NaN in the reference must not widen the tolerance).
inline float scale_of(const Tensor& ref) {
  const Tensor r = ref.contiguous();
  float m = 1.f;
  for (int64_t i = 0; i < r.numel(); ++i) {
    if (std::isfinite(r.data<float>()[i])) m = std::max(m, std::fabs(r.data<float>()[i]));
  }
  return m;
}

// A float32 CPU tensor rounded to float16 and back (what a float16 GPU run sees of it; the host
// conversion rounds to nearest even, as the GPU does).
inline Tensor f16_rounded(const Tensor& t) { return t.to(DType::kF16).to(DType::kF32); }

// Max |gpu - cpu| (gpu converted to float32 on the host); NaN counts as infinite.
inline float max_abs_diff_gpu(const Tensor& gpu, const Tensor& cpu_ref) {
  const Tensor a = to_cpu_f32(gpu).contiguous(), b = cpu_ref.contiguous();
  EXPECT_EQ(shape_str(a.shape()), shape_str(b.shape()));
  if (a.shape() != b.shape()) return INFINITY;
  float m = 0.f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float d = std::fabs(a.data<float>()[i] - b.data<float>()[i]);
    if (!(d <= m)) m = std::isnan(d) ? INFINITY : d;
  }
  return m;
}

}  // namespace um::test

// |gpu - ref| within tol times the reference's scale (test::scale_of).
#define EXPECT_GPU_NEAR(gpu, ref, tol)                                         \
  do {                                                                         \
    const ::um::Tensor um_ref_ = (ref);                                        \
    EXPECT_LE(::um::test::max_abs_diff_gpu((gpu), um_ref_),                    \
              (tol) * ::um::test::scale_of(um_ref_))                           \
        << #gpu;                                                               \
  } while (0)

#define UM_REQUIRE_CUDA()                                                                  \
  do {                                                                                     \
    if (!::um::test::cuda_ready()) {                                                       \
      std::fprintf(stderr, "\n*** SKIPPED: no usable CUDA device on this machine ***\n");  \
      GTEST_SKIP() << "no usable CUDA device";                                             \
    }                                                                                      \
  } while (0)
