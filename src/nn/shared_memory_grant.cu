// File: src/nn/shared_memory_grant.cu
// Purpose: allow_dynamic_shared_memory (see shared_memory_grant.cuh).
#include <cuda_runtime_api.h>

#include <map>
#include <mutex>
#include <utility>

#include "core/cuda/cuda_check.h"
#include "core/cuda/device_attribute.h"
#include "nn/shared_memory_grant.cuh"

namespace um::nn::detail {

bool allow_dynamic_shared_memory(const void* kernel, size_t bytes) {
  constexpr size_t kWithoutAsking = 48 * 1024;
  if (bytes <= kWithoutAsking) return true;
  // Per kernel, so not in the device-attribute cache: the largest size granted so far.
  static std::mutex mutex;
  static std::map<std::pair<const void*, int>, size_t> granted;
  const int device = um::cuda::current_device();
  std::lock_guard<std::mutex> lock(mutex);
  size_t& have = granted[{kernel, device}];
  if (bytes <= have) return true;
  const int optin = um::cuda::device_attribute(cudaDevAttrMaxSharedMemoryPerBlockOptin);
  if (bytes > static_cast<size_t>(optin)) return false;
  UM_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                     static_cast<int>(bytes)));
  have = bytes;
  return true;
}

}  // namespace um::nn::detail
