// File: src/nn/op_util.h
// Purpose: helpers shared by the CPU op files (internal to um_nn, not part of the public API):
// argument checks that throw um::Error naming the op and the shapes, and a strided sgemm on 2-D
// views so that permuted/transposed operands reach OpenBLAS without a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "core/status.h"
#include "core/tensor.h"

namespace um::nn::detail {

[[noreturn]] inline void fail(const char* op, const std::string& what) {
  throw Error(StatusCode::kInvalidArgument, std::string(op) + ": " + what);
}

// Every CPU op accepts float32 tensors on the CPU; anything else is refused loudly (an op never
// falls back to another device silently).
inline void require_cpu_f32(const char* op, const Tensor& t, const char* name) {
  if (!t.defined()) fail(op, std::string(name) + " is undefined");
  if (!t.device().is_cpu()) {
    throw Error(StatusCode::kFailedPrecondition,
                std::string(op) + ": " + name + " is on " + t.device().str() +
                    " and this op has no implementation for that device");
  }
  if (t.dtype() != DType::kF32) {
    fail(op, std::string(name) + " must be float32, got " + dtype_name(t.dtype()) + " " +
                 shape_str(t.shape()));
  }
}

inline void require_dim(const char* op, const Tensor& t, const char* name, int64_t dim) {
  if (t.dim() != dim) {
    fail(op, std::string(name) + " must have " + std::to_string(dim) + " dims, got " +
                 shape_str(t.shape()));
  }
}

inline int64_t normalize_dim(const char* op, int64_t dim, int64_t ndim) {
  int64_t d = dim < 0 ? dim + ndim : dim;
  if (d < 0 || d >= ndim) {
    fail(op, "dim " + std::to_string(dim) + " out of range for " + std::to_string(ndim) + " dims");
  }
  return d;
}

// An MLP op's layer lists (grouped_mlp, mlp): 1..max_layers weights and one bias entry per
// weight (an undefined tensor for a layer without bias).
inline void require_mlp_layer_counts(const char* op, size_t weights, size_t biases,
                                     int max_layers) {
  if (weights == 0 || weights > static_cast<size_t>(max_layers)) {
    fail(op, "needs 1.." + std::to_string(max_layers) + " layers, got " + std::to_string(weights));
  }
  if (biases != weights) {
    fail(op, std::to_string(weights) + " weights but " + std::to_string(biases) +
                 " biases (use undefined for none)");
  }
}

// PyTorch's convolution output length along one axis, or 0 when the padded input is shorter
// than the dilated kernel: PyTorch refuses that input, while the formula's integer division
// would round a negative numerator toward zero and give one output (e.g. 2 pixels, kernel 3,
// stride 2). Shared by every conv shape rule (conv2d, the channels-last depthwise conv).
inline int64_t conv_output_extent(int64_t in, int64_t pad, int64_t dilation, int64_t kernel,
                                  int64_t stride) {
  const int64_t padded = in + 2 * pad, span = dilation * (kernel - 1) + 1;
  return padded < span ? 0 : (padded - span) / stride + 1;
}

// A 2-D float matrix view for sgemm: element (i, j) at data[i * rs + j * cs].
struct MatView {
  const float* data;
  int64_t rows, cols, rs, cs;
};

// C[m, n] (row-major, leading dimension ldc) = alpha * A @ B + beta * C, where A and B are strided
// 2-D views. Uses a BLAS transpose flag when one of the strides is 1; otherwise packs a copy.
void gemm_strided(const MatView& a, const MatView& b, float* c, int64_t ldc, float alpha,
                  float beta);

// Softmax of n contiguous values in place (max-subtracted, float32 sums); used by attention.
void softmax_row(float* v, int64_t n);

}  // namespace um::nn::detail

// The device dispatch every public op starts with (after its argument checks):
//   UM_NN_CUDA_DISPATCH(x, conv2d_cuda(x, weight, bias, p));
// returns the CUDA implementation's result when x lives on a CUDA device. Without the CUDA
// backend, the CPU checks that follow refuse the device tensor with a clear message.
#ifdef UM_WITH_CUDA
#include "nn/ops_cuda.h"
#define UM_NN_CUDA_DISPATCH(tensor, call) \
  do {                                    \
    if ((tensor).device().is_cuda()) return ::um::nn::detail::call; \
  } while (0)
#else
#define UM_NN_CUDA_DISPATCH(tensor, call) \
  do {                                    \
  } while (0)
#endif
