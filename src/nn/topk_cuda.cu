// File: src/nn/topk_cuda.cu
// Purpose: torch.topk(largest=True, sorted=True) along the last dim on CUDA tensors, with the CPU
// reference's order (value descending, NaN largest, ties by lower index), and gather_rows.
// topk (topk_cuda): the multi-block radix select of src/nn/topk_radix.cuh: rows split into
// chunks of at most 4096 keys, one 512-thread block each selects its chunk's k largest keys,
// further launches narrow the candidates down to one block per row, which ranks and writes them
// (n <= 4096: one launch; D-FINE's [1, 8400] k=300: two). Scratch keys are pool Tensors on the
// current stream: no host sync, no driver allocation once warm, graph-capturable. k <= 512.
// topk_cuda_bitonic (the previous kernel, kept for bench/bench_cuda_topk.cpp and as a second
// reference in the GPU tests): one block per row bitonic-sorts 4096 keys in shared memory; longer
// rows keep the best 512 keys in front and stream the rest through the back slots, re-sorting
// each time (a row of 8400 scores costs 3 sorts of 4096 keys, ~0.19 ms on an H200).
// gather_rows: one thread per output element, any element size; an index out of range cannot be
// reported without a host sync, so its output row is zero-filled (the CPU op throws instead).
#include <cmath>
#include <string>
#include <vector>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"
#include "nn/topk_cuda.h"
#include "nn/topk_radix.cuh"

namespace um::nn::detail {
namespace {

// The bitonic path (topk_cuda_bitonic).
constexpr int kSlots = 4096;  // keys per in-shared-memory sort (32 KiB)
constexpr int kKeep = 512;    // best keys carried between chunks: the largest k supported
constexpr int kThreads = 1024;

using topk_radix::make_key;

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
    topk_bitonic_kernel(const T* x, int64_t n, int64_t k, float* values, int64_t* indices) {
  __shared__ uint64_t s[kSlots];
  const T* xr = x + int64_t{blockIdx.x} * n;
  // First chunk fills every slot; later chunks fill the slots behind the kept ones. Key 0 (below
  // every real key, whose high word is >= 0x007fffff) pads.
  int64_t next = 0;
  for (int chunk = 0; next < n || chunk == 0; ++chunk) {
    const int first = chunk == 0 ? 0 : kKeep;
    for (int i = first + threadIdx.x; i < kSlots; i += blockDim.x) {
      const int64_t j = next + (i - first);
      s[i] = j < n ? make_key(to_f(xr[j]), static_cast<uint32_t>(j)) : 0ull;
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

namespace {

// What both top-k paths share: argument checks, the contiguous input, the outputs.
struct TopkCall {
  Tensor x;  // contiguous
  int64_t n = 0, rows = 0;
  Tensor values, indices;
};

TopkCall prepare_topk(const Tensor& x_in, int64_t k) {
  static constexpr const char* kOp = "topk";
  require_cuda_float(kOp, x_in, "x");
  if (x_in.dim() < 1 || k < 0 || k > x_in.size(-1)) {
    fail(kOp, "k=" + std::to_string(k) + " out of range for x " + shape_str(x_in.shape()));
  }
  if (k > kKeep || k > topk_radix::kMaxK) {
    fail(kOp, "k=" + std::to_string(k) + " exceeds the CUDA implementation's maximum " +
                  std::to_string(kKeep));
  }
  TopkCall c;
  c.x = x_in.contiguous();
  c.n = c.x.size(-1);
  if (c.n >= 0xffffffffLL) fail(kOp, "rows longer than 2^32 - 1 are not supported");
  c.rows = c.n ? c.x.numel() / c.n : 0;
  Shape out_shape = c.x.shape();
  out_shape.back() = k;
  c.values = Tensor::empty(out_shape, DType::kF32, c.x.device());
  c.indices = Tensor::empty(out_shape, DType::kI64, c.x.device());
  if (c.rows > 0x7fffffffLL) fail(kOp, "too many rows: " + shape_str(c.x.shape()));
  return c;
}

}  // namespace

std::pair<Tensor, Tensor> topk_cuda(const Tensor& x_in, int64_t k) {
  static constexpr const char* kOp = "topk";
  TopkCall c = prepare_topk(x_in, k);
  if (c.rows == 0 || k == 0) return {c.values, c.indices};
  // Scratch candidates of the non-final levels: alive until every level is queued; the pool
  // reuses them in stream order afterwards.
  std::vector<Tensor> scratch;
  auto alloc = [&](int64_t count) {
    scratch.push_back(Tensor::empty({count}, DType::kI64, c.x.device()));
    return static_cast<uint64_t*>(scratch.back().raw_data());
  };
  UM_DISPATCH_FLOAT(c.x.dtype(), T, {
    auto launch = [&](const topk_radix::SelectArgs& a, int64_t grid) {
      if (grid > 0x7fffffffLL) fail(kOp, "too many rows x chunks for " + shape_str(c.x.shape()));
      topk_radix::topk_select_kernel<T, topk_radix::kThreads, topk_radix::kCap>
          <<<static_cast<unsigned>(grid), topk_radix::kThreads, 0, stream()>>>(a);
      check_launch(kOp);
    };
    topk_radix::for_each_level(c.x.raw_data(), c.rows, c.n, k, topk_radix::kCap,
                               static_cast<float*>(c.values.raw_data()),
                               static_cast<int64_t*>(c.indices.raw_data()), alloc, launch);
  });
  return {c.values, c.indices};
}

std::pair<Tensor, Tensor> topk_cuda_bitonic(const Tensor& x_in, int64_t k) {
  static constexpr const char* kOp = "topk";
  TopkCall c = prepare_topk(x_in, k);
  if (c.rows == 0 || k == 0) return {c.values, c.indices};
  UM_DISPATCH_FLOAT(c.x.dtype(), T, {
    topk_bitonic_kernel<T><<<static_cast<unsigned>(c.rows), kThreads, 0, stream()>>>(
        static_cast<const T*>(c.x.raw_data()), c.n, k, static_cast<float*>(c.values.raw_data()),
        static_cast<int64_t*>(c.indices.raw_data()));
  });
  check_launch(kOp);
  return {c.values, c.indices};
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
