// File: src/models/mobilesam/predictor.cpp
// Purpose: SamPredictor semantics (see predictor.h).
#include "models/mobilesam/predictor.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "nn/ops.h"

namespace um::mobilesam {
namespace {

// snprintf rather than string concatenation: GCC 12 reports a false -Wrestrict on
// `"(" + std::string` chains.
std::string box_str(const Box& b) {
  char buf[128];
  std::snprintf(buf, sizeof buf, "(%g, %g, %g, %g)", double(b.x0), double(b.y0), double(b.x1),
                double(b.y1));
  return buf;
}

std::string point_str(size_t i, const Point& p) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "point %zu (%g, %g)", i, double(p.x), double(p.y));
  return buf;
}

}  // namespace

Result<Prompt> check_prompt(const Prompt& prompt, int64_t frame_w, int64_t frame_h,
                            bool* box_clamped) {
  if (box_clamped) *box_clamped = false;
  if (!prompt.box && prompt.points.empty() && !prompt.mask_input.defined()) {
    return invalid_argument("empty prompt: give a box, points or a mask input");
  }
  const float fw = static_cast<float>(frame_w), fh = static_cast<float>(frame_h);
  const std::string frame = std::to_string(frame_w) + "x" + std::to_string(frame_h) + " frame";
  Prompt out = prompt;
  if (prompt.box) {
    const Box& b = *prompt.box;
    if (!std::isfinite(b.x0) || !std::isfinite(b.y0) || !std::isfinite(b.x1) ||
        !std::isfinite(b.y1)) {
      return invalid_argument("box " + box_str(b) + " has a non-finite coordinate");
    }
    if (b.x1 < b.x0 || b.y1 < b.y0) {
      return invalid_argument("inverted box " + box_str(b) + ": need x0 <= x1 and y0 <= y1");
    }
    if (b.x1 < 0 || b.y1 < 0 || b.x0 > fw || b.y0 > fh) {
      return out_of_range("box " + box_str(b) + " lies entirely outside the " + frame);
    }
    Box c{std::clamp(b.x0, 0.f, fw), std::clamp(b.y0, 0.f, fh), std::clamp(b.x1, 0.f, fw),
          std::clamp(b.y1, 0.f, fh)};
    if (box_clamped) {
      *box_clamped = c.x0 != b.x0 || c.y0 != b.y0 || c.x1 != b.x1 || c.y1 != b.y1;
    }
    out.box = c;
  }
  for (size_t i = 0; i < prompt.points.size(); ++i) {
    const Point& p = prompt.points[i];
    const std::string name = point_str(i, p);
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) {
      return invalid_argument(name + " has a non-finite coordinate");
    }
    if (p.label != 0 && p.label != 1) {
      return invalid_argument(name + " has label " + std::to_string(p.label) +
                              "; labels are 1 (foreground) or 0 (background)");
    }
    if (p.x < 0 || p.y < 0 || p.x > fw || p.y > fh) {
      return out_of_range(name + " lies outside the " + frame);
    }
  }
  if (prompt.mask_input.defined()) {
    const Tensor& m = prompt.mask_input;
    const bool shape_ok = (m.dim() == 3 && m.size(0) == 1 && m.size(1) == 256 &&
                           m.size(2) == 256) ||
                          (m.dim() == 4 && m.size(0) == 1 && m.size(1) == 1 &&
                           m.size(2) == 256 && m.size(3) == 256);
    if (!shape_ok || m.dtype() != DType::kF32 || !m.device().is_cpu()) {
      return invalid_argument("mask input must be float32 CPU low-res logits [1, 256, 256], got " +
                              m.str());
    }
  }
  return out;
}

Status Predictor::set_image(const io::Image& frame) {
  reset_image();
  if (!model_) return failed_precondition("MobileSAM predictor has no model");
  UM_ASSIGN_OR_RETURN(Tensor rgb, frame_to_rgb(frame));
  try {
    const InputGeometry g = input_geometry(frame.height, frame.width);
    Tensor resized = resize_longest_side(rgb, g);
    // A CUDA model gets its input uploaded (a host sync: this is the convenience path; the
    // frame path without host involvement is device_path.h).
    Tensor emb = model_->image_encoder().forward(placed(normalize_and_pad(resized),
                                                        model_->placement()));
    geometry_ = g;
    resized_rgb_ = std::move(resized);
    embedding_ = std::move(emb);
  } catch (const Error& e) {
    return e.status().with_context("MobileSAM image encoder");
  }
  return Status::Ok();
}

Status Predictor::set_image_embedding(const Tensor& embedding, int64_t frame_h, int64_t frame_w) {
  reset_image();
  const bool dtype_ok = embedding.defined() && (embedding.dtype() == DType::kF32 ||
                                                (model_ && embedding.dtype() == model_->dtype()));
  if (!dtype_ok || embedding.shape() != Shape{1, 256, 64, 64}) {
    return invalid_argument("image embedding must be float32 [1, 256, 64, 64], got " +
                            (embedding.defined() ? embedding.str() : std::string("undefined")));
  }
  if (frame_h <= 0 || frame_w <= 0) {
    return invalid_argument("frame size must be positive, got " + std::to_string(frame_w) + "x" +
                            std::to_string(frame_h));
  }
  geometry_ = input_geometry(frame_h, frame_w);
  try {  // onto the model's device and dtype (a no-op for a CPU model and a CPU embedding)
    embedding_ = model_ ? placed(embedding.contiguous(), model_->placement())
                        : embedding.contiguous();
  } catch (const Error& e) {
    geometry_ = {};
    return e.status().with_context("MobileSAM image embedding");
  }
  return Status::Ok();
}

void Predictor::reset_image() {
  embedding_ = Tensor();
  resized_rgb_ = Tensor();
  geometry_ = {};
}

Tensor postprocess_masks(const Tensor& low_res, const InputGeometry& g) {
  const Tensor up = nn::resize_bilinear(low_res, kImageSize, kImageSize, false);
  // The crop is a view: resize_bilinear reads strided inputs (no copy kernel on CUDA).
  const Tensor crop = up.slice(2, 0, g.input_h).slice(3, 0, g.input_w);
  return nn::resize_bilinear(crop, g.orig_h, g.orig_w, false);
}

Result<Prediction> Predictor::predict(const Prompt& prompt) const {
  if (!has_image()) {
    return failed_precondition("MobileSAM predict: no image set (call set_image first)");
  }
  if (!model_) return failed_precondition("MobileSAM predictor has no model");
  Prediction out;
  UM_ASSIGN_OR_RETURN(const Prompt p,
                      check_prompt(prompt, geometry_.orig_w, geometry_.orig_h, &out.box_clamped));
  // ResizeLongestSide.apply_coords: x * (new_w / old_w), y * (new_h / old_h), in double.
  const double sx = static_cast<double>(geometry_.input_w) / static_cast<double>(geometry_.orig_w);
  const double sy = static_cast<double>(geometry_.input_h) / static_cast<double>(geometry_.orig_h);
  std::vector<std::array<float, 2>> points;
  std::vector<int> labels;
  for (const Point& pt : p.points) {
    points.push_back({static_cast<float>(pt.x * sx), static_cast<float>(pt.y * sy)});
    labels.push_back(pt.label);
  }
  std::optional<std::array<float, 4>> box;
  if (p.box) {
    box = std::array<float, 4>{static_cast<float>(p.box->x0 * sx), static_cast<float>(p.box->y0 * sy),
                               static_cast<float>(p.box->x1 * sx), static_cast<float>(p.box->y1 * sy)};
  }
  try {
    const Tensor mask = p.mask_input.defined() ? p.mask_input.reshape({1, 1, 256, 256}) : Tensor();
    const EncodedPrompt enc = model_->prompt_encoder().encode(points, labels, box, mask);
    DecoderOutput dec = model_->mask_decoder().forward(
        embedding_, model_->prompt_encoder().dense_pe(), enc.sparse, enc.dense, p.multimask);
    out.mask_logits = postprocess_masks(dec.low_res_logits, geometry_);
    if (!out.mask_logits.device().is_cpu()) {  // a CUDA model: results back on the host
      out.mask_logits = out.mask_logits.to(Device::cpu());
      dec.low_res_logits = dec.low_res_logits.to(Device::cpu());
      dec.iou_predictions = dec.iou_predictions.to(Device::cpu());
    }
    out.masks = Tensor::empty(out.mask_logits.shape(), DType::kBool);
    const float* l = out.mask_logits.data<float>();
    bool* m = out.masks.data<bool>();
    for (int64_t i = 0; i < out.mask_logits.numel(); ++i) m[i] = l[i] > 0.0f;
    out.low_res_logits = std::move(dec.low_res_logits);
    out.iou_predictions = std::move(dec.iou_predictions);
  } catch (const Error& e) {
    return e.status().with_context("MobileSAM predict");
  }
  return out;
}

}  // namespace um::mobilesam
