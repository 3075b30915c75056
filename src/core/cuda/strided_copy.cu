// File: src/core/cuda/strided_copy.cu
// Purpose: strided device copies (see strided_copy.h). Dispatch, in order:
//   1. drop size-1 dims, order the rest by decreasing dst stride, merge dim d into d+1 where both
//      tensors have stride[d] == stride[d+1] * size[d+1] (row-major back-to-back), so a permute
//      of a 6-D view usually becomes 2-4 dims;
//   2. same dtype, fully contiguous in both after merging -> cudaMemcpyAsync D2D;
//   3. same dtype, innermost merged dim contiguous in both and 16/8/4-byte aligned (pointers, the
//      innermost byte count, every outer byte stride) -> the generic kernel on 16/8/4-byte units;
//   4. same dtype, innermost dst dim strided in src while another dim is contiguous in src
//      (NCHW <-> NHWC, channel-last <-> channel-first) -> 32x32 shared-memory tile transpose;
//   5. float32 <-> float16, fully contiguous in both after merging, 16-byte aligned, a whole
//      number of 8-element groups -> a conversion kernel on 8 elements per thread (16-byte
//      loads and stores; the same round-to-nearest-even as the per-element kernel);
//   6. otherwise the generic per-element kernel (bit copy for one dtype, float conversion else).
// Kernels 3/5 use 32-bit index arithmetic when the element count and every offset fit.
#include "core/cuda/strided_copy.h"

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <type_traits>

#include "core/cuda/cuda_check.h"
#include "core/cuda/stream_context.h"
#include "core/status.h"

namespace um::cuda {
namespace {

constexpr int kMaxDims = 8;
constexpr int kThreads = 256;
std::atomic<MemopsMode> g_mode{MemopsMode::kFast};

// Host-side merged layout (always 64-bit); converted to the kernel's index type at launch.
struct HostLayout {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t ss[kMaxDims] = {};  // src strides, elements
  int64_t ds[kMaxDims] = {};  // dst strides, elements
};

template <typename I>
struct StridedLayout {
  int ndim;
  I sizes[kMaxDims];
  I src_strides[kMaxDims];
  I dst_strides[kMaxDims];
};

template <typename T> __device__ float load_f(const T* p) { return static_cast<float>(*p); }
template <> __device__ float load_f<__half>(const __half* p) { return __half2float(*p); }
template <> __device__ float load_f<__nv_bfloat16>(const __nv_bfloat16* p) {
  return __bfloat162float(*p);
}
template <> __device__ float load_f<bool>(const bool* p) { return *p ? 1.f : 0.f; }

template <typename T> __device__ void store_f(T* p, float v) { *p = static_cast<T>(v); }
template <> __device__ void store_f<__half>(__half* p, float v) { *p = __float2half_rn(v); }
template <> __device__ void store_f<__nv_bfloat16>(__nv_bfloat16* p, float v) {
  *p = __float2bfloat16_rn(v);
}
template <> __device__ void store_f<bool>(bool* p, float v) { *p = v != 0.f; }

// Same-type copies move the element bits; converting copies go through float (exact for every
// pair except int64 beyond 2^24, which no model tensor on the GPU carries).
template <typename D, typename S>
__device__ __forceinline__ void copy_one(D* d, const S* s) {
  if constexpr (std::is_same_v<D, S>) {
    *d = *s;
  } else if constexpr (std::is_integral_v<D> && std::is_integral_v<S> && !std::is_same_v<D, bool>) {
    *d = static_cast<D>(*s);
  } else {
    store_f(d, load_f(s));
  }
}

// Element i of the row-major iteration over l.sizes: decompose i into coordinates (last dim
// fastest) and dot them with each tensor's strides. NDIM > 0 fixes the dim count at compile
// time (the loop unrolls); NDIM == 0 reads l.ndim. I is int32_t only when the host checked that
// n, every offset and i + the grid stride stay below 2^31.
template <typename D, typename S, typename I, int NDIM>
__global__ void copy_kernel(D* __restrict__ dst, const S* __restrict__ src, StridedLayout<I> l,
                            I n) {
  const int nd = NDIM > 0 ? NDIM : l.ndim;
  for (I i = static_cast<I>(blockIdx.x) * static_cast<I>(blockDim.x) + static_cast<I>(threadIdx.x);
       i < n; i += static_cast<I>(gridDim.x) * static_cast<I>(blockDim.x)) {
    I rem = i, so = 0, dof = 0;
#pragma unroll
    for (int d = (NDIM > 0 ? NDIM : kMaxDims) - 1; d >= 0; --d) {
      if (NDIM == 0 && d >= nd) continue;
      const I c = rem % l.sizes[d];
      rem /= l.sizes[d];
      so += c * l.src_strides[d];
      dof += c * l.dst_strides[d];
    }
    copy_one(dst + dof, src + so);
  }
}

int grid_for(int64_t n) {
  return static_cast<int>(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535 * 8));
}

template <typename I>
StridedLayout<I> narrow(const HostLayout& h) {
  StridedLayout<I> l{};
  l.ndim = h.ndim;
  for (int d = 0; d < h.ndim; ++d) {
    l.sizes[d] = static_cast<I>(h.sizes[d]);
    l.src_strides[d] = static_cast<I>(h.ss[d]);
    l.dst_strides[d] = static_cast<I>(h.ds[d]);
  }
  return l;
}

// True when 32-bit index arithmetic is exact for `h`: n below 2^30 (so i + the grid stride,
// at most 65535*8*256 < 2^27, cannot overflow), and the largest offset |sum (size-1)*stride|
// of either tensor below 2^31.
bool fits_int32(const HostLayout& h, int64_t n) {
  if (memops_mode() != MemopsMode::kFast) return false;  // kLegacy: the original 64-bit kernel
  if (n >= (int64_t{1} << 30)) return false;
  int64_t ms = 0, md = 0;
  for (int d = 0; d < h.ndim; ++d) {
    ms += (h.sizes[d] - 1) * std::llabs(h.ss[d]);
    md += (h.sizes[d] - 1) * std::llabs(h.ds[d]);
  }
  return ms < (int64_t{1} << 31) && md < (int64_t{1} << 31);
}

template <typename D, typename S, typename I>
void launch_generic_i(D* dst, const S* src, const HostLayout& h, int64_t n, cudaStream_t s,
                      bool unroll) {
  const StridedLayout<I> l = narrow<I>(h);
  const int blocks = grid_for(n);
  const I ni = static_cast<I>(n);
  if (!unroll) {
    copy_kernel<D, S, I, 0><<<blocks, kThreads, 0, s>>>(dst, src, l, ni);
    return;
  }
  switch (h.ndim) {
    case 1: copy_kernel<D, S, I, 1><<<blocks, kThreads, 0, s>>>(dst, src, l, ni); break;
    case 2: copy_kernel<D, S, I, 2><<<blocks, kThreads, 0, s>>>(dst, src, l, ni); break;
    case 3: copy_kernel<D, S, I, 3><<<blocks, kThreads, 0, s>>>(dst, src, l, ni); break;
    case 4: copy_kernel<D, S, I, 4><<<blocks, kThreads, 0, s>>>(dst, src, l, ni); break;
    default: copy_kernel<D, S, I, 0><<<blocks, kThreads, 0, s>>>(dst, src, l, ni); break;
  }
}

// `unroll` instantiates the fixed-dim kernels; only the bit-copy types use it (the 49 converting
// dtype pairs stay on the runtime-ndim kernel to keep the build small).
template <typename D, typename S>
void launch_generic(void* dst, const void* src, const HostLayout& h, int64_t n, cudaStream_t s,
                    bool unroll) {
  auto* d = static_cast<D*>(dst);
  auto* sp = static_cast<const S*>(src);
  if (fits_int32(h, n)) {
    launch_generic_i<D, S, int32_t>(d, sp, h, n, s, unroll);
  } else {
    launch_generic_i<D, S, int64_t>(d, sp, h, n, s, unroll);
  }
}

// ---- Tiled transpose -------------------------------------------------------------------------
// Dim A is contiguous in src (stride 1) and dim B in dst; each block moves 32x32 (A, B) tiles
// through shared memory so that both the loads (along A) and the stores (along B) are coalesced.
// The remaining merged dims (at most 6) are "batch" dims walked by blockIdx.z.
constexpr int kTile = 32;
constexpr int kTileRows = 8;  // block = 32 x 8 threads, 4 elements per thread per tile

struct TransposeLayout {
  int64_t na = 0, nb = 0;
  int64_t src_stride_b = 0;  // src stride of B (A's is 1)
  int64_t dst_stride_a = 0;  // dst stride of A (B's is 1)
  int nbatch_dims = 0;
  int64_t batch = 1;  // product of the batch sizes
  int64_t bsizes[kMaxDims] = {};
  int64_t bss[kMaxDims] = {};
  int64_t bds[kMaxDims] = {};
};

template <typename U>
__global__ void transpose_kernel(U* __restrict__ dst, const U* __restrict__ src,
                                 TransposeLayout l) {
  __shared__ U tile[kTile][kTile + 1];  // +1: a column read hits 32 different banks
  const int tx = threadIdx.x, ty = threadIdx.y;
  const int64_t tiles_a = (l.na + kTile - 1) / kTile, tiles_b = (l.nb + kTile - 1) / kTile;
  // Every loop bound below is uniform over the block, so the __syncthreads are reached by all.
  for (int64_t bt = blockIdx.z; bt < l.batch; bt += gridDim.z) {
    int64_t rem = bt, so = 0, dof = 0;
    for (int d = l.nbatch_dims - 1; d >= 0; --d) {
      const int64_t c = rem % l.bsizes[d];
      rem /= l.bsizes[d];
      so += c * l.bss[d];
      dof += c * l.bds[d];
    }
    for (int64_t ta = blockIdx.y; ta < tiles_a; ta += gridDim.y) {
      for (int64_t tb = blockIdx.x; tb < tiles_b; tb += gridDim.x) {
        const int64_t a0 = ta * kTile, b0 = tb * kTile;
        // Load: threadIdx.x walks A (contiguous in src); tile[b - b0][a - a0].
        for (int j = ty; j < kTile; j += kTileRows) {
          const int64_t a = a0 + tx, b = b0 + j;
          if (a < l.na && b < l.nb) tile[j][tx] = src[so + b * l.src_stride_b + a];
        }
        __syncthreads();
        // Store: threadIdx.x walks B (contiguous in dst); element (a0 + j, b0 + tx).
        for (int j = ty; j < kTile; j += kTileRows) {
          const int64_t a = a0 + j, b = b0 + tx;
          if (a < l.na && b < l.nb) dst[dof + a * l.dst_stride_a + b] = tile[tx][j];
        }
        __syncthreads();
      }
    }
  }
}

template <typename U>
void launch_transpose(void* dst, const void* src, const TransposeLayout& l, cudaStream_t s) {
  const int64_t tiles_a = (l.na + kTile - 1) / kTile, tiles_b = (l.nb + kTile - 1) / kTile;
  const dim3 grid(static_cast<unsigned>(std::min<int64_t>(tiles_b, 65535)),
                  static_cast<unsigned>(std::min<int64_t>(tiles_a, 65535)),
                  static_cast<unsigned>(std::min<int64_t>(l.batch, 65535)));
  transpose_kernel<U><<<grid, dim3(kTile, kTileRows), 0, s>>>(static_cast<U*>(dst),
                                                               static_cast<const U*>(src), l);
}

// The transpose applies to a same-dtype merged layout whose innermost dim is contiguous in dst
// but not in src, while some other dim is contiguous in src; both of those dims at least 8 long
// (narrower tiles waste most of the block: the generic kernel is as good there).
bool as_transpose(const HostLayout& h, TransposeLayout* t) {
  if (h.ndim < 2) return false;
  const int b = h.ndim - 1;
  if (h.ds[b] != 1 || h.ss[b] == 1) return false;
  int a = -1;
  for (int d = 0; d < b; ++d) {
    if (h.ss[d] == 1) a = d;
  }
  if (a < 0 || h.sizes[a] < 8 || h.sizes[b] < 8) return false;
  t->na = h.sizes[a];
  t->nb = h.sizes[b];
  t->src_stride_b = h.ss[b];
  t->dst_stride_a = h.ds[a];
  t->nbatch_dims = 0;
  t->batch = 1;
  for (int d = 0; d < b; ++d) {
    if (d == a) continue;
    t->bsizes[t->nbatch_dims] = h.sizes[d];
    t->bss[t->nbatch_dims] = h.ss[d];
    t->bds[t->nbatch_dims] = h.ds[d];
    t->batch *= h.sizes[d];
    ++t->nbatch_dims;
  }
  return true;
}

// ---- Layout preparation ----------------------------------------------------------------------
// Drops size-1 dims, orders the rest by decreasing |dst stride| (a copy may visit elements in
// any order; walking dst row-major makes its innermost dim the dst-contiguous one even when dst
// is itself a permuted view), then merges back-to-back pairs. A 0-dim result (one element)
// becomes [1].
HostLayout merge_dims(const Tensor& dst, const Tensor& src) {
  struct Dim {
    int64_t size, ss, ds;
  };
  Dim dims[kMaxDims];
  int nd = 0;
  for (int64_t d = 0; d < dst.dim(); ++d) {
    if (dst.shape()[d] == 1) continue;
    dims[nd++] = {dst.shape()[d], src.strides()[d], dst.strides()[d]};
  }
  // Stable: a contiguous (or any row-major) dst keeps its own order.
  std::stable_sort(dims, dims + nd, [](const Dim& x, const Dim& y) {
    return std::llabs(x.ds) > std::llabs(y.ds);
  });
  HostLayout h;
  for (int i = 0; i < nd; ++i) {
    const Dim& cur = dims[i];
    if (h.ndim > 0 && h.ss[h.ndim - 1] == cur.ss * cur.size &&
        h.ds[h.ndim - 1] == cur.ds * cur.size) {
      // The previous (outer) dim steps exactly over this one in both tensors: one dim.
      h.sizes[h.ndim - 1] *= cur.size;
      h.ss[h.ndim - 1] = cur.ss;
      h.ds[h.ndim - 1] = cur.ds;
    } else {
      h.sizes[h.ndim] = cur.size;
      h.ss[h.ndim] = cur.ss;
      h.ds[h.ndim] = cur.ds;
      ++h.ndim;
    }
  }
  if (h.ndim == 0) {
    h.ndim = 1;
    h.sizes[0] = 1;
    h.ss[0] = 1;
    h.ds[0] = 1;
  }
  return h;
}

// The unmerged layout of the original kernel (kLegacy).
HostLayout full_layout(const Tensor& dst, const Tensor& src) {
  HostLayout h;
  h.ndim = static_cast<int>(dst.dim());
  for (int d = 0; d < h.ndim; ++d) {
    h.sizes[d] = dst.shape()[d];
    h.ss[d] = src.strides()[d];
    h.ds[d] = dst.strides()[d];
  }
  if (h.ndim == 0) {
    h.ndim = 1;
    h.sizes[0] = 1;
    h.ss[0] = 1;
    h.ds[0] = 1;
  }
  return h;
}

// Rewrites a same-dtype layout (innermost dim contiguous in both) into units of `vec` bytes when
// every byte offset the copy touches is a multiple of `vec`; false leaves `h` untouched.
bool vectorise(HostLayout* h, const void* dst, const void* src, size_t elem, size_t vec) {
  const int last = h->ndim - 1;
  if (h->ss[last] != 1 || h->ds[last] != 1 || vec <= elem) return false;
  if (reinterpret_cast<uintptr_t>(dst) % vec || reinterpret_cast<uintptr_t>(src) % vec) {
    return false;
  }
  const auto multiple = [&](int64_t elems) {
    return (std::llabs(elems) * static_cast<int64_t>(elem)) % static_cast<int64_t>(vec) == 0;
  };
  if (!multiple(h->sizes[last])) return false;
  for (int d = 0; d < last; ++d) {
    if (!multiple(h->ss[d]) || !multiple(h->ds[d])) return false;
  }
  const int64_t ratio = static_cast<int64_t>(vec / elem);  // elements per unit
  h->sizes[last] /= ratio;
  for (int d = 0; d < last; ++d) {
    h->ss[d] /= ratio;
    h->ds[d] /= ratio;
  }
  return true;
}

// Same-dtype copy as raw bits of `elem` bytes.
void launch_bits(void* dst, const void* src, HostLayout h, size_t elem, cudaStream_t s) {
  int64_t n = 1;
  for (int d = 0; d < h.ndim; ++d) n *= h.sizes[d];
  if (h.ndim == 1 && h.ss[0] == 1 && h.ds[0] == 1) {
    UM_CUDA_CHECK(cudaMemcpyAsync(dst, src, static_cast<size_t>(n) * elem,
                                  cudaMemcpyDeviceToDevice, s));
    return;
  }
  for (size_t vec : {size_t{16}, size_t{8}, size_t{4}}) {
    if (vectorise(&h, dst, src, elem, vec)) {
      n = 1;
      for (int d = 0; d < h.ndim; ++d) n *= h.sizes[d];  // now counted in units
      if (vec == 16) launch_generic<uint4, uint4>(dst, src, h, n, s, true);
      if (vec == 8) launch_generic<uint2, uint2>(dst, src, h, n, s, true);
      if (vec == 4) launch_generic<uint32_t, uint32_t>(dst, src, h, n, s, true);
      return;
    }
  }
  TransposeLayout t;
  if (as_transpose(h, &t)) {
    switch (elem) {
      case 1: launch_transpose<uint8_t>(dst, src, t, s); return;
      case 2: launch_transpose<uint16_t>(dst, src, t, s); return;
      case 4: launch_transpose<uint32_t>(dst, src, t, s); return;
      case 8: launch_transpose<uint64_t>(dst, src, t, s); return;
      default: break;
    }
  }
  switch (elem) {
    case 1: launch_generic<uint8_t, uint8_t>(dst, src, h, n, s, true); return;
    case 2: launch_generic<uint16_t, uint16_t>(dst, src, h, n, s, true); return;
    case 4: launch_generic<uint32_t, uint32_t>(dst, src, h, n, s, true); return;
    case 8: launch_generic<uint64_t, uint64_t>(dst, src, h, n, s, true); return;
    default:
      throw Error(StatusCode::kInternal, "copy_strided: unsupported element size " +
                                             std::to_string(elem));
  }
}

template <typename D>
void launch_from(void* dst, const Tensor& src, const HostLayout& h, int64_t n, cudaStream_t s) {
  const void* sp = src.raw_data();
  switch (src.dtype()) {
    case DType::kF32: launch_generic<D, float>(dst, sp, h, n, s, false); break;
    case DType::kF16: launch_generic<D, __half>(dst, sp, h, n, s, false); break;
    case DType::kBF16: launch_generic<D, __nv_bfloat16>(dst, sp, h, n, s, false); break;
    case DType::kI64: launch_generic<D, int64_t>(dst, sp, h, n, s, false); break;
    case DType::kI32: launch_generic<D, int32_t>(dst, sp, h, n, s, false); break;
    case DType::kU8: launch_generic<D, uint8_t>(dst, sp, h, n, s, false); break;
    case DType::kBool: launch_generic<D, bool>(dst, sp, h, n, s, false); break;
  }
}

// Step 5: n8 groups of 8 contiguous elements. Why its own kernel: the per-element kernel moves 4
// or 2 bytes per thread through index arithmetic; D-FINE converts its float32 backbone's three
// levels for the float16 encoder every frame (80x80x256 elements: 9.5 us on the H200).
__global__ void f32_to_f16_kernel(uint4* __restrict__ dst, const float4* __restrict__ src,
                                  int64_t n8) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n8;
       i += int64_t(gridDim.x) * blockDim.x) {
    const float4 a = src[2 * i], b = src[2 * i + 1];
    union {
      uint4 u;
      __half2 h[4];
    } out;
    out.h[0] = __floats2half2_rn(a.x, a.y);
    out.h[1] = __floats2half2_rn(a.z, a.w);
    out.h[2] = __floats2half2_rn(b.x, b.y);
    out.h[3] = __floats2half2_rn(b.z, b.w);
    dst[i] = out.u;
  }
}

__global__ void f16_to_f32_kernel(float4* __restrict__ dst, const uint4* __restrict__ src,
                                  int64_t n8) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n8;
       i += int64_t(gridDim.x) * blockDim.x) {
    union {
      uint4 u;
      __half2 h[4];
    } in;
    in.u = src[i];
    const float2 f0 = __half22float2(in.h[0]), f1 = __half22float2(in.h[1]);
    const float2 f2 = __half22float2(in.h[2]), f3 = __half22float2(in.h[3]);
    dst[2 * i] = make_float4(f0.x, f0.y, f1.x, f1.y);
    dst[2 * i + 1] = make_float4(f2.x, f2.y, f3.x, f3.y);
  }
}

// Step 5 when it applies (false: nothing queued).
bool launch_half_float_conversion(const Tensor& dst, const Tensor& src, const HostLayout& h,
                                  int64_t n, cudaStream_t s) {
  const bool to_half = dst.dtype() == DType::kF16 && src.dtype() == DType::kF32;
  const bool to_float = dst.dtype() == DType::kF32 && src.dtype() == DType::kF16;
  if (!to_half && !to_float) return false;
  if (h.ndim != 1 || h.ss[0] != 1 || h.ds[0] != 1 || n % 8 != 0) return false;
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (!aligned(dst.raw_data()) || !aligned(src.raw_data())) return false;
  const int64_t n8 = n / 8;
  const int blocks = grid_for(n8);
  if (to_half) {
    f32_to_f16_kernel<<<blocks, kThreads, 0, s>>>(static_cast<uint4*>(dst.raw_data()),
                                                  static_cast<const float4*>(src.raw_data()), n8);
  } else {
    f16_to_f32_kernel<<<blocks, kThreads, 0, s>>>(static_cast<float4*>(dst.raw_data()),
                                                  static_cast<const uint4*>(src.raw_data()), n8);
  }
  return true;
}

// The typed element-wise kernel over `h` (conversions, and every copy in kLegacy mode).
void launch_typed(const Tensor& dst, const Tensor& src, const HostLayout& h, int64_t n,
                  cudaStream_t s) {
  void* dp = dst.raw_data();
  switch (dst.dtype()) {
    case DType::kF32: launch_from<float>(dp, src, h, n, s); break;
    case DType::kF16: launch_from<__half>(dp, src, h, n, s); break;
    case DType::kBF16: launch_from<__nv_bfloat16>(dp, src, h, n, s); break;
    case DType::kI64: launch_from<int64_t>(dp, src, h, n, s); break;
    case DType::kI32: launch_from<int32_t>(dp, src, h, n, s); break;
    case DType::kU8: launch_from<uint8_t>(dp, src, h, n, s); break;
    case DType::kBool: launch_from<bool>(dp, src, h, n, s); break;
  }
}

}  // namespace

void set_memops_mode(MemopsMode mode) { g_mode.store(mode); }
MemopsMode memops_mode() { return g_mode.load(std::memory_order_relaxed); }

void copy_strided(const Tensor& dst, const Tensor& src) {
  if (dst.shape() != src.shape()) {
    throw Error(StatusCode::kInvalidArgument,
                "copy_strided: shape " + shape_str(src.shape()) + " into " + shape_str(dst.shape()));
  }
  if (!dst.device().is_cuda() || !src.device().is_cuda()) {
    throw Error(StatusCode::kInvalidArgument, "copy_strided: both tensors must be on a CUDA device");
  }
  const int64_t n = dst.numel();
  if (n == 0) return;
  if (dst.dim() > kMaxDims) {
    throw Error(StatusCode::kInvalidArgument,
                "copy_strided: more than 8 dims: " + shape_str(dst.shape()));
  }
  cudaStream_t s = current_stream();
  if (memops_mode() == MemopsMode::kLegacy) {
    // The original path: one 64-bit-index thread per element over the unmerged layout.
    launch_typed(dst, src, full_layout(dst, src), n, s);
  } else {
    const HostLayout h = merge_dims(dst, src);
    if (dst.dtype() == src.dtype()) {
      launch_bits(dst.raw_data(), src.raw_data(), h, dtype_size(dst.dtype()), s);
    } else if (!launch_half_float_conversion(dst, src, h, n, s)) {
      launch_typed(dst, src, h, n, s);
    }
  }
  UM_CUDA_CHECK_LAST("copy_strided kernel");
}

}  // namespace um::cuda
