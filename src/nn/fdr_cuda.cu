// File: src/nn/fdr_cuda.cu
// Purpose: CUDA kernels of D-FINE's fine-grained distribution refinement ops (reference in
// fdr_cpu.cpp), float32 only. One warp per edge row (integral, top-k statistics), one thread
// per box (distance2bbox); the weighting function W(n) travels by value as a kernel argument.
#include <climits>
#include <cmath>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine_cuda.h"

namespace um::nn::detail {
namespace {

struct Project {
  int bins;
  float w[kMaxFdrBins];
};

// One warp per edge row (300 queries x 4 edges = 1200 rows in D-FINE): lane l holds bins l,
// l + 32, l + 64, l + 96 (kMaxFdrBins = 128), so the max, the softmax sum and the dot with W(n)
// are warp reductions instead of one thread walking 33 bins three times (a thread per row left
// 1200 threads = 5 blocks on a 132-SM GPU: the integral took ~10 us, the top-k statistics ~39).
constexpr int kBinsPerLane = (kMaxFdrBins + 31) / 32;
constexpr int kRowThreads = 256;
constexpr int kRowsPerBlock = kRowThreads / 32;

// The row's softmax probabilities in p (0 for the lanes' slots past `bins`), as the CPU
// reference forms them: exp(x - max) / sum.
__device__ __forceinline__ void row_softmax(const float* __restrict__ x, int bins, int lane,
                                            float (&p)[kBinsPerLane]) {
  float mx = -INFINITY;
#pragma unroll
  for (int j = 0; j < kBinsPerLane; ++j) {
    const int i = lane + 32 * j;
    p[j] = i < bins ? x[i] : -INFINITY;
    mx = fmaxf(mx, p[j]);
  }
  mx = warp_max(mx);
  float sum = 0.f;
#pragma unroll
  for (int j = 0; j < kBinsPerLane; ++j) {
    p[j] = lane + 32 * j < bins ? expf(p[j] - mx) : 0.f;
    sum += p[j];
  }
  sum = warp_sum(sum);
#pragma unroll
  for (int j = 0; j < kBinsPerLane; ++j) p[j] /= sum;
}

// The warp's rows: r = this warp's index in the grid, then grid-stride (warp-uniform, so every
// lane takes part in every shuffle).
#define UM_FOR_EACH_WARP_ROW(r, rows)                                                     \
  for (int64_t r = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.x / 32; \
       r < (rows); r += static_cast<int64_t>(gridDim.x) * kRowsPerBlock)

__global__ void __launch_bounds__(kRowThreads)
    integral_kernel(const float* __restrict__ c, float* __restrict__ out, int64_t rows,
                    Project pj) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  UM_FOR_EACH_WARP_ROW(r, rows) {
    float p[kBinsPerLane];
    row_softmax(c + r * pj.bins, pj.bins, lane, p);
    float acc = 0.f;
#pragma unroll
    for (int j = 0; j < kBinsPerLane; ++j) {
      const int i = lane + 32 * j;
      if (i < pj.bins) acc += p[j] * pj.w[i];
    }
    acc = warp_sum(acc);
    if (lane == 0) out[r] = acc;
  }
}

__global__ void distance2bbox_kernel(const float* __restrict__ pts, const float* __restrict__ dist,
                                     float* __restrict__ out, int64_t n, float rs) {
  for (int64_t i = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; i < n;
       i += int64_t{gridDim.x} * blockDim.x) {
    const float* q = pts + i * 4;
    const float* d = dist + i * 4;
    const float x1 = q[0] - (0.5f * rs + d[0]) * (q[2] / rs);
    const float y1 = q[1] - (0.5f * rs + d[1]) * (q[3] / rs);
    const float x2 = q[0] + (0.5f * rs + d[2]) * (q[2] / rs);
    const float y2 = q[1] + (0.5f * rs + d[3]) * (q[3] / rs);
    float* o = out + i * 4;
    o[0] = (x1 + x2) / 2.f;
    o[1] = (y1 + y2) / 2.f;
    o[2] = x2 - x1;
    o[3] = y2 - y1;
  }
}

// k rounds of a warp arg-max over the probabilities not yet taken (k is small: 4 in D-FINE);
// ties go to the lower bin, so the values come out in descending order as the CPU reference's
// "first largest" scan gives them. A taken slot is set to -1, below every probability.
__global__ void __launch_bounds__(kRowThreads)
    topk_stats_kernel(const float* __restrict__ c, float* __restrict__ out, int64_t rows,
                      int bins, int k) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  UM_FOR_EACH_WARP_ROW(r, rows) {
    float p[kBinsPerLane];
    row_softmax(c + r * bins, bins, lane, p);
#pragma unroll
    for (int j = 0; j < kBinsPerLane; ++j) {
      if (lane + 32 * j >= bins) p[j] = -1.f;
    }
    float* o = out + r * (k + 1);
    float mean = 0.f;
    for (int t = 0; t < k; ++t) {
      float bv = -2.f;
      int bi = INT_MAX;
#pragma unroll
      for (int j = 0; j < kBinsPerLane; ++j) {
        if (p[j] > bv) {  // j ascending: the lane's lowest bin wins a tie
          bv = p[j];
          bi = lane + 32 * j;
        }
      }
#pragma unroll
      for (int off = 16; off > 0; off >>= 1) {
        const float ov = __shfl_xor_sync(0xffffffffu, bv, off);
        const int oi = __shfl_xor_sync(0xffffffffu, bi, off);
        if (ov > bv || (ov == bv && oi < bi)) {
          bv = ov;
          bi = oi;
        }
      }
#pragma unroll
      for (int j = 0; j < kBinsPerLane; ++j) {
        if (lane + 32 * j == bi) p[j] = -1.f;
      }
      if (lane == 0) o[t] = bv;
      mean += bv;
    }
    if (lane == 0) o[k] = mean / static_cast<float>(k);
  }
}

#undef UM_FOR_EACH_WARP_ROW

}  // namespace

Tensor distribution_integral_cuda(const Tensor& corners_in, const std::vector<float>& project) {
  const Tensor c = corners_in.contiguous();
  Project pj{};
  pj.bins = static_cast<int>(project.size());
  for (int i = 0; i < pj.bins; ++i) pj.w[i] = project[i];
  Tensor out = Tensor::empty({c.size(0), c.size(1), 4}, DType::kF32, c.device());
  const int64_t rows = out.numel();
  if (rows == 0) return out;
  integral_kernel<<<blocks_for(rows, kRowsPerBlock), kRowThreads, 0, stream()>>>(
      c.data<float>(), out.data<float>(), rows, pj);
  check_launch("distribution_integral");
  return out;
}

Tensor distance2bbox_cuda(const Tensor& points_in, const Tensor& distance_in, float reg_scale) {
  const Tensor p = points_in.contiguous(), d = distance_in.contiguous();
  Tensor out = Tensor::empty(p.shape(), DType::kF32, p.device());
  const int64_t n = p.size(0) * p.size(1);
  if (n == 0) return out;
  distance2bbox_kernel<<<blocks_for(n), 256, 0, stream()>>>(p.data<float>(), d.data<float>(),
                                                            out.data<float>(), n, fabsf(reg_scale));
  check_launch("distance2bbox");
  return out;
}

Tensor distribution_topk_stats_cuda(const Tensor& corners_in, int64_t bins, int k) {
  const Tensor c = corners_in.contiguous();
  Tensor out = Tensor::empty({c.size(0), c.size(1), 4 * (k + 1)}, DType::kF32, c.device());
  const int64_t rows = c.size(0) * c.size(1) * 4;
  if (rows == 0) return out;
  topk_stats_kernel<<<blocks_for(rows, kRowsPerBlock), kRowThreads, 0, stream()>>>(
      c.data<float>(), out.data<float>(), rows, static_cast<int>(bins), k);
  check_launch("distribution_topk_stats");
  return out;
}

}  // namespace um::nn::detail
