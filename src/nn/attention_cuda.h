// File: src/nn/attention_cuda.h
// Purpose: internal interface between the CUDA attention kernels (src/nn/attention_cuda.cu: host
// entry, argument checks, the generic any-stride kernel and the split-key merge;
// src/nn/attention_tiled_cuda.cu: the fast key-tiled kernel) plus the hook that tests and
// bench/bench_cuda_attention.cpp use to pick a kernel explicitly (old vs new side by side).
// Usage (tests / bench only; models call nn::scaled_dot_product_attention):
//   using um::nn::detail::AttentionPath;
//   Tensor y = attention_cuda_with_path(q, k, v, bias, scale, AttentionPath::kGeneric);
//   EXPECT_EQ(attention_cuda_auto_path(q, k, v), AttentionPath::kTiled);
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace um::nn::detail {

enum class AttentionPath {
  kGeneric,  // any strides, D <= 128: 8 query rows per block, 32-key tiles (the original kernel)
  kTiled,    // last dim contiguous, D <= 64: 8..64 query rows per block, 64-key tiles
};

// The kernel the automatic dispatch picks for valid operands (no launch).
AttentionPath attention_cuda_auto_path(const Tensor& q, const Tensor& k, const Tensor& v);

// scaled_dot_product_attention_cuda forced onto one kernel. kTiled throws um::Error when the
// operands do not qualify (see attention_tiled_supported).
Tensor attention_cuda_with_path(const Tensor& q, const Tensor& k, const Tensor& v,
                                const Tensor& bias, float scale, AttentionPath path);

// ---- between the .cu files ----------------------------------------------------------------------

// True when the tiled kernel takes these operands: head dim 1..64 and the last dim of q, k, v
// contiguous (stride 1, or size 1).
bool attention_tiled_supported(const Tensor& q, const Tensor& k, const Tensor& v);

// Launches the tiled kernel (and the split merge when it splits the keys) into `out`
// (contiguous [B, H, Lq, D], same dtype). Operands already checked by the host entry; bias_strides
// are the bias's strides broadcast to [B, H, Lq, Lk] (0 on broadcast dims), bias may be undefined.
void attention_tiled_launch(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                            const int64_t bias_strides[4], float scale, Tensor& out);

// Merges split-key partial results: part_acc [rows, splits, d] unnormalised accumulators,
// part_ml [rows, splits, 2] (running max, sum) -> out rows [rows, d] (contiguous, out's dtype).
void attention_merge_splits_launch(const float* part_acc, const float* part_ml, Tensor& out,
                                   int64_t rows, int splits, int d);

}  // namespace um::nn::detail
