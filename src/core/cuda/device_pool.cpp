#include "core/cuda/device_pool.h"

#include <array>

#include "core/cuda/cuda_check.h"

namespace um::cuda {
namespace {
thread_local DevicePool* t_pool = nullptr;
constexpr int kMaxDevices = 16;
}  // namespace

DevicePool::~DevicePool() {
  trim();
  // Blocks still in use belong to tensors that outlive the pool (a bug in the owner): free them
  // anyway, a leak of device memory in a long-running gateway is worse.
  for (auto& [p, size] : in_use_) cudaFree(p);
}

size_t DevicePool::round_size(size_t bytes) {
  // 512-byte granularity below 1 MiB, then 2 MiB: small tensors pack, large ones reuse well.
  if (bytes < (1u << 20)) return (bytes + 511) / 512 * 512;
  return (bytes + (2u << 20) - 1) / (2u << 20) * (2u << 20);
}

void* DevicePool::allocate(size_t bytes) {
  const size_t size = round_size(bytes == 0 ? 1 : bytes);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = free_.find(size);  // exact size class: no splitting, so reuse is deterministic
  void* p = nullptr;
  if (it != free_.end()) {
    p = it->second;
    free_.erase(it);
  } else {
    UM_CUDA_CHECK(cudaSetDevice(device_));
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation && !free_.empty()) {
      cudaGetLastError();
      for (auto& [s, q] : free_) cudaFree(q), reserved_ -= s;
      free_.clear();
      e = cudaMalloc(&p, size);
    }
    UM_CUDA_CHECK(e);
    reserved_ += size;
    ++driver_allocations_;
  }
  in_use_[p] = size;
  in_use_bytes_ += size;
  return p;
}

void DevicePool::release(void* p) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = in_use_.find(p);
  if (it == in_use_.end()) return;
  free_.emplace(it->second, p);
  in_use_bytes_ -= it->second;
  in_use_.erase(it);
}

size_t DevicePool::reserved_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reserved_;
}
size_t DevicePool::in_use_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_bytes_;
}
uint64_t DevicePool::driver_allocations() const {
  std::lock_guard<std::mutex> lock(mu_);
  return driver_allocations_;
}

void DevicePool::trim() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [s, q] : free_) {
    cudaFree(q);
    reserved_ -= s;
  }
  free_.clear();
}

DevicePool& default_pool(int device) {
  static std::array<DevicePool*, kMaxDevices> pools{};
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  // Never destroyed: tensors with static lifetime may free into it during exit.
  if (!pools.at(device)) pools[device] = new DevicePool(device);
  return *pools[device];
}

DevicePool& current_pool(int device) { return t_pool ? *t_pool : default_pool(device); }

PoolScope::PoolScope(DevicePool* pool) : previous_(t_pool) { t_pool = pool; }
PoolScope::~PoolScope() { t_pool = previous_; }

}  // namespace um::cuda
