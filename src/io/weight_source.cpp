// File: src/io/weight_source.cpp
// Purpose: WeightSource lookups: the one place where a wrong checkpoint turns into a clear error.
#include "io/weight_source.h"

#include "core/status.h"

namespace um::io {
namespace {

std::string prefix_note(const std::string& prefix) {
  return prefix.empty() ? std::string() : " (prefix '" + prefix + "')";
}

}  // namespace

Shape WeightSource::shape_of(const std::string& key) const {
  auto it = tensors_->find(prefix_ + key);
  if (it == tensors_->end()) {
    throw Error(StatusCode::kNotFound, "missing key '" + prefix_ + key + "'" + prefix_note(prefix_) +
                                           " in a checkpoint of " +
                                           std::to_string(tensors_->size()) + " tensors");
  }
  return it->second.shape();
}

Tensor WeightSource::get(const std::string& key, const Shape& shape) const {
  const Shape stored = shape_of(key);  // throws kNotFound naming the key
  const Tensor& t = tensors_->at(prefix_ + key);
  if (!shape.empty() && stored != shape) {
    throw Error(StatusCode::kInvalidArgument, "key '" + prefix_ + key + "': expected shape " +
                                                  shape_str(shape) + " but checkpoint has " +
                                                  shape_str(stored));
  }
  Tensor cpu = t.device().is_cpu() ? t : t.to(Device::cpu());
  return cpu.to(DType::kF32).contiguous();
}

}  // namespace um::io
