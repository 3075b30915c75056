// File: src/models/mobilesam/window_partition.h
// Purpose: TinyViT's window split and merge for local attention.
// window_partition pads the token grid on the bottom/right with ZEROS up to a multiple of the
// window and cuts it into windows; the padded tokens are then layer-normalised and attended like
// real ones (TinyViT masks nothing), which window_reverse finally crops away. Reproducing that
// exactly matters: the zeros become LayerNorm's bias vector and shift the softmax of border
// windows.
// Layout: tokens [B, H*W, C] row-major (y then x); windows [B*nH*nW, ws*ws, C], window order
// (b, wy, wx), tokens inside a window row-major.
// Devices: CPU float32 tensors take the row-copy loops; CUDA tensors (float32/float16) take the
// *_views forms, which are exactly view + permute + contiguous() (one strided GPU copy each, plus
// a zero fill for the padding) and never touch device data from the host. The *_views forms work
// on CPU tensors too (tests compare them with the loops).
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace um::mobilesam {

// x [B, H*W, C] -> [B*nH*nW, ws*ws, C] with nH = ceil(H/ws), nW = ceil(W/ws).
Tensor window_partition(const Tensor& x, int64_t h, int64_t w, int64_t ws);
// windows [B*nH*nW, ws*ws, C] -> [B, H*W, C] (padding dropped).
Tensor window_reverse(const Tensor& windows, int64_t batch, int64_t h, int64_t w, int64_t ws);

// The same through Tensor views and strided copies, any device and dtype.
Tensor window_partition_views(const Tensor& x, int64_t h, int64_t w, int64_t ws);
Tensor window_reverse_views(const Tensor& windows, int64_t batch, int64_t h, int64_t w, int64_t ws);

}  // namespace um::mobilesam
