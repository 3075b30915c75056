// File: src/models/dfine/dfine.h
// Purpose: the D-FINE detector as one object: load a checkpoint (any variant N/S/M/L/X, any class
// count, RGB or mono stem; everything detected from tensor shapes), run the network on an input
// tensor, or detect on a frame (preprocessing and the official post-processor inside).
// Usage:
//   auto model = um::dfine::DFine::load("model.pth", {}).value();   // or check .ok()
//   um::dfine::Detections d = model->detect(frame);                  // sorted by score
//   um::dfine::TopBox best = um::dfine::top1(d, geometry);           // or model->detect_top1(frame)
//   auto out = model->forward(input, /*keep_intermediates=*/true);   // out.intermediates["encoder.0"]
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
  Tensor pred_logits;  // [B, Q, C]
  Tensor pred_boxes;   // [B, Q, 4] normalised cx, cy, w, h
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

  // input [B, C, H, W], H and W multiples of 32, C = config().input_channels (or 1 on an RGB
  // stem: gray through the summed stem weights).
  ForwardOutput forward(const Tensor& input, bool keep_intermediates = false) const;

  Preprocessed preprocess(const io::Image& frame) const;
  Detections detect(const io::Image& frame) const;
  // detect() then the top-1 box clamped to the frame.
  TopBox detect_top1(const io::Image& frame) const;

  const Config& config() const { return config_; }
  const Options& options() const { return options_; }

 private:
  DFine() = default;
  Status check_overrides() const;

  Options options_;
  Config config_;
  HGNetv2 backbone_;
  HybridEncoder encoder_;
  Decoder decoder_;
  std::vector<int> return_idx_;
};

}  // namespace um::dfine
