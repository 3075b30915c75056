// File: src/core/cuda/stream_context.h
// Purpose: the stream every CUDA op launches on, chosen by the caller instead of passed through
// every op signature (the ops mirror the CPU interface in nn/ops.h). Thread-local, so two
// FrameProcessors on two threads never share a stream by accident. Without a scope the ops run
// on the per-thread default stream (cudaStreamPerThread), never on the legacy NULL stream, which
// would serialise with everything and break graph capture.
// Usage:
//   um::cuda::Stream s;
//   { um::cuda::StreamScope scope(s.get());  y = nn::conv2d(x_gpu, w, b, p); }   // on s
//   kernel<<<grid, block, 0, um::cuda::current_stream()>>>(...);
#pragma once

#include <cuda_runtime_api.h>

namespace um::cuda {

cudaStream_t current_stream();

class StreamScope {
 public:
  explicit StreamScope(cudaStream_t stream);
  ~StreamScope();
  StreamScope(const StreamScope&) = delete;
  StreamScope& operator=(const StreamScope&) = delete;

 private:
  cudaStream_t previous_;
};

}  // namespace um::cuda
