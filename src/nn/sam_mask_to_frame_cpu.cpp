// File: src/nn/sam_mask_to_frame_cpu.cpp
// Purpose: sam_mask_to_frame's argument checks and CPU reference (see ops_sam_mask.h): exactly
// the op sequence SamPredictor.postprocess_masks + `> 0` runs.
#include <string>

#include "nn/op_util.h"
#include "nn/ops.h"
#include "nn/ops_sam.h"
#include "nn/ops_sam_mask.h"

namespace um::nn {

SamFrameMasks sam_mask_to_frame(const Tensor& low_res, const SamMaskGeometry& g, bool want_logits) {
  static constexpr const char* kOp = "sam_mask_to_frame";
  if (!low_res.defined()) detail::fail(kOp, "low_res is undefined");
  if (low_res.dtype() != DType::kF32 || low_res.dim() != 4 || low_res.size(2) < 1 ||
      low_res.size(3) < 1) {
    detail::fail(kOp, "low_res must be float32 [N, C, h, w], got " + low_res.str());
  }
  if (g.model_h < 1 || g.model_w < 1 || g.crop_h < 1 || g.crop_w < 1 || g.crop_h > g.model_h ||
      g.crop_w > g.model_w || g.out_h < 1 || g.out_w < 1) {
    detail::fail(kOp, "bad geometry: model " + std::to_string(g.model_h) + "x" +
                          std::to_string(g.model_w) + ", crop " + std::to_string(g.crop_h) + "x" +
                          std::to_string(g.crop_w) + ", out " + std::to_string(g.out_h) + "x" +
                          std::to_string(g.out_w) + " (need 1 <= crop <= model and out >= 1)");
  }
  UM_NN_CUDA_DISPATCH(low_res, sam_mask_to_frame_cuda(low_res, g, want_logits));
  detail::require_cpu_f32(kOp, low_res, "low_res");
  const Tensor up = resize_bilinear(low_res, g.model_h, g.model_w, false);
  const Tensor crop = up.slice(2, 0, g.crop_h).slice(3, 0, g.crop_w);
  SamFrameMasks out;
  const Tensor logits = resize_bilinear(crop, g.out_h, g.out_w, false);
  out.mask_u8 = threshold_u8(logits, 0.f);
  if (want_logits) out.logits = logits;
  return out;
}

}  // namespace um::nn
