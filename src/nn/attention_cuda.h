// File: src/nn/attention_cuda.h
// Purpose: internal interface between the CUDA attention kernels (src/nn/attention_cuda.cu: host
// entry, argument checks, dispatch, the generic any-stride kernel and the split-key merge;
// src/nn/attention_tiled_cuda.cu: the fast key-tiled kernel; src/nn/attention_gemm_cuda.cu: the
// tensor-core path, two cuBLASLt GEMMs around a softmax kernel) plus the hook that tests and
// bench/bench_cuda_attention.cpp use to pick a path explicitly (side by side).
// Usage (tests / bench only; models call nn::scaled_dot_product_attention):
//   using um::nn::detail::AttentionPath;
//   Tensor y = attention_cuda_with_path(q, k, v, bias, scale, AttentionPath::kGeneric);
//   EXPECT_EQ(attention_cuda_auto_path(q, k, v), AttentionPath::kGemm);  // TinyViT, float16
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace um::nn::detail {

enum class AttentionPath {
  kGeneric,  // any strides, D <= 128: 8 query rows per block, 32-key tiles (the original kernel)
  kTiled,    // last dim contiguous, D <= 64: 8..64 query rows per block, 64-key tiles
  kGemm,     // any strides and D: S = q k^T (cuBLASLt, float32 scores), softmax kernel, P v
};

// The path the automatic dispatch picks for valid operands (no launch): kGemm when
// attention_gemm_preferred, else kTiled when attention_tiled_supported, else kGeneric.
AttentionPath attention_cuda_auto_path(const Tensor& q, const Tensor& k, const Tensor& v);

// scaled_dot_product_attention_cuda forced onto one path. kTiled throws um::Error when the
// operands do not qualify (see attention_tiled_supported); kGemm takes any valid operands (also
// float32, with true-fp32 GEMMs, and head dims above the fused kernels' 128).
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

// True when the automatic dispatch takes the GEMM path: float16 operands, Lk >= 32, D >= 16,
// B * H * Lq >= 1024 score rows (the softmax kernel's warps) and the float32 score scratch
// (B * H * Lq * Lk * 4 bytes) at most 64 MiB (TinyViT's windows: 14 MB, 19 MB and 10 MB for
// stages 2, 3 and 4; D-FINE's 300 / 400 self-attentions qualify too; SAM's 7 x 4096 does not).
bool attention_gemm_preferred(const Tensor& q, const Tensor& k, const Tensor& v);

// Runs the GEMM path into `out` (contiguous [B, H, Lq, D], q's dtype); operands checked by the
// host entry and non-empty (Lq, Lk, D >= 1); bias_strides as for attention_tiled_launch.
void attention_gemm_launch(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                           const int64_t bias_strides[4], float scale, Tensor& out);

// Merges split-key partial results: part_acc [rows, splits, d] unnormalised accumulators,
// part_ml [rows, splits, 2] (running max, sum) -> out rows [rows, d] (contiguous, out's dtype).
void attention_merge_splits_launch(const float* part_acc, const float* part_ml, Tensor& out,
                                   int64_t rows, int splits, int d);

}  // namespace um::nn::detail
