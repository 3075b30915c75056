// File: src/core/cuda/stream_fork.cpp
// Purpose: the fork/join of a side stream (see stream_fork.h).
#include "core/cuda/stream_fork.h"

#include "core/cuda/cuda_check.h"

namespace um::cuda {

SideStream::SideStream() { create_events(); }
SideStream::SideStream(int priority) : stream_(priority) { create_events(); }

void SideStream::create_events() {
  UM_CUDA_CHECK(cudaEventCreateWithFlags(&forked_, cudaEventDisableTiming));
  UM_CUDA_CHECK(cudaEventCreateWithFlags(&joined_, cudaEventDisableTiming));
}

SideStream::~SideStream() {
  if (forked_) cudaEventDestroy(forked_);
  if (joined_) cudaEventDestroy(joined_);
}

void SideStream::fork_from(cudaStream_t main) {
  UM_CUDA_CHECK(cudaEventRecord(forked_, main));
  UM_CUDA_CHECK(cudaStreamWaitEvent(stream_.get(), forked_, 0));
}

void SideStream::join_into(cudaStream_t main) {
  UM_CUDA_CHECK(cudaEventRecord(joined_, stream_.get()));
  UM_CUDA_CHECK(cudaStreamWaitEvent(main, joined_, 0));
}

ForkJoin::ForkJoin(SideStream& side, cudaStream_t main) : side_(side), main_(main) {
  side_.fork_from(main_);
}

ForkJoin::~ForkJoin() {
  if (joined_) return;
  try {
    join();
  } catch (...) {
    // Already unwinding from the error that skipped join(); the capture (if any) is invalid and
    // its caller ends it and reports that first error.
  }
}

void ForkJoin::join() {
  if (joined_) return;
  joined_ = true;
  side_.join_into(main_);
}

}  // namespace um::cuda
