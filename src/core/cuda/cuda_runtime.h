// File: src/core/cuda/cuda_runtime.h
// Purpose: the CUDA runtime plumbing every GPU module shares: device discovery, the Tensor
// device allocator/copier hooks, RAII streams/events/pinned buffers, and COUNTED host
// synchronisation (the per-frame budget is exactly one sync: the result read-back; tests read
// host_sync_count() before and after a frame to prove it).
// Usage:
//   if (!um::cuda::available()) skip;   um::cuda::install_tensor_backend();
//   um::cuda::Stream s;  ... kernels on s.get() ...;  um::cuda::synchronize(s.get());
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace um::cuda {

// True when at least one CUDA device is usable (driver present, device count > 0).
bool available();
// "NVIDIA H100 80GB HBM3 (sm_90, 79.1 GiB), driver 13.0" or the reason none is available.
std::string describe_device(int device = 0);

// Registers cudaMalloc/cudaFree and cudaMemcpy as Tensor's device allocator and copier.
void install_tensor_backend();

// Every host-blocking wait goes through these, so the count is exact.
void synchronize(cudaStream_t stream);
void synchronize(cudaEvent_t event);
uint64_t host_sync_count();

// The device's stream priorities (cudaDeviceGetStreamPriorityRange): `lowest` is the default;
// a kernel of a higher-priority stream gets free SMs first when both have blocks waiting.
struct StreamPriorities {
  int lowest = 0, highest = 0;
};
StreamPriorities stream_priorities();

class Stream {
 public:
  Stream();  // non-blocking with respect to the legacy default stream; default priority
  explicit Stream(int priority);
  ~Stream();
  Stream(const Stream&) = delete;
  Stream& operator=(const Stream&) = delete;
  cudaStream_t get() const { return stream_; }

 private:
  cudaStream_t stream_ = nullptr;
};

class Event {
 public:
  explicit Event(bool timing = true);
  ~Event();
  Event(const Event&) = delete;
  Event& operator=(const Event&) = delete;
  void record(cudaStream_t stream);  // also inside stream capture (an event node)
  bool ready() const;  // non-blocking query
  cudaEvent_t get() const { return event_; }
  // Milliseconds between two recorded (and completed) timing events.
  static float elapsed_ms(const Event& start, const Event& stop);

 private:
  cudaEvent_t event_ = nullptr;
};

// Page-locked host memory for H2D/D2H staging; reuse it only after its copy's event completed.
class PinnedBuffer {
 public:
  explicit PinnedBuffer(size_t bytes);
  ~PinnedBuffer();
  PinnedBuffer(const PinnedBuffer&) = delete;
  PinnedBuffer& operator=(const PinnedBuffer&) = delete;
  void* data() const { return data_; }
  size_t size() const { return bytes_; }

 private:
  void* data_ = nullptr;
  size_t bytes_ = 0;
};

}  // namespace um::cuda
