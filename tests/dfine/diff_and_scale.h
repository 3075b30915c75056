// File: tests/dfine/diff_and_scale.h
// Purpose: the D-FINE tests' tensor comparison: the largest absolute difference and the
// reference's scale, for tolerances relative to it (EXPECT_LE(d, tol * std::max(s, 1.f))).
#pragma once

#include <algorithm>
#include <cmath>
#include <utility>

#include "core/tensor.h"

namespace um::dfine::test {

// Max |a - b| (NaN propagates, failing any bound) and max |b| (the reference's scale); a is
// float32, b any float dtype, same number of elements.
inline std::pair<float, float> diff_and_scale(const Tensor& a_in, const Tensor& b_in) {
  const Tensor a = a_in.contiguous(), b = b_in.to(DType::kF32).contiguous();
  float d = 0.f, s = 0.f;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const float e = std::fabs(a.data<float>()[i] - b.data<float>()[i]);
    if (!(e <= d)) d = e;
    s = std::max(s, std::fabs(b.data<float>()[i]));
  }
  return {d, s};
}

}  // namespace um::dfine::test
