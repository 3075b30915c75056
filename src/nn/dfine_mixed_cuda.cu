// File: src/nn/dfine_mixed_cuda.cu
// Purpose: the CUDA side of the decoder's mixed-precision fusions (nn/ops_dfine.h): add_mixed /
// add_mixed2 (one element-wise kernel, one or two outputs) and gated_sum / gated_sum_layer_norm /
// add_layer_norm (one block per row: gate, products and sum (or the plain sum) in float32, then
// optionally the LayerNorm's two-pass float32 statistics, one rounding to the output dtype). Each
// replaces 2 to 8 small kernels of the unfused float16 sequence (conversions, clamp, sigmoid, two
// muls, add, conversion, layer norm).
// Every operand may be float32 or float16 independently: the dtype is a per-operand runtime
// flag (a uniform branch per load) rather than a template parameter, which would need 32
// instantiations of the gate kernel for tensors of 300 x 256 elements. Operands are made
// contiguous first (no-ops for the decoder's tensors). Kernels on the current stream, no sync.
#include <cmath>
#include <string>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine.h"

namespace um::nn::detail {
namespace {

// A contiguous float32 or float16 device array.
struct AnyIn {
  const void* p;
  bool half;
};
struct AnyOut {
  void* p;
  bool half;
};

__device__ __forceinline__ float load(AnyIn a, int64_t i) {
  return a.half ? __half2float(static_cast<const __half*>(a.p)[i])
                : static_cast<const float*>(a.p)[i];
}
__device__ __forceinline__ void store(AnyOut o, int64_t i, float v) {
  if (o.half) {
    static_cast<__half*>(o.p)[i] = __float2half_rn(v);
  } else {
    static_cast<float*>(o.p)[i] = v;
  }
}

AnyIn in_of(const Tensor& t) { return {t.raw_data(), t.dtype() == DType::kF16}; }
AnyOut out_of(Tensor& t) { return {t.raw_data(), t.dtype() == DType::kF16}; }

// out = a + b in float32, b clamped to [lo, hi] first when `clamp_b` (as clamp_kernel does it:
// fminf/fmaxf), rounded to out's dtype; also to out2's when out2.p is not null. Without the
// clamp b is read as is (a NaN stays NaN: fmaxf would turn it into the bound).
__global__ void add_mixed_kernel(AnyIn a, AnyIn b, bool clamp_b, float lo, float hi, AnyOut out,
                                 AnyOut out2, int64_t n) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    float vb = load(b, i);
    if (clamp_b) vb = fminf(fmaxf(vb, lo), hi);
    const float v = load(a, i) + vb;
    store(out, i, v);
    if (out2.p) store(out2, i, v);
  }
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024) returned to every thread. The
// leading barrier keeps a previous call's readers of `red` ahead of this call's writers.
__device__ float block_sum(float v, float* red) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  __syncthreads();
  if (lane == 0) red[warp] = v;
  __syncthreads();
  float t = 0.f;
  for (int i = 0; i < static_cast<int>(blockDim.x >> 5); ++i) t += red[i];
  return t;
}

constexpr int kGateThreads = 256;
constexpr int64_t kMaxGateWidth = 8192;  // E floats of shared memory per block (32 KiB)

// One block per row (grid-stride over rows): v = sigmoid(g[:E]) * x1 + sigmoid(g[E:]) * x2 in
// float32 (or v = x1 + x2 when `gated` is false: add_layer_norm), kept in shared memory, then
// either stored, or normalised over E (mean, then the centred sum of squares: nn::layer_norm's two
// passes) with the optional affine, stored once.
__global__ void gated_sum_kernel(bool gated, AnyIn g, AnyIn x1, AnyIn x2, bool norm, AnyIn w,
                                 AnyIn b, bool has_w, bool has_b, float eps, AnyOut out,
                                 int64_t rows, int64_t e) {
  extern __shared__ float row_v[];
  __shared__ float red[32];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    float local = 0.f;
    for (int64_t c = threadIdx.x; c < e; c += blockDim.x) {
      float v;
      if (gated) {
        const float s1 = 1.f / (1.f + expf(-load(g, r * 2 * e + c)));
        const float s2 = 1.f / (1.f + expf(-load(g, r * 2 * e + e + c)));
        v = s1 * load(x1, r * e + c) + s2 * load(x2, r * e + c);
      } else {
        v = load(x1, r * e + c) + load(x2, r * e + c);
      }
      row_v[c] = v;
      local += v;
    }
    if (!norm) {  // uniform over the grid: no barrier is skipped by part of a block
      for (int64_t c = threadIdx.x; c < e; c += blockDim.x) store(out, r * e + c, row_v[c]);
      continue;
    }
    const float mean = block_sum(local, red) / static_cast<float>(e);
    float sq = 0.f;
    for (int64_t c = threadIdx.x; c < e; c += blockDim.x) {
      const float d = row_v[c] - mean;
      sq += d * d;
    }
    const float var = block_sum(sq, red) / static_cast<float>(e);
    const float inv = 1.f / sqrtf(var + eps);
    for (int64_t c = threadIdx.x; c < e; c += blockDim.x) {
      float v = (row_v[c] - mean) * inv;
      if (has_w) v *= load(w, c);
      if (has_b) v += load(b, c);
      store(out, r * e + c, v);
    }
    __syncthreads();  // row_v is rewritten by the next row
  }
}

void require_cuda(const char* op, const Tensor& t, const char* name) {
  if (t.defined()) require_cuda_float(op, t, name);
}

}  // namespace

Tensor add_mixed_cuda(const Tensor& a_in, const Tensor& b_in, DType out_dtype, float b_lo,
                      float b_hi, const DType* out2_dtype, Tensor* out2) {
  const char* kOp = out2 ? "add_mixed2" : "add_mixed";
  require_cuda_float(kOp, a_in, "a");
  require_cuda_float(kOp, b_in, "b");
  const Tensor a = a_in.contiguous(), b = b_in.contiguous();
  Tensor out = Tensor::empty(a.shape(), out_dtype, a.device());
  AnyOut second{nullptr, false};
  if (out2) {
    *out2 = Tensor::empty(a.shape(), *out2_dtype, a.device());
    second = out_of(*out2);
  }
  const int64_t n = a.numel();
  if (n == 0) return out;
  const bool clamp_b = !(std::isinf(b_lo) && b_lo < 0.f && std::isinf(b_hi) && b_hi > 0.f);
  add_mixed_kernel<<<blocks_for(n), 256, 0, stream()>>>(in_of(a), in_of(b), clamp_b, b_lo, b_hi,
                                                        out_of(out), second, n);
  check_launch(kOp);
  return out;
}

Tensor gated_sum_cuda(const Tensor& g_in, const Tensor& x1_in, const Tensor& x2_in, bool norm,
                      const Tensor& weight, const Tensor& bias, float eps, DType out_dtype) {
  const bool gated = g_in.defined();
  const char* kOp = !gated ? "add_layer_norm" : norm ? "gated_sum_layer_norm" : "gated_sum";
  if (gated) require_cuda_float(kOp, g_in, "g");
  require_cuda_float(kOp, x1_in, "x1");
  require_cuda_float(kOp, x2_in, "x2");
  require_cuda(kOp, weight, "weight");
  require_cuda(kOp, bias, "bias");
  const int64_t e = x1_in.size(-1);
  if (e > kMaxGateWidth) {
    fail(kOp, "E = " + std::to_string(e) + " exceeds " + std::to_string(kMaxGateWidth));
  }
  const Tensor g = gated ? g_in.contiguous() : Tensor();
  const Tensor x1 = x1_in.contiguous(), x2 = x2_in.contiguous();
  const Tensor w = weight.defined() ? weight.contiguous() : Tensor();
  const Tensor b = bias.defined() ? bias.contiguous() : Tensor();
  Tensor out = Tensor::empty(x1.shape(), out_dtype, x1.device());
  const int64_t rows = e > 0 ? x1.numel() / e : 0;
  if (rows == 0) return out;
  const AnyIn none{nullptr, false};
  const int grid = static_cast<int>(rows < 65535 ? rows : 65535);
  gated_sum_kernel<<<grid, kGateThreads, static_cast<size_t>(e) * sizeof(float), stream()>>>(
      gated, gated ? in_of(g) : none, in_of(x1), in_of(x2), norm, w.defined() ? in_of(w) : none,
      b.defined() ? in_of(b) : none, w.defined(), b.defined(), eps, out_of(out), rows, e);
  check_launch(kOp);
  return out;
}

}  // namespace um::nn::detail
