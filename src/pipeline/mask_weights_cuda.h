// File: src/pipeline/mask_weights_cuda.h
// Purpose: W_in / W_edge / W_out (mask_weights.h) on the GPU, inside the CUDA frame graph, with
// results byte-identical to compute_mask_weights: same 3x3 / 5x5 square elements, same border
// rule (samples outside the frame are skipped, i.e. the min/max is over the clamped window),
// any nonzero mask byte counts as 1, outputs exactly 0/1.
// Only defined with the CUDA backend (UM_WITH_CUDA; the .cu is built only then).
//
// Design: one kernel, one thread per pixel. A block loads its 32x8 tile plus a 2-pixel halo of
// the binarised mask into shared memory, reading CLAMPED coordinates (for min/max, clamping the
// index into the frame equals skipping the outside samples: the clamped sample is a pixel of
// the window's in-frame part), then each thread takes erode3, dilate3 and dilate5 of its 5x5
// neighbourhood and writes the three maps. Launched on um::cuda::current_stream(); it never
// synchronises and allocates nothing, so it can be captured in a CUDA graph.
//
// Usage (all tensors on the GPU, uint8, contiguous, [H, W]; outputs preallocated, e.g. from
// the frame graph's pool, and distinct from the mask):
//   compute_mask_weights_cuda(mask_u8, w_in, w_edge, w_out);
#pragma once

#include "core/tensor.h"

namespace um::pipeline {

// Throws um::Error (kInvalidArgument) for a tensor that is not a contiguous CUDA uint8 [H, W]
// (H, W >= 1), outputs of another shape, or an output aliasing the mask; um::CudaError when
// the launch fails.
void compute_mask_weights_cuda(const Tensor& mask_u8, Tensor& w_in, Tensor& w_edge,
                               Tensor& w_out);

}  // namespace um::pipeline
