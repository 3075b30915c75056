// File: src/io/checkpoint.h
// Purpose: load a user's checkpoint without Python: torch .pt/.pth (zip + pickle, parsed by a
// safe pickle subset that executes nothing) or .safetensors (picked by the file's magic bytes).
// Layout unwrapping: {'ema': {'module': sd}} (preferred when present), {'model': sd},
// state_dict / model_state_dict / weights / net wrappers, a plain state dict; a leading
// "module." on every key is stripped. Tensors keep their stored dtype (float16 stays float16);
// callers convert with Tensor::to(DType::kF32) or read through WeightSource.
#pragma once

#include <map>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace um::io {

using TensorMap = std::map<std::string, Tensor>;

struct Checkpoint {
  TensorMap tensors;
  std::string layout;  // "ema", "model", "state_dict", "plain", "safetensors", ...
};

// Errors: kNotFound (no such file), kDataLoss (truncated/corrupt zip or pickle), kInvalidArgument
// (a pickle that asks for a global or opcode outside the safe subset, named in the message).
Result<Checkpoint> load_checkpoint(const std::string& path);

// Writes tensors (CPU) as torch.save would: a zip holding a protocol-2 pickle and one storage
// per tensor, readable by torch.load and by load_checkpoint. `layout` wraps the state dict:
// "plain", "ema" ({'ema': {'module': sd, 'updates'}, 'last_epoch'}), or "model" / "state_dict" /
// "model_state_dict" / "weights" / "net" ({layout: sd, 'last_epoch'}). For tests and tools.
Status write_torch_checkpoint(const std::string& path, const TensorMap& tensors,
                              const std::string& layout = "plain");

}  // namespace um::io
