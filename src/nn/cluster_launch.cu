// File: src/nn/cluster_launch.cu
// Purpose: cluster_variant_runs (see cluster_launch.cuh).
#include <map>
#include <mutex>
#include <utility>

#include "core/cuda/device_attribute.h"
#include "nn/cluster_launch.cuh"

namespace um::nn::detail {
namespace {

// The architecture of the binary loaded for `kernel` on the current device (90 for sm_90 code).
// A kernel's attribute, not the device's, so it is cached here, once per kernel and device.
int kernel_binary_version(const void* kernel) {
  static std::mutex mutex;
  static std::map<std::pair<const void*, int>, int> versions;
  const std::pair<const void*, int> key{kernel, um::cuda::current_device()};
  std::lock_guard<std::mutex> lock(mutex);
  auto it = versions.find(key);
  if (it == versions.end()) {
    cudaFuncAttributes attr{};
    UM_CUDA_CHECK(cudaFuncGetAttributes(&attr, kernel));
    it = versions.emplace(key, attr.binaryVersion).first;
  }
  return it->second;
}

}  // namespace

bool cluster_variant_runs(const void* kernel) {
  return um::cuda::device_attribute(cudaDevAttrClusterLaunch) != 0 &&
         kernel_binary_version(kernel) >= 90;
}

}  // namespace um::nn::detail
