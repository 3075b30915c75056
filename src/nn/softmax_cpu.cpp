// File: src/nn/softmax_cpu.cpp
// Purpose: torch.softmax along any dimension on the CPU (max-subtracted, float32 sums).
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {
namespace detail {
// Softmax of `n` values in place; shared with attention.
void softmax_row(float* v, int64_t n) {
  float mx = -std::numeric_limits<float>::infinity();
  for (int64_t i = 0; i < n; ++i) mx = std::max(mx, v[i]);
  if (mx == -std::numeric_limits<float>::infinity()) mx = 0.f;  // all -inf: torch gives NaN too
  float sum = 0.f;
  for (int64_t i = 0; i < n; ++i) {
    v[i] = std::exp(v[i] - mx);
    sum += v[i];
  }
  const float inv = 1.f / sum;
  for (int64_t i = 0; i < n; ++i) v[i] *= inv;
}
}  // namespace detail

Tensor softmax(const Tensor& x_in, int64_t dim) {
  static constexpr const char* kOp = "softmax";
  UM_NN_CUDA_DISPATCH(x_in, softmax_cuda(x_in, dim));
  detail::require_cpu_f32(kOp, x_in, "x");
  const int64_t d = detail::normalize_dim(kOp, dim, x_in.dim());
  Tensor y = x_in.contiguous().clone();
  const int64_t n = y.size(d);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= y.size(i);
  for (int64_t i = d + 1; i < y.dim(); ++i) inner *= y.size(i);
  float* py = y.data<float>();
  if (inner == 1) {
    for (int64_t o = 0; o < outer; ++o) detail::softmax_row(py + o * n, n);
    return y;
  }
  std::vector<float> buf(static_cast<size_t>(n));
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t in = 0; in < inner; ++in) {
      float* base = py + o * n * inner + in;
      for (int64_t i = 0; i < n; ++i) buf[i] = base[i * inner];
      detail::softmax_row(buf.data(), n);
      for (int64_t i = 0; i < n; ++i) base[i * inner] = buf[i];
    }
  }
  return y;
}

}  // namespace um::nn
