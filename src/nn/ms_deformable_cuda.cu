// File: src/nn/ms_deformable_cuda.cu
// Purpose: CUDA kernel of D-FINE's multi-scale deformable attention sampling (reference in
// ms_deformable_cpu.cpp). One thread per output element (b, q, head, channel): it redoes its
// head's softmax over the (at most 64) points, then for each point computes the sampling
// location in float32 exactly as the reference and accumulates the four bilinear taps in the
// reference's order. Threads of one (b, q, head) read consecutive channels: coalesced taps.
// The level table and point scales travel by value as a kernel argument (no upload per call).
#include <cstring>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_dfine_cuda.h"

namespace um::nn::detail {
namespace {

struct MsDeformArgs {
  int levels, total, heads;
  int level_h[MsDeformParams::kMaxLevels], level_w[MsDeformParams::kMaxLevels];
  int64_t level_start[MsDeformParams::kMaxLevels];
  int level_points[MsDeformParams::kMaxLevels];
  float point_scale[MsDeformParams::kMaxPoints];
};

template <typename T>
__global__ void ms_deformable_kernel(const T* __restrict__ mem, const float* __restrict__ ref,
                                     const float* __restrict__ off, const T* __restrict__ attn,
                                     T* __restrict__ out, int64_t q_len, int64_t len, int64_t e,
                                     int64_t n, MsDeformArgs a) {
  const int64_t hd = e / a.heads;
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < n;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t c = idx % hd;
    const int64_t h = (idx / hd) % a.heads;
    const int64_t bq = idx / e;  // b * Q + q
    const int64_t b = bq / q_len;
    const T* logits = attn + (bq * a.heads + h) * a.total;
    float mx = to_f(logits[0]);
    for (int i = 1; i < a.total; ++i) mx = fmaxf(mx, to_f(logits[i]));
    float sum = 0.f;
    for (int i = 0; i < a.total; ++i) sum += expf(to_f(logits[i]) - mx);
    const float* r = ref + bq * 4;
    const float* so = off + (bq * a.heads + h) * a.total * 2;
    float acc = 0.f;
    int pt = 0;
    for (int l = 0; l < a.levels; ++l) {
      const int lh = a.level_h[l], lw = a.level_w[l];
      const T* mem_l = mem + (b * len + a.level_start[l]) * e + h * hd + c;
      for (int p = 0; p < a.level_points[l]; ++p, ++pt) {
        const float ox = so[pt * 2] * a.point_scale[pt] * r[2] * 0.5f;
        const float oy = so[pt * 2 + 1] * a.point_scale[pt] * r[3] * 0.5f;
        const float gx = 2.f * (r[0] + ox) - 1.f;
        const float gy = 2.f * (r[1] + oy) - 1.f;
        const float ix = ((gx + 1.f) * static_cast<float>(lw) - 1.f) / 2.f;
        const float iy = ((gy + 1.f) * static_cast<float>(lh) - 1.f) / 2.f;
        // Every tap is outside (or the location is not finite): nothing to add. Also keeps the
        // float -> int conversion below in range.
        if (!(ix >= -1.f && ix < static_cast<float>(lw) && iy >= -1.f &&
              iy < static_cast<float>(lh))) {
          continue;
        }
        const float fx = floorf(ix), fy = floorf(iy);
        const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
        const float tx = ix - fx, ty = iy - fy;
        const float aw = expf(to_f(logits[pt]) - mx) / sum;
        const float wts[4] = {(1.f - tx) * (1.f - ty) * aw, tx * (1.f - ty) * aw,
                              (1.f - tx) * ty * aw, tx * ty * aw};
        const int xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
        for (int k = 0; k < 4; ++k) {
          if (xs[k] < 0 || xs[k] >= lw || ys[k] < 0 || ys[k] >= lh) continue;
          acc += wts[k] * to_f(mem_l[(static_cast<int64_t>(ys[k]) * lw + xs[k]) * e]);
        }
      }
    }
    out[idx] = from_f<T>(acc);
  }
}

}  // namespace

Tensor ms_deformable_sample_cuda(const Tensor& memory_in, const Tensor& ref_in,
                                 const Tensor& off_in, const Tensor& attn_in,
                                 const MsDeformParams& p) {
  // Shapes, dtypes and devices were checked by the public op.
  require_cuda_float("ms_deformable_sample", memory_in, "memory");
  const Tensor memory = memory_in.contiguous(), ref = ref_in.contiguous();
  const Tensor off = off_in.contiguous(), attn = attn_in.contiguous();
  const int64_t b = memory.size(0), len = memory.size(1), e = memory.size(2), q = ref.size(1);
  MsDeformArgs a;
  std::memset(&a, 0, sizeof(a));
  a.levels = static_cast<int>(p.level_shapes.size());
  a.total = static_cast<int>(p.point_scale.size());
  a.heads = p.heads;
  int64_t start = 0;
  for (int l = 0; l < a.levels; ++l) {
    a.level_h[l] = static_cast<int>(p.level_shapes[l].first);
    a.level_w[l] = static_cast<int>(p.level_shapes[l].second);
    a.level_start[l] = start;
    a.level_points[l] = p.points[l];
    start += p.level_shapes[l].first * p.level_shapes[l].second;
  }
  for (int i = 0; i < a.total; ++i) a.point_scale[i] = p.point_scale[i];
  Tensor out = Tensor::empty({b, q, e}, memory.dtype(), memory.device());
  const int64_t n = out.numel();
  if (n == 0) return out;
  UM_DISPATCH_FLOAT(memory.dtype(), T, {
    ms_deformable_kernel<T><<<blocks_for(n), 256, 0, stream()>>>(
        static_cast<const T*>(memory.raw_data()), ref.data<float>(), off.data<float>(),
        static_cast<const T*>(attn.raw_data()), static_cast<T*>(out.raw_data()), q, len, e, n, a);
  });
  check_launch("ms_deformable_sample");
  return out;
}

}  // namespace um::nn::detail
