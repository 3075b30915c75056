// File: src/nn/topk_cuda.cu
// Purpose: torch.topk(largest=True, sorted=True) along the last dim on CUDA tensors, with the CPU
// reference's order (value descending, NaN largest, ties by lower index), and gather_rows.
// topk: one block per row. Each (value, index) becomes one 64-bit key that sorts in exactly that
// order: high word = the float's order-preserving bit pattern (NaN -> all ones), low word =
// ~index (lower index = larger key), so no comparison ever ties. The block bitonic-sorts
// kSlots keys in shared memory (descending); for longer rows it keeps the best kKeep keys in the
// front slots and streams the rest of the row through the back slots, re-sorting each time (the
// true top k is always inside the best kKeep of what was seen). k <= kKeep (D-FINE uses 300).
// Written as a plain bitonic sort (simple, obviously ordered, no radix corner cases); a row of
// 24000 scores costs 8 sorts of 4096 keys.
// gather_rows: one thread per output element, any element size; an index out of range cannot be
// reported without a host sync, so its output row is zero-filled (the CPU op throws instead).
#include <cmath>
#include <string>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

constexpr int kSlots = 4096;  // keys per in-shared-memory sort (32 KiB)
constexpr int kKeep = 512;    // best keys carried between chunks: the largest k supported
constexpr int kThreads = 1024;

__device__ __forceinline__ uint64_t make_key(float v, int64_t index) {
  uint32_t bits;
  if (isnan(v)) {
    bits = 0xffffffffu;
  } else if (v == 0.f) {
    bits = 0x80000000u;  // -0 ties with +0, as in the CPU comparison
  } else {
    bits = __float_as_uint(v);
    bits = (bits & 0x80000000u) ? ~bits : (bits | 0x80000000u);
  }
  return (static_cast<uint64_t>(bits) << 32) | static_cast<uint32_t>(~static_cast<uint32_t>(index));
}

// Bitonic sort of s[0, kSlots) into descending order.
__device__ void bitonic_sort_desc(uint64_t* s) {
  for (int size = 2; size <= kSlots; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      for (int i = threadIdx.x; i < kSlots / 2; i += blockDim.x) {
        const int lo = 2 * stride * (i / stride) + (i % stride), hi = lo + stride;
        const bool desc = (lo & size) == 0;
        const uint64_t a = s[lo], b = s[hi];
        if ((a < b) == desc && a != b) {
          s[lo] = b;
          s[hi] = a;
        }
      }
      __syncthreads();
    }
  }
}

template <typename T>
__global__ void __launch_bounds__(kThreads)
    topk_kernel(const T* x, int64_t n, int64_t k, float* values, int64_t* indices) {
  __shared__ uint64_t s[kSlots];
  const T* xr = x + int64_t{blockIdx.x} * n;
  // First chunk fills every slot; later chunks fill the slots behind the kept ones. Key 0 (below
  // every real key, whose high word is >= 0x007fffff) pads.
  int64_t next = 0;
  for (int chunk = 0; next < n || chunk == 0; ++chunk) {
    const int first = chunk == 0 ? 0 : kKeep;
    for (int i = first + threadIdx.x; i < kSlots; i += blockDim.x) {
      const int64_t j = next + (i - first);
      s[i] = j < n ? make_key(to_f(xr[j]), j) : 0ull;
    }
    next += kSlots - first;
    __syncthreads();
    bitonic_sort_desc(s);
  }
  float* vo = values + int64_t{blockIdx.x} * k;
  int64_t* io = indices + int64_t{blockIdx.x} * k;
  for (int i = threadIdx.x; i < k; i += blockDim.x) {
    const int64_t j = static_cast<uint32_t>(~static_cast<uint32_t>(s[i] & 0xffffffffull));
    io[i] = j;
    vo[i] = to_f(xr[j]);
  }
}

struct GatherShape {
  int64_t x_sizes[8];      // x sizes of dims [0, d)
  int64_t idx_strides[8];  // contiguous index strides of dims [0, d), 0 where index broadcasts
};

template <typename E>
__global__ void gather_kernel(const E* x, const int64_t* index, E* y, GatherShape gs, int d,
                              int64_t outer, int64_t rows, int64_t k, int64_t inner) {
  const int64_t total = outer * k * inner;
  for (int64_t t = int64_t{blockIdx.x} * blockDim.x + threadIdx.x; t < total;
       t += int64_t{gridDim.x} * blockDim.x) {
    const int64_t in = t % inner, j = (t / inner) % k, o = t / (inner * k);
    int64_t rem = o, ioff = 0;
    for (int i = d - 1; i >= 0; --i) {
      ioff += (rem % gs.x_sizes[i]) * gs.idx_strides[i];
      rem /= gs.x_sizes[i];
    }
    const int64_t r = index[ioff + j];
    y[t] = (r >= 0 && r < rows) ? x[(o * rows + r) * inner + in] : E(0);
  }
}

}  // namespace

std::pair<Tensor, Tensor> topk_cuda(const Tensor& x_in, int64_t k) {
  static constexpr const char* kOp = "topk";
  require_cuda_float(kOp, x_in, "x");
  if (x_in.dim() < 1 || k < 0 || k > x_in.size(-1)) {
    fail(kOp, "k=" + std::to_string(k) + " out of range for x " + shape_str(x_in.shape()));
  }
  if (k > kKeep) {
    fail(kOp, "k=" + std::to_string(k) + " exceeds the CUDA implementation's maximum " +
                  std::to_string(kKeep));
  }
  const Tensor x = x_in.contiguous();
  const int64_t n = x.size(-1);
  if (n >= 0xffffffffLL) fail(kOp, "rows longer than 2^32 - 1 are not supported");
  const int64_t rows = n ? x.numel() / n : 0;
  Shape out_shape = x.shape();
  out_shape.back() = k;
  Tensor values = Tensor::empty(out_shape, DType::kF32, x.device());
  Tensor indices = Tensor::empty(out_shape, DType::kI64, x.device());
  if (rows == 0 || k == 0) return {values, indices};
  if (rows > 0x7fffffffLL) fail(kOp, "too many rows: " + shape_str(x.shape()));
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    topk_kernel<T><<<static_cast<unsigned>(rows), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), n, k, static_cast<float*>(values.raw_data()),
        static_cast<int64_t*>(indices.raw_data()));
  });
  check_launch(kOp);
  return {values, indices};
}

Tensor gather_rows_cuda(const Tensor& x_in, const Tensor& index_in, int64_t dim) {
  static constexpr const char* kOp = "gather_rows";
  if (!x_in.defined() || !index_in.defined()) fail(kOp, "undefined input");
  if (!x_in.device().is_cuda() || !index_in.device().is_cuda()) {
    throw Error(StatusCode::kFailedPrecondition,
                "gather_rows: x is on " + x_in.device().str() + " and index on " +
                    index_in.device().str() + "; both must be on the same CUDA device");
  }
  const int64_t d = normalize_dim(kOp, dim, x_in.dim());
  if (index_in.dtype() != DType::kI64 || index_in.dim() != d + 1) {
    fail(kOp, "index " + std::string(dtype_name(index_in.dtype())) + shape_str(index_in.shape()) +
                  " must be int64 with " + std::to_string(d + 1) + " dims for x " +
                  shape_str(x_in.shape()) + " and dim " + std::to_string(d));
  }
  if (d > 8) fail(kOp, "dim " + std::to_string(d) + " too deep for the CUDA kernel");
  for (int64_t i = 0; i < d; ++i) {
    if (index_in.size(i) != 1 && index_in.size(i) != x_in.size(i)) {
      fail(kOp, "index " + shape_str(index_in.shape()) + " does not broadcast over x " +
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
  Tensor y = Tensor::empty(out_shape, x.dtype(), x.device());
  if (y.numel() == 0) return y;
  GatherShape gs{};
  const Shape idx_strides = contiguous_strides(index.shape());
  for (int64_t i = 0; i < d; ++i) {
    gs.x_sizes[i] = x.size(i);
    gs.idx_strides[i] = index.size(i) != 1 ? idx_strides[i] : 0;
  }
  const int blocks = blocks_for(y.numel());
  const auto* pidx = static_cast<const int64_t*>(index.raw_data());
  const int dd = static_cast<int>(d);
  switch (dtype_size(x.dtype())) {
    case 1:
      gather_kernel<uint8_t><<<blocks, 256, 0, stream()>>>(
          static_cast<const uint8_t*>(x.raw_data()), pidx, static_cast<uint8_t*>(y.raw_data()),
          gs, dd, outer, rows, k, inner);
      break;
    case 2:
      gather_kernel<uint16_t><<<blocks, 256, 0, stream()>>>(
          static_cast<const uint16_t*>(x.raw_data()), pidx, static_cast<uint16_t*>(y.raw_data()),
          gs, dd, outer, rows, k, inner);
      break;
    case 4:
      gather_kernel<uint32_t><<<blocks, 256, 0, stream()>>>(
          static_cast<const uint32_t*>(x.raw_data()), pidx, static_cast<uint32_t*>(y.raw_data()),
          gs, dd, outer, rows, k, inner);
      break;
    case 8:
      gather_kernel<uint64_t><<<blocks, 256, 0, stream()>>>(
          static_cast<const uint64_t*>(x.raw_data()), pidx, static_cast<uint64_t*>(y.raw_data()),
          gs, dd, outer, rows, k, inner);
      break;
    default:
      fail(kOp, std::string("unsupported dtype ") + dtype_name(x.dtype()));
  }
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
