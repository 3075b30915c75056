// File: src/core/cuda/device_pool.h
// Purpose: the device memory behind every CUDA Tensor: a caching pool, so that a frame allocates
// nothing from the driver once warm (cudaMalloc/cudaFree synchronise the device and are illegal
// inside CUDA-graph capture). Freed blocks go back to their pool's free lists, by size class,
// and are reused in stream order: like PyTorch's caching allocator, a pool assumes its memory is
// used from one stream at a time (the FrameProcessor's).
// A FrameProcessor owns a private pool for its captured graph: the graph keeps writing the
// addresses it captured, so no one else may be handed those blocks (PoolScope routes the
// allocations of a scope to that pool). Weights and everything outside a scope come from the
// process-wide default pool.
// Usage:
//   DevicePool graph_pool;
//   { PoolScope scope(&graph_pool); warm-up frame; capture frame; }   // blocks stay reserved
//   graph_pool.reserved_bytes();  // GPU memory this pool holds
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace um::cuda {

class DevicePool {
 public:
  explicit DevicePool(int device = 0) : device_(device) {}
  ~DevicePool();  // returns every cached block to the driver (blocks in use must be gone)
  DevicePool(const DevicePool&) = delete;
  DevicePool& operator=(const DevicePool&) = delete;

  void* allocate(size_t bytes);
  void release(void* p);
  // Bytes obtained from the driver (in use + cached) and bytes handed out now.
  size_t reserved_bytes() const;
  size_t in_use_bytes() const;
  // Number of cudaMalloc calls so far: a warm frame must not change it.
  uint64_t driver_allocations() const;
  // Frees cached (unused) blocks back to the driver.
  void trim();

 private:
  static size_t round_size(size_t bytes);
  int device_;
  mutable std::mutex mu_;
  std::multimap<size_t, void*> free_;           // size class -> cached block
  std::unordered_map<void*, size_t> in_use_;    // block -> size class
  size_t reserved_ = 0, in_use_bytes_ = 0;
  uint64_t driver_allocations_ = 0;
};

// The pool new CUDA tensors of this thread come from (the default pool outside any scope).
DevicePool& current_pool(int device = 0);
DevicePool& default_pool(int device = 0);

class PoolScope {
 public:
  explicit PoolScope(DevicePool* pool);
  ~PoolScope();
  PoolScope(const PoolScope&) = delete;
  PoolScope& operator=(const PoolScope&) = delete;

 private:
  DevicePool* previous_;
};

}  // namespace um::cuda
