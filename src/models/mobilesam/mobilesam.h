// File: src/models/mobilesam/mobilesam.h
// Purpose: the MobileSAM (vit_t) model: image encoder, prompt encoder and mask decoder, loaded
// straight from a user's checkpoint (mobile_sam.pt: a plain state dict with keys image_encoder.*,
// prompt_encoder.*, mask_decoder.*; the wrapper layouts io::load_checkpoint unwraps work too).
// float16 checkpoints are upcast to float32 at load. Immutable after load: share one instance
// between predictors (std::shared_ptr<const MobileSam>).
// Usage:
//   UM_ASSIGN_OR_RETURN(auto model, MobileSam::load("mobile_sam.pt"));
//   Predictor p(model);
#pragma once

#include <memory>
#include <string>

#include "core/status.h"
#include "io/checkpoint.h"
#include "models/mobilesam/mask_decoder.h"
#include "models/mobilesam/prompt_encoder.h"
#include "models/mobilesam/tiny_vit.h"

namespace um::mobilesam {

class MobileSam {
 public:
  // Errors: those of io::load_checkpoint; kNotFound naming the first missing key;
  // kInvalidArgument naming a key whose shape is wrong.
  static Result<std::shared_ptr<const MobileSam>> load(const std::string& checkpoint_path);
  static Result<std::shared_ptr<const MobileSam>> from_tensors(const io::TensorMap& tensors);

  const TinyVit& image_encoder() const { return image_encoder_; }
  const PromptEncoder& prompt_encoder() const { return prompt_encoder_; }
  const MaskDecoder& mask_decoder() const { return mask_decoder_; }

 private:
  TinyVit image_encoder_;
  PromptEncoder prompt_encoder_;
  MaskDecoder mask_decoder_;
};

}  // namespace um::mobilesam
