// File: src/core/tensor.h
// Purpose: the n-dimensional array every module passes around.
// A Tensor is a view (shape, strides in elements, offset) onto a shared Storage (aligned bytes on
// one device). Copies of a Tensor share storage; clone()/contiguous() copy. Shapes are int64 like
// PyTorch's, so checkpoint shapes compare directly. Layout is row-major (NCHW for images) unless
// a function documents otherwise.
// Usage:
//   Tensor x = Tensor::empty({1, 3, 640, 640});           // float32, CPU
//   float* p = x.data<float>();                            // checks dtype and device
//   Tensor y = x.view({1, 3, -1}).permute({0, 2, 1}).contiguous();
// Device memory: CUDA storage is allocated through a hook that the CUDA backend installs
// (set_device_allocator), so this file builds without the CUDA toolkit.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace um {

using Shape = std::vector<int64_t>;

enum class DeviceType : uint8_t { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;
  static Device cpu() { return {}; }
  static Device cuda(int i = 0) { return {DeviceType::kCUDA, i}; }
  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  bool operator==(const Device&) const = default;
  std::string str() const;
};

std::string shape_str(const Shape& s);  // "[1, 3, 640, 640]"
int64_t shape_numel(const Shape& s);

// Owns bytes on one device. CPU storage is 64-byte aligned (AVX-512 friendly).
class Storage {
 public:
  using Deleter = std::function<void(void*)>;
  Storage(void* data, size_t bytes, Device device, Deleter deleter)
      : data_(data), bytes_(bytes), device_(device), deleter_(std::move(deleter)) {}
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  static std::shared_ptr<Storage> allocate(size_t bytes, Device device);
  // Wraps memory owned elsewhere (e.g. a pinned staging buffer); `keep_alive` is released last.
  static std::shared_ptr<Storage> wrap(void* data, size_t bytes, Device device,
                                       std::shared_ptr<void> keep_alive = nullptr);

  void* data() const { return data_; }
  size_t bytes() const { return bytes_; }
  Device device() const { return device_; }

 private:
  void* data_;
  size_t bytes_;
  Device device_;
  Deleter deleter_;
};

// Installed by the CUDA backend: device memory for Storage::allocate. The returned deleter
// gives the block back to where it came from (the caching pool that was current at allocation).
struct DeviceBlock {
  void* data = nullptr;
  Storage::Deleter deleter;
};
struct DeviceAllocator {
  std::function<DeviceBlock(size_t bytes, int device_index)> allocate;
};
void set_device_allocator(DeviceAllocator allocator);

class Tensor {
 public:
  Tensor() = default;

  static Tensor empty(const Shape& shape, DType dtype = DType::kF32, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype = DType::kF32, Device device = Device::cpu());
  static Tensor full(const Shape& shape, float value);  // float32, CPU
  static Tensor from_vector(const std::vector<float>& values, const Shape& shape);
  // A tensor over existing storage (shape/strides in elements).
  Tensor(std::shared_ptr<Storage> storage, Shape shape, Shape strides, int64_t offset, DType dtype);

  bool defined() const { return storage_ != nullptr; }
  const Shape& shape() const { return shape_; }
  const Shape& strides() const { return strides_; }
  int64_t dim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t size(int64_t d) const;  // negative d counts from the end
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return storage_ ? storage_->device() : Device::cpu(); }
  int64_t offset() const { return offset_; }
  const std::shared_ptr<Storage>& storage() const { return storage_; }
  bool is_contiguous() const;

  // Typed pointer to the first element; throws um::Error on dtype mismatch. Device memory is
  // returned as-is (for kernels); dereference only CPU data.
  template <typename T>
  T* data() {
    check_dtype(DTypeOf<T>::value);
    return static_cast<T*>(raw_data());
  }
  template <typename T>
  const T* data() const {
    check_dtype(DTypeOf<T>::value);
    return static_cast<const T*>(raw_data());
  }
  void* raw_data() const;

  // Views (share storage). view() needs a contiguous tensor; one dim may be -1.
  Tensor view(const Shape& shape) const;
  Tensor reshape(const Shape& shape) const;  // view if contiguous, else copy
  Tensor permute(const std::vector<int64_t>& order) const;
  Tensor transpose(int64_t a, int64_t b) const;
  Tensor slice(int64_t d, int64_t start, int64_t end) const;  // [start, end) along d
  Tensor select(int64_t d, int64_t index) const;               // drops dimension d
  Tensor unsqueeze(int64_t d) const;
  Tensor squeeze(int64_t d) const;

  // Copies.
  Tensor contiguous() const;  // returns *this when already contiguous
  Tensor clone() const;
  // Converts the element type: any of f32/f16/bf16/i64/i32/u8/bool to any other (on the
  // tensor's device).
  Tensor to(DType dtype) const;
  // Copies to another device (needs the CUDA backend for CUDA devices).
  Tensor to(Device device) const;
  // Copies src's elements into this tensor (same shape; dtype converted on CPU).
  void copy_from(const Tensor& src);

  // Debug: "float32[1, 3, 640, 640] cpu".
  std::string str() const;

 private:
  void check_dtype(DType expected) const;
  std::shared_ptr<Storage> storage_;
  Shape shape_;
  Shape strides_;
  int64_t offset_ = 0;
  DType dtype_ = DType::kF32;
};

Shape contiguous_strides(const Shape& shape);

// Hooks the CUDA backend installs so Tensor::to(Device) and copy_from work across devices.
struct DeviceCopier {
  // Copies `bytes` contiguous bytes between any two devices. Host<->device copies are
  // synchronous (and counted as host synchronisations); device->device copies are queued on the
  // current stream and never block.
  std::function<void(void* dst, Device dst_dev, const void* src, Device src_dev, size_t bytes)> copy;
  // Device tensors of one shape, any strides and dtypes: dst = src converted (queued on the
  // current stream). Makes contiguous(), clone(), to(dtype) and copy_from work on the GPU.
  std::function<void(const Tensor& dst, const Tensor& src)> copy_strided;
  // Zeroes `bytes` of device memory (queued on the current stream).
  std::function<void(void* dst, Device dev, size_t bytes)> zero;
};
void set_device_copier(DeviceCopier copier);

}  // namespace um
