// File: src/models/mobilesam/device_path.cpp
// Purpose: the host-free MobileSAM frame path (see device_path.h). Only shapes, dtypes and
// devices (host metadata) are checked here; every value stays on the model's device.
#include "models/mobilesam/device_path.h"

#include <string>

#include "core/status.h"
#include "models/mobilesam/predictor.h"
#include "models/mobilesam/preprocess.h"
#include "nn/ops.h"
#include "nn/ops_sam.h"
#include "nn/ops_sam_mask.h"
#include "nn/resize_antialias.h"

namespace um::mobilesam {
namespace {

[[noreturn]] void fail(const char* fn, const std::string& what) {
  throw Error(StatusCode::kInvalidArgument, std::string("MobileSAM ") + fn + ": " + what);
}

std::string str(const Tensor& t) { return t.defined() ? t.str() : std::string("undefined"); }

void require_on_model_device(const char* fn, const MobileSam& m, const Tensor& t,
                             const char* name) {
  if (!t.defined() || !(t.device() == m.device())) {
    fail(fn, std::string(name) + " must be on the model's device " + m.device().str() + ", got " +
                 str(t));
  }
}

}  // namespace

Tensor preprocess_device(const MobileSam& model, const Tensor& frame) {
  constexpr const char* kFn = "preprocess_device";
  require_on_model_device(kFn, model, frame, "frame");
  const bool shape_ok = frame.dim() == 2 || (frame.dim() == 3 && (frame.size(2) == 1 ||
                                                                  frame.size(2) == 3));
  if (frame.dtype() != DType::kU8 || !shape_ok || frame.numel() == 0) {
    fail(kFn, "frame must be uint8 [H, W] or [H, W, 1|3], got " + frame.str());
  }
  const Tensor hwc = frame.dim() == 2 ? frame.unsqueeze(2) : frame;
  const InputGeometry g = input_geometry(frame.size(0), frame.size(1));
  const Tensor resized = nn::resize_bilinear_antialias_u8(hwc, g.input_h, g.input_w);
  return nn::sam_normalize_pad(resized, kImageSize, model.dtype());
}

Tensor encode_image_device(const MobileSam& model, const Tensor& input) {
  constexpr const char* kFn = "encode_image_device";
  require_on_model_device(kFn, model, input, "input");
  if (input.dtype() != model.dtype()) {
    fail(kFn, std::string("input must be ") + dtype_name(model.dtype()) + ", got " + input.str());
  }
  return model.image_encoder().forward(input);
}

PreparedImage prepare_image_device(const MobileSam& model, const Tensor& embedding,
                                   const Tensor& mask_input) {
  constexpr const char* kFn = "predict_box_device";  // the name callers of the one-call form know
  require_on_model_device(kFn, model, embedding, "embedding");
  if (embedding.dtype() != model.dtype() || embedding.shape() != Shape{1, 256, 64, 64}) {
    fail(kFn, std::string("embedding must be ") + dtype_name(model.dtype()) +
                  " [1, 256, 64, 64], got " + embedding.str());
  }
  const PromptEncoder& pe = model.prompt_encoder();
  Tensor dense = pe.no_mask_dense();
  if (mask_input.defined()) {
    require_on_model_device(kFn, model, mask_input, "mask_input");
    if (mask_input.dtype() != DType::kF32 || mask_input.numel() != 256 * 256 ||
        mask_input.size(-1) != 256 || mask_input.size(-2) != 256 || mask_input.dim() < 3 ||
        mask_input.dim() > 4) {
      fail(kFn, "mask_input must be float32 [1, 1, 256, 256] or [1, 256, 256], got " +
                    mask_input.str());
    }
    dense = pe.embed_mask(mask_input.reshape({1, 1, 256, 256}).to(model.dtype()));
  }
  return model.mask_decoder().image_side(embedding, pe.dense_pe(), dense);
}

BoxPrediction predict_box_device(const MobileSam& model, const Tensor& embedding,
                                 const Tensor& box_xyxy, int64_t frame_h, int64_t frame_w,
                                 const Tensor& mask_input, bool want_logits) {
  return predict_box_device(model, prepare_image_device(model, embedding, mask_input), box_xyxy,
                            frame_h, frame_w, want_logits);
}

BoxPrediction predict_box_device(const MobileSam& model, const PreparedImage& image,
                                 const Tensor& box_xyxy, int64_t frame_h, int64_t frame_w,
                                 bool want_logits) {
  constexpr const char* kFn = "predict_box_device";
  require_on_model_device(kFn, model, box_xyxy, "box");
  if (box_xyxy.dtype() != DType::kF32 || box_xyxy.numel() != 4) {
    fail(kFn, "box must be float32 with 4 values (x0, y0, x1, y1), got " + box_xyxy.str());
  }
  if (frame_h <= 0 || frame_w <= 0) {
    fail(kFn, "frame size must be positive, got " + std::to_string(frame_w) + "x" +
                  std::to_string(frame_h));
  }
  const PromptEncoder& pe = model.prompt_encoder();
  const InputGeometry g = input_geometry(frame_h, frame_w);
  nn::SamBoxPromptParams bp;
  bp.frame_w = static_cast<float>(frame_w);
  bp.frame_h = static_cast<float>(frame_h);
  bp.scale_x = static_cast<double>(g.input_w) / static_cast<double>(frame_w);
  bp.scale_y = static_cast<double>(g.input_h) / static_cast<double>(frame_h);
  bp.input_size = static_cast<float>(PromptEncoder::kInputSize);
  const Tensor sparse = pe.box_sparse(box_xyxy, bp);
  DecoderOutput dec =
      model.mask_decoder().forward(image, pe.dense_pe(), sparse, /*multimask=*/false);
  // postprocess_masks + (logits > 0) as one op (one kernel on CUDA, the CPU runs that sequence).
  nn::SamFrameMasks frame_masks = nn::sam_mask_to_frame(
      dec.low_res_logits, {kImageSize, kImageSize, g.input_h, g.input_w, g.orig_h, g.orig_w},
      want_logits);
  BoxPrediction out;
  out.mask_u8 = frame_masks.mask_u8.view({frame_h, frame_w});
  out.low_res_logits = std::move(dec.low_res_logits);
  out.iou_prediction = std::move(dec.iou_predictions);
  if (want_logits) out.mask_logits = std::move(frame_masks.logits);  // float32 [1, 1, H, W]
  return out;
}

}  // namespace um::mobilesam
