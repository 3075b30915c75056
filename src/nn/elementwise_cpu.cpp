// File: src/nn/elementwise_cpu.cpp
// Purpose: activations, broadcasting binary ops, scalar ops, concat and split on the CPU.
// Binary ops follow NumPy broadcasting; dimensions that are laid out back-to-back in both operands
// are merged first, so the inner loop is as long as possible (a per-channel bias over NCHW runs
// H*W-long inner loops with a fixed operand).
// Each public op hands CUDA tensors to its <op>_cuda twin (elementwise_cuda.cu).
#include <algorithm>
#include <cmath>
#include <vector>

#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {
namespace {

using detail::fail;

template <typename F>
Tensor unary(const char* op, const Tensor& x_in, F f) {
  detail::require_cpu_f32(op, x_in, "x");
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data<float>();
  float* py = y.data<float>();
  const int64_t n = x.numel();
  for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  return y;
}

template <typename F>
Tensor binary(const char* op, const Tensor& a, const Tensor& b, F f) {
  detail::require_cpu_f32(op, a, "a");
  detail::require_cpu_f32(op, b, "b");
  const int64_t nd = std::max(a.dim(), b.dim());
  Shape out(nd), sa(nd, 0), sb(nd, 0);
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t ia = i - (nd - a.dim()), ib = i - (nd - b.dim());
    const int64_t da = ia >= 0 ? a.size(ia) : 1, db = ib >= 0 ? b.size(ib) : 1;
    if (da != db && da != 1 && db != 1) {
      fail(op, "shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                   " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
    sa[i] = (ia >= 0 && da != 1) ? a.strides()[ia] : 0;
    sb[i] = (ib >= 0 && db != 1) ? b.strides()[ib] : 0;
  }
  Tensor y = Tensor::empty(out);
  if (y.numel() == 0) return y;
  // Merge dims (output is contiguous) where both inputs are also back-to-back; drop size-1 dims.
  Shape ms, ma, mb;
  for (int64_t i = 0; i < nd; ++i) {
    if (out[i] == 1) continue;
    if (!ms.empty() && ma.back() == sa[i] * out[i] && mb.back() == sb[i] * out[i]) {
      ms.back() *= out[i];
      ma.back() = sa[i];
      mb.back() = sb[i];
    } else {
      ms.push_back(out[i]);
      ma.push_back(sa[i]);
      mb.push_back(sb[i]);
    }
  }
  if (ms.empty()) {
    ms = {1};
    ma = {0};
    mb = {0};
  }
  const float* pa = a.data<float>();
  const float* pb = b.data<float>();
  float* py = y.data<float>();
  const int64_t md = static_cast<int64_t>(ms.size());
  const int64_t inner = ms.back(), ia = ma.back(), ib = mb.back();
  const int64_t outer = y.numel() / inner;
  std::vector<int64_t> idx(md, 0);
  int64_t oa = 0, ob = 0;
  for (int64_t o = 0; o < outer; ++o) {
    float* yr = py + o * inner;
    const float* ar = pa + oa;
    const float* br = pb + ob;
    if (ia == 1 && ib == 1) {
      for (int64_t j = 0; j < inner; ++j) yr[j] = f(ar[j], br[j]);
    } else if (ia == 1 && ib == 0) {
      const float bv = *br;
      for (int64_t j = 0; j < inner; ++j) yr[j] = f(ar[j], bv);
    } else if (ia == 0 && ib == 1) {
      const float av = *ar;
      for (int64_t j = 0; j < inner; ++j) yr[j] = f(av, br[j]);
    } else {
      for (int64_t j = 0; j < inner; ++j) yr[j] = f(ar[j * ia], br[j * ib]);
    }
    for (int64_t d = md - 2; d >= 0; --d) {
      oa += ma[d];
      ob += mb[d];
      if (++idx[d] < ms[d]) break;
      oa -= ma[d] * ms[d];
      ob -= mb[d] * ms[d];
      idx[d] = 0;
    }
  }
  return y;
}

}  // namespace

Tensor relu(const Tensor& x) {
  UM_NN_CUDA_DISPATCH(x, unary_cuda(detail::UnaryOp::kRelu, x, 0.f));
  return unary("relu", x, [](float v) { return v > 0.f ? v : 0.f; });
}
Tensor silu(const Tensor& x) {
  UM_NN_CUDA_DISPATCH(x, unary_cuda(detail::UnaryOp::kSilu, x, 0.f));
  return unary("silu", x, [](float v) { return v / (1.f + std::exp(-v)); });
}
Tensor gelu(const Tensor& x) {
  UM_NN_CUDA_DISPATCH(x, unary_cuda(detail::UnaryOp::kGelu, x, 0.f));
  return unary("gelu", x, [](float v) {
    return 0.5f * v * (1.f + std::erf(v * static_cast<float>(M_SQRT1_2)));
  });
}
Tensor sigmoid(const Tensor& x) {
  UM_NN_CUDA_DISPATCH(x, unary_cuda(detail::UnaryOp::kSigmoid, x, 0.f));
  return unary("sigmoid", x, [](float v) { return 1.f / (1.f + std::exp(-v)); });
}
Tensor inverse_sigmoid(const Tensor& x, float eps) {
  UM_NN_CUDA_DISPATCH(x, unary_cuda(detail::UnaryOp::kInverseSigmoid, x, eps));
  // D-FINE: x = x.clamp(0, 1); log(x.clamp(min=eps) / (1 - x).clamp(min=eps)).
  return unary("inverse_sigmoid", x, [eps](float v) {
    v = std::min(std::max(v, 0.f), 1.f);
    return std::log(std::max(v, eps) / std::max(1.f - v, eps));
  });
}

Tensor add(const Tensor& a, const Tensor& b) {
  UM_NN_CUDA_DISPATCH(a, binary_cuda(detail::BinaryOp::kAdd, a, b));
  return binary("add", a, b, [](float u, float v) { return u + v; });
}
Tensor sub(const Tensor& a, const Tensor& b) {
  UM_NN_CUDA_DISPATCH(a, binary_cuda(detail::BinaryOp::kSub, a, b));
  return binary("sub", a, b, [](float u, float v) { return u - v; });
}
Tensor mul(const Tensor& a, const Tensor& b) {
  UM_NN_CUDA_DISPATCH(a, binary_cuda(detail::BinaryOp::kMul, a, b));
  return binary("mul", a, b, [](float u, float v) { return u * v; });
}
Tensor div(const Tensor& a, const Tensor& b) {
  UM_NN_CUDA_DISPATCH(a, binary_cuda(detail::BinaryOp::kDiv, a, b));
  return binary("div", a, b, [](float u, float v) { return u / v; });
}
Tensor add_scalar(const Tensor& x, float s) {
  UM_NN_CUDA_DISPATCH(x, unary_cuda(detail::UnaryOp::kAddScalar, x, s));
  return unary("add_scalar", x, [s](float v) { return v + s; });
}
Tensor mul_scalar(const Tensor& x, float s) {
  UM_NN_CUDA_DISPATCH(x, unary_cuda(detail::UnaryOp::kMulScalar, x, s));
  return unary("mul_scalar", x, [s](float v) { return v * s; });
}

Tensor concat(const std::vector<Tensor>& xs, int64_t dim) {
  static constexpr const char* kOp = "concat";
  if (xs.empty()) fail(kOp, "no tensors given");
  UM_NN_CUDA_DISPATCH(xs[0], concat_cuda(xs, dim));
  for (const auto& t : xs) detail::require_cpu_f32(kOp, t, "input");
  const int64_t nd = xs[0].dim();
  const int64_t d = detail::normalize_dim(kOp, dim, nd);
  Shape out = xs[0].shape();
  out[d] = 0;
  for (const auto& t : xs) {
    bool ok = t.dim() == nd;
    for (int64_t i = 0; ok && i < nd; ++i) ok = i == d || t.size(i) == xs[0].size(i);
    if (!ok) {
      fail(kOp, "shape " + shape_str(t.shape()) + " does not match " + shape_str(xs[0].shape()) +
                    " outside dim " + std::to_string(d));
    }
    out[d] += t.size(d);
  }
  Tensor y = Tensor::empty(out);
  int64_t outer = 1, inner = 1;
  for (int64_t i = 0; i < d; ++i) outer *= out[i];
  for (int64_t i = d + 1; i < nd; ++i) inner *= out[i];
  float* py = y.data<float>();
  const int64_t row = out[d] * inner;
  int64_t off = 0;
  for (const auto& t : xs) {
    const Tensor c = t.contiguous();
    const int64_t chunk = t.size(d) * inner;
    const float* pc = c.data<float>();
    for (int64_t o = 0; o < outer; ++o) std::copy(pc + o * chunk, pc + (o + 1) * chunk, py + o * row + off);
    off += chunk;
  }
  return y;
}

std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim) {
  static constexpr const char* kOp = "split";
  if (!x.defined()) fail(kOp, "x is undefined");
  const int64_t d = detail::normalize_dim(kOp, dim, x.dim());
  int64_t total = 0;
  for (int64_t s : sizes) {
    if (s < 0) fail(kOp, "negative size");
    total += s;
  }
  if (total != x.size(d)) {
    std::string s;
    for (int64_t v : sizes) s += (s.empty() ? "" : ", ") + std::to_string(v);
    fail(kOp, "sizes [" + s + "] do not add up to dim " + std::to_string(d) + " of " +
                  shape_str(x.shape()));
  }
  std::vector<Tensor> out;
  int64_t start = 0;
  for (int64_t s : sizes) {
    out.push_back(x.slice(d, start, start + s));
    start += s;
  }
  return out;
}

}  // namespace um::nn
