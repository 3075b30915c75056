// File: src/nn/elementwise_cuda.cu
// Purpose: the CUDA side of nn/elementwise: activations and scalar ops (unary_cuda), NumPy-
// broadcasting add/sub/mul/div (binary_cuda) and concat (concat_cuda), float32 or float16.
// Element math is float32 in both modes and mirrors elementwise_cpu.cpp expression by expression
// (same operation order, same NaN behaviour of the min/max clamps), so float32 results agree with
// the CPU reference to the last bit except where CUDA's expf/erff/logf differ by an ulp or two.
// Inputs may be strided views (read through their strides); outputs are contiguous. Everything
// is queued on um::cuda::current_stream(): no host synchronisation, no cudaMalloc.
#include <algorithm>
#include <string>
#include <vector>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

constexpr int kMaxDims = 8;
constexpr int kThreads = 256;

// A strided view flattened in row-major order: element i lives at sum(c_d * strides[d]).
struct Strided {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[kMaxDims] = {};
};

__device__ __forceinline__ int64_t offset_of(const Strided& s, int64_t i) {
  int64_t off = 0;
  for (int d = s.ndim - 1; d >= 0; --d) {
    const int64_t c = i % s.sizes[d];
    i /= s.sizes[d];
    off += c * s.strides[d];
  }
  return off;
}

// The layout of t for the kernels; a view of more than kMaxDims dims is made contiguous first
// (the caller keeps `holder` alive until the launch is queued).
Strided strided_of(const Tensor& t, Tensor* holder) {
  *holder = (t.dim() > kMaxDims) ? t.contiguous() : t;
  Strided s;
  if (holder->is_contiguous()) {  // one flat dim: no index arithmetic in the kernel
    s.ndim = 1;
    s.sizes[0] = std::max<int64_t>(holder->numel(), 1);
    s.strides[0] = 1;
    return s;
  }
  s.ndim = static_cast<int>(holder->dim());
  for (int d = 0; d < s.ndim; ++d) {
    s.sizes[d] = holder->size(d);
    s.strides[d] = holder->strides()[d];
  }
  return s;
}

const char* unary_name(UnaryOp op) {
  switch (op) {
    case UnaryOp::kRelu: return "relu";
    case UnaryOp::kSilu: return "silu";
    case UnaryOp::kGelu: return "gelu";
    case UnaryOp::kSigmoid: return "sigmoid";
    case UnaryOp::kInverseSigmoid: return "inverse_sigmoid";
    case UnaryOp::kAddScalar: return "add_scalar";
    case UnaryOp::kMulScalar: return "mul_scalar";
  }
  return "unary";
}

const char* binary_name(BinaryOp op) {
  switch (op) {
    case BinaryOp::kAdd: return "add";
    case BinaryOp::kSub: return "sub";
    case BinaryOp::kMul: return "mul";
    case BinaryOp::kDiv: return "div";
  }
  return "binary";
}

// The CPU lambdas of elementwise_cpu.cpp, written out with the same order of operations.
// std::max(a, b) is (a < b) ? b : a and std::min(a, b) is (b < a) ? b : a: spelled that way
// (not fmaxf/fminf) so that NaN flows through the clamps exactly as on the CPU.
template <UnaryOp OP>
__device__ __forceinline__ float apply_unary(float v, float p) {
  if constexpr (OP == UnaryOp::kRelu) {
    return v > 0.f ? v : 0.f;
  } else if constexpr (OP == UnaryOp::kSilu) {
    return v / (1.f + expf(-v));
  } else if constexpr (OP == UnaryOp::kGelu) {
    return 0.5f * v * (1.f + erff(v * 0.70710678118654752440f));  // float(M_SQRT1_2)
  } else if constexpr (OP == UnaryOp::kSigmoid) {
    return 1.f / (1.f + expf(-v));
  } else if constexpr (OP == UnaryOp::kInverseSigmoid) {
    const float eps = p;
    v = (v < 0.f) ? 0.f : v;  // std::max(v, 0.f)
    v = (1.f < v) ? 1.f : v;  // std::min(v, 1.f)
    const float num = (v < eps) ? eps : v;
    const float one_minus = 1.f - v;
    const float den = (one_minus < eps) ? eps : one_minus;
    return logf(num / den);
  } else if constexpr (OP == UnaryOp::kAddScalar) {
    return v + p;
  } else {
    return v * p;
  }
}

template <BinaryOp OP>
__device__ __forceinline__ float apply_binary(float u, float v) {
  if constexpr (OP == BinaryOp::kAdd) {
    return u + v;
  } else if constexpr (OP == BinaryOp::kSub) {
    return u - v;
  } else if constexpr (OP == BinaryOp::kMul) {
    return u * v;
  } else {
    return u / v;
  }
}

template <typename T, UnaryOp OP, bool kFlat>
__global__ void unary_kernel(const T* __restrict__ x, T* __restrict__ y, Strided l, float p,
                             int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t src = kFlat ? i : offset_of(l, i);
    y[i] = from_f<T>(apply_unary<OP>(to_f(x[src]), p));
  }
}

template <typename T, UnaryOp OP>
void launch_unary(const Tensor& x, const Strided& l, Tensor& y, float p) {
  const int64_t n = y.numel();
  const T* px = static_cast<const T*>(x.raw_data());
  T* py = static_cast<T*>(y.raw_data());
  if (l.ndim == 1 && l.strides[0] == 1) {
    unary_kernel<T, OP, true><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(px, py, l, p, n);
  } else {
    unary_kernel<T, OP, false><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(px, py, l, p, n);
  }
}

// Merged broadcast layout of a binary op over the (contiguous) output: sizes of the merged
// output dims and each operand's stride along them (0 where it is broadcast).
struct BinaryLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t sa[kMaxDims] = {};
  int64_t sb[kMaxDims] = {};
};

// kMode 0: both operands contiguous over the whole output (same shape, the hot path);
// kMode 1: a contiguous, b one value per `inner`-long row of a (a per-channel bias [C,1,1] over
//          NCHW merges to [N, C, HW] with b strides [0, s, 0]);
// kMode 2: anything else, through the merged strides.
template <typename T, BinaryOp OP, int kMode>
__global__ void binary_kernel(const T* __restrict__ a, const T* __restrict__ b,
                              T* __restrict__ y, BinaryLayout l, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t oa = i, ob = i;
    if constexpr (kMode == 1) {
      // l: [outer, mid, inner] with a contiguous and b strides [sb0, sb1, 0].
      const int64_t row = i / l.sizes[2];
      ob = (row % l.sizes[1]) * l.sb[1] + (row / l.sizes[1]) * l.sb[0];
    } else if constexpr (kMode == 2) {
      int64_t rem = i;
      oa = 0;
      ob = 0;
      for (int d = l.ndim - 1; d >= 0; --d) {
        const int64_t c = rem % l.sizes[d];
        rem /= l.sizes[d];
        oa += c * l.sa[d];
        ob += c * l.sb[d];
      }
    }
    y[i] = from_f<T>(apply_binary<OP>(to_f(a[oa]), to_f(b[ob])));
  }
}

template <typename T, BinaryOp OP>
void launch_binary(const Tensor& a, const Tensor& b, Tensor& y, const BinaryLayout& l) {
  const int64_t n = y.numel();
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* py = static_cast<T*>(y.raw_data());
  const int blocks = blocks_for(n, kThreads);
  if (l.ndim == 1 && l.sa[0] == 1 && l.sb[0] == 1) {
    binary_kernel<T, OP, 0><<<blocks, kThreads, 0, stream()>>>(pa, pb, py, l, n);
    return;
  }
  // The bias pattern: a contiguous everywhere, b constant along the innermost merged dim.
  // Recognised on a layout of at most 3 merged dims, padded at the front to exactly 3.
  if (l.ndim <= 3 && l.sb[l.ndim - 1] == 0) {
    BinaryLayout m;
    m.ndim = 3;
    const int pad = 3 - l.ndim;
    for (int d = 0; d < 3; ++d) {
      const int s = d - pad;
      m.sizes[d] = s >= 0 ? l.sizes[s] : 1;
      m.sa[d] = s >= 0 ? l.sa[s] : 0;
      m.sb[d] = s >= 0 ? l.sb[s] : 0;
    }
    const bool a_contiguous = m.sa[2] == 1 && (m.sizes[1] == 1 || m.sa[1] == m.sizes[2]) &&
                              (m.sizes[0] == 1 || m.sa[0] == m.sizes[1] * m.sizes[2]);
    if (a_contiguous) {
      binary_kernel<T, OP, 1><<<blocks, kThreads, 0, stream()>>>(pa, pb, py, m, n);
      return;
    }
  }
  binary_kernel<T, OP, 2><<<blocks, kThreads, 0, stream()>>>(pa, pb, py, l, n);
}

template <typename T>
__global__ void concat_piece_kernel(const T* __restrict__ src, Strided l, T* __restrict__ dst,
                                    int64_t chunk, int64_t row, int64_t off, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t o = i / chunk;
    dst[o * row + off + (i - o * chunk)] = src[offset_of(l, i)];
  }
}

void require_same_device(const char* op, const Tensor& t, const char* name, const Tensor& ref) {
  if (t.device() != ref.device()) {
    throw Error(StatusCode::kFailedPrecondition, std::string(op) + ": " + name + " is on " +
                                                     t.device().str() + " but the input is on " +
                                                     ref.device().str());
  }
}

}  // namespace

Tensor unary_cuda(UnaryOp op, const Tensor& x, float param) {
  const char* name = unary_name(op);
  require_cuda_float(name, x, "x");
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  if (y.numel() == 0) return y;
  Tensor holder;
  const Strided l = strided_of(x, &holder);
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    switch (op) {
      case UnaryOp::kRelu: launch_unary<T, UnaryOp::kRelu>(holder, l, y, param); break;
      case UnaryOp::kSilu: launch_unary<T, UnaryOp::kSilu>(holder, l, y, param); break;
      case UnaryOp::kGelu: launch_unary<T, UnaryOp::kGelu>(holder, l, y, param); break;
      case UnaryOp::kSigmoid: launch_unary<T, UnaryOp::kSigmoid>(holder, l, y, param); break;
      case UnaryOp::kInverseSigmoid:
        launch_unary<T, UnaryOp::kInverseSigmoid>(holder, l, y, param);
        break;
      case UnaryOp::kAddScalar: launch_unary<T, UnaryOp::kAddScalar>(holder, l, y, param); break;
      case UnaryOp::kMulScalar: launch_unary<T, UnaryOp::kMulScalar>(holder, l, y, param); break;
    }
  });
  check_launch(name);
  return y;
}

Tensor binary_cuda(BinaryOp op, const Tensor& a, const Tensor& b) {
  const char* name = binary_name(op);
  require_cuda_float(name, a, "a");
  require_like(name, b, "b", a);
  require_same_device(name, b, "b", a);
  // Broadcast exactly as the CPU op does (same message on a mismatch).
  const int64_t nd = std::max(a.dim(), b.dim());
  Shape out(nd), sa(nd, 0), sb(nd, 0);
  for (int64_t i = 0; i < nd; ++i) {
    const int64_t ia = i - (nd - a.dim()), ib = i - (nd - b.dim());
    const int64_t da = ia >= 0 ? a.size(ia) : 1, db = ib >= 0 ? b.size(ib) : 1;
    if (da != db && da != 1 && db != 1) {
      fail(name, "shapes " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                     " do not broadcast");
    }
    out[i] = da == 1 ? db : da;
    sa[i] = (ia >= 0 && da != 1) ? a.strides()[ia] : 0;
    sb[i] = (ib >= 0 && db != 1) ? b.strides()[ib] : 0;
  }
  Tensor y = Tensor::empty(out, a.dtype(), a.device());
  if (y.numel() == 0) return y;
  // Merge output dims where both operands are back-to-back; drop size-1 dims (as the CPU does).
  BinaryLayout l;
  std::vector<int64_t> ms, ma, mb;
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
  if (ms.empty()) {  // every dim is 1: one element
    ms = {1};
    ma = {1};
    mb = {1};
  }
  if (ms.size() > static_cast<size_t>(kMaxDims)) {
    fail(name, "broadcast of " + shape_str(a.shape()) + " and " + shape_str(b.shape()) +
                   " needs more than 8 dims after merging; make an operand contiguous first");
  }
  l.ndim = static_cast<int>(ms.size());
  for (int d = 0; d < l.ndim; ++d) {
    l.sizes[d] = ms[d];
    l.sa[d] = ma[d];
    l.sb[d] = mb[d];
  }
  UM_DISPATCH_FLOAT(a.dtype(), T, {
    switch (op) {
      case BinaryOp::kAdd: launch_binary<T, BinaryOp::kAdd>(a, b, y, l); break;
      case BinaryOp::kSub: launch_binary<T, BinaryOp::kSub>(a, b, y, l); break;
      case BinaryOp::kMul: launch_binary<T, BinaryOp::kMul>(a, b, y, l); break;
      case BinaryOp::kDiv: launch_binary<T, BinaryOp::kDiv>(a, b, y, l); break;
    }
  });
  check_launch(name);
  return y;
}

Tensor concat_cuda(const std::vector<Tensor>& xs, int64_t dim) {
  static constexpr const char* kOp = "concat";
  if (xs.empty()) fail(kOp, "no tensors given");
  require_cuda_float(kOp, xs[0], "input");
  for (const auto& t : xs) {
    require_like(kOp, t, "input", xs[0]);
    require_same_device(kOp, t, "input", xs[0]);
  }
  const int64_t nd = xs[0].dim();
  const int64_t d = normalize_dim(kOp, dim, nd);
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
  Tensor y = Tensor::empty(out, xs[0].dtype(), xs[0].device());
  if (y.numel() == 0) return y;
  int64_t inner = 1;
  for (int64_t i = d + 1; i < nd; ++i) inner *= out[i];
  const int64_t row = out[d] * inner;
  int64_t off = 0;
  // One launch per input: input element i (row-major over its own shape) goes to output row
  // i / chunk at column off + i % chunk.
  for (const auto& t : xs) {
    const int64_t chunk = t.size(d) * inner;
    const int64_t n = t.numel();
    if (n > 0) {
      Tensor holder;
      const Strided l = strided_of(t, &holder);
      UM_DISPATCH_FLOAT(t.dtype(), T, {
        concat_piece_kernel<T><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(
            static_cast<const T*>(holder.raw_data()), l, static_cast<T*>(y.raw_data()), chunk,
            row, off, n);
      });
      check_launch(kOp);
    }
    off += chunk;
  }
  return y;
}

}  // namespace um::nn::detail
