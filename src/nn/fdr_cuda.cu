// File: src/nn/fdr_cuda.cu
// Purpose: CUDA kernels of D-FINE's fine-grained distribution refinement ops (reference in
// fdr_cpu.cpp), float32 only. One thread per edge row (integral, top-k statistics) or per box
// (distance2bbox); the weighting function W(n) travels by value as a kernel argument.
#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine_cuda.h"

namespace um::nn::detail {
namespace {

struct Project {
  int bins;
  float w[kMaxFdrBins];
};

__global__ void integral_kernel(const float* __restrict__ c, float* __restrict__ out, int64_t rows,
                                Project pj) {
  for (int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; r < rows;
       r += int64_t{gridDim.x} * blockDim.x) {
    const float* x = c + r * pj.bins;
    float mx = x[0];
    for (int i = 1; i < pj.bins; ++i) mx = fmaxf(mx, x[i]);
    float sum = 0.f;
    for (int i = 0; i < pj.bins; ++i) sum += expf(x[i] - mx);
    float acc = 0.f;
    for (int i = 0; i < pj.bins; ++i) acc += (expf(x[i] - mx) / sum) * pj.w[i];
    out[r] = acc;
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

// k passes of "largest not yet taken" (k is small: 4 in D-FINE); the values come out in
// descending order as std::partial_sort gives them.
__global__ void topk_stats_kernel(const float* __restrict__ c, float* __restrict__ out,
                                  int64_t rows, int bins, int k) {
  for (int64_t r = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; r < rows;
       r += int64_t{gridDim.x} * blockDim.x) {
    const float* x = c + r * bins;
    float mx = x[0];
    for (int i = 1; i < bins; ++i) mx = fmaxf(mx, x[i]);
    float sum = 0.f;
    for (int i = 0; i < bins; ++i) sum += expf(x[i] - mx);
    float* o = out + r * (k + 1);
    unsigned long long taken[(kMaxFdrBins + 63) / 64] = {};
    float mean = 0.f;
    for (int j = 0; j < k; ++j) {
      int best = -1;
      float bv = 0.f;
      for (int i = 0; i < bins; ++i) {
        if (taken[i / 64] & (1ull << (i % 64))) continue;
        const float v = expf(x[i] - mx) / sum;
        if (best < 0 || v > bv) {
          best = i;
          bv = v;
        }
      }
      taken[best / 64] |= 1ull << (best % 64);
      o[j] = bv;
      mean += bv;
    }
    o[k] = mean / static_cast<float>(k);
  }
}

}  // namespace

Tensor distribution_integral_cuda(const Tensor& corners_in, const std::vector<float>& project) {
  const Tensor c = corners_in.contiguous();
  Project pj{};
  pj.bins = static_cast<int>(project.size());
  for (int i = 0; i < pj.bins; ++i) pj.w[i] = project[i];
  Tensor out = Tensor::empty({c.size(0), c.size(1), 4}, DType::kF32, c.device());
  const int64_t rows = out.numel();
  if (rows == 0) return out;
  integral_kernel<<<blocks_for(rows), 256, 0, stream()>>>(c.data<float>(), out.data<float>(), rows,
                                                          pj);
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
  topk_stats_kernel<<<blocks_for(rows), 256, 0, stream()>>>(c.data<float>(), out.data<float>(),
                                                            rows, static_cast<int>(bins), k);
  check_launch("distribution_topk_stats");
  return out;
}

}  // namespace um::nn::detail
