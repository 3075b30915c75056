// File: src/nn/detect_top1_cuda.cu
// Purpose: CUDA kernel of the top-1 detection read-out (reference in detect_top1_cpu.cpp). One
// block: each thread scans a strided share of the Q*C scores keeping (score, lowest index), a
// shared-memory tree reduction picks the block's best with the same tie rule, and thread 0 maps
// its box to frame pixels. Q*C is a few hundred to a few thousand: one block is plenty.
#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine_cuda.h"

namespace um::nn::detail {
namespace {

constexpr int kThreads = 256;

__device__ __forceinline__ bool better(float s, int64_t i, float bs, int64_t bi) {
  return s > bs || (s == bs && i < bi);
}

__global__ void top1_kernel(const float* __restrict__ logits, const float* __restrict__ boxes,
                            float* __restrict__ out, int64_t n, int64_t c, BoxMapping m) {
  __shared__ float s_score[kThreads];
  __shared__ int64_t s_index[kThreads];
  float best = -1.f;  // below every sigmoid value
  int64_t best_i = n;
  for (int64_t i = threadIdx.x; i < n; i += kThreads) {
    const float s = 1.f / (1.f + expf(-logits[i]));
    if (best_i == n || better(s, i, best, best_i)) {
      best = s;
      best_i = i;
    }
  }
  s_score[threadIdx.x] = best;
  s_index[threadIdx.x] = best_i;
  __syncthreads();
  for (int stride = kThreads / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      const int o = threadIdx.x + stride;
      if (s_index[o] < n &&
          (s_index[threadIdx.x] == n ||
           better(s_score[o], s_index[o], s_score[threadIdx.x], s_index[threadIdx.x]))) {
        s_score[threadIdx.x] = s_score[o];
        s_index[threadIdx.x] = s_index[o];
      }
    }
    __syncthreads();
  }
  if (threadIdx.x != 0) return;
  const int64_t idx = s_index[0];
  const float* bx = boxes + (idx / c) * 4;
  float xyxy[4] = {bx[0] - 0.5f * bx[2], bx[1] - 0.5f * bx[3], bx[0] + 0.5f * bx[2],
                   bx[1] + 0.5f * bx[3]};
  xyxy[0] *= m.norm_w;
  xyxy[1] *= m.norm_h;
  xyxy[2] *= m.norm_w;
  xyxy[3] *= m.norm_h;
  if (m.letterbox) {
    xyxy[0] = (xyxy[0] - m.pad_x) / m.scale;
    xyxy[1] = (xyxy[1] - m.pad_y) / m.scale;
    xyxy[2] = (xyxy[2] - m.pad_x) / m.scale;
    xyxy[3] = (xyxy[3] - m.pad_y) / m.scale;
  }
  const float lim[4] = {m.frame_w, m.frame_h, m.frame_w, m.frame_h};
  out[0] = s_score[0];
  out[1] = static_cast<float>(idx % c);
  for (int k = 0; k < 4; ++k) {
    const float v = isfinite(xyxy[k]) ? xyxy[k] : 0.f;
    out[2 + k] = fminf(fmaxf(v, 0.f), lim[k]);
  }
}

}  // namespace

Tensor detection_top1_cuda(const Tensor& logits_in, const Tensor& boxes_in, const BoxMapping& m) {
  const Tensor logits = logits_in.contiguous(), boxes = boxes_in.contiguous();
  Tensor out = Tensor::empty({6}, DType::kF32, logits.device());
  top1_kernel<<<1, kThreads, 0, stream()>>>(logits.data<float>(), boxes.data<float>(),
                                            out.data<float>(), logits.numel(), logits.size(2), m);
  check_launch("detection_top1");
  return out;
}

}  // namespace um::nn::detail
