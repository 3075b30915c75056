// File: src/models/mobilesam/device_path.h
// Purpose: MobileSAM's per-frame path for a model placed on the GPU, with NO host involvement:
// every step is an op on the model's device (nn/ops.h, nn/ops_sam.h) or a Tensor view/strided
// copy, nothing reads device data on the host, synchronises, copies host<->device or allocates
// outside the current DevicePool, so a caller may capture it (with D-FINE before it) into one
// CUDA graph. The same functions run on a CPU model too (there they equal the Predictor's
// results bit for bit; the tests use that to check the logic without a GPU).
// Semantics are the CPU Predictor's for a box prompt with multimask_output=False:
//   preprocess_device  = frame_to_rgb + resize_longest_side + normalize_and_pad (preprocess.h);
//   predict_box_device = check_prompt's clamp + apply_boxes + PromptEncoder + MaskDecoder +
//                        postprocess_masks + (logits > 0).
// Caller guarantees (device data cannot be checked without a sync): the box is finite and
// ordered (x0 <= x1, y0 <= y1) and overlaps the frame, as D-FINE's clamped, ordered top-1 is;
// it is clamped to [0, W] x [0, H] on the device exactly as check_prompt clamps. Outside that
// contract nothing fails (there is no way to report from the device): a box entirely outside
// the frame is clamped onto the border (the CPU predictor says kOutOfRange), an inverted box is
// encoded as given, and a NaN coordinate becomes 0 (fmaxf), so no NaN enters the graph; the
// caller decides from D-FINE's score whether the mask is used. Shapes, dtypes and devices ARE
// checked (um::Error, kInvalidArgument).
// Usage (model = MobileSam::load(path, Device::cuda(), DType::kF16)):
//   Tensor input = preprocess_device(*model, frame_u8_gpu);          // [1, 3, 1024, 1024]
//   Tensor emb = encode_image_device(*model, input);                  // [1, 256, 64, 64]
//   BoxPrediction p = predict_box_device(*model, emb, box_xyxy_gpu, h, w);
//   // or, the box-independent half first: PreparedImage im = prepare_image_device(*model, emb);
//   //                                      ... predict_box_device(*model, im, box, h, w);
//   p.mask_u8  // uint8 [h, w] on the GPU: read back once, after the whole frame
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "models/mobilesam/mobilesam.h"

namespace um::mobilesam {

struct BoxPrediction {
  Tensor low_res_logits;  // float32 [1, 1, 256, 256] (feed back as mask_input next frame)
  Tensor iou_prediction;  // float32 [1, 1]
  Tensor mask_u8;         // uint8 [frame_h, frame_w]: 1 where the frame-size logit > 0
  Tensor mask_logits;     // float32 [1, 1, frame_h, frame_w], only when want_logits
};

// frame: uint8 [H, W] (gray) or [H, W, 1 or 3], on the model's device (any strides) ->
// [1, 3, 1024, 1024] in the model's dtype. A gray frame is resized once and replicated to the
// three channels (equal to resizing its RGB copy: Pillow resizes each band alike).
Tensor preprocess_device(const MobileSam& model, const Tensor& frame_u8);

// The image encoder: input [1, 3, 1024, 1024] (model device and dtype) -> [1, 256, 64, 64].
Tensor encode_image_device(const MobileSam& model, const Tensor& input);

// embedding: [1, 256, 64, 64] from encode_image_device (model device and dtype).
// box_xyxy: float32, 4 values (x0, y0, x1, y1) in frame pixels, on the model's device; any
// shape/strides (e.g. a row of D-FINE's device boxes).
// mask_input: optional previous low_res_logits, float32 [1, 1, 256, 256] or [1, 256, 256] on
// the model's device.
// = predict_box_device(model, prepare_image_device(model, embedding, mask_input), box_xyxy, ...).
BoxPrediction predict_box_device(const MobileSam& model, const Tensor& embedding,
                                 const Tensor& box_xyxy, int64_t frame_h, int64_t frame_w,
                                 const Tensor& mask_input = {}, bool want_logits = false);

// The two halves of predict_box_device, for a caller that has the embedding before the box (the
// CUDA frame graph runs the first beside D-FINE): prepare_image_device = the dense prompt
// embedding (of mask_input, or the no-mask one) and the mask decoder's box-independent image
// side (MaskDecoder::image_side); predict_box_device(model, image, box, ...) = the rest.
using PreparedImage = MaskDecoder::ImageSide;
PreparedImage prepare_image_device(const MobileSam& model, const Tensor& embedding,
                                   const Tensor& mask_input = {});
BoxPrediction predict_box_device(const MobileSam& model, const PreparedImage& image,
                                 const Tensor& box_xyxy, int64_t frame_h, int64_t frame_w,
                                 bool want_logits = false);

}  // namespace um::mobilesam
