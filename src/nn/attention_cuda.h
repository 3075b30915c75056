// File: src/nn/attention_cuda.h
// Purpose: internal interface between the CUDA attention kernels (src/nn/attention_cuda.cu: host
// entry, argument checks, dispatch, the generic any-stride kernel and the split-key merge;
// src/nn/attention_tiled_cuda.cu: the fast key-tiled kernel; src/nn/attention_gemm_cuda.cu: the
// tensor-core path, two cuBLASLt GEMMs around a softmax kernel; src/nn/attention_mma_cuda.cu: the
// fused tensor-core kernel for float16 head dim 32 without bias) plus the hook that tests and
// bench/bench_cuda_attention.cpp use to pick a path explicitly (side by side).
// Usage (tests / bench only; models call nn::scaled_dot_product_attention):
//   using um::nn::detail::AttentionPath;
//   Tensor y = attention_cuda_with_path(q, k, v, bias, scale, AttentionPath::kGeneric);
//   EXPECT_EQ(attention_cuda_auto_path(q, k, v), AttentionPath::kMma);  // D-FINE, float16
#pragma once

#include <cstdint>

#include "core/tensor.h"

namespace um::nn::detail {

enum class AttentionPath {
  kGeneric,  // any strides, D <= 128: 8 query rows per block, 32-key tiles (the original kernel)
  kTiled,    // last dim contiguous, D <= 64: 8..64 query rows per block, 64-key tiles
  kGemm,     // any strides and D: S = q k^T (cuBLASLt, float32 scores), softmax kernel, P v
  kMma,      // float16, D 32, no bias, Lk <= 512, 16-byte aligned rows: one fused kernel whose
             // output is the [B, H, Lq, D] view of a [B, Lq, H, D] tensor (heads merged)
};

// The path the automatic dispatch picks for valid operands (no launch): kMma when there is no
// bias and attention_mma_preferred, else kGemm when attention_gemm_preferred, else kTiled when
// attention_tiled_supported, else kGeneric.
AttentionPath attention_cuda_auto_path(const Tensor& q, const Tensor& k, const Tensor& v,
                                       const Tensor& bias = Tensor());

// scaled_dot_product_attention_cuda forced onto one path. kTiled and kMma throw um::Error when
// the operands do not qualify (see attention_tiled_supported, attention_mma_supported; kMma also
// with a bias); kGemm takes any valid operands (also
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
// stages 2, 3 and 4; D-FINE's 300 / 400 self-attentions qualify too, but the automatic
// dispatch gives them the fused kernel first; SAM's 7 x 4096 does not).
bool attention_gemm_preferred(const Tensor& q, const Tensor& k, const Tensor& v);

// Runs the GEMM path into `out` (contiguous [B, H, Lq, D], q's dtype); operands checked by the
// host entry and non-empty (Lq, Lk, D >= 1); bias_strides as for attention_tiled_launch.
void attention_gemm_launch(const Tensor& q, const Tensor& k, const Tensor& v, const Tensor& bias,
                           const int64_t bias_strides[4], float scale, Tensor& out);

// True when the fused tensor-core kernel takes these operands: float16, head dim 32, Lk <= 512,
// the last dim contiguous and every row 16-byte aligned (data and batch/head/row strides), a
// device of compute capability >= 8.0. (No bias: the caller checks that.)
bool attention_mma_supported(const Tensor& q, const Tensor& k, const Tensor& v);

// True when the automatic dispatch takes it (without a bias): supported and B * H * Lq >= 1024
// score rows, the attentions the GEMM path took before (D-FINE's 8 x 300 and 8 x 400); SAM's
// 8 x 7 token self-attention stays on the tiled kernel.
bool attention_mma_preferred(const Tensor& q, const Tensor& k, const Tensor& v);

// The kernel's output for q: a [B, Lq, H, D] tensor seen as [B, H, Lq, D].
Tensor attention_mma_output(const Tensor& q);

// Runs it into `out` (attention_mma_output's layout, or any view with even strides and a
// contiguous last dim); operands checked by the host entry, Lq and Lk >= 1.
void attention_mma_launch(const Tensor& q, const Tensor& k, const Tensor& v, float scale,
                          Tensor& out);

// Merges split-key partial results: part_acc [rows, splits, d] unnormalised accumulators,
// part_ml [rows, splits, 2] (running max, sum) -> out rows [rows, d] (contiguous, out's dtype).
void attention_merge_splits_launch(const float* part_acc, const float* part_ml, Tensor& out,
                                   int64_t rows, int splits, int d);

}  // namespace um::nn::detail
