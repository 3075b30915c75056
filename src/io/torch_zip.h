// File: src/io/torch_zip.h
// Purpose: read a torch.save zip archive without Python: <prefix>/data.pkl (parsed by the safe
// pickle subset in pickle.h), <prefix>/data/<key> (raw little-endian storages), optional
// <prefix>/byteorder and <prefix>/version. Storages are read lazily, only for the tensors asked
// for, and cached so views of one storage share it.
// Usage:
//   UM_ASSIGN_OR_RETURN(auto archive, TorchZip::open(path));
//   const pickle::Value* root = archive->root();
//   UM_ASSIGN_OR_RETURN(Tensor t, archive->tensor(*value));   // value->kind == kTensor
#pragma once

#include <map>
#include <memory>
#include <string>

#include "core/status.h"
#include "core/tensor.h"
#include "io/pickle.h"

typedef struct zip zip_t;

namespace um::io {

class TorchZip {
 public:
  ~TorchZip();
  TorchZip(const TorchZip&) = delete;
  TorchZip& operator=(const TorchZip&) = delete;

  // kNotFound (no file), kDataLoss (not a readable zip, truncated, no data.pkl, corrupt pickle),
  // kInvalidArgument (a pickle outside the safe subset, a TorchScript archive, big-endian data).
  static Result<std::unique_ptr<TorchZip>> open(const std::string& path);

  const pickle::Value* root() const { return doc_.root; }
  // "archive/" for an archive written as archive.pt; the folder holding data.pkl.
  const std::string& prefix() const { return prefix_; }
  // Materialises a kTensor value as a contiguous CPU tensor (float64 storages become float32,
  // int8/int16 become int32). kDataLoss if the storage entry is missing or shorter than the view.
  Result<Tensor> tensor(const pickle::Value& value);

 private:
  TorchZip() = default;
  Result<std::vector<uint8_t>> read_entry(const std::string& name, uint64_t max_bytes);
  Result<std::shared_ptr<Storage>> storage(const pickle::Value& st);

  std::string path_;
  uint64_t file_size_ = 0;
  zip_t* zip_ = nullptr;
  std::string prefix_;
  pickle::Document doc_;
  std::map<std::string, std::shared_ptr<Storage>> storages_;  // by key
};

}  // namespace um::io
