// File: src/pipeline/quality_stats_cuda.h
// Purpose: QualityPixelStats (quality_stats.h) computed on the GPU, inside the CUDA frame
// graph, EQUAL to the CPU's compute_quality_stats (struct ==): the gradient arithmetic is the
// shared code of quality_stats_pixel.h, and every accumulation is an integer one (histogram
// counts, fixed-point edge sum, intensity sums), so the order of the atomics does not matter.
// Only defined with the CUDA backend (UM_WITH_CUDA; the .cu is built only then).
//
// Design: one kernel, a bounded grid of 256-thread blocks striding over the pixels. Each block
// builds the gradient histogram in shared memory (shared atomics) and its eight sums in
// registers (warp shuffles, then one value per warp in shared memory), then adds them to the
// device struct with global atomics (uint32 bins, unsigned long long sums). The struct is
// zeroed first with cudaMemsetAsync. Everything is queued on um::cuda::current_stream(); no
// synchronisation, no allocation: capturable in a CUDA graph.
//
// Usage (frame graph):
//   Tensor stats = make_quality_stats_buffer_cuda();   // once, from the graph's pool
//   compute_quality_stats_cuda(frame_u8, mask_u8, w_in, w_edge, w_out, stats);   // per frame
//   cudaMemcpyAsync(host_ptr, stats.raw_data(), sizeof(QualityPixelStats), D2H, stream);
//   ... after the frame's synchronisation: QualityPixelStats s; memcpy(&s, host_ptr, sizeof s);
#pragma once

#include "core/tensor.h"
#include "pipeline/quality_stats.h"

namespace um::pipeline {

// A device buffer for one QualityPixelStats: uint8 [sizeof(QualityPixelStats)] on the GPU,
// from the current pool (device_pool.h).
Tensor make_quality_stats_buffer_cuda();

// frame_u8, mask_u8, w_in, w_edge, w_out: contiguous CUDA uint8 [H, W] (H, W >= 1) of one
// shape (maps: nonzero = 1). stats: a buffer from make_quality_stats_buffer_cuda (contiguous
// CUDA uint8 of sizeof(QualityPixelStats) bytes, 8-byte aligned); it is overwritten.
// Throws um::Error (kInvalidArgument) for bad tensors, um::CudaError when a launch fails.
void compute_quality_stats_cuda(const Tensor& frame_u8, const Tensor& mask_u8,
                                const Tensor& w_in, const Tensor& w_edge, const Tensor& w_out,
                                Tensor& stats);

}  // namespace um::pipeline
