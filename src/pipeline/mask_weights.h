// File: src/pipeline/mask_weights.h
// Purpose: the three weight maps derived from the binary bone mask m (SPEC 1):
//   W_in   = erode3(m)                  the sure inside of the surface
//   W_edge = dilate3(m) - erode3(m)     a 2-3 px band across the mask boundary
//   W_out  = dilate5(m) - m             a 2 px ring just outside the mask
// with 3x3 and 5x5 SQUARE structuring elements, one iteration, values exactly 0 or 1.
//
// Border semantics (documented choice): pixels outside the frame do not take part, i.e. the
// min/max is taken over the part of the window inside the frame. This is what OpenCV's
// cv2.erode/cv2.dilate do with their default border (BORDER_CONSTANT with
// morphologyDefaultBorderValue, +inf for erosion, -inf for dilation), and what max_pool2d with
// padding does in PyTorch. A mask touching the frame edge therefore stays "inside" there.
// (scipy.ndimage.binary_erosion's default border_value=0 differs: it erodes at the frame edge.)
//
// Usage:
//   MaskWeights w = compute_mask_weights(mask, width, height);   // w.w_in, w.w_edge, w.w_out
//   compute_mask_weights(mask_ptr, width, height, in_ptr, edge_ptr, out_ptr);  // no allocation
//
// CPU implementation: separable (a square min/max is a row pass then a column pass), branch-free
// inner loops the compiler vectorises; the mask is binarised once and the scratch buffers are
// per-thread and reused, so the per-frame path does not allocate. A CUDA kernel with the
// same contract can live beside it (mask_weights_cuda.cu) when the GPU path needs it.
#pragma once

#include <cstdint>
#include <vector>

namespace um::pipeline {

struct MaskWeights {
  std::vector<uint8_t> w_in;
  std::vector<uint8_t> w_edge;
  std::vector<uint8_t> w_out;
};

// `mask`: width*height bytes, any nonzero value counts as 1. Outputs: width*height bytes each,
// 0/1; they must not alias `mask`. width, height >= 1.
void compute_mask_weights(const uint8_t* mask, int width, int height, uint8_t* w_in,
                          uint8_t* w_edge, uint8_t* w_out);
// Throws um::Error (kInvalidArgument) when mask.size() != width * height or a side is < 1.
MaskWeights compute_mask_weights(const std::vector<uint8_t>& mask, int width, int height);

// Square binary erosion / dilation with a k x k element (k odd >= 1), border as above.
// `in` nonzero = 1; `out` is 0/1 and must not alias `in`.
void erode_square(const uint8_t* in, int width, int height, int k, uint8_t* out);
void dilate_square(const uint8_t* in, int width, int height, int k, uint8_t* out);

}  // namespace um::pipeline
