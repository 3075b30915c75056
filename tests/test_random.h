// File: tests/test_random.h
// Purpose: the seeded uniform float32 tensors every test suite draws its inputs from (the op
// tests' random_tensor and the GPU tests' random_cpu are this one generator).
#pragma once

#include <cstdint>
#include <random>

#include "core/tensor.h"

namespace um::test {

// A contiguous float32 CPU tensor, uniform in [lo, hi), the same values for the same seed.
inline Tensor random_uniform(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(lo, hi);
  Tensor t = Tensor::empty(shape);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
  return t;
}

}  // namespace um::test
