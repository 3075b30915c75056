// File: src/nn/cublaslt_context.h
// Purpose: the one GEMM entry point of the CUDA dense ops (linear, matmul, attention fallback):
// a row-major, strided-batched C = alpha * A @ B (+ bias per column) (+ a residual matrix:
// cuBLASLt's beta * C term with beta = 1) (then optionally ReLU) through cuBLASLt, with float32 compute for both
// float32 (true fp32, not TF32) and float16 (fp32 accumulate) data.
// Per thread: one cublasLtHandle_t and a per-shape cache of descriptors, layouts and the
// heuristic's algorithm (its first call of a shape must not be inside a graph capture). Per
// call: the algorithm's workspace (at most 32 MiB) as a Tensor from the current DevicePool, so a
// captured graph owns its workspace and graphs of different processors running concurrently
// never share one. A warm call sets the bias pointer and launches cublasLtMatmul on
// um::cuda::current_stream() (capturable, no host synchronisation, no driver allocation once the
// pool is warm). Internal to um_nn.
// Usage:
//   LtGemm g;  g.dtype = DType::kF32;  g.m = rows; g.n = out; g.k = in;
//   g.a = {x_ptr, rs, cs, 0};  g.b = {w_ptr, 1, in, 0};  g.c = out_ptr;  g.bias = b_ptr;
//   if (!lt_operand_ok(g.a, g.m, g.k)) ... make it contiguous ...;
//   lt_gemm(g);
#pragma once

#include <cstdint>

#include "core/dtype.h"

namespace um::nn::detail {

// A strided 2-D device matrix: element (i, j) at data[i * rs + j * cs] (in elements); matrix
// number t of a batch starts at data + t * batch_stride.
struct LtMatrix {
  const void* data = nullptr;
  int64_t rs = 0, cs = 0;
  int64_t batch_stride = 0;
};

struct LtGemm {
  DType dtype = DType::kF32;  // of A, B, C and bias: kF32 or kF16
  int64_t m = 0, n = 0, k = 0, batch = 1;
  LtMatrix a;  // [m, k]
  LtMatrix b;  // [k, n]
  void* c = nullptr;  // [m, n] row-major, row stride ldc (contiguous by default), batch stride
                      // m * ldc
  const void* bias = nullptr;  // [n] contiguous, added to every row (the BIAS epilogue) or null
  // [m, n] row-major with C's row stride ldc and batch stride m * ldc, dtype `dtype`, or null:
  // C = alpha * A @ B + bias + residual in one GEMM (cuBLASLt's beta = 1 with this as its C
  // input and `c` as its D output; a fused residual add). Must not overlap `c` (unless it is
  // `c` itself: an in-place accumulate). Not with c_float32.
  const void* residual = nullptr;
  float alpha = 1.f;
  // C in float32 whatever `dtype` is (float16 A and B with a float32 result: attention scores
  // kept unrounded for the softmax, attention_gemm_cuda.cu). No bias with it.
  bool c_float32 = false;
  // Row stride of C in elements, >= n; 0 means n. A padded stride keeps every row of C 16-byte
  // aligned (attention's 49-key score rows).
  int64_t ldc = 0;
  // max(0, .) of the float32 result (after alpha, the residual and the bias), before its one
  // rounding: cuBLASLt's RELU / RELU_BIAS epilogue (nn::linear_act's fused ReLU).
  bool relu = false;
};

// True when cuBLASLt can read the [rows, cols] view in place (one of its strides is 1 and the
// other a valid leading dimension); otherwise the caller passes a contiguous copy.
bool lt_operand_ok(const LtMatrix& v, int64_t rows, int64_t cols);

// Runs the GEMM on the current stream; throws um::Error (bad arguments) or um::CudaError. m, n,
// k and batch must be >= 1 and both operands lt_operand_ok; c_float32 excludes a bias and a
// residual. Where cuBLASLt has no algorithm for the configuration, gemm_fallback runs instead
// (remembered per shape key).
void lt_gemm(const LtGemm& g);

// A plain CUDA GEMM of the same contract (any strides, c_float32 too, bias and residual added to
// the float32 accumulator, then the ReLU when asked, rounded once), float32 accumulation (gemm_fallback_cuda.cu).
void gemm_fallback(const LtGemm& g);

}  // namespace um::nn::detail
