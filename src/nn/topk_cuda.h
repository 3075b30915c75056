// File: src/nn/topk_cuda.h
// Purpose: the second CUDA top-k path, reachable only from benchmarks and tests: the previous
// single-block bitonic kernel (nn::topk on CUDA runs the radix select, src/nn/topk_radix.cuh).
// Same arguments, limits (k <= 512) and results as nn::topk; defined only with the CUDA backend
// (guard calls with #ifdef UM_WITH_CUDA).
// Usage: auto [values, indices] = um::nn::detail::topk_cuda_bitonic(x_gpu, 300);
#pragma once

#include <cstdint>
#include <utility>

#include "core/tensor.h"

namespace um::nn::detail {

std::pair<Tensor, Tensor> topk_cuda_bitonic(const Tensor& x, int64_t k);

}  // namespace um::nn::detail
