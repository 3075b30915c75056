// File: tests/nn/nn_test_util.h
// Purpose: random tensors and element-wise comparison for the op tests.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "core/tensor.h"
#include "test_random.h"

namespace um::nn::test {

inline Tensor random_tensor(const Shape& shape, uint32_t seed, float lo = -1.f, float hi = 1.f) {
  return um::test::random_uniform(shape, seed, lo, hi);
}

// Same shape, dtype and bytes (a fused op's CPU path against the unfused sequence it replaces).
inline bool bit_identical(const Tensor& a_in, const Tensor& b_in) {
  if (a_in.shape() != b_in.shape() || a_in.dtype() != b_in.dtype()) return false;
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  return std::memcmp(a.raw_data(), b.raw_data(), a.nbytes()) == 0;
}

// Max |a - b| over all elements; shapes must match.
inline float max_abs_diff(const Tensor& a_in, const Tensor& b_in) {
  EXPECT_EQ(shape_str(a_in.shape()), shape_str(b_in.shape()));
  if (a_in.shape() != b_in.shape()) return INFINITY;
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  float m = 0.f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float d = std::fabs(a.data<float>()[i] - b.data<float>()[i]);
    if (!(d <= m)) m = d;  // NaN propagates as a failure
  }
  return m;
}

// Element at a multi-index of a contiguous tensor.
inline float& at(Tensor& t, std::initializer_list<int64_t> idx) {
  int64_t off = 0, k = 0;
  const Shape st = contiguous_strides(t.shape());
  for (int64_t i : idx) off += i * st[k++];
  return t.data<float>()[off];
}

}  // namespace um::nn::test
