// File: src/nn/conv_transpose2d_cpu.cpp
// Purpose: CPU reference of torch.nn.ConvTranspose2d (declared in ops.h), used by SAM's mask
// decoder to upscale the image embedding 4x (two 2x2/stride-2 layers).
// Method: one sgemm computes every (input pixel, kernel tap) contribution,
//   cols[co*kh*kw + tap, p] = sum_ci W[ci, co, tap] * x[ci, p]      (W^T @ X),
// then a col2im pass scatters them onto the output grid at (y*stride - pad + i, x*stride - pad + j)
// and adds the bias. This is exactly the adjoint of conv2d, so overlapping taps (kernel > stride)
// accumulate like PyTorch's. No output_padding, no groups, no dilation (SAM needs none).
#include <cblas.h>

#include <algorithm>
#include <string>
#include <vector>

#include "core/status.h"
#include "nn/op_util.h"
#include "nn/ops.h"

namespace um::nn {
namespace {

[[noreturn]] void fail(const std::string& what) {
  throw Error(StatusCode::kInvalidArgument, "conv_transpose2d: " + what);
}

void check_cpu_f32(const Tensor& t, const char* name) {
  if (!t.defined()) fail(std::string(name) + " is undefined");
  if (!t.device().is_cpu()) {
    throw Error(StatusCode::kFailedPrecondition,
                std::string("conv_transpose2d: ") + name + " is on " + t.device().str() +
                    " and this op has no implementation for that device");
  }
  if (t.dtype() != DType::kF32) {
    fail(std::string(name) + " must be float32, got " + dtype_name(t.dtype()));
  }
}

}  // namespace

Tensor conv_transpose2d(const Tensor& x_in, const Tensor& w_in, const Tensor& bias_in, int stride,
                        int pad) {
  // A device input goes to conv_transpose2d_cuda.cu, which makes the same argument checks
  // next to its dtype/device checks.
  UM_NN_CUDA_DISPATCH(x_in, conv_transpose2d_cuda(x_in, w_in, bias_in, stride, pad));
  check_cpu_f32(x_in, "x");
  check_cpu_f32(w_in, "weight");
  if (x_in.dim() != 4) fail("x must be [N, Cin, H, W], got " + shape_str(x_in.shape()));
  if (w_in.dim() != 4) fail("weight must be [Cin, Cout, kh, kw], got " + shape_str(w_in.shape()));
  if (w_in.size(0) != x_in.size(1)) {
    fail("x " + shape_str(x_in.shape()) + " has " + std::to_string(x_in.size(1)) +
         " channels but weight " + shape_str(w_in.shape()) + " expects " +
         std::to_string(w_in.size(0)));
  }
  if (stride < 1 || pad < 0) {
    fail("stride must be >= 1 and pad >= 0, got stride " + std::to_string(stride) + ", pad " +
         std::to_string(pad));
  }
  const int64_t n = x_in.size(0), cin = x_in.size(1), h = x_in.size(2), w = x_in.size(3);
  const int64_t cout = w_in.size(1), kh = w_in.size(2), kw = w_in.size(3);
  const int64_t oh = (h - 1) * stride - 2 * pad + kh;
  const int64_t ow = (w - 1) * stride - 2 * pad + kw;
  if (oh <= 0 || ow <= 0) {
    fail("output would be empty for x " + shape_str(x_in.shape()) + ", weight " +
         shape_str(w_in.shape()) + ", stride " + std::to_string(stride) + ", pad " +
         std::to_string(pad));
  }
  Tensor bias;
  if (bias_in.defined()) {
    check_cpu_f32(bias_in, "bias");
    if (bias_in.dim() != 1 || bias_in.size(0) != cout) {
      fail("bias must be [" + std::to_string(cout) + "], got " + shape_str(bias_in.shape()));
    }
    bias = bias_in.contiguous();
  }
  const Tensor x = x_in.contiguous();
  const Tensor wt = w_in.contiguous();
  Tensor out = Tensor::empty({n, cout, oh, ow});

  const int64_t hw = h * w, taps = kh * kw, rows = cout * taps;
  std::vector<float> cols(static_cast<size_t>(rows * hw));
  const float* wp = wt.data<float>();  // [cin, cout*taps] row-major
  const float* bp = bias.defined() ? bias.data<float>() : nullptr;
  for (int64_t b = 0; b < n; ++b) {
    const float* xp = x.data<float>() + b * cin * hw;  // [cin, hw]
    // cols [rows, hw] = W^T [rows, cin] @ X [cin, hw]
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(rows),
                static_cast<int>(hw), static_cast<int>(cin), 1.0f, wp, static_cast<int>(rows), xp,
                static_cast<int>(hw), 0.0f, cols.data(), static_cast<int>(hw));
    float* op = out.data<float>() + b * cout * oh * ow;
    for (int64_t co = 0; co < cout; ++co) {
      float* plane = op + co * oh * ow;
      std::fill(plane, plane + oh * ow, bp ? bp[co] : 0.0f);
      for (int64_t i = 0; i < kh; ++i) {
        for (int64_t j = 0; j < kw; ++j) {
          const float* c = cols.data() + ((co * kh + i) * kw + j) * hw;
          for (int64_t y = 0; y < h; ++y) {
            const int64_t oy = y * stride - pad + i;
            if (oy < 0 || oy >= oh) continue;
            float* orow = plane + oy * ow;
            const float* crow = c + y * w;
            for (int64_t xx = 0; xx < w; ++xx) {
              const int64_t ox = xx * stride - pad + j;
              if (ox >= 0 && ox < ow) orow[ox] += crow[xx];
            }
          }
        }
      }
    }
  }
  return out;
}

}  // namespace um::nn
