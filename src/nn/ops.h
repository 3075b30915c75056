// File: src/nn/ops.h
// Purpose: the op library's public interface, shared by D-FINE, MobileSAM and the pipeline.
// Every op is a plain function on Tensors. It validates its inputs (throwing um::Error with
// kInvalidArgument that names the op and the shapes), computes the output shape, and dispatches
// on the input's device: the CPU implementation (<op>_cpu.cpp, portable C++ with OpenBLAS) is the
// reference; CUDA implementations (<op>_cuda.cu) sit behind the same function. An op never falls
// back to another device silently.
// Layouts: images NCHW, sequences [B, L, C], weights as PyTorch stores them. float32 unless
// stated. Each op documents the PyTorch behaviour it reproduces.
#pragma once

#include <utility>
#include <vector>

#include "core/tensor.h"

namespace um::nn {

// ---- Convolution (conv2d.h/.cpp) -------------------------------------------------------------
struct Conv2dParams {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;  // symmetric zero padding, as torch.nn.Conv2d(padding=...)
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
  // CUDA, float32 data only: the convolution may run on TF32 tensor cores (inputs rounded to a
  // 10-bit mantissa, float32 accumulation), several times faster than float32 FMA kernels but
  // no longer within ~1e-4 of the CPU reference. Off by default; the CPU path ignores it (it is
  // the reference). D-FINE's float16 mode sets it for its float32 backbone (dfine::Options).
  bool allow_tf32 = false;
  // CUDA, float32 data only: the convolution may run on tensor cores as "3xTF32" (each operand
  // split into two TF32 parts, three products per term, float32 sums): ~1e-5 relative of the
  // CPU reference instead of FFMA's ~1e-6, far closer than TF32 (~1e-3). The own implicit-GEMM
  // kernel (conv2d_implicit_gemm_cuda.h) takes it where that is faster. Off by default; D-FINE's
  // float16 mode sets it for its float32 backbone (dfine::Options::split_tf32_backbone).
  bool allow_split_tf32 = false;
  static Conv2dParams square(int stride, int pad, int groups = 1) {
    return {stride, stride, pad, pad, 1, 1, groups};
  }
};
Shape conv2d_output_shape(const Shape& x, const Shape& weight, const Conv2dParams& p);
// x [N, Cin, H, W], weight [Cout, Cin/groups, kh, kw], bias [Cout] or undefined.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p);
// torch.nn.ConvTranspose2d: x [N, Cin, H, W], weight [Cin, Cout, kh, kw]; no output_padding.
Tensor conv_transpose2d(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride, int pad);

// Folds eval-mode BatchNorm (y = (x - mean) / sqrt(var + eps) * gamma + beta) into the preceding
// conv's weight and bias. bias may be undefined (conv without bias). Done once, at load time.
std::pair<Tensor, Tensor> fold_batch_norm(const Tensor& conv_weight, const Tensor& conv_bias,
                                          const Tensor& gamma, const Tensor& beta,
                                          const Tensor& running_mean, const Tensor& running_var,
                                          float eps);

// ---- Dense (linear.cpp) ------------------------------------------------------------------------
// torch.nn.functional.linear: x [..., in], weight [out, in], bias [out] or undefined.
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias);
// linear with a fused residual add: residual + linear(x, weight, bias) (TinyViT's `x + proj(o)`,
// `x + fc2(h)`). residual has the output's shape [..., out], dtype and device (any strides); an
// undefined residual gives the plain linear. CPU: exactly add(residual, linear(x, weight, bias)).
// CUDA: one cuBLASLt GEMM with the residual as its C input (beta = 1), float32 accumulation, the
// float16 result rounded once (so it may differ from the two-step sequence on float16 data by the
// rounding of the intermediate linear output).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& residual);
// Batched matrix product with broadcasting of leading dims: a [..., m, k] @ b [..., k, n].
Tensor matmul(const Tensor& a, const Tensor& b);

// ---- Normalisation (norm.cpp) ------------------------------------------------------------------
// LayerNorm over the last dimension (statistics in float32, biased variance).
Tensor layer_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);
// SAM's LayerNorm2d: over the channel dimension of [N, C, H, W].
Tensor layer_norm_2d(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);

// ---- Activations and element-wise (elementwise.cpp) --------------------------------------------
Tensor relu(const Tensor& x);
Tensor silu(const Tensor& x);
Tensor gelu(const Tensor& x);  // exact: 0.5 x (1 + erf(x / sqrt 2))
Tensor sigmoid(const Tensor& x);
Tensor inverse_sigmoid(const Tensor& x, float eps = 1e-5f);  // D-FINE's clamp-then-log form
// Broadcasting binary ops (NumPy rules).
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add_scalar(const Tensor& x, float s);
Tensor mul_scalar(const Tensor& x, float s);
Tensor concat(const std::vector<Tensor>& xs, int64_t dim);
std::vector<Tensor> split(const Tensor& x, const std::vector<int64_t>& sizes, int64_t dim);  // views

// ---- Softmax (softmax.cpp) ---------------------------------------------------------------------
Tensor softmax(const Tensor& x, int64_t dim = -1);  // max-subtracted, float32 accumulation

// ---- Pooling and resampling (pooling.cpp, resample.cpp) ----------------------------------------
// torch.nn.MaxPool2d(kernel, stride, padding, ceil_mode).
Tensor max_pool2d(const Tensor& x, int kernel, int stride, int pad, bool ceil_mode);
// F.interpolate(scale_factor=2, mode='nearest').
Tensor upsample_nearest2x(const Tensor& x);
// F.interpolate(size=(out_h, out_w), mode='bilinear', align_corners=...), no antialias, NCHW.
Tensor resize_bilinear(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);
// F.grid_sample(x, grid, mode='bilinear', padding_mode='zeros', align_corners=False).
// x [N, C, H, W], grid [N, Ho, Wo, 2] in [-1, 1] (x then y) -> [N, C, Ho, Wo].
Tensor grid_sample_bilinear(const Tensor& x, const Tensor& grid);

// ---- Top-k (topk.cpp) --------------------------------------------------------------------------
// Largest k along the last dim, sorted descending; ties keep the lower index first (stable).
// Returns {values (float32), indices (int64)}.
std::pair<Tensor, Tensor> topk(const Tensor& x, int64_t k);
// out[..., i, :] = x[..., index[..., i], :] along `dim` (torch.gather with a broadcast index).
Tensor gather_rows(const Tensor& x, const Tensor& index, int64_t dim);

// ---- Attention (attention.cpp) -----------------------------------------------------------------
// softmax(q k^T * scale + bias) v with q [B, H, Lq, D], k/v [B, H, Lk, D]; bias broadcastable to
// [B, H, Lq, Lk] or undefined. Softmax statistics in float32. The result [B, H, Lq, D] may be a
// view (on CUDA, the fused float16 kernel returns that of a [B, Lq, H, D] tensor, so permuting
// the heads back to [B, Lq, H * D] is free); callers that need memory order call contiguous().
Tensor scaled_dot_product_attention(const Tensor& q, const Tensor& k, const Tensor& v,
                                    const Tensor& bias, float scale);

// torch.nn.MultiheadAttention (batch_first layout [B, L, E]) in eval mode: packed
// in_proj_weight [3E, E] / in_proj_bias [3E], out_proj weight [E, E] / bias [E].
struct MultiheadAttentionWeights {
  Tensor in_proj_weight, in_proj_bias, out_proj_weight, out_proj_bias;
  int64_t num_heads = 1;
};
Tensor multi_head_attention(const Tensor& query, const Tensor& key, const Tensor& value,
                            const MultiheadAttentionWeights& w);

}  // namespace um::nn
