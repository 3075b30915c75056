// File: src/nn/pooling_cpu.cpp
// Purpose: torch.nn.MaxPool2d (with ceil_mode) and F.interpolate(scale_factor=2, mode='nearest')
// on the CPU; CUDA tensors go to their twins in pooling_cuda.cu.
#include <algorithm>
#include <limits>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/pool_shape.h"

namespace um::nn {

Tensor max_pool2d(const Tensor& x_in, int kernel, int stride, int pad, bool ceil_mode) {
  static constexpr const char* kOp = "max_pool2d";
  if (kernel < 1 || stride < 1 || pad < 0 || 2 * pad > kernel) {
    detail::fail(kOp, "invalid kernel/stride/pad " + std::to_string(kernel) + "/" +
                          std::to_string(stride) + "/" + std::to_string(pad) + " for x " +
                          shape_str(x_in.shape()));
  }
  UM_NN_CUDA_DISPATCH(x_in, max_pool2d_cuda(x_in, kernel, stride, pad, ceil_mode));
  detail::require_cpu_f32(kOp, x_in, "x");
  detail::require_dim(kOp, x_in, "x", 4);
  const Tensor x = x_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t ho = detail::pool_out(h, kernel, stride, pad, ceil_mode);
  const int64_t wo = detail::pool_out(w, kernel, stride, pad, ceil_mode);
  if (ho < 1 || wo < 1) detail::fail(kOp, "input " + shape_str(x.shape()) + " is too small");
  Tensor y = Tensor::empty({n, c, ho, wo});
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (int64_t p = 0; p < n * c; ++p) {
    const float* xp = px + p * h * w;
    float* yp = py + p * ho * wo;
    for (int64_t oy = 0; oy < ho; ++oy) {
      const int64_t y0 = std::max<int64_t>(oy * stride - pad, 0);
      const int64_t y1 = std::min<int64_t>(oy * stride - pad + kernel, h);
      for (int64_t ox = 0; ox < wo; ++ox) {
        const int64_t x0 = std::max<int64_t>(ox * stride - pad, 0);
        const int64_t x1 = std::min<int64_t>(ox * stride - pad + kernel, w);
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t iy = y0; iy < y1; ++iy)
          for (int64_t ix = x0; ix < x1; ++ix) m = std::max(m, xp[iy * w + ix]);
        yp[oy * wo + ox] = m;
      }
    }
  }
  return y;
}

Tensor upsample_nearest2x(const Tensor& x_in) {
  static constexpr const char* kOp = "upsample_nearest2x";
  UM_NN_CUDA_DISPATCH(x_in, upsample_nearest2x_cuda(x_in));
  detail::require_cpu_f32(kOp, x_in, "x");
  detail::require_dim(kOp, x_in, "x", 4);
  const Tensor x = x_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  Tensor y = Tensor::empty({n, c, 2 * h, 2 * w});
  const float* px = x.data<float>();
  float* py = y.data<float>();
  for (int64_t p = 0; p < n * c; ++p) {
    for (int64_t iy = 0; iy < h; ++iy) {
      const float* xr = px + (p * h + iy) * w;
      float* y0 = py + (p * 2 * h + 2 * iy) * 2 * w;
      for (int64_t ix = 0; ix < w; ++ix) y0[2 * ix] = y0[2 * ix + 1] = xr[ix];
      std::copy(y0, y0 + 2 * w, y0 + 2 * w);
    }
  }
  return y;
}

}  // namespace um::nn
