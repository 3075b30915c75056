// File: src/nn/ms_deformable_cuda.cu
// Purpose: CUDA kernels of D-FINE's multi-scale deformable attention sampling (reference in
// ms_deformable_cpu.cpp). Both compute, per output element (b, q, head, channel), the head's
// softmax over its points and each point's sampling location in float32 exactly as the
// reference, and accumulate the four bilinear taps in the reference's order; threads of one
// (b, q, head) read consecutive channels: coalesced taps. The level table and point scales
// travel by value as a kernel argument (no upload per call).
// - Head dims <= 32 with <= 32 points per head (D-FINE: 32 and 12): one WARP per (b, q, head),
//   lane c = channel c. Lane p first loads point p's logit, offsets and reference, works out
//   its location, bilinear weights and level once, and the warp reads them by shuffles: every
//   value the per-element kernel computed 32 times (and its 12 dependent logit loads per thread)
//   is computed once, and the taps of the points are independent loads the warp issues back to
//   back. The arithmetic is the per-element kernel's, expression for expression (the softmax
//   sums the shuffled logits in point order), so both give the same bits.
// - Otherwise one thread per output element, which redoes its head's softmax over the (at most
//   64) points and walks them.
// Why the warp kernel: D-FINE-S's three calls took 18-19 us each under ncu on an H200 (session
// 12), each thread a chain of dependent loads for 2400 (query, head) pairs of 12 points.
// Measured (H200, same call): D-FINE-S fp16 alone (bench --sequential-models) 1.263 -> 1.245 ms.
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

// The warp kernel's limits: a head's channels and points each fit a warp's lanes.
constexpr int kWarpMaxDim = 32, kWarpMaxPoints = 32;
constexpr int kWarpsPerBlock = 8;

// One warp per pair = (b * Q + q) * heads + head; lane = channel (lanes >= hd only help with the
// points). Same expressions as ms_deformable_kernel.
template <typename T>
__global__ void __launch_bounds__(kWarpsPerBlock * 32)
    ms_deformable_warp_kernel(const T* __restrict__ mem, const float* __restrict__ ref,
                              const float* __restrict__ off, const T* __restrict__ attn,
                              T* __restrict__ out, int64_t q_len, int64_t len, int64_t e,
                              int64_t pairs, MsDeformArgs a) {
  constexpr unsigned kAll = 0xffffffffu;
  const int lane = static_cast<int>(threadIdx.x % 32);
  const int64_t pair = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / 32;
  if (pair >= pairs) return;  // warp-uniform
  const int64_t hd = e / a.heads;
  const int64_t h = pair % a.heads, bq = pair / a.heads, b = bq / q_len;
  // Lane p < total: point p's logit, then the softmax's max and sum in point order (as the
  // per-element kernel: sequential over the points).
  const float logit = lane < a.total ? to_f(attn[pair * a.total + lane]) : 0.f;
  float mx = __shfl_sync(kAll, logit, 0);
  for (int i = 1; i < a.total; ++i) mx = fmaxf(mx, __shfl_sync(kAll, logit, i));
  float sum = 0.f;
  for (int i = 0; i < a.total; ++i) sum += expf(__shfl_sync(kAll, logit, i) - mx);
  // Lane p < total: point p's level, location and attention weight.
  int lvl = 0, first = 0;
  while (lvl + 1 < a.levels && lane >= first + a.level_points[lvl]) first += a.level_points[lvl++];
  const float* r = ref + bq * 4;
  float ix = -2.f, iy = -2.f, aw = 0.f;  // outside every level unless computed
  if (lane < a.total) {
    const float* so = off + pair * a.total * 2;
    const float ox = so[lane * 2] * a.point_scale[lane] * r[2] * 0.5f;
    const float oy = so[lane * 2 + 1] * a.point_scale[lane] * r[3] * 0.5f;
    const float gx = 2.f * (r[0] + ox) - 1.f;
    const float gy = 2.f * (r[1] + oy) - 1.f;
    ix = ((gx + 1.f) * static_cast<float>(a.level_w[lvl]) - 1.f) / 2.f;
    iy = ((gy + 1.f) * static_cast<float>(a.level_h[lvl]) - 1.f) / 2.f;
    aw = expf(logit - mx) / sum;
  }
  const int c = lane < hd ? lane : 0;  // lanes past the head dim compute channel 0, unwritten
  float acc = 0.f;
  // Points in batches of kBatch: every tap load of a batch is issued before the first is
  // needed (a point outside every tap, or a tap outside its level, loads nothing), then the
  // taps are added in the reference's order, skipping the same ones as the per-element kernel.
  constexpr int kBatch = 4;
  for (int p0 = 0; p0 < a.total; p0 += kBatch) {
    float wts[kBatch][4], val[kBatch][4];
    bool use[kBatch][4];
#pragma unroll
    for (int i = 0; i < kBatch; ++i) {
      const int pt = min(p0 + i, a.total - 1);  // past the end: a copy of the last, unused
      const float px = __shfl_sync(kAll, ix, pt), py = __shfl_sync(kAll, iy, pt);
      const float pw = __shfl_sync(kAll, aw, pt);
      const int l = __shfl_sync(kAll, lvl, pt);
      const int lh = a.level_h[l], lw = a.level_w[l];
      // Every tap outside (or the location not finite): nothing to add. Also keeps the float ->
      // int conversion below in range.
      const bool inside = p0 + i < a.total && px >= -1.f && px < static_cast<float>(lw) &&
                          py >= -1.f && py < static_cast<float>(lh);
      const float fx = inside ? floorf(px) : 0.f, fy = inside ? floorf(py) : 0.f;
      const int x0 = static_cast<int>(fx), y0 = static_cast<int>(fy);
      const float tx = px - fx, ty = py - fy;
      wts[i][0] = (1.f - tx) * (1.f - ty) * pw;
      wts[i][1] = tx * (1.f - ty) * pw;
      wts[i][2] = (1.f - tx) * ty * pw;
      wts[i][3] = tx * ty * pw;
      const T* mem_l = mem + (b * len + a.level_start[l]) * e + h * hd + c;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        const int x = x0 + (k & 1), y = y0 + (k >> 1);
        use[i][k] = inside && x >= 0 && x < lw && y >= 0 && y < lh;
        val[i][k] = use[i][k] ? to_f(mem_l[(static_cast<int64_t>(y) * lw + x) * e]) : 0.f;
      }
    }
#pragma unroll
    for (int i = 0; i < kBatch; ++i) {
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (use[i][k]) acc += wts[i][k] * val[i][k];
      }
    }
  }
  if (lane < hd) out[bq * e + h * hd + lane] = from_f<T>(acc);
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
  const int64_t pairs = b * q * a.heads;
  const bool per_warp = e / a.heads <= kWarpMaxDim && a.total <= kWarpMaxPoints &&
                        (pairs + kWarpsPerBlock - 1) / kWarpsPerBlock <= INT32_MAX;
  UM_DISPATCH_FLOAT(memory.dtype(), T, {
    if (per_warp) {
      ms_deformable_warp_kernel<T>
          <<<static_cast<unsigned>((pairs + kWarpsPerBlock - 1) / kWarpsPerBlock),
             kWarpsPerBlock * 32, 0, stream()>>>(
              static_cast<const T*>(memory.raw_data()), ref.data<float>(), off.data<float>(),
              static_cast<const T*>(attn.raw_data()), static_cast<T*>(out.raw_data()), q, len, e,
              pairs, a);
    } else {
      ms_deformable_kernel<T><<<blocks_for(n), 256, 0, stream()>>>(
          static_cast<const T*>(memory.raw_data()), ref.data<float>(), off.data<float>(),
          static_cast<const T*>(attn.raw_data()), static_cast<T*>(out.raw_data()), q, len, e, n,
          a);
    }
  });
  check_launch("ms_deformable_sample");
  return out;
}

}  // namespace um::nn::detail
