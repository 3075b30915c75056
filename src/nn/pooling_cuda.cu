// File: src/nn/pooling_cuda.cu
// Purpose: the CUDA twins of pooling_cpu.cpp: torch.nn.MaxPool2d (kernel/stride/pad/ceil_mode,
// padding acting as -inf) and F.interpolate(scale_factor=2, mode='nearest'), float32 or float16,
// NCHW inputs of any strides, contiguous outputs, queued on um::cuda::current_stream().
// Both ops only select input values, so they agree with the CPU bit for bit in either dtype.
#include <string>

#include "nn/cuda_op_util.cuh"
#include "nn/ops_cuda.h"
#include "nn/pool_shape.h"

namespace um::nn::detail {
namespace {

struct Nchw {
  int64_t n, c, h, w;
  int64_t sn, sc, sh, sw;  // input strides in elements
};

Nchw nchw_of(const Tensor& x) {
  return {x.size(0),       x.size(1),       x.size(2),       x.size(3),
          x.strides()[0],  x.strides()[1],  x.strides()[2],  x.strides()[3]};
}

// Row kernels (row_launch): output row r = (b, ch, oy), columns ox; the index arithmetic once
// per row. The window is clipped to the image, which is what padding with -inf means for a max;
// the fold (m < v ? v : m) is std::max(m, v) as the CPU writes it.
template <typename T>
__global__ void max_pool_kernel(const T* __restrict__ x, T* __restrict__ y, Nchw s, int64_t ho,
                                int64_t wo, int kernel, int stride, int pad) {
  for (UM_ROWS(r, s.n * s.c * ho)) {
    const int64_t oy = r % ho, p = r / ho, ch = p % s.c, b = p / s.c;
    const int64_t ys = oy * stride - pad;
    const int64_t y0 = ys > 0 ? ys : 0, y1 = ys + kernel < s.h ? ys + kernel : s.h;
    const T* plane = x + b * s.sn + ch * s.sc;
    T* yr = y + r * wo;
    for (UM_COLS(ox, wo)) {
      const int64_t xs = ox * stride - pad;
      const int64_t x0 = xs > 0 ? xs : 0, x1 = xs + kernel < s.w ? xs + kernel : s.w;
      float m = -INFINITY;
      for (int64_t iy = y0; iy < y1; ++iy) {
        for (int64_t ix = x0; ix < x1; ++ix) {
          const float v = to_f(plane[iy * s.sh + ix * s.sw]);
          m = (m < v) ? v : m;
        }
      }
      yr[ox] = from_f<T>(m);
    }
  }
}

template <typename T>
__global__ void upsample_nearest2x_kernel(const T* __restrict__ x, T* __restrict__ y, Nchw s) {
  const int64_t wo = 2 * s.w, ho = 2 * s.h;
  for (UM_ROWS(r, s.n * s.c * ho)) {
    const int64_t oy = r % ho, p = r / ho, ch = p % s.c, b = p / s.c;
    const T* xr = x + b * s.sn + ch * s.sc + (oy / 2) * s.sh;
    T* yr = y + r * wo;
    for (UM_COLS(ox, wo)) yr[ox] = xr[(ox / 2) * s.sw];
  }
}

}  // namespace

// kernel/stride/pad were validated by the public max_pool2d before it dispatched here.
Tensor max_pool2d_cuda(const Tensor& x, int kernel, int stride, int pad, bool ceil_mode) {
  static constexpr const char* kOp = "max_pool2d";
  require_cuda_float(kOp, x, "x");
  require_dim(kOp, x, "x", 4);
  const Nchw s = nchw_of(x);
  const int64_t ho = pool_out(s.h, kernel, stride, pad, ceil_mode);
  const int64_t wo = pool_out(s.w, kernel, stride, pad, ceil_mode);
  if (ho < 1 || wo < 1) fail(kOp, "input " + shape_str(x.shape()) + " is too small");
  Tensor y = Tensor::empty({s.n, s.c, ho, wo}, x.dtype(), x.device());
  const int64_t total = y.numel();
  if (total == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const RowLaunch l = row_launch(s.n * s.c * ho, wo);
    max_pool_kernel<T><<<l.grid, l.block, 0, stream()>>>(static_cast<const T*>(x.raw_data()),
                                                         static_cast<T*>(y.raw_data()), s, ho, wo,
                                                         kernel, stride, pad);
  });
  check_launch(kOp);
  return y;
}

Tensor upsample_nearest2x_cuda(const Tensor& x) {
  static constexpr const char* kOp = "upsample_nearest2x";
  require_cuda_float(kOp, x, "x");
  require_dim(kOp, x, "x", 4);
  const Nchw s = nchw_of(x);
  Tensor y = Tensor::empty({s.n, s.c, 2 * s.h, 2 * s.w}, x.dtype(), x.device());
  const int64_t total = y.numel();
  if (total == 0) return y;
  UM_DISPATCH_FLOAT(x.dtype(), T, {
    const RowLaunch l = row_launch(s.n * s.c * 2 * s.h, 2 * s.w);
    upsample_nearest2x_kernel<T><<<l.grid, l.block, 0, stream()>>>(
        static_cast<const T*>(x.raw_data()), static_cast<T*>(y.raw_data()), s);
  });
  check_launch(kOp);
  return y;
}

}  // namespace um::nn::detail
