// File: src/nn/elementwise_cuda.cu
// Purpose: the CUDA side of nn/elementwise: activations and scalar ops (unary_cuda), NumPy-
// broadcasting add/sub/mul/div (binary_cuda) and concat (concat_cuda), float32 or float16.
// Element math is float32 in both modes and mirrors elementwise_cpu.cpp expression by expression
// (same operation order, same NaN behaviour of the min/max clamps), so float32 results agree with
// the CPU reference to the last bit except where CUDA's expf/erff/logf differ by an ulp or two.
// Inputs may be strided views (read through their strides); outputs are contiguous. Everything
// is queued on um::cuda::current_stream(): no host synchronisation, no cudaMalloc.
// Fast paths (same float32 math per element, so results are bit-identical to the generic
// kernels): contiguous, 16-byte aligned operands are read and written 16 bytes at a time
// (8 halfs / 4 floats per thread and step, grid-stride, the ragged tail by the scalar kernel);
// binary's per-row bias and per-column (row-vector) broadcasts likewise; concat of contiguous
// pieces is one kernel per group of up to 8 pieces, moving 16/8/4-byte units where every piece's
// row chunk allows. um::cuda::MemopsMode::kLegacy selects the original kernels (benchmarks).
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/cuda/strided_copy.h"
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

bool fast_paths() { return um::cuda::memops_mode() != um::cuda::MemopsMode::kLegacy; }

// y[i] = op(x[i]) over nvec packs of contiguous, 16-byte aligned x and y.
template <typename T, UnaryOp OP>
__global__ void unary_vec_kernel(const Pack16<T>* __restrict__ x, Pack16<T>* __restrict__ y, float p,
                                 int64_t nvec) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < nvec;
       i += int64_t(gridDim.x) * blockDim.x) {
    const Pack16<T> in = x[i];
    Pack16<T> out;
#pragma unroll
    for (int k = 0; k < Pack16<T>::kN; ++k) out.v[k] = from_f<T>(apply_unary<OP>(to_f(in.v[k]), p));
    y[i] = out;
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
    constexpr int kN = Pack16<T>::kN;
    const int64_t nvec = fast_paths() && aligned16(px) && aligned16(py) ? n / kN : 0;
    if (nvec > 0) {
      unary_vec_kernel<T, OP><<<blocks_for(nvec, kThreads), kThreads, 0, stream()>>>(
          reinterpret_cast<const Pack16<T>*>(px), reinterpret_cast<Pack16<T>*>(py), p, nvec);
    }
    const int64_t done = nvec * kN;  // the tail (or everything) element by element
    if (done < n) {
      unary_kernel<T, OP, true><<<blocks_for(n - done, kThreads), kThreads, 0, stream()>>>(
          px + done, py + done, l, p, n - done);
    }
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

// The 16-byte form of binary_kernel over nvec packs; every operand that is read as packs is
// 16-byte aligned and no pack straddles a row. kMode 0: a, b contiguous; 1: a contiguous, b one
// value per row of l = [outer, mid, inner] (as binary_kernel's mode 1); 3: a contiguous, b a row
// vector of l = [outer, inner] (b strides [0, 1]); 4: a the row vector, b contiguous.
template <typename T, BinaryOp OP, int kMode>
__global__ void binary_vec_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                  T* __restrict__ y, BinaryLayout l, int64_t nvec) {
  constexpr int kN = Pack16<T>::kN;
  const auto* av = reinterpret_cast<const Pack16<T>*>(a);
  const auto* bv = reinterpret_cast<const Pack16<T>*>(b);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < nvec;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t e = i * kN;  // output index of the pack's first element
    Pack16<T> pa, pb, out;
    if constexpr (kMode == 0) {
      pa = av[i];
      pb = bv[i];
    } else if constexpr (kMode == 1) {
      pa = av[i];
      const int64_t row = e / l.sizes[2];
      const T bias = b[(row % l.sizes[1]) * l.sb[1] + (row / l.sizes[1]) * l.sb[0]];
#pragma unroll
      for (int k = 0; k < kN; ++k) pb.v[k] = bias;
    } else if constexpr (kMode == 3) {
      pa = av[i];
      pb = bv[(e % l.sizes[1]) / kN];
    } else {
      pa = av[(e % l.sizes[1]) / kN];
      pb = bv[i];
    }
#pragma unroll
    for (int k = 0; k < kN; ++k) {
      out.v[k] = from_f<T>(apply_binary<OP>(to_f(pa.v[k]), to_f(pb.v[k])));
    }
    reinterpret_cast<Pack16<T>*>(y)[i] = out;
  }
}

template <typename T, BinaryOp OP>
void launch_binary(const Tensor& a, const Tensor& b, Tensor& y, const BinaryLayout& l) {
  const int64_t n = y.numel();
  const T* pa = static_cast<const T*>(a.raw_data());
  const T* pb = static_cast<const T*>(b.raw_data());
  T* py = static_cast<T*>(y.raw_data());
  const int blocks = blocks_for(n, kThreads);
  constexpr int kN = Pack16<T>::kN;
  const bool fast = fast_paths() && aligned16(py);
  if (l.ndim == 1 && l.sa[0] == 1 && l.sb[0] == 1) {
    const int64_t nvec = fast && aligned16(pa) && aligned16(pb) ? n / kN : 0;
    if (nvec > 0) {
      binary_vec_kernel<T, OP, 0><<<blocks_for(nvec, kThreads), kThreads, 0, stream()>>>(
          pa, pb, py, l, nvec);
    }
    const int64_t done = nvec * kN;  // the tail (or everything) element by element
    if (done < n) {
      binary_kernel<T, OP, 0><<<blocks_for(n - done, kThreads), kThreads, 0, stream()>>>(
          pa + done, pb + done, py + done, l, n - done);
    }
    return;
  }
  // A row vector against a contiguous operand: [outer, inner] with strides [inner, 1] and
  // [0, 1] (LayerScale-like [B, L, C] * [C], a bias on the last dim, positional embeddings).
  if (fast && l.ndim == 2 && l.sizes[1] % kN == 0 && aligned16(pa) && aligned16(pb)) {
    const bool a_full = l.sa[0] == l.sizes[1] && l.sa[1] == 1;
    const bool b_full = l.sb[0] == l.sizes[1] && l.sb[1] == 1;
    const bool a_row = l.sa[0] == 0 && l.sa[1] == 1;
    const bool b_row = l.sb[0] == 0 && l.sb[1] == 1;
    const int64_t nvec = n / kN;  // exact: inner is a multiple of kN
    if (a_full && b_row) {
      binary_vec_kernel<T, OP, 3><<<blocks_for(nvec, kThreads), kThreads, 0, stream()>>>(
          pa, pb, py, l, nvec);
      return;
    }
    if (a_row && b_full) {
      binary_vec_kernel<T, OP, 4><<<blocks_for(nvec, kThreads), kThreads, 0, stream()>>>(
          pa, pb, py, l, nvec);
      return;
    }
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
      if (fast && aligned16(pa) && m.sizes[2] % kN == 0) {  // packs never straddle a row
        const int64_t nvec = n / kN;
        binary_vec_kernel<T, OP, 1><<<blocks_for(nvec, kThreads), kThreads, 0, stream()>>>(
            pa, pb, py, m, nvec);
        return;
      }
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

// Concat of contiguous pieces: up to kMaxPieces consecutive pieces (a "group", occupying the
// output columns [col0, col0 + width) of every outer row) in one launch. Everything is counted
// in units U (16/8/4-byte vectors or the element itself). Unit i of the group is output row
// o = i / width, group column c = i % width; the piece p holding column c (start[p] <= c <
// start[p + 1]) supplies its unit o * chunk[p] + (c - start[p]).
constexpr int kMaxPieces = 8;

struct ConcatGroup {
  const void* src[kMaxPieces] = {};
  int64_t chunk[kMaxPieces] = {};  // units per outer row of the piece
  int64_t start[kMaxPieces] = {};  // first group column of the piece
  int count = 0;
  int64_t width = 0;  // sum of the chunks
  int64_t row = 0;    // units per output row
  int64_t col0 = 0;   // first output column of the group
};

template <typename U, typename I>
__global__ void concat_group_kernel(U* __restrict__ y, ConcatGroup g, I n) {
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
       i < n; i += static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x)) {
    const I o = i / static_cast<I>(g.width);
    const I c = i - o * static_cast<I>(g.width);
    int p = 0;
    while (p + 1 < g.count && c >= static_cast<I>(g.start[p + 1])) ++p;
    const U* src = static_cast<const U*>(g.src[p]);
    y[o * static_cast<I>(g.row) + static_cast<I>(g.col0) + c] =
        src[o * static_cast<I>(g.chunk[p]) + (c - static_cast<I>(g.start[p]))];
  }
}

template <typename U>
void launch_concat_group(void* y, const ConcatGroup& g, int64_t outer) {
  const int64_t n = outer * g.width;
  // 32-bit arithmetic when every index (at most outer * row) stays far below 2^31.
  const bool i32 = um::cuda::memops_mode() == um::cuda::MemopsMode::kFast &&
                   outer * g.row < (int64_t{1} << 30);
  if (i32) {
    concat_group_kernel<U, int32_t><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(
        static_cast<U*>(y), g, static_cast<int32_t>(n));
  } else {
    concat_group_kernel<U, int64_t><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(
        static_cast<U*>(y), g, n);
  }
}

// Largest unit (16, 8, 4 bytes, else the element size) dividing every byte count and address of
// the group: y, each piece's pointer, chunk bytes, the row bytes and col0 bytes.
size_t concat_unit(const Tensor& y, const std::vector<const Tensor*>& pieces,
                   const std::vector<int64_t>& chunks, int64_t row, int64_t col0) {
  const size_t es = dtype_size(y.dtype());
  for (size_t unit : {size_t{16}, size_t{8}, size_t{4}}) {
    if (unit <= es) break;
    bool ok = reinterpret_cast<uintptr_t>(y.raw_data()) % unit == 0 &&
              (static_cast<size_t>(row) * es) % unit == 0 &&
              (static_cast<size_t>(col0) * es) % unit == 0;
    for (size_t k = 0; ok && k < pieces.size(); ++k) {
      ok = reinterpret_cast<uintptr_t>(pieces[k]->raw_data()) % unit == 0 &&
           (static_cast<size_t>(chunks[k]) * es) % unit == 0;
    }
    if (ok) return unit;
  }
  return es;
}

// One launch for pieces[0..] (contiguous, non-empty, consecutive in the output starting at
// element column col0; chunks in elements).
void concat_group(const Tensor& y, const std::vector<const Tensor*>& pieces,
                  const std::vector<int64_t>& chunks, int64_t outer, int64_t row, int64_t col0) {
  const size_t es = dtype_size(y.dtype());
  const size_t unit = concat_unit(y, pieces, chunks, row, col0);
  const int64_t per = static_cast<int64_t>(unit / es);  // elements per unit
  ConcatGroup g;
  g.count = static_cast<int>(pieces.size());
  for (int k = 0; k < g.count; ++k) {
    g.src[k] = pieces[k]->raw_data();
    g.chunk[k] = chunks[k] / per;
    g.start[k] = g.width;
    g.width += g.chunk[k];
  }
  g.row = row / per;
  g.col0 = col0 / per;
  switch (unit) {
    case 16: launch_concat_group<uint4>(y.raw_data(), g, outer); break;
    case 8: launch_concat_group<uint2>(y.raw_data(), g, outer); break;
    case 4: launch_concat_group<uint32_t>(y.raw_data(), g, outer); break;
    default: launch_concat_group<uint16_t>(y.raw_data(), g, outer); break;  // float16 elements
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
  const int64_t outer = y.numel() / row;
  // Contiguous pieces go in groups of up to kMaxPieces consecutive ones, one launch per group;
  // a strided piece is copied into its slice of y by the strided copy, whose fast paths (tiled
  // transpose, merged dims) read and write coalesced where this gather could not (D-FINE's
  // flattened [C, HW] -> [HW, C] levels: 15.7 us for the 80x80 one, H200); in kLegacy mode
  // every piece gets its own gather launch.
  std::vector<const Tensor*> group;
  std::vector<int64_t> chunks;
  int64_t group_col0 = 0;
  const auto flush = [&] {
    if (!group.empty()) concat_group(y, group, chunks, outer, row, group_col0);
    group.clear();
    chunks.clear();
  };
  int64_t off = 0;  // the piece's first output column (elements of an outer row)
  int64_t at = 0;   // the piece's first index along dim d
  for (const auto& t : xs) {
    const int64_t chunk = t.size(d) * inner;
    const int64_t n = t.numel();
    if (n > 0 && fast_paths() && t.is_contiguous()) {
      if (group.empty()) group_col0 = off;
      group.push_back(&t);
      chunks.push_back(chunk);
      if (static_cast<int>(group.size()) == kMaxPieces) flush();
    } else if (n > 0 && fast_paths()) {
      flush();
      y.slice(d, at, at + t.size(d)).copy_from(t);
    } else if (n > 0) {
      // One launch for this input: its element i (row-major over its own shape) goes to output
      // row i / chunk at column off + i % chunk.
      flush();
      Tensor holder;
      const Strided l = strided_of(t, &holder);
      UM_DISPATCH_FLOAT(t.dtype(), T, {
        concat_piece_kernel<T><<<blocks_for(n, kThreads), kThreads, 0, stream()>>>(
            static_cast<const T*>(holder.raw_data()), l, static_cast<T*>(y.raw_data()), chunk,
            row, off, n);
      });
    }
    off += chunk;
    at += t.size(d);
  }
  flush();
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
