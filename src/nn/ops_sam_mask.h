// File: src/nn/ops_sam_mask.h
// Purpose: sam_mask_to_frame, SamPredictor's mask post-processing in ONE op: low-res logits ->
// bilinear to the model input size (1024 x 1024) -> crop the un-padded input region -> bilinear
// to the frame size -> `logits > 0` as uint8 (and, on request, the frame-size logits).
// Why: as separate ops that is two resize kernels, a crop copy and a threshold pass over 1 M and
// 0.2 M pixels, with the 1024 x 1024 float32 intermediate written and read back once (~25 us and
// 4 launches per frame on an H200); here each frame pixel is computed straight from the 16
// low-res values it depends on (one kernel, no intermediate).
// Precision: CPU = exactly nn::resize_bilinear (align_corners=False) -> slice -> resize_bilinear
// -> nn::threshold_u8, bit for bit (it runs them). CUDA reproduces each resize's arithmetic
// operation by operation (resample_cuda.cu's rounded intrinsics and double source index), and the
// intermediate value is a float32 as in the sequence: float32 results equal the CPU's bit for bit.
// Usage (predictor.h's InputGeometry g):
//   SamFrameMasks m = nn::sam_mask_to_frame(low_res, {1024, 1024, g.input_h, g.input_w,
//                                                     g.orig_h, g.orig_w}, /*want_logits=*/false);
//   m.mask_u8  // uint8 [N, C, orig_h, orig_w]
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace um::nn {

struct SamMaskGeometry {
  int64_t model_h = 1024, model_w = 1024;  // first resize: the model's padded input size
  int64_t crop_h = 0, crop_w = 0;          // the un-padded input region [0, crop) x [0, crop)
  int64_t out_h = 0, out_w = 0;            // the frame size
};

struct SamFrameMasks {
  Tensor logits;   // float32 [N, C, out_h, out_w], only when want_logits (else undefined)
  Tensor mask_u8;  // uint8 [N, C, out_h, out_w]: 1 where the frame logit > 0
};

// low_res: float32 [N, C, h, w] (any strides); 1 <= crop <= model size, out >= 1 (else
// um::Error naming the geometry). Runs on low_res's device.
SamFrameMasks sam_mask_to_frame(const Tensor& low_res, const SamMaskGeometry& g, bool want_logits);

#ifdef UM_WITH_CUDA
namespace detail {
// The CUDA implementation (sam_mask_to_frame_cuda.cu); arguments already checked.
SamFrameMasks sam_mask_to_frame_cuda(const Tensor& low_res, const SamMaskGeometry& g,
                                     bool want_logits);
}  // namespace detail
#endif

}  // namespace um::nn
