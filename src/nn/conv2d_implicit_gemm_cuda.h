// File: src/nn/conv2d_implicit_gemm_cuda.h
// Purpose: the own convolution behind nn::conv2d_bias_act on the GPU (conv2d_bias_act_cuda.cu):
// an implicit-GEMM tensor-core kernel over NCHW tensors with the whole epilogue (bias,
// activation, affine, residual) in the same kernel. Why own: for float16 NCHW, cuDNN runs its
// NHWC tensor-core kernel between three layout transforms (input, filter, output), and for
// float32 a 32x32-tile FFMA kernel; either way the bias/activation/affine is one more pass over
// the output. D-FINE's backbone, its encoder's 3x3 convs and TinyViT's patch embedding paid 3-5
// kernels per conv for it (ncu, H200, session 7).
// Precision: float16 = half products with float32 accumulation, the epilogue in float32 and ONE
// rounding to half (cuDNN's path rounded the conv and the epilogue separately). float32 =
// "3xTF32": each operand split into a TF32 high part and a TF32 remainder, the three significant
// products (hi*hi, hi*lo, lo*hi) summed per 16 reduction columns on the tensor cores and across
// them with float32 adds: the products keep ~22 of float32's 24 mantissa bits (the dropped lo*lo
// term is ~2^-22 relative), ~1e-5 relative of the CPU reference where FFMA kernels give ~1e-6
// and plain TF32 (Conv2dParams::allow_tf32, left to cuDNN) ~1e-3. Opt-in per conv
// (Conv2dParams::allow_split_tf32): float32 mode keeps cuDNN's FFMA (the CPU parity contract).
// Internal to um_nn.
#pragma once

#include "core/tensor.h"
#include "nn/cudnn_context.h"
#include "nn/ops.h"
#include "nn/ops_fused.h"

namespace um::nn::detail {

// Who runs a conv2d_bias_act that the own kernel supports: kAuto = the own kernel where it was
// measured faster than cuDNN + the epilogue pass (implicit_gemm_conv_preferred: large outputs;
// float32 only with Conv2dParams::allow_split_tf32), kOwn / kCudnn force one side (tests,
// benches; kOwn also runs float32 convs without allow_split_tf32 on 3xTF32). UM_OWN_CONV=own|
// cudnn|auto sets the starting value. Process-wide; read on every call (not cached).
using OwnConvPolicy = ConvKernelChoice;
void set_own_conv_policy(OwnConvPolicy policy);
OwnConvPolicy own_conv_policy();

// Whether the own kernel can run this conv: float32/float16 CUDA tensors, groups == 1, no TF32
// requested, a device of compute capability >= 8.0, 32-bit element offsets, and a filter whose
// Cin * kh * kw fits the kernel's offset table (or a 1x1 filter without padding).
bool implicit_gemm_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// Whether kAuto picks the own kernels for a supported conv: float16 convs the patch kernel
// supports with at most 64x64 output pixels; float32 convs that allow 3xTF32 and the pointwise
// kernel supports (float16 ones it supports stay with cuDNN); other float16 convs, and float32 ones that allow 3xTF32, with at least 25600
// output pixels (160x160). Measured thresholds: see the .cu.
bool implicit_gemm_conv_preferred(const Tensor& x, const Tensor& w, const Conv2dParams& p);

// y = residual + affine(act(conv(x, w) + bias)) (affine when scale != 1 or shift != 0; bias and
// residual optional) into the preallocated contiguous NCHW y. x and w contiguous, 16-byte
// aligned (cudnn_operand), residual contiguous like y. Queues one kernel on the current stream.
void implicit_gemm_conv_cuda(const Tensor& x, const Tensor& w, const Tensor& bias,
                             const Conv2dParams& p, Activation act, float scale, float shift,
                             const Tensor& residual, const Tensor& y);

// The float16 shared-memory-patch kernel (conv2d_patch_cuda.cu), which implicit_gemm_conv_cuda
// runs where it supports the conv and the output has at most 64x64 pixels (larger ones run the
// generic kernel): float16, groups 1, Cin 16/32/64, square filter <= 7,
// stride 1 or 2, no dilation, an even input width. patch_conv_f16_cuda returns false (queuing
// nothing) when the device cannot give a block the shared memory the shape needs.
bool patch_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p);
bool patch_conv_f16_cuda(const Tensor& x, const Tensor& w, const Tensor& bias,
                         const Conv2dParams& p, Activation act, float scale, float shift,
                         const Tensor& residual, const Tensor& y);

// The own direct depthwise kernel (conv2d_depthwise_cuda.cu), which conv2d_bias_act runs for
// every depthwise conv it supports (unless OwnConvPolicy::kCudnn) and conv2d for float16 ones
// where it timed faster: float32 / float16, groups == Cin == Cout, a 3x3 or 5x5 filter, stride 1
// or 2, no dilation, at most 65535 (n, c) planes. Exact float32 FMA sums (no TF32): float32
// mode's precision contract holds on it as on cuDNN's FFMA kernels. x, w contiguous; y, residual
// contiguous NCHW; `op` names the caller in errors.
bool depthwise_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p);
void depthwise_conv_cuda(const char* op, const Tensor& x, const Tensor& w, const Tensor& bias,
                         const Conv2dParams& p, Activation act, float scale, float shift,
                         const Tensor& residual, const Tensor& y);

// The pointwise kernel (conv2d_pointwise_cuda.cu), which implicit_gemm_conv_cuda runs for every
// conv it supports: a pipelined tensor-core GEMM for a 1x1 filter, stride 1, no padding, groups 1,
// float32 (3xTF32 like the generic kernel; measured faster than cuDNN's FFMA kernels and the
// generic kernel at every size D-FINE's backbone has) or float16 (half products, float32
// accumulation; under kOwn only, instead of the generic kernel, which waits on every reduction
// step: cuDNN measured faster, see implicit_gemm_conv_preferred), Cin and H * W whole numbers of
// 16 bytes (multiples of 4 floats / 8 halfs).
// pointwise_conv_cuda returns false, queuing nothing, when an operand is not 16-byte aligned.
bool pointwise_conv_supported(const Tensor& x, const Tensor& w, const Conv2dParams& p);
bool pointwise_conv_cuda(const Tensor& x, const Tensor& w, const Tensor& bias, Activation act,
                         float scale, float shift, const Tensor& residual, const Tensor& y);

}  // namespace um::nn::detail
