#include "core/cuda/device_attribute.h"

#include <map>
#include <mutex>
#include <utility>

#include "core/cuda/cuda_check.h"

namespace um::cuda {
namespace {

// (device, attribute) -> value. A std::map under one mutex: a handful of entries, looked up a
// few times per eager op call (never during a graph replay, which runs no host code).
std::mutex g_mutex;
std::map<std::pair<int, int>, int> g_values;

}  // namespace

int current_device() {
  int device = 0;
  UM_CUDA_CHECK(cudaGetDevice(&device));
  return device;
}

int device_attribute(cudaDeviceAttr attr) {
  const int device = current_device();
  int value = 0;
  UM_CUDA_CHECK(device_attribute(&value, attr, device));
  return value;
}

cudaError_t device_attribute(int* value, cudaDeviceAttr attr, int device) {
  const std::pair<int, int> key{device, static_cast<int>(attr)};
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = g_values.find(key);
  if (it == g_values.end()) {
    int queried = 0;
    const cudaError_t e = cudaDeviceGetAttribute(&queried, attr, device);
    if (e != cudaSuccess) return e;
    it = g_values.emplace(key, queried).first;
  }
  *value = it->second;
  return cudaSuccess;
}

}  // namespace um::cuda
