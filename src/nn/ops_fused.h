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
#pragma once

#include <cstdint>

#include "core/tensor.h"
#include "nn/ops.h"

namespace um::nn {

// The activations a fused epilogue applies; GELU is the exact (erf) one, as torch.nn.GELU().
enum class Activation : uint8_t { kNone, kReLU, kSiLU, kGELU };

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

#ifdef UM_WITH_CUDA
namespace detail {
// The CUDA implementation behind conv2d_bias_act (conv2d_bias_act_cuda.cu), internal to um_nn.
Tensor conv2d_bias_act_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                            const Conv2dParams& p, Activation act, float affine_scale,
                            float affine_bias);
}  // namespace detail
#endif

}  // namespace um::nn
