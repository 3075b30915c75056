// File: src/models/mobilesam/mobilesam.h
// Purpose: the MobileSAM (vit_t) model: image encoder, prompt encoder and mask decoder, loaded
// straight from a user's checkpoint (mobile_sam.pt: a plain state dict with keys image_encoder.*,
// prompt_encoder.*, mask_decoder.*; the wrapper layouts io::load_checkpoint unwraps work too).
// float16 checkpoints are upcast to float32 at load. Immutable after load: share one instance
// between predictors (std::shared_ptr<const MobileSam>).
// Placement: the model is built on the CPU in float32, then (device/dtype arguments) every
// weight and load-time constant is converted on the host and uploaded ONCE to the device in the
// compute dtype; float16 only on CUDA. What stays float32 in a float16 model: the box prompt's
// Fourier matrix and corner embeddings (box coordinates are float32 end to end), the IoU head,
// and the decoder's outputs; the dense PE / no-mask embedding are computed in float32 and then
// stored in float16. LayerNorm/softmax statistics are float32 inside the ops in any mode.
// Usage:
//   UM_ASSIGN_OR_RETURN(auto model, MobileSam::load("mobile_sam.pt"));
//   Predictor p(model);
//   UM_ASSIGN_OR_RETURN(auto gpu, MobileSam::load("mobile_sam.pt", Device::cuda(), DType::kF16));
//   (the GPU frame path: models/mobilesam/device_path.h)
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
  // kInvalidArgument naming a key whose shape is wrong; kInvalidArgument for a dtype other than
  // float32/float16 or float16 on the CPU; kFailedPrecondition for CUDA without the CUDA
  // backend or without a usable GPU.
  static Result<std::shared_ptr<const MobileSam>> load(const std::string& checkpoint_path,
                                                       Device device = Device::cpu(),
                                                       DType dtype = DType::kF32);
  static Result<std::shared_ptr<const MobileSam>> from_tensors(const io::TensorMap& tensors,
                                                               Device device = Device::cpu(),
                                                               DType dtype = DType::kF32);

  Device device() const { return placement_.device; }
  DType dtype() const { return placement_.dtype; }  // the compute dtype
  const Placement& placement() const { return placement_; }

  const TinyVit& image_encoder() const { return image_encoder_; }
  const PromptEncoder& prompt_encoder() const { return prompt_encoder_; }
  const MaskDecoder& mask_decoder() const { return mask_decoder_; }

 private:
  TinyVit image_encoder_;
  PromptEncoder prompt_encoder_;
  MaskDecoder mask_decoder_;
  Placement placement_;
};

}  // namespace um::mobilesam
