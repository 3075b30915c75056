// File: src/nn/fdr_box_cuda.cu
// Purpose: nn::distribution_box on CUDA: one warp per query computes its 4 edges' distance
// (softmax over the bins, max-subtracted, dotted with W(n): distribution_integral's arithmetic)
// and lane 0 turns them into the cxcywh box (distance2bbox's expressions). One kernel instead of
// the integral kernel + the distance2bbox kernel per decoder layer. float32, current stream.
#include <string>
#include <vector>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine.h"

namespace um::nn::detail {
namespace {

constexpr int kThreads = 256;
constexpr int kWarpsPerBlock = kThreads / 32;
constexpr int kPerLane = (kMaxFdrBins + 31) / 32;

struct BoxProject {  // W(n) by value (kernel parameter space, at most 512 bytes)
  float w[kMaxFdrBins];
  int bins;
};

__global__ void __launch_bounds__(kThreads)
    distribution_box_kernel(const float* __restrict__ corners, const float* __restrict__ points,
                            float* __restrict__ out, int64_t queries, BoxProject pj, float rs) {
  const int lane = static_cast<int>(threadIdx.x % 32);
  for (int64_t q = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
       q < queries; q += static_cast<int64_t>(gridDim.x) * kWarpsPerBlock) {  // warp-uniform
    float d[4];
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const float* x = corners + (q * 4 + e) * pj.bins;
      float p[kPerLane];
      float mx = -INFINITY;
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        const int i = lane + 32 * j;
        p[j] = i < pj.bins ? x[i] : -INFINITY;
        mx = fmaxf(mx, p[j]);
      }
      mx = warp_max(mx);
      float sum = 0.f;
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        p[j] = lane + 32 * j < pj.bins ? expf(p[j] - mx) : 0.f;
        sum += p[j];
      }
      sum = warp_sum(sum);
      float acc = 0.f;
#pragma unroll
      for (int j = 0; j < kPerLane; ++j) {
        const int i = lane + 32 * j;
        if (i < pj.bins) acc += (p[j] / sum) * pj.w[i];
      }
      d[e] = warp_sum(acc);
    }
    if (lane == 0) {
      const float* pt = points + q * 4;
      const float x1 = pt[0] - (0.5f * rs + d[0]) * (pt[2] / rs);
      const float y1 = pt[1] - (0.5f * rs + d[1]) * (pt[3] / rs);
      const float x2 = pt[0] + (0.5f * rs + d[2]) * (pt[2] / rs);
      const float y2 = pt[1] + (0.5f * rs + d[3]) * (pt[3] / rs);
      float* o = out + q * 4;
      o[0] = (x1 + x2) / 2.f;
      o[1] = (y1 + y2) / 2.f;
      o[2] = x2 - x1;
      o[3] = y2 - y1;
    }
  }
}

}  // namespace

Tensor distribution_box_cuda(const Tensor& corners_in, const std::vector<float>& project,
                             const Tensor& points_in, float reg_scale) {
  constexpr const char* kOp = "distribution_box";
  require_cuda_float(kOp, corners_in, "corners");
  require_cuda_float(kOp, points_in, "points");
  const Tensor c = corners_in.contiguous(), p = points_in.contiguous();
  BoxProject pj{};
  pj.bins = static_cast<int>(project.size());
  for (int i = 0; i < pj.bins; ++i) pj.w[i] = project[i];
  Tensor out = Tensor::empty(p.shape(), DType::kF32, p.device());
  const int64_t queries = p.size(0) * p.size(1);
  if (queries == 0) return out;
  distribution_box_kernel<<<blocks_for(queries, kWarpsPerBlock), kThreads, 0, stream()>>>(
      c.data<float>(), p.data<float>(), out.data<float>(), queries, pj, fabsf(reg_scale));
  check_launch(kOp);
  return out;
}

}  // namespace um::nn::detail
