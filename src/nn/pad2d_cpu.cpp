// File: src/nn/pad2d_cpu.cpp
// Purpose: CPU reference of constant 2-D padding (HGNetv2's stem pad, the letterbox border) and
// the uint8 -> float conversion of frames (nn/ops_dfine.h).
#include <algorithm>
#include <cstring>

#include "nn/op_util.h"
#include "nn/ops_dfine.h"
#include "nn/ops_dfine_cuda.h"

namespace um::nn {

using detail::fail;

Tensor pad2d(const Tensor& x_in, int64_t left, int64_t right, int64_t top, int64_t bottom,
             float value) {
  if (!x_in.defined()) fail("pad2d", "x is undefined");
  detail::require_dim("pad2d", x_in, "x", 4);
  if (left < 0 || right < 0 || top < 0 || bottom < 0) {
    fail("pad2d", "negative padding (" + std::to_string(left) + ", " + std::to_string(right) +
                      ", " + std::to_string(top) + ", " + std::to_string(bottom) + ")");
  }
  UM_NN_CUDA_DISPATCH(x_in, pad2d_cuda(x_in, left, right, top, bottom, value));
  detail::require_cpu_f32("pad2d", x_in, "x");
  const Tensor x = x_in.contiguous();
  const int64_t n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3);
  const int64_t oh = h + top + bottom, ow = w + left + right;
  Tensor y = Tensor::empty({n, c, oh, ow});
  const float* px = x.data<float>();
  float* py = y.data<float>();
  std::fill(py, py + y.numel(), value);
  for (int64_t p = 0; p < n * c; ++p) {
    for (int64_t i = 0; i < h; ++i) {
      std::memcpy(py + (p * oh + top + i) * ow + left, px + (p * h + i) * w, sizeof(float) * w);
    }
  }
  return y;
}

Tensor u8_to_float(const Tensor& x_in, float divisor) {
  if (!x_in.defined()) fail("u8_to_float", "x is undefined");
  if (x_in.dtype() != DType::kU8)
    fail("u8_to_float", std::string("x must be uint8, got ") + dtype_name(x_in.dtype()));
  if (!(divisor != 0.f)) fail("u8_to_float", "divisor is 0");
  UM_NN_CUDA_DISPATCH(x_in, u8_to_float_cuda(x_in, divisor));
  if (!x_in.device().is_cpu()) {
    throw Error(StatusCode::kFailedPrecondition,
                "u8_to_float: x is on " + x_in.device().str() + " and this build has no CUDA ops");
  }
  const Tensor x = x_in.contiguous();
  Tensor y = Tensor::empty(x.shape());
  const uint8_t* px = x.data<uint8_t>();
  float* py = y.data<float>();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = static_cast<float>(px[i]) / divisor;
  return y;
}

}  // namespace um::nn
