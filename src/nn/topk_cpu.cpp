// File: src/nn/topk_cpu.cpp
// Purpose: torch.topk(largest=True, sorted=True) along the last dim with a stable tie order
// (lower index first, so results are reproducible), and row gathering (torch.gather with an index
// broadcast over the trailing dims), on the CPU.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {

std::pair<Tensor, Tensor> topk(const Tensor& x_in, int64_t k) {
  static constexpr const char* kOp = "topk";
  UM_NN_CUDA_DISPATCH(x_in, topk_cuda(x_in, k));
  detail::require_cpu_f32(kOp, x_in, "x");
  if (x_in.dim() < 1 || k < 0 || k > x_in.size(-1)) {
    detail::fail(kOp, "k=" + std::to_string(k) + " out of range for x " + shape_str(x_in.shape()));
  }
  const Tensor x = x_in.contiguous();
  const int64_t n = x.size(-1);
  const int64_t rows = n ? x.numel() / n : 0;
  Shape out_shape = x.shape();
  out_shape.back() = k;
  Tensor values = Tensor::empty(out_shape);
  Tensor indices = Tensor::empty(out_shape, DType::kI64);
  const float* px = x.data<float>();
  float* pv = values.data<float>();
  int64_t* pi = indices.data<int64_t>();
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    const float* v = px + r * n;
    std::iota(order.begin(), order.end(), 0);
    // NaN counts as the largest value, as in PyTorch.
    auto greater = [v](int64_t a, int64_t b) {
      const bool na = std::isnan(v[a]), nb = std::isnan(v[b]);
      if (na != nb) return na;
      if (!na && v[a] != v[b]) return v[a] > v[b];
      return a < b;
    };
    std::partial_sort(order.begin(), order.begin() + k, order.end(), greater);
    for (int64_t i = 0; i < k; ++i) {
      pv[r * k + i] = v[order[i]];
      pi[r * k + i] = order[i];
    }
  }
  return {values, indices};
}

Tensor gather_rows(const Tensor& x_in, const Tensor& index_in, int64_t dim) {
  static constexpr const char* kOp = "gather_rows";
  if (!x_in.defined() || !index_in.defined()) detail::fail(kOp, "undefined input");
  UM_NN_CUDA_DISPATCH(x_in, gather_rows_cuda(x_in, index_in, dim));
  if (!x_in.device().is_cpu() || !index_in.device().is_cpu()) {
    throw Error(StatusCode::kFailedPrecondition, "gather_rows: inputs must be on the CPU");
  }
  const int64_t d = detail::normalize_dim(kOp, dim, x_in.dim());
  // index: x.shape[:d] (each dim equal or 1) + [K], int64.
  if (index_in.dtype() != DType::kI64 || index_in.dim() != d + 1) {
    detail::fail(kOp, "index " + std::string(dtype_name(index_in.dtype())) +
                          shape_str(index_in.shape()) + " must be int64 with " +
                          std::to_string(d + 1) + " dims for x " + shape_str(x_in.shape()) +
                          " and dim " + std::to_string(d));
  }
  for (int64_t i = 0; i < d; ++i) {
    if (index_in.size(i) != 1 && index_in.size(i) != x_in.size(i)) {
      detail::fail(kOp, "index " + shape_str(index_in.shape()) + " does not broadcast over x " +
                            shape_str(x_in.shape()));
    }
  }
  const Tensor x = x_in.contiguous();
  const Tensor index = index_in.contiguous();
  const int64_t k = index.size(d), rows = x.size(d);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= x.size(i);
  for (int64_t i = d + 1; i < x.dim(); ++i) inner *= x.size(i);
  Shape out_shape = x.shape();
  out_shape[d] = k;
  Tensor y = Tensor::empty(out_shape, x.dtype());
  const size_t es = dtype_size(x.dtype());
  const auto* px = static_cast<const uint8_t*>(x.raw_data());
  auto* py = static_cast<uint8_t*>(y.raw_data());
  const int64_t* pidx = index.data<int64_t>();
  const Shape idx_strides = contiguous_strides(index.shape());
  for (int64_t o = 0; o < outer; ++o) {
    // Offset of this outer position in the (possibly broadcast) index.
    int64_t rem = o, ioff = 0;
    for (int64_t i = d - 1; i >= 0; --i) {
      const int64_t coord = rem % x.size(i);
      rem /= x.size(i);
      if (index.size(i) != 1) ioff += coord * idx_strides[i];
    }
    for (int64_t j = 0; j < k; ++j) {
      const int64_t r = pidx[ioff + j];
      if (r < 0 || r >= rows) {
        detail::fail(kOp, "index " + std::to_string(r) + " out of range [0, " +
                              std::to_string(rows) + ") for x " + shape_str(x.shape()));
      }
      std::memcpy(py + ((o * k + j) * inner) * es, px + ((o * rows + r) * inner) * es,
                  static_cast<size_t>(inner) * es);
    }
  }
  return y;
}

}  // namespace um::nn
