// File: src/nn/layer_norm_cuda.cu
// Purpose: torch.nn.LayerNorm over the last dim on CUDA tensors (float32 or float16 data, weight
// and bias of the input's dtype or undefined). Statistics in float32, two passes like the CPU
// reference (mean, then the centred sum of squares: no E[x^2] - E[x]^2 cancellation), biased
// variance. One warp per row: rows are short (<= 1024 channels in the models), and re-reading a
// row for the second pass hits L1/L2.
// Fast path (rows of a multiple of 8 halfs / 4 floats, <= 2048 halfs / 1024 floats, 16-byte
// aligned x, weight and bias): a group of G = 8, 16 or 32 lanes per row (several short rows per
// warp, so 64-channel rows do not leave 3/4 of a warp idle), the row read once in 16-byte
// vectors and held in registers for both statistics passes and the output. The statistics are
// the same float32 two-pass formulas; only the order of the partial sums differs from the
// original kernel (kept for longer or unaligned rows and for MemopsMode::kLegacy).
#include <cmath>
#include <cstdint>

#include "core/cuda/strided_copy.h"
#include "nn/cuda_op_util.cuh"
#include "nn/layer_norm_row.cuh"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

constexpr int kWarpsPerBlock = 8;

template <typename T>
__global__ void layer_norm_kernel(const T* x, const T* w, const T* b, T* y, int64_t rows,
                                  int64_t c, float eps) {
  const int64_t row = int64_t{blockIdx.x} * kWarpsPerBlock + threadIdx.x / 32;
  const int lane = threadIdx.x % 32;
  if (row >= rows) return;
  const T* xr = x + row * c;
  T* yr = y + row * c;
  const RowNorm s = warp_row_norm(xr, c, lane, eps);
  for (int64_t i = lane; i < c; i += 32) {
    const float v = normalized(s, to_f(xr[i]), w, b, i);
    yr[i] = from_f<T>(v);
  }
}

// Sum over the G aligned lanes of a group (xor offsets below G never leave the group).
template <int G>
__device__ __forceinline__ float group_sum(float v) {
#pragma unroll
  for (int o = G / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

constexpr int kFastWarps = 4;  // warps per block of the fast kernel

// Row r = (block * kFastWarps + warp) * (32 / G) + lane / G; lane % G holds packs
// j * G + lane % G (j < kPacks) of that row. Every lane runs the shuffles (rows past the end
// load nothing and store nothing), so the full-mask shuffles are always legal.
template <typename T, int G, int kPacks>
__global__ void layer_norm_vec_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                      const T* __restrict__ b, T* __restrict__ y, int64_t rows,
                                      int c, float eps) {
  constexpr int kN = Pack16<T>::kN;
  const int lane = threadIdx.x % 32, sub = lane % G;
  const int64_t row =
      (int64_t{blockIdx.x} * kFastWarps + threadIdx.x / 32) * (32 / G) + lane / G;
  const bool valid = row < rows;
  const int npacks = c / kN;
  const auto* xr = reinterpret_cast<const Pack16<T>*>(x + (valid ? row : 0) * c);
  float v[kPacks][kN];
  float sum = 0.f;
#pragma unroll
  for (int j = 0; j < kPacks; ++j) {
    const int p = j * G + sub;
    const bool in = valid && p < npacks;
    Pack16<T> pk;
    if (in) pk = xr[p];
#pragma unroll
    for (int k = 0; k < kN; ++k) {
      v[j][k] = in ? to_f(pk.v[k]) : 0.f;
      sum += v[j][k];
    }
  }
  const float mean = group_sum<G>(sum) / static_cast<float>(c);
  float sq = 0.f;
#pragma unroll
  for (int j = 0; j < kPacks; ++j) {
    if (j * G + sub < npacks) {
#pragma unroll
      for (int k = 0; k < kN; ++k) {
        const float dv = v[j][k] - mean;
        sq += dv * dv;
      }
    }
  }
  const float var = group_sum<G>(sq) / static_cast<float>(c);
  const float inv = 1.f / sqrtf(var + eps);
  if (!valid) return;  // after the last shuffle
  const auto* wv = reinterpret_cast<const Pack16<T>*>(w);
  const auto* bv = reinterpret_cast<const Pack16<T>*>(b);
  auto* yr = reinterpret_cast<Pack16<T>*>(y + row * c);
#pragma unroll
  for (int j = 0; j < kPacks; ++j) {
    const int p = j * G + sub;
    if (p >= npacks) continue;
    Pack16<T> pw, pb, out;
    if (w) pw = wv[p];
    if (b) pb = bv[p];
#pragma unroll
    for (int k = 0; k < kN; ++k) {
      float o = (v[j][k] - mean) * inv;
      if (w) o *= to_f(pw.v[k]);
      if (b) o += to_f(pb.v[k]);
      out.v[k] = from_f<T>(o);
    }
    yr[p] = out;
  }
}

template <typename T, int G, int kPacks>
void launch_ln_vec(const T* x, const T* w, const T* b, T* y, int64_t rows, int64_t c, float eps) {
  const int64_t rows_per_block = int64_t{kFastWarps} * (32 / G);
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  layer_norm_vec_kernel<T, G, kPacks>
      <<<static_cast<unsigned>(blocks), kFastWarps * 32, 0, stream()>>>(
          x, w, b, y, rows, static_cast<int>(c), eps);
}

// The fast kernel when the row fits one of its shapes; false leaves the work to the original.
template <typename T>
bool try_layer_norm_vec(const T* x, const T* w, const T* b, T* y, int64_t rows, int64_t c,
                        float eps) {
  constexpr int64_t kN = Pack16<T>::kN;
  if (um::cuda::memops_mode() == um::cuda::MemopsMode::kLegacy) return false;
  // (An absent w or b is null, which aligned16 counts as aligned.)
  if (c % kN != 0 || !aligned16(x) || !aligned16(y) || !aligned16(w) || !aligned16(b)) {
    return false;
  }
  const int64_t packs = c / kN;
  if (packs <= 8) {
    launch_ln_vec<T, 8, 1>(x, w, b, y, rows, c, eps);
  } else if (packs <= 16) {
    launch_ln_vec<T, 16, 1>(x, w, b, y, rows, c, eps);
  } else if (packs <= 32) {
    launch_ln_vec<T, 32, 1>(x, w, b, y, rows, c, eps);
  } else if (packs <= 64) {
    launch_ln_vec<T, 32, 2>(x, w, b, y, rows, c, eps);
  } else if (packs <= 128) {
    launch_ln_vec<T, 32, 4>(x, w, b, y, rows, c, eps);
  } else if (packs <= 256) {
    launch_ln_vec<T, 32, 8>(x, w, b, y, rows, c, eps);
  } else {
    return false;
  }
  return true;
}

}  // namespace

Tensor layer_norm_cuda(const Tensor& x_in, const Tensor& weight, const Tensor& bias, float eps) {
  static constexpr const char* kOp = "layer_norm";
  require_cuda_float(kOp, x_in, "x");
  if (x_in.dim() < 1) fail(kOp, "x must have at least one dim");
  const int64_t c = x_in.size(-1);
  for (const auto* t : {&weight, &bias}) {
    if (!t->defined()) continue;
    require_like(kOp, *t, "affine parameter", x_in);
    if (t->dim() != 1 || t->size(0) != c) {
      fail(kOp, "affine parameter " + shape_str(t->shape()) + " does not match x " +
                    shape_str(x_in.shape()));
    }
  }
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape(), x.dtype(), x.device());
  const Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  const int64_t rows = c ? x.numel() / c : 0;
  if (rows == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const auto* px = static_cast<const T*>(x.raw_data());
    const T* pw = w.defined() ? static_cast<const T*>(w.raw_data()) : nullptr;
    const T* pb = b.defined() ? static_cast<const T*>(b.raw_data()) : nullptr;
    auto* py = static_cast<T*>(y.raw_data());
    if (!try_layer_norm_vec<T>(px, pw, pb, py, rows, c, eps)) {
      const int64_t blocks = (rows + kWarpsPerBlock - 1) / kWarpsPerBlock;
      layer_norm_kernel<T><<<static_cast<unsigned>(blocks), kWarpsPerBlock * 32, 0, stream()>>>(
          px, pw, pb, py, rows, c, eps);
    }
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
