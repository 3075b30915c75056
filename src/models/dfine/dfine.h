// File: src/models/dfine/dfine.h
// Purpose: the D-FINE detector as one object: load a checkpoint (any variant N/S/M/L/X, any class
// count, RGB or mono stem; everything detected from tensor shapes), run the network on an input
// tensor, or detect on a frame (preprocessing and the official post-processor inside).
// Usage:
//   auto model = um::dfine::DFine::load("model.pth", {}).value();   // or check .ok()
//   um::dfine::Detections d = model->detect(frame);                  // sorted by score
//   um::dfine::TopBox best = um::dfine::top1(d, geometry);           // or model->detect_top1(frame)
//   auto out = model->forward(input, /*keep_intermediates=*/true);   // out.intermediates["encoder.0"]
// float16 per stage: Options::half_backbone / half_encoder / half_decoder (backbone float32 by
// default, see config.h)
// choose which stages run in float16 when dtype is kF16; the others run in float32.
// GPU frame path (Options::device = Device::cuda(), dtype kF32 or kF16; nothing below touches
// device data from the host, synchronises or copies host<->device, so it can be graph-captured):
//   Geometry g = model->geometry(W, H);                         // host only
//   Tensor x = model->preprocess_device(frame_u8_gpu);          // [H, W] uint8 on the GPU
//   Tensor best = model->top1_device(model->forward(x), g);     // float32 [6] on the GPU
// Errors: load returns a Status (missing key / wrong shape named with both shapes, unreadable
// file, override that disagrees with the checkpoint); forward/detect throw um::Error.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "io/checkpoint.h"
#include "io/image.h"
#include "models/dfine/config.h"
#include "models/dfine/decoder.h"
#include "models/dfine/hgnetv2.h"
#include "models/dfine/hybrid_encoder.h"
#include "models/dfine/postprocess.h"
#include "models/dfine/preprocess.h"

namespace um::dfine {

struct ForwardOutput {
  Tensor pred_logits;  // [B, Q, C] float32, on the model's device
  Tensor pred_boxes;   // [B, Q, 4] float32, normalised cx, cy, w, h
  // "backbone.i" (i-th backbone level fed to the encoder), "encoder.i" (i-th encoder output).
  std::map<std::string, Tensor> intermediates;
};

class DFine {
 public:
  static Result<std::unique_ptr<DFine>> load(const std::string& path, const Options& options = {});
  // From an already loaded state dict (keys "backbone.", "encoder.", "decoder.", possibly under
  // one common prefix).
  static Result<std::unique_ptr<DFine>> from_tensors(const io::TensorMap& tensors,
                                                     const Options& options = {});

  // input [B, C, H, W] on the model's device (converted to the compute dtype if it is another
  // float dtype), H and W multiples of 32, C = config().input_channels (or 1 on an RGB stem: gray
  // through the summed stem weights).
  ForwardOutput forward(const Tensor& input, bool keep_intermediates = false) const;

  Preprocessed preprocess(const io::Image& frame) const;
  // CPU postprocess of the model's outputs: a device model's input and outputs are copied
  // (synchronously: a convenience path, not the frame path).
  Detections detect(const io::Image& frame) const;
  // detect() then the top-1 box clamped to the frame.
  TopBox detect_top1(const io::Image& frame) const;

  // Where a W x H frame lands in the input (host arithmetic only).
  Geometry geometry(int frame_width, int frame_height) const;
  // preprocess() for a uint8 gray frame [H, W] on the model's device: [1, C, H_in, W_in] in the
  // backbone's dtype (Options::backbone_dtype()), C = config().input_channels. Device ops only.
  Tensor preprocess_device(const Tensor& frame_u8) const;
  // postprocess() + top1() on the device: float32 [6] = {score, label, x0, y0, x1, y1} in frame
  // pixels, clamped to the frame (batch 1). No host access; works on CPU outputs too.
  Tensor top1_device(const ForwardOutput& out, const Geometry& geometry) const;

  const Config& config() const { return config_; }
  const Options& options() const { return options_; }

 private:
  DFine() = default;
  Status check_overrides() const;
  // Uploads the weights to options_.device / dtype and the constants for the configured input
  // size (anchors, valid mask, position embedding).
  void place_on_device();

  Options options_;
  Config config_;
  HGNetv2 backbone_;
  HybridEncoder encoder_;
  Decoder decoder_;
  std::vector<int> return_idx_;
};

}  // namespace um::dfine
