// File: src/nn/resample_cuda.cu
// Purpose: the CUDA twins of resample_cpu.cpp: F.interpolate(mode='bilinear', align_corners=...)
// to a size and F.grid_sample(mode='bilinear', padding_mode='zeros', align_corners=False),
// float32 or float16, NCHW inputs of any strides, contiguous outputs, on the current stream.
// The arithmetic is the CPU's, operation by operation, with explicitly rounded intrinsics
// (__fmul_rn, __dadd_rn, ...) so that nvcc cannot contract a*b+c into an FMA: the CPU build has
// no FMA contraction, so float32 results match the CPU reference bit for bit. That matters more
// than it seems: PyTorch's source-index rounding (a double expression for align_corners=False)
// is reproduced because calibrated networks amplify 1e-5 differences (see resample_cpu.cpp).
#include <string>

#include "nn/bilinear_tap_cuda.cuh"
#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"

namespace um::nn::detail {
namespace {

constexpr int kThreads = 256;

struct Nchw {
  int64_t n, c, h, w;
  int64_t sn, sc, sh, sw;  // strides in elements
};

Nchw nchw_of(const Tensor& x) {
  return {x.size(0),      x.size(1),      x.size(2),      x.size(3),
          x.strides()[0], x.strides()[1], x.strides()[2], x.strides()[3]};
}

template <typename T>
__global__ void resize_bilinear_kernel(const T* __restrict__ x, T* __restrict__ y, Nchw s,
                                       int64_t out_h, int64_t out_w, float scale_h,
                                       float scale_w, bool align_corners, int64_t total) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % out_w;
    const int64_t oy = (i / out_w) % out_h;
    const int64_t ch = (i / (out_w * out_h)) % s.c;
    const int64_t b = i / (out_w * out_h * s.c);
    const BilinearTap ty = bilinear_tap(oy, s.h, scale_h, align_corners);
    const BilinearTap tx = bilinear_tap(ox, s.w, scale_w, align_corners);
    const T* plane = x + b * s.sn + ch * s.sc;
    const T* r0 = plane + ty.i0 * s.sh;
    const T* r1 = plane + ty.i1 * s.sh;
    y[i] = from_f<T>(bilinear_blend(ty, tx, to_f(r0[tx.i0 * s.sw]), to_f(r0[tx.i1 * s.sw]),
                                    to_f(r1[tx.i0 * s.sw]), to_f(r1[tx.i1 * s.sw])));
  }
}

struct GridLayout {
  int64_t ho, wo;
  int64_t sn, sh, sw, sk;  // grid strides in elements
};

// One thread per output element (n, c, oy, ox); the sampling position is recomputed per channel
// (a few flops) so that every output is independent.
template <typename T>
__global__ void grid_sample_kernel(const T* __restrict__ x, const T* __restrict__ grid,
                                   T* __restrict__ y, Nchw s, GridLayout g, int64_t total) {
  const float wf = static_cast<float>(s.w), hf = static_cast<float>(s.h);
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t ox = i % g.wo;
    const int64_t oy = (i / g.wo) % g.ho;
    const int64_t ch = (i / (g.wo * g.ho)) % s.c;
    const int64_t b = i / (g.wo * g.ho * s.c);
    const T* gp = grid + b * g.sn + oy * g.sh + ox * g.sw;
    const float gx = to_f(gp[0]), gy = to_f(gp[g.sk]);
    // ((g + 1) * size - 1) / 2, PyTorch's unnormalise for align_corners=False.
    const float ix = __fdiv_rn(__fsub_rn(__fmul_rn(__fadd_rn(gx, 1.f), wf), 1.f), 2.f);
    const float iy = __fdiv_rn(__fsub_rn(__fmul_rn(__fadd_rn(gy, 1.f), hf), 1.f), 2.f);
    float acc = 0.f;
    const float fx = floorf(ix), fy = floorf(iy);
    // Non-finite positions give 0 (as on the CPU). Positions with fx < -1 or fx > w (same for
    // y) have all four taps outside and give 0 too; skipping them here keeps the float ->
    // integer conversion below in range. The per-tap test then decides exactly as the CPU's.
    if (isfinite(ix) && isfinite(iy) && fx >= -1.f && fx <= wf && fy >= -1.f && fy <= hf) {
      const int64_t x0 = static_cast<int64_t>(fx), y0 = static_cast<int64_t>(fy);
      const float tx = __fsub_rn(ix, fx), ty = __fsub_rn(iy, fy);
      const float ux = __fsub_rn(1.f, tx), uy = __fsub_rn(1.f, ty);
      const float wts[4] = {__fmul_rn(ux, uy), __fmul_rn(tx, uy), __fmul_rn(ux, ty),
                            __fmul_rn(tx, ty)};
      const int64_t xs[4] = {x0, x0 + 1, x0, x0 + 1}, ys[4] = {y0, y0, y0 + 1, y0 + 1};
      const T* plane = x + b * s.sn + ch * s.sc;
#pragma unroll
      for (int k = 0; k < 4; ++k) {
        if (xs[k] < 0 || xs[k] >= s.w || ys[k] < 0 || ys[k] >= s.h) continue;
        acc = __fadd_rn(acc, __fmul_rn(wts[k], to_f(plane[ys[k] * s.sh + xs[k] * s.sw])));
      }
    }
    y[i] = from_f<T>(acc);
  }
}

}  // namespace

Tensor resize_bilinear_cuda(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners) {
  static constexpr const char* kOp = "resize_bilinear";
  require_cuda_float(kOp, x, "x");
  require_dim(kOp, x, "x", 4);
  if (out_h < 1 || out_w < 1 || x.size(2) < 1 || x.size(3) < 1) {
    fail(kOp, "cannot resize " + shape_str(x.shape()) + " to " + std::to_string(out_h) + "x" +
                  std::to_string(out_w));
  }
  const Nchw s = nchw_of(x);
  // The scales exactly as make_taps computes them (float division of float sizes).
  auto scale_of = [align_corners](int64_t in, int64_t out) {
    if (align_corners) {
      return out > 1 ? static_cast<float>(in - 1) / static_cast<float>(out - 1) : 0.f;
    }
    return static_cast<float>(in) / static_cast<float>(out);
  };
  Tensor y = Tensor::empty({s.n, s.c, out_h, out_w}, x.dtype(), x.device());
  const int64_t total = y.numel();
  if (total == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    resize_bilinear_kernel<T><<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), s, out_h, out_w,
        scale_of(s.h, out_h), scale_of(s.w, out_w), align_corners, total);
  });
  check_launch(kOp);
  return y;
}

Tensor grid_sample_bilinear_cuda(const Tensor& x, const Tensor& grid) {
  static constexpr const char* kOp = "grid_sample_bilinear";
  require_cuda_float(kOp, x, "x");
  require_like(kOp, grid, "grid", x);
  if (grid.device() != x.device()) {
    throw Error(StatusCode::kFailedPrecondition, std::string(kOp) + ": grid is on " +
                                                     grid.device().str() + " but x is on " +
                                                     x.device().str());
  }
  require_dim(kOp, x, "x", 4);
  if (grid.dim() != 4 || grid.size(0) != x.size(0) || grid.size(3) != 2) {
    fail(kOp, "grid " + shape_str(grid.shape()) + " must be [N, Ho, Wo, 2] for x " +
                  shape_str(x.shape()));
  }
  const Nchw s = nchw_of(x);
  const GridLayout g{grid.size(1),     grid.size(2),     grid.strides()[0],
                     grid.strides()[1], grid.strides()[2], grid.strides()[3]};
  Tensor y = Tensor::empty({s.n, s.c, g.ho, g.wo}, x.dtype(), x.device());
  const int64_t total = y.numel();
  if (total == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    grid_sample_kernel<T><<<blocks_for(total, kThreads), kThreads, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<const T*>(grid.raw_data()),
        static_cast<T*>(y.raw_data()), s, g, total);
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
