// File: src/nn/sam_box_prompt_cpu.cpp
// Purpose: sam_box_prompt (nn/ops_sam.h): checks, CUDA dispatch and the CPU reference. The
// arithmetic is written in the same order as mobilesam::check_prompt + Predictor::predict +
// PromptEncoder::encode so that the CPU result is the CPU predictor's, bit for bit.
#include <cmath>
#include <string>

#include "nn/op_util.h"
#include "nn/ops_sam.h"

namespace um::nn {
namespace {

void check_args(const Tensor& box, const Tensor& gaussian, const Tensor& corner) {
  constexpr const char* kOp = "sam_box_prompt";
  if (!box.defined() || !gaussian.defined() || !corner.defined()) {
    detail::fail(kOp, "box, gaussian and corner_embed must be defined");
  }
  if (box.dtype() != DType::kF32 || box.numel() != 4) {
    detail::fail(kOp, "box must be float32 with 4 values (x0, y0, x1, y1), got " + box.str());
  }
  if (gaussian.dtype() != DType::kF32 || gaussian.dim() != 2 || gaussian.size(0) != 2 ||
      gaussian.size(1) < 1) {
    detail::fail(kOp, "gaussian must be float32 [2, D/2], got " + gaussian.str());
  }
  if (corner.dtype() != DType::kF32 || corner.dim() != 2 || corner.size(0) != 2 ||
      corner.size(1) != 2 * gaussian.size(1)) {
    detail::fail(kOp, "corner_embed must be float32 [2, " + std::to_string(2 * gaussian.size(1)) +
                          "], got " + corner.str());
  }
  if (!(gaussian.device() == box.device()) || !(corner.device() == box.device())) {
    detail::fail(kOp, "box " + box.str() + ", gaussian " + gaussian.str() + " and corner_embed " +
                          corner.str() + " must share one device");
  }
}

}  // namespace

Tensor sam_box_prompt(const Tensor& box, const Tensor& gaussian, const Tensor& corner,
                      const SamBoxPromptParams& p) {
  check_args(box, gaussian, corner);
  UM_NN_CUDA_DISPATCH(box, sam_box_prompt_cuda(box, gaussian, corner, p));
  if (!box.device().is_cpu()) detail::fail("sam_box_prompt", "box is on " + box.device().str());
  const Tensor b = box.contiguous(), g = gaussian.contiguous(), e = corner.contiguous();
  const int64_t half = g.size(1), dim = 2 * half;
  const float kTwoPi = static_cast<float>(2.0 * M_PI);
  const float* bv = b.data<float>();
  const float* gv = g.data<float>();
  const float* ev = e.data<float>();
  Tensor out = Tensor::empty({1, 2, dim});
  float* o = out.data<float>();
  for (int64_t k = 0; k < 2; ++k) {
    // std::clamp for finite values; fmax/fmin also map NaN to 0, as the CUDA kernel does.
    const float x = std::fmin(std::fmax(bv[2 * k], 0.f), p.frame_w);
    const float y = std::fmin(std::fmax(bv[2 * k + 1], 0.f), p.frame_h);
    const float xi = static_cast<float>(x * p.scale_x), yi = static_cast<float>(y * p.scale_y);
    const float x01 = (xi + 0.5f) / p.input_size, y01 = (yi + 0.5f) / p.input_size;
    const float cx = 2.0f * x01 - 1.0f, cy = 2.0f * y01 - 1.0f;
    for (int64_t i = 0; i < half; ++i) {
      const float proj = kTwoPi * (cx * gv[i] + cy * gv[half + i]);
      o[k * dim + i] = std::sin(proj) + ev[k * dim + i];
      o[k * dim + half + i] = std::cos(proj) + ev[k * dim + half + i];
    }
  }
  return out;
}

}  // namespace um::nn
