// File: src/nn/ops_cuda.h
// Purpose: the CUDA implementations behind nn/ops.h (internal to um_nn). Each public op checks
// its arguments, then, when its input lives on a CUDA device, calls the <op>_cuda function here
// (defined in <op>_cuda.cu) instead of the CPU reference. Same semantics as the CPU op; on top:
//   - float32 or float16 tensors (every tensor argument of one call has the input's dtype unless
//     a line below says otherwise); float16 math accumulates in float32, and layer-norm/softmax
//     statistics are float32 in both modes;
//   - kernels run on um::cuda::current_stream(), never synchronise the host, never call
//     cudaMalloc (outputs and workspaces are Tensors from the current DevicePool), so a frame made
//     of these ops can be captured as one CUDA graph;
//   - strided (non-contiguous) inputs are accepted; outputs are contiguous.
#pragma once

#include <utility>
#include <vector>

#include "core/tensor.h"
#include "nn/ops.h"

namespace um::nn::detail {

Tensor conv2d_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& p);
Tensor conv_transpose2d_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, int stride,
                             int pad);
// residual: undefined, or [..., out] like the output (any strides), added by the GEMM itself.
Tensor linear_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias,
                   const Tensor& residual = Tensor());
Tensor matmul_cuda(const Tensor& a, const Tensor& b);
Tensor layer_norm_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);
Tensor layer_norm_2d_cuda(const Tensor& x, const Tensor& weight, const Tensor& bias, float eps);

enum class UnaryOp : uint8_t { kRelu, kSilu, kGelu, kSigmoid, kInverseSigmoid, kAddScalar, kMulScalar };
Tensor unary_cuda(UnaryOp op, const Tensor& x, float param);
enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv };
Tensor binary_cuda(BinaryOp op, const Tensor& a, const Tensor& b);  // NumPy broadcasting
Tensor concat_cuda(const std::vector<Tensor>& xs, int64_t dim);

Tensor softmax_cuda(const Tensor& x, int64_t dim);
Tensor max_pool2d_cuda(const Tensor& x, int kernel, int stride, int pad, bool ceil_mode);
Tensor upsample_nearest2x_cuda(const Tensor& x);
Tensor resize_bilinear_cuda(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);
Tensor grid_sample_bilinear_cuda(const Tensor& x, const Tensor& grid);

// values float32 and indices int64, as on the CPU.
std::pair<Tensor, Tensor> topk_cuda(const Tensor& x, int64_t k);
Tensor gather_rows_cuda(const Tensor& x, const Tensor& index, int64_t dim);  // index int64

Tensor scaled_dot_product_attention_cuda(const Tensor& q, const Tensor& k, const Tensor& v,
                                         const Tensor& bias, float scale);

}  // namespace um::nn::detail
