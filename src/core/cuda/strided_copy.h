// File: src/core/cuda/strided_copy.h
// Purpose: the GPU side of Tensor::copy_from for device tensors: any view (permuted, sliced,
// transposed) of any dtype into another of the same shape, converting the element type. This is
// what makes contiguous() of a permuted activation (TinyViT window partition, NCHW <-> NLC) and
// to(kF16)/to(kF32) of a device tensor one kernel (or one cudaMemcpyAsync) on the current stream.
// The host first drops size-1 dims and merges dims that are back-to-back in both tensors, then
// picks the fastest of: D2D memcpy, a 16/8/4-byte vectorised strided copy, a tiled shared-memory
// transpose, or the generic per-element kernel (32- or 64-bit index arithmetic).
// Usage: um::cuda::copy_strided(dst, src);  // both on the device, same shape
//        um::cuda::set_memops_mode(um::cuda::MemopsMode::kLegacy);  // benches/tests only
#pragma once

#include "core/tensor.h"

namespace um::cuda {

void copy_strided(const Tensor& dst, const Tensor& src);

// Which kernels the memory-bound GPU ops use (strided copy, elementwise, concat, conv bias,
// layer norms). kFast is the default and the only mode the models should run in. kFastIndex64
// takes the fast paths but never the 32-bit index variants (tests reach the 64-bit kernels on
// small tensors with it); kLegacy runs the original one-element-per-thread generic kernels, so
// bench_cuda_memops can time old against new in one run and tests can compare both with the CPU.
// Process-wide; set it only while no other thread launches these ops.
enum class MemopsMode { kFast, kFastIndex64, kLegacy };
void set_memops_mode(MemopsMode mode);
MemopsMode memops_mode();

}  // namespace um::cuda
