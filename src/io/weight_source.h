// File: src/io/weight_source.h
// Purpose: how models take their weights from a state dict: by key, with the shape they require.
// A missing key or a shape mismatch throws um::Error naming the key, the expected and the actual
// shape (kNotFound / kInvalidArgument), so a wrong checkpoint fails at load with one clear line.
// Usage:
//   WeightSource w(checkpoint.tensors, "backbone.");
//   Tensor k = w.get("stem.stem1.conv.weight", {16, 3, 3, 3});   // float32, contiguous, CPU
//   if (w.has("lqe_layers.0.reg_conf.layers.0.weight")) ...
#pragma once

#include <string>

#include "core/tensor.h"
#include "io/checkpoint.h"

namespace um::io {

class WeightSource {
 public:
  explicit WeightSource(const TensorMap& tensors, std::string prefix = "")
      : tensors_(&tensors), prefix_(std::move(prefix)) {}

  // A view whose keys are prefixed further: w.sub("encoder.") then get("x") reads "encoder.x".
  WeightSource sub(const std::string& prefix) const { return WeightSource(*tensors_, prefix_ + prefix); }

  bool has(const std::string& key) const { return tensors_->count(prefix_ + key) != 0; }
  // The shape as stored, or kNotFound.
  Shape shape_of(const std::string& key) const;
  // float32, contiguous, CPU copy-or-view. `shape` empty means "any shape".
  Tensor get(const std::string& key, const Shape& shape = {}) const;
  const std::string& prefix() const { return prefix_; }
  const TensorMap& tensors() const { return *tensors_; }

 private:
  const TensorMap* tensors_;
  std::string prefix_;
};

}  // namespace um::io
