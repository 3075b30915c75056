// File: src/core/cuda/stream_fork.h
// Purpose: run part of a stream's work concurrently on a second stream and join it back, the
// same way eagerly and under CUDA-graph capture (there the fork and the join become the edges of
// two parallel branches of the captured graph). Why: a frame's two models are independent until
// the box prompt (MobileSAM's image encoder reads the frame, not D-FINE's box), and each alone is
// a chain of small kernels that leaves most of the GPU idle; side by side they share it.
// The fork/join records are plain event records (cudaEventRecord), never Event::record's
// "external" graph nodes: only a plain record orders another stream's work inside a capture.
// Usage:
//   um::cuda::SideStream side;                      // owned next to the main stream
//   {
//     um::cuda::ForkJoin branch(side, main);        // side waits for main's work so far
//     { um::cuda::StreamScope on(side.get()); ...independent ops... }
//     ...main's own ops...
//     branch.join();                                // main's later work waits for side's
//   }
// The destructor joins if join() was not reached (an exception in between): a capture cannot
// end while a forked stream is still apart, and the side stream stays usable.
#pragma once

#include <cuda_runtime_api.h>

#include "core/cuda/cuda_runtime.h"

namespace um::cuda {

class SideStream {
 public:
  SideStream();
  explicit SideStream(int priority);  // cuda::stream_priorities()
  ~SideStream();
  SideStream(const SideStream&) = delete;
  SideStream& operator=(const SideStream&) = delete;
  cudaStream_t get() const { return stream_.get(); }
  // Work queued on get() from now on runs after everything queued on `main` so far.
  void fork_from(cudaStream_t main);
  // Work queued on `main` from now on runs after everything queued on get() so far.
  void join_into(cudaStream_t main);

 private:
  void create_events();
  Stream stream_;
  cudaEvent_t forked_ = nullptr, joined_ = nullptr;  // timing off: ordering only
};

class ForkJoin {
 public:
  ForkJoin(SideStream& side, cudaStream_t main);
  ~ForkJoin();
  ForkJoin(const ForkJoin&) = delete;
  ForkJoin& operator=(const ForkJoin&) = delete;
  void join();  // once; later calls do nothing

 private:
  SideStream& side_;
  cudaStream_t main_;
  bool joined_ = false;
};

}  // namespace um::cuda
