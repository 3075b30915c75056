// File: src/nn/pool_shape.h
// Purpose: torch.nn.MaxPool2d's output size (PyTorch's pooling_output_shape), shared by the CPU
// and CUDA max_pool2d so that both agree on every kernel/stride/pad/ceil_mode combination.
// Internal to um_nn.
#pragma once

#include <cstdint>

namespace um::nn::detail {

// Ceil mode may add a window, but never one that starts in the right/bottom padding.
inline int64_t pool_out(int64_t in, int k, int s, int pad, bool ceil_mode) {
  const int64_t num = in + 2 * pad - k + (ceil_mode ? s - 1 : 0);
  int64_t out = num / s + 1;
  if (ceil_mode && (out - 1) * s >= in + pad) --out;
  return out;
}

}  // namespace um::nn::detail
