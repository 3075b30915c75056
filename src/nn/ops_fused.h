// File: src/nn/ops_fused.h
// Purpose: fused ops that replace a chain of ops the models run back to back, so that the GPU
// makes one pass over the output instead of several. Same conventions as nn/ops.h: argument
// checks throw um::Error naming the op; the op runs on the input's device (CPU reference in
// <op>_cpu.cpp, CUDA in <op>_cuda.cu on um::cuda::current_stream(), no host sync once warm).
// Usage:
//   // conv2d + bias, then act, then scale * y + shift (D-FINE's ConvBN with its "lab" affine):
//   Tensor y = nn::conv2d_bias_act(x, w, b, nn::Conv2dParams::square(1, 1), nn::Activation::kReLU,
//                                  lab_scale, lab_bias);
//   Tensor z = nn::conv2d_bias_act(x, w, b, p, nn::Activation::kGELU);  // TinyViT Conv2d_BN+GELU
//   // TinyViT's local conv on tokens [B, H*W, C] viewed as [B, H, W, C], 3x3 depthwise:
//   Tensor t = nn::depthwise_conv2d_nhwc(tok.view({B, H, W, C}), w, b,
//                                        nn::Conv2dParams::square(1, 1, static_cast<int>(C)));
//   Tensor h = nn::linear_act(x, w1, b1, nn::Activation::kReLU);  // an MLP's hidden layer
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "nn/ops.h"

namespace um::nn {

// The activations a fused epilogue applies; GELU is the exact (erf) one, as torch.nn.GELU().
enum class Activation : uint8_t { kNone, kReLU, kSiLU, kGELU };

// x after act as its own pass: nn::relu / silu / gelu (a new tensor, on x's device), x itself
// for kNone. The unfused sequence every fused op above is defined against; the fused ops' CPU
// paths and unfused CUDA fallbacks run it. A value outside the enum throws um::Error.
Tensor activate(const Tensor& x, Activation act);

namespace detail {
// Throws um::Error naming `op` unless act is one of the enum's values (a cast integer may not
// be): the fused ops check before they dispatch.
void require_activation(const char* op, Activation act);
}  // namespace detail

// y = affine_scale * act(conv2d(x, weight, bias, p)) + affine_bias, computed exactly as the
// sequence conv2d -> activation -> affine: on the CPU the float32 results are bit-identical to
// nn::conv2d followed by nn::act_affine_inplace (or nn::relu/silu/gelu), the affine being skipped
// when it is the identity (scale 1, bias 0). On CUDA: the cuDNN convolution without bias, then ONE
// epilogue kernel (bias + activation + affine in float32, rounded once to the output dtype).
// x [N, Cin, H, W] (any strides), weight [Cout, Cin/groups, kh, kw], bias [Cout] or undefined;
// float32 (CPU, CUDA) or float16 (CUDA; weight and bias of x's dtype).
Tensor conv2d_bias_act(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Conv2dParams& p, Activation act, float affine_scale = 1.f,
                       float affine_bias = 0.f);

// conv2d_bias_act(x, weight, bias, p, act, affine_scale, affine_bias) + residual: a block whose
// output is added to a skip path (D-FINE's HG_Block residual, the CSP layer's two branches).
// residual has the output's shape and dtype (any strides). On the CPU exactly conv2d_bias_act
// followed by nn::add (bit-identical); on CUDA the add rides in the same epilogue kernel (float32
// sum, one rounding) instead of a separate pass over the output.
Tensor conv2d_bias_act_residual(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                const Conv2dParams& p, Activation act, const Tensor& residual,
                                float affine_scale = 1.f, float affine_bias = 0.f);

// Depthwise conv2d (groups == channels) on channels-last activations, + per-channel bias:
// x [N, H, W, C] (NHWC; any strides), weight [C, 1, kh, kw] (PyTorch's depthwise layout),
// bias [C] or undefined, p.groups must equal C. Returns y [N, Ho, Wo, C] contiguous (NHWC) with
// Ho/Wo by PyTorch's conv rule; equal to permuting x to NCHW, nn::conv2d(x, weight, bias, p),
// permuting back. float32 (CPU, CUDA) or float16 (CUDA; weight and bias of x's dtype; float32
// accumulation, one rounding).
// Why: TinyViT keeps its tokens [B, H*W, C] (= NHWC); its local conv (3x3, BN folded) would
// otherwise need a copy to NCHW and back around the convolution. The CPU runs exactly that
// permute + nn::conv2d + permute sequence (bit-identical); CUDA runs one direct kernel.
// act (default none) is applied after the bias, as conv2d_bias_act does (TinyViT's MBConv and
// PatchMerging depthwise convs are followed by GELU): on the CPU exactly conv2d_bias_act's
// sequence; on CUDA in the same kernel where the fast path runs (float16 3x3, stride 1 or 2,
// C % 8 == 0), else as a second pass.
// in_act (default none) is applied to x first: y = act(conv(in_act(x)) + bias), the padding
// being zeros of in_act(x). TinyViT's MBConv and PatchMerging run GELU between their 1x1 conv
// and this conv. On the CPU exactly the activation pass (nn::relu/silu/gelu) followed by the op;
// on CUDA the fast path applies it while it stages its input tile (rounded to x's dtype first,
// so bit-identical to the separate pass), others run the pass first.
Tensor depthwise_conv2d_nhwc(const Tensor& x, const Tensor& weight, const Tensor& bias,
                             const Conv2dParams& p, Activation act = Activation::kNone,
                             Activation in_act = Activation::kNone);

// y = act(linear(x, weight, bias)): torch's `act(F.linear(x, w, b))` (D-FINE's MLP hidden layers
// and FFN, SAM's MLPs). On the CPU exactly nn::linear followed by the activation pass of
// act_affine_cpu.cpp (float32 results bit-identical to the unfused sequence). On CUDA, ReLU is
// the cuBLASLt GEMM's RELU / RELU_BIAS epilogue (bias and ReLU on the float32 accumulator, one
// rounding, no extra kernel); SiLU and GELU (exact erf form, which cuBLASLt does not offer) are
// the GEMM followed by the activation pass. x [..., in] (any strides), weight [out, in], bias
// [out] or undefined; float32 (CPU, CUDA) or float16 (CUDA; weight and bias of x's dtype).
// Returns [..., out] contiguous.
Tensor linear_act(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act);

#ifdef UM_WITH_CUDA
namespace detail {
// The CUDA implementation behind linear_act (linear_cuda.cu).
Tensor linear_act_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, Activation act);
// The CUDA implementation behind conv2d_bias_act (conv2d_bias_act_cuda.cu), internal to um_nn.
Tensor conv2d_bias_act_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Conv2dParams& p, Activation act, float affine_scale,
                            float affine_bias, const Tensor& residual = Tensor());
// The CUDA implementation behind depthwise_conv2d_nhwc (depthwise_conv2d_nhwc_cuda.cu).
Tensor depthwise_conv2d_nhwc_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Conv2dParams& p, Activation act = Activation::kNone,
                                  Activation in_act = Activation::kNone);
}  // namespace detail
#endif

}  // namespace um::nn
