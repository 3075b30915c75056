// File: src/nn/ops_mlp.h
// Purpose: fused MLPs. grouped_mlp: G independent small MLPs (same layer widths, their own
// weights, one input row each) run as ONE op: SAM's four output-hypernetwork MLPs
// (256 -> 256 -> 256 -> 32, one per mask token) and its IoU head (G = 1). Each layer is a linear with bias; ReLU between
// layers, none after the last (segment_anything's MLP). Same conventions as nn/ops.h.
// Why: run layer by layer, the four hypernetworks alone are 12 GEMMs, 8 ReLU passes and a concat
// on single rows (~2 us each inside the frame's CUDA graph); on CUDA this is one kernel (one
// block per group keeps the row in shared memory across the layers).
// Precision: CPU = exactly, bit for bit, nn::linear then nn::relu per layer on each row (the
// unfused Mlp). CUDA: float32 accumulation; each layer's output rounded to the data dtype before
// the ReLU, as the unfused float16 sequence rounds every linear output.
// Usage:
//   // x [4, 256] (the mask-token rows of the transformer output, any strides);
//   // weights[i] [4, out_i, in_i], biases[i] [4, out_i] (each MLP's layers stacked along dim 0)
//   Tensor y = nn::grouped_mlp(x, weights, biases);  // [4, 32]
// mlp (further below): ONE MLP applied to many rows (D-FINE's box-chain heads):
//   Tensor boxes = nn::mlp(queries, {w0, w1, w2}, {b0, b1, b2}, /*residual=*/anchors);
//   Tensor fast = nn::mlp(queries, w, b, anchors, {.allow_split_tf32 = true});  // float16 mode
#pragma once

#include <vector>

#include "core/tensor.h"

namespace um::nn {

// Most layers and the widest layer grouped_mlp takes (the CUDA kernel keeps one row of each
// layer's input and output in shared memory).
inline constexpr int kGroupedMlpMaxLayers = 8;
inline constexpr int64_t kGroupedMlpMaxWidth = 4096;

// x [G, in_0] (any strides); weights[i] [G, out_i, in_i] with in_i = out_{i-1};
// biases[i] [G, out_i] or undefined; 1..kGroupedMlpMaxLayers layers, every width
// 1..kGroupedMlpMaxWidth. Returns y [G, out_last] contiguous:
//   y[g] = L_n(relu(... relu(L_1(x[g])))),  L_i(v) = weights[i][g] v + biases[i][g].
// float32 (CPU, CUDA) or float16 (CUDA); every tensor on x's device, weights and biases of x's
// dtype, or (CUDA) float32 weights and biases on a float16 x: x is converted as it is read and
// the MLP computes and returns float32 (SAM's float32 IoU head on the float16 decoder's token,
// without a conversion pass). Bad shapes, dtypes or devices throw um::Error naming the argument.
Tensor grouped_mlp(const Tensor& x, const std::vector<Tensor>& weights,
                   const std::vector<Tensor>& biases);

// ---- mlp: ONE MLP over many rows --------------------------------------------------------------
// x [..., in_0] (any strides); weights[i] [out_i, in_i] with in_i = out_{i-1}; biases[i] [out_i]
// or undefined; residual [..., out_last] (x's leading dims, any strides) or undefined. Returns
//   y = L_n(relu(... relu(L_1(x)))) + residual,   L_i(v) = v weights[i]^T + biases[i],
// contiguous, with x's leading dims: D-FINE's box-chain MLPs (300 query rows: bbox heads
// 256 -> 256 -> 256 -> 4 or 132 with the previous corners/anchors as the residual, the query
// position head 4 -> 512 -> 256), the ones the models ran as linear_act ... linear(residual).
// Every tensor on x's device and of x's dtype; 1..kGroupedMlpMaxLayers layers.
// CPU: exactly that sequence (nn::linear_act with ReLU per hidden layer, then nn::linear with the
// residual), so float32 results are bit-identical to it. CUDA, float32 with every width <=
// kMlpFusedMaxWidth and at most kMlpFusedMaxRows rows: ONE kernel (each block keeps a tile of rows in shared memory across the
// layers; on sm_90 a cluster of blocks splits every layer's outputs), float32 accumulation, no
// rounding between layers (only the summation order differs from the CPU). Why: D-FINE-S's box
// chain ran 22 float32 linears as 44 kernels (cuBLASLt's split-K pairs), ~200 us of a 1.7 ms
// forward on an H200; the MLPs' widths are small and the layer outputs never need to leave the
// SM. Other dtypes and widths on CUDA: the per-layer sequence (cuBLASLt).
inline constexpr int64_t kMlpFusedMaxWidth = 512;  // its 16-row tiles: 64 KB of shared memory
// More rows than this go to the per-layer GEMMs: the fused kernel is built for a few hundred rows
// (every 16-row tile reads all the weights; cuBLASLt's tiles reuse them far better at scale).
inline constexpr int64_t kMlpFusedMaxRows = 4096;
struct MlpParams {
  // CUDA, float32, fused kernel's domain, sm_90+: the layers may run as "3xTF32" tensor-core
  // products (each operand split into two TF32 parts, three products per term, float32 sums:
  // ~1e-6 of the output's scale where FFMA gives ~1e-7; mlp_tf32_cuda.cu): on an H200 8 bbox
  // heads 159 -> 127 us, 8 query-position heads 135 -> 91 us (bench_cuda_mlp). Off by default
  // (float32 mode keeps FFMA: the CPU parity contract); the CPU path ignores it. D-FINE's float16
  // mode sets it for its box chain (dfine::Options::split_tf32_box_chain).
  bool allow_split_tf32 = false;
};
Tensor mlp(const Tensor& x, const std::vector<Tensor>& weights, const std::vector<Tensor>& biases,
           const Tensor& residual = Tensor(), const MlpParams& params = {});

#ifdef UM_WITH_CUDA
namespace detail {
// The CUDA implementation behind grouped_mlp (grouped_mlp_cuda.cu); arguments already checked.
Tensor grouped_mlp_cuda(const Tensor& x, const std::vector<Tensor>& weights,
                        const std::vector<Tensor>& biases);
// mlp's fused CUDA kernel (mlp_cuda.cu) on x [rows, in_0] and residual [rows, out_last] (or
// undefined), arguments already checked, float32, widths <= kMlpFusedMaxWidth. allow_clusters
// false forces the one-block-per-tile variant (what pre-sm_90 devices run; for tests).
Tensor mlp_fused_cuda(const Tensor& x, const std::vector<Tensor>& weights,
                      const std::vector<Tensor>& biases, const Tensor& residual,
                      bool allow_clusters = true);
// The 3xTF32 variant (mlp_tf32_cuda.cu; MlpParams::allow_split_tf32), same arguments; it runs
// where mlp_tf32_cuda_runs() (thread-block clusters and sm_90 code on the current device).
bool mlp_tf32_cuda_runs();
Tensor mlp_tf32_cuda(const Tensor& x, const std::vector<Tensor>& weights,
                     const std::vector<Tensor>& biases, const Tensor& residual);
}  // namespace detail
#endif

}  // namespace um::nn
