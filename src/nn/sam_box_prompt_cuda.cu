// File: src/nn/sam_box_prompt_cuda.cu
// Purpose: sam_box_prompt on the GPU (nn/ops_sam.h): the box prompt from a device box, so the
// D-FINE top-1 never visits the host. One block; thread t encodes frequency t % (D/2) of corner
// t / (D/2) (each thread recomputes its corner's four float operations). The float arithmetic
// uses explicitly rounded intrinsics (no FMA contraction) in the CPU reference's order, the
// scaling is in double as on the CPU; only sinf/cosf may differ from the host libm by an ulp.
#include <cmath>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_sam.h"

namespace um::nn::detail {
namespace {

__global__ void box_prompt_kernel(const float* __restrict__ box, const float* __restrict__ g,
                                  const float* __restrict__ embed, int half,
                                  SamBoxPromptParams p, float* __restrict__ out) {
  const int t = blockIdx.x * blockDim.x + threadIdx.x;
  if (t >= 2 * half) return;
  const int k = t / half, i = t % half, dim = 2 * half;
  const float kTwoPi = static_cast<float>(2.0 * M_PI);
  // std::clamp(v, 0, hi) for finite v; NaN -> 0 (fmaxf returns the non-NaN operand).
  const float x = fminf(fmaxf(box[2 * k], 0.f), p.frame_w);
  const float y = fminf(fmaxf(box[2 * k + 1], 0.f), p.frame_h);
  const float xi = static_cast<float>(__dmul_rn(static_cast<double>(x), p.scale_x));
  const float yi = static_cast<float>(__dmul_rn(static_cast<double>(y), p.scale_y));
  const float x01 = __fdiv_rn(__fadd_rn(xi, 0.5f), p.input_size);
  const float y01 = __fdiv_rn(__fadd_rn(yi, 0.5f), p.input_size);
  const float cx = __fsub_rn(__fmul_rn(2.0f, x01), 1.0f);
  const float cy = __fsub_rn(__fmul_rn(2.0f, y01), 1.0f);
  const float proj = __fmul_rn(kTwoPi, __fadd_rn(__fmul_rn(cx, g[i]), __fmul_rn(cy, g[half + i])));
  out[k * dim + i] = __fadd_rn(sinf(proj), embed[k * dim + i]);
  out[k * dim + half + i] = __fadd_rn(cosf(proj), embed[k * dim + half + i]);
}

}  // namespace

Tensor sam_box_prompt_cuda(const Tensor& box, const Tensor& gaussian, const Tensor& corner,
                           const SamBoxPromptParams& p) {
  const Tensor b = box.contiguous(), g = gaussian.contiguous(), e = corner.contiguous();
  const int half = static_cast<int>(g.size(1));
  Tensor out = Tensor::empty({1, 2, 2 * static_cast<int64_t>(half)}, DType::kF32, box.device());
  const int threads = 256, blocks = (2 * half + threads - 1) / threads;
  box_prompt_kernel<<<blocks, threads, 0, stream()>>>(b.data<float>(), g.data<float>(),
                                                      e.data<float>(), half, p,
                                                      out.data<float>());
  check_launch("sam_box_prompt");
  return out;
}

}  // namespace um::nn::detail
