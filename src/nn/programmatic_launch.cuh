// File: src/nn/programmatic_launch.cuh
// Purpose: programmatic dependent launch (PDL, sm_90+): a kernel launched with
// LaunchOrder::kProgrammatic may start while the kernel before it in the stream (or the CUDA
// graph captured from it) is still finishing, runs its prologue (loads of constant weights) in
// that time, and waits in wait_for_prerequisite_grids() until the earlier kernel has completed
// and its memory is visible. Internal to um_nn (.cu files only).
// Rule: a kernel launched programmatically reads NOTHING an earlier kernel writes, and writes
// nothing an earlier kernel may still read (its output may reuse a freed buffer), before
// wait_for_prerequisite_grids(). Launched the ordinary way, the wait returns at once.
// Why: a kernel boundary inside the frame's graph costs ~1 us on an H200 (a chain of empty
// kernels); the programmatic edge takes ~0.2 us of it and lets a latency-bound kernel's weight
// loads overlap its predecessor's tail.
#pragma once

namespace um::nn::detail {

enum class LaunchOrder {
  kFull,          // the kernel starts after everything before it has completed
  kProgrammatic,  // it may start early and calls wait_for_prerequisite_grids() before its input
};

__device__ __forceinline__ void wait_for_prerequisite_grids() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}

}  // namespace um::nn::detail
